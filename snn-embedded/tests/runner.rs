//! The runner and the flash slot on the golden model: results equal `snn-core`'s, and
//! a too-small arena or a damaged blob is a clear error at start-up.

use snn_core::Model;
use snn_embedded::runner::{Runner, RunnerError};
use snn_embedded::slot::ModelSlot;

static GOLDEN: &[u8] = include_bytes!("../../snn-core/tests/golden/model.snn");
static INPUTS: &[u8] = include_bytes!("../../snn-core/tests/golden/inputs.bin");

#[test]
fn runner_matches_the_engine() {
    let mut storage = None;
    let slot = ModelSlot::load(GOLDEN, &mut storage).unwrap();
    assert_eq!(slot.flash_bytes(), GOLDEN.len());
    assert_eq!(slot.checksum(), snn_core::format::crc32(&GOLDEN[16..]));
    let mut arena = [0u32; 4096];
    let mut runner = Runner::new(slot.model(), &mut arena).unwrap();
    let model = Model::from_bytes(GOLDEN).unwrap();
    let mut state = vec![0; model.state_words()];
    for (i, img) in INPUTS.chunks(model.input_len()).enumerate() {
        let a = runner.classify(img, i as u64, 16).unwrap();
        let b = model.classify(&mut state, img, i as u64, 16).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn small_arena_is_an_error_not_a_fault() {
    let mut storage = None;
    let slot = ModelSlot::load(GOLDEN, &mut storage).unwrap();
    let needed = slot.model().state_words();
    let mut arena = [0u32; 64];
    let err = Runner::new(slot.model(), &mut arena).unwrap_err();
    assert_eq!(
        err,
        RunnerError::ArenaTooSmall {
            needed,
            capacity: 64
        }
    );
    assert!(err.to_string().contains("rebuild with a larger arena"));
}

#[test]
fn damaged_flash_is_rejected() {
    let mut bad = GOLDEN.to_vec();
    bad[100] ^= 1;
    let mut storage = None;
    assert!(matches!(
        ModelSlot::load(&bad, &mut storage).unwrap_err(),
        snn_core::FormatError::ChecksumMismatch { .. }
    ));
    assert!(storage.is_none());
}
