//! Each optimised path against the portable one: the word-at-a-time row add used on
//! Cortex-M against the byte-at-a-time form, on any lengths, weights and membranes.

use proptest::prelude::*;
use snn_core::membrane::{add_row_bytes, add_row_words};

proptest! {
    #[test]
    fn word_row_add_equals_byte_row_add(
        mem in proptest::collection::vec(any::<i32>(), 0..70),
        w in proptest::collection::vec(any::<u8>(), 0..70),
        negative in any::<bool>(),
    ) {
        let mut a = mem.clone();
        let mut b = mem;
        add_row_words(&mut a, &w, negative);
        add_row_bytes(&mut b, &w, negative);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn extreme_weights_sign_extend() {
    // Stored order: the middle two of the first group of four are swapped.
    let mut m = vec![0i32; 5];
    add_row_words(&mut m, &[0x80, 0xff, 0x7f, 0x01, 0x80], false);
    assert_eq!(m, [-128, 127, -1, 1, -128]);
    add_row_words(&mut m, &[0x80, 0xff, 0x7f, 0x01, 0x80], true);
    assert_eq!(m, [0; 5]);
}
