//! Time measurement: the [`Stopwatch`] trait and, with the `cortex-m` feature, a
//! SysTick implementation (24-bit counter extended in software) and a DWT cycle
//! counter one.
//!
//! QEMU does not model the DWT cycle counter (it reads 0 and never advances, while
//! `DWT::has_cycle_counter()` still says yes), so `dwt_advances` (feature `cortex-m`) probes it and the
//! firmware falls back to SysTick. Under QEMU with `-icount shift=0`, SysTick ticks
//! count instructions (40 per tick on mps2-an386), not cycles.

/// A monotonic counter of some clock.
pub trait Stopwatch {
    /// Current count.
    fn now(&mut self) -> u64;

    /// Counts since `start` (a previous [`now`](Self::now)).
    fn since(&mut self, start: u64) -> u64 {
        self.now().wrapping_sub(start)
    }
}

#[cfg(feature = "cortex-m")]
pub use cm::SysTickStopwatch;
// ARMv6-M (Cortex-M0/M0+) has no DWT cycle counter (and `cortex-m` no API for it);
// among the thumb targets it is the one without 32-bit atomic read-modify-write, the
// cfg that tells it apart here without a build script.
#[cfg(all(feature = "cortex-m", target_has_atomic = "32"))]
pub use cm::{dwt_advances, DwtStopwatch};

#[cfg(feature = "cortex-m")]
mod cm {
    use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
    #[cfg(target_has_atomic = "32")]
    use cortex_m::peripheral::{DCB, DWT};

    use super::Stopwatch;

    /// SysTick reload value: the whole 24-bit range.
    pub const RELOAD: u32 = 0x00FF_FFFF;

    /// SysTick on the core clock, extended to 64 bits by counting wraps.
    ///
    /// The caller counts wraps in its `SysTick` exception handler and passes a
    /// function reading that count; the stopwatch combines it with the live counter,
    /// with interrupts masked and the pending flag checked, so a wrap between the two
    /// reads is never lost.
    #[derive(Debug)]
    pub struct SysTickStopwatch {
        wraps: fn() -> u32,
    }

    impl SysTickStopwatch {
        /// Starts SysTick (core clock, full reload, interrupt on wrap).
        pub fn start(mut syst: SYST, wraps: fn() -> u32) -> Self {
            syst.set_clock_source(SystClkSource::Core);
            syst.set_reload(RELOAD);
            syst.clear_current();
            syst.enable_interrupt();
            syst.enable_counter();
            // QEMU reads CVR == 0 until the first reload (embedded.md P4).
            while SYST::get_current() == 0 {}
            Self { wraps }
        }
    }

    impl Stopwatch for SysTickStopwatch {
        fn now(&mut self) -> u64 {
            cortex_m::interrupt::free(|_| {
                let mut wraps = u64::from((self.wraps)());
                let mut cur = SYST::get_current();
                if SCB::is_pendst_pending() {
                    wraps += 1;
                    cur = SYST::get_current();
                }
                wraps * (u64::from(RELOAD) + 1) + u64::from(RELOAD - cur)
            })
        }
    }

    /// True only if the DWT cycle counter really advances (real silicon, not QEMU).
    #[cfg(target_has_atomic = "32")]
    pub fn dwt_advances(dcb: &mut DCB, dwt: &mut DWT) -> bool {
        dcb.enable_trace();
        dwt.enable_cycle_counter();
        let a = DWT::cycle_count();
        cortex_m::asm::delay(100);
        DWT::cycle_count() != a
    }

    /// The DWT cycle counter (32 bits, extended by assuming less than one wrap between
    /// reads). Use only where [`dwt_advances`] is true.
    #[cfg(target_has_atomic = "32")]
    #[derive(Debug, Default)]
    pub struct DwtStopwatch {
        last: u32,
        high: u64,
    }

    #[cfg(target_has_atomic = "32")]
    impl Stopwatch for DwtStopwatch {
        fn now(&mut self) -> u64 {
            let c = DWT::cycle_count();
            if c < self.last {
                self.high += 1 << 32;
            }
            self.last = c;
            self.high + u64::from(c)
        }
    }
}
