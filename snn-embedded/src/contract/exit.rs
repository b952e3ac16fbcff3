//! [`ExitCode`]: every status a firmware run can end with, and what each means.
//!
//! The firmware leaves through `exit(ExitCode)` (semihosting in QEMU, a breakpoint
//! after an `EXIT` line on a board); the host turns the status it sees back into an
//! [`ExitCode`] with [`ExitCode::from_code`] and prints [`ExitCode::meaning`]. One
//! table below defines the enum, its codes, their meanings and [`ExitCode::ALL`], so
//! they cannot drift apart.

macro_rules! exit_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $code:literal, $meaning:literal;)*) => {
        /// How a firmware run ended. The discriminant is the process exit status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum ExitCode {
            $($(#[doc = $doc])* $name = $code,)*
        }

        impl ExitCode {
            /// Every code, in increasing order.
            pub const ALL: &'static [ExitCode] = &[$(ExitCode::$name),*];

            /// The code for exit status `code`, if it is one of the contract's.
            #[inline]
            pub const fn from_code(code: i32) -> Option<Self> {
                match code {
                    $($code => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// What the code means, in a few words.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Self::$name => $meaning,)*
                }
            }
        }
    };
}

exit_codes! {
    /// Every result equals the host's expected result.
    Pass = 0, "every result equals the host's";
    /// At least one class, score vector, spike count or event count differs from the
    /// host's expected result.
    Mismatch = 1, "a result differs from the host's";
    /// The embedded model failed validation (`snn_core::FormatError`).
    ModelRejected = 2, "the model was rejected";
    /// The state arena fixed at build time is smaller than the model needs.
    ArenaTooSmall = 3, "the state arena is too small";
    /// An inference returned an error (`snn_core::RunError`: wrong image size or zero
    /// steps).
    InferenceFailed = 4, "an inference failed";
    /// The embedded test vectors did not decode ([`super::vectors::VectorError`]).
    BadVectors = 5, "the test vectors are invalid";
    /// The firmware panicked.
    Panic = 101, "panic";
    /// The core took a HardFault.
    HardFault = 102, "HardFault";
    /// The host's `timeout` stopped the run; the firmware never exits with it.
    Timeout = 124, "timeout";
}

impl ExitCode {
    /// The process exit status.
    #[inline]
    pub const fn code(self) -> i32 {
        self as u8 as i32
    }

    /// True for [`ExitCode::Pass`] only.
    #[inline]
    pub const fn is_success(self) -> bool {
        matches!(self, Self::Pass)
    }

    /// Every code with its meaning, `0: every result equals the host's, 1: ...`: for
    /// messages about a status that is not one of them.
    pub fn legend() -> Legend {
        Legend
    }
}

impl From<ExitCode> for i32 {
    #[inline]
    fn from(c: ExitCode) -> i32 {
        c.code()
    }
}

impl core::fmt::Display for ExitCode {
    /// `4 (an inference failed)`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.code(), self.meaning())
    }
}

/// [`ExitCode::legend`]'s display: every code and its meaning, comma-separated.
#[derive(Debug, Clone, Copy)]
pub struct Legend;

impl core::fmt::Display for Legend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, c) in ExitCode::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}: {}", c.code(), c.meaning())?;
        }
        Ok(())
    }
}
