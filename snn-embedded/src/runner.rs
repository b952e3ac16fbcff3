//! A runner owning a statically sized state arena.

use snn_core::{Classification, Model, RunError, MAX_LAYERS};

/// Why a runner could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RunnerError {
    /// The arena fixed at compile time is smaller than the model needs.
    ArenaTooSmall {
        /// Words the model needs ([`Model::state_words`]).
        needed: usize,
        /// Words the arena has (`N`).
        capacity: usize,
    },
}

impl core::fmt::Display for RunnerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::ArenaTooSmall { needed, capacity } => write!(
                f,
                "state arena has {capacity} words, the model needs {needed}: rebuild with a larger arena"
            ),
        }
    }
}

impl core::error::Error for RunnerError {}

/// Runs one model with an arena of `N` 32-bit words that the runner holds exclusively.
///
/// On a device the arena is a `static` (`static mut ARENA: [u32; N] = [0; N];` inside
/// cortex-m-rt's `#[entry]` becomes a safe `&'static mut`): its `N` words are reserved
/// at link time, so a model that needs more shows up at start-up as a
/// [`RunnerError`], never as a fault during inference. The runner borrows the model
/// (see [`crate::slot::ModelSlot`]): no copy of its descriptor is made.
#[derive(Debug)]
pub struct Runner<'a, const N: usize, const L: usize = MAX_LAYERS> {
    model: &'a Model<'a, L>,
    arena: &'a mut [u32; N],
}

impl<'a, const N: usize, const L: usize> Runner<'a, N, L> {
    /// A runner for `model` over `arena`, checking that `N` words are enough.
    ///
    /// # Errors
    /// [`RunnerError::ArenaTooSmall`].
    pub fn new(model: &'a Model<'a, L>, arena: &'a mut [u32; N]) -> Result<Self, RunnerError> {
        Self::check(model)?;
        Ok(Self { model, arena })
    }

    /// Checks that `N` words suffice for `model` (also usable before building a
    /// runner in place).
    ///
    /// # Errors
    /// [`RunnerError::ArenaTooSmall`].
    pub fn check(model: &Model<'_, L>) -> Result<(), RunnerError> {
        if model.state_words() > N {
            return Err(RunnerError::ArenaTooSmall {
                needed: model.state_words(),
                capacity: N,
            });
        }
        Ok(())
    }

    /// The model.
    pub fn model(&self) -> &'a Model<'a, L> {
        self.model
    }

    /// Classifies `image` (see [`Model::classify`]).
    ///
    /// # Errors
    /// [`RunError`] for a wrong image size or zero steps.
    pub fn classify(
        &mut self,
        image: &[u8],
        seed: u64,
        steps: u32,
    ) -> Result<Classification, RunError> {
        self.model.classify(&mut self.arena[..], image, seed, steps)
    }

    /// Classifies `image`, stopping early under `rule` (see [`Model::classify_until`]).
    ///
    /// # Errors
    /// [`RunError`] for a wrong image size or zero steps.
    pub fn classify_until(
        &mut self,
        image: &[u8],
        seed: u64,
        steps: u32,
        rule: snn_core::EarlyExit,
    ) -> Result<Classification, RunError> {
        self.model
            .classify_until(&mut self.arena[..], image, seed, steps, rule)
    }

    /// Classifies the next inference of a spike stream (see
    /// [`crate::stream::classify_stream`]), with `buf` holding one step.
    ///
    /// # Errors
    /// [`crate::stream::StreamError`].
    pub fn classify_stream<S: crate::stream::SpikeSource>(
        &mut self,
        source: &mut S,
        buf: &mut [u32],
        steps: u32,
        rule: snn_core::EarlyExit,
    ) -> Result<Classification, crate::stream::StreamError<S::Error>> {
        crate::stream::classify_stream(self.model, &mut self.arena[..], source, buf, steps, rule)
    }
}
