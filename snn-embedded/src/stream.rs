//! Input spikes from a stream instead of the rate encoder: event-sensor data, or spikes
//! computed elsewhere, fed step by step (`Session::step_with_spikes`).
//!
//! A [`SpikeSource`] hands out one step at a time as bitsets over the model's input
//! neurons (`HWC` order, `ceil(n / 32)` words each, positive and negative); on QEMU
//! the firmware reads them from a host file through semihosting, on a board a USART
//! or a sensor driver would. [`classify_stream`] runs one inference from a source
//! with the same early-exit rule as [`snn_core::Model::classify_until`], and reads the
//! steps it did not need, so that the next inference starts at its own first step.
//!
//! ```
//! use snn_embedded::stream::{classify_stream, SliceSource};
//!
//! static MODEL: &[u8] = include_bytes!("../../snn-core/tests/golden/model.snn");
//! let model = snn_core::Model::from_bytes(MODEL).unwrap();
//! let words = model.input_len().div_ceil(32);
//! let steps = 4;
//! // Every input neuron spikes (positively) at every step.
//! let stream = vec![u32::MAX; steps * words];
//! let mut source = SliceSource::new(&stream);
//! let (mut state, mut buf) = (vec![0u32; model.state_words()], vec![0u32; 2 * words]);
//! let r = classify_stream(&model, &mut state, &mut source, &mut buf, steps as u32, snn_core::EarlyExit::Never)
//!     .unwrap();
//! assert_eq!(r.steps, 4);
//! assert_eq!(source.remaining(), 0);
//! ```

use snn_core::{Classification, EarlyExit, Model, RunError};

/// Where an inference's input spikes come from, one step at a time.
pub trait SpikeSource {
    /// Why the source could not deliver a step.
    type Error;

    /// Fills `positive` and `negative` (each `ceil(input_len / 32)` words) with the next
    /// step's spikes.
    ///
    /// # Errors
    /// The source's error (end of stream, I/O).
    fn next_step(&mut self, positive: &mut [u32], negative: &mut [u32]) -> Result<(), Self::Error>;
}

/// Why a streamed inference failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StreamError<E> {
    /// The source failed.
    Source(E),
    /// The engine refused the spikes or the state.
    Run(RunError),
    /// The buffer is not `2 * ceil(input_len / 32)` words.
    Buffer {
        /// Words needed.
        needed: usize,
        /// Words given.
        found: usize,
    },
}

impl<E: core::fmt::Display> core::fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Source(e) => write!(f, "spike stream: {e}"),
            Self::Run(e) => write!(f, "{e}"),
            Self::Buffer { needed, found } => {
                write!(f, "spike buffer of {found} words, the model needs {needed}")
            }
        }
    }
}

/// Runs `model` for `steps` steps on spikes from `source` (at most `steps`; fewer when
/// `rule` settles the class, as [`Model::classify_until`] does), in the session state
/// `state`, with `buf` (`2 * ceil(input_len / 32)` words) holding one step. Every one
/// of the `steps` steps is read from `source` either way.
///
/// # Errors
/// [`StreamError`]: the source's error, [`RunError::ZeroSteps`] or a state too small,
/// or a buffer of the wrong size.
pub fn classify_stream<S: SpikeSource, const L: usize>(
    model: &Model<'_, L>,
    state: &mut [u32],
    source: &mut S,
    buf: &mut [u32],
    steps: u32,
    rule: EarlyExit,
) -> Result<Classification, StreamError<S::Error>> {
    let words = model.input_len().div_ceil(32);
    if buf.len() != 2 * words {
        return Err(StreamError::Buffer {
            needed: 2 * words,
            found: buf.len(),
        });
    }
    if steps == 0 {
        return Err(StreamError::Run(RunError::ZeroSteps));
    }
    let (pos, neg) = buf.split_at_mut(words);
    let mut session = model
        .session_without_encoder(state)
        .map_err(StreamError::Run)?;
    let mut t = 0;
    while t < steps {
        source.next_step(pos, neg).map_err(StreamError::Source)?;
        t += 1;
        session
            .step_with_spikes(pos, neg)
            .map_err(StreamError::Run)?;
        if t < steps && rule != EarlyExit::Never && session.settled(steps - t, rule) {
            break;
        }
    }
    let result = session.result();
    // The steps the rule made unnecessary still belong to this inference's stream.
    while t < steps {
        source.next_step(pos, neg).map_err(StreamError::Source)?;
        t += 1;
    }
    Ok(result)
}

/// A stream held in memory: `steps x words` positive bitsets, step after step, no
/// negative spikes (what event sensors give). For tests and for host-side reference
/// runs of a stream file.
#[derive(Debug, Clone)]
pub struct SliceSource<'a> {
    words: &'a [u32],
    at: usize,
}

/// A [`SliceSource`] ran out of steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EndOfStream;

impl core::fmt::Display for EndOfStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the stream ended before the last step")
    }
}

impl<'a> SliceSource<'a> {
    /// A source reading `words` from the start.
    pub fn new(words: &'a [u32]) -> Self {
        Self { words, at: 0 }
    }

    /// Words not yet read.
    pub fn remaining(&self) -> usize {
        self.words.len() - self.at
    }
}

impl SpikeSource for SliceSource<'_> {
    type Error = EndOfStream;

    fn next_step(&mut self, positive: &mut [u32], negative: &mut [u32]) -> Result<(), EndOfStream> {
        let next = self
            .words
            .get(self.at..self.at + positive.len())
            .ok_or(EndOfStream)?;
        positive.copy_from_slice(next);
        negative.fill(0);
        self.at += positive.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static MODEL: &[u8] = include_bytes!("../../snn-core/tests/golden/model.snn");

    /// The streamed inference equals a session fed the same spikes by hand, and with
    /// early exit it stops where `settled` says and still consumes every step.
    #[test]
    fn a_stream_gives_the_session_result_and_is_consumed_whole() {
        let model = Model::from_bytes(MODEL).unwrap();
        let words = model.input_len().div_ceil(32);
        let steps = 12u32;
        let mut x = 0x1234_5678u32;
        let stream: Vec<u32> = (0..steps as usize * words)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x & 0x1111_1111
            })
            .collect();
        let mut state = vec![0u32; model.state_words()];
        let mut by_hand = model.session_without_encoder(&mut state).unwrap();
        let zeros = vec![0u32; words];
        for w in stream.chunks(words) {
            by_hand.step_with_spikes(w, &zeros).unwrap();
        }
        let want = by_hand.result();
        let mut buf = vec![0u32; 2 * words];
        let mut state = vec![0u32; model.state_words()];
        let mut src = SliceSource::new(&stream);
        let got = classify_stream(
            &model,
            &mut state,
            &mut src,
            &mut buf,
            steps,
            EarlyExit::Never,
        )
        .unwrap();
        assert_eq!(got, want);
        let mut src = SliceSource::new(&stream);
        let early = classify_stream(
            &model,
            &mut state,
            &mut src,
            &mut buf,
            steps,
            EarlyExit::Margin { per_step: 1 },
        )
        .unwrap();
        assert!(early.steps <= steps);
        assert_eq!(src.remaining(), 0, "the skipped steps are read too");
        let mut short = SliceSource::new(&stream[..words]);
        assert_eq!(
            classify_stream(
                &model,
                &mut state,
                &mut short,
                &mut buf,
                2,
                EarlyExit::Never
            ),
            Err(StreamError::Source(EndOfStream))
        );
        assert!(matches!(
            classify_stream(
                &model,
                &mut state,
                &mut SliceSource::new(&stream),
                &mut buf[1..],
                2,
                EarlyExit::Never
            ),
            Err(StreamError::Buffer { .. })
        ));
    }
}
