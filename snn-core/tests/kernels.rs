//! Each optimised path against the portable one: the word-at-a-time accumulate used on
//! Cortex-M against the byte-at-a-time form, on any lengths, weights and membranes.

use proptest::prelude::*;
use snn_core::layer::{accumulate_bytes, accumulate_words};

proptest! {
    #[test]
    fn word_accumulate_equals_byte_accumulate(
        mem in proptest::collection::vec(any::<i32>(), 0..70),
        w in proptest::collection::vec(any::<u8>(), 0..70),
        negative in any::<bool>(),
    ) {
        let mut a = mem.clone();
        let mut b = mem;
        accumulate_words(&mut a, &w, negative);
        accumulate_bytes(&mut b, &w, negative);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn extreme_weights_sign_extend() {
    let mut m = vec![0i32; 5];
    accumulate_words(&mut m, &[0x80, 0x7f, 0xff, 0x01, 0x80], false);
    assert_eq!(m, [-128, 127, -1, 1, -128]);
    accumulate_words(&mut m, &[0x80, 0x7f, 0xff, 0x01, 0x80], true);
    assert_eq!(m, [0; 5]);
}
