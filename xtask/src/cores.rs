//! The cores `cargo xtask qemu --core` runs on: for each, the Rust target, the QEMU
//! machine, the memory map (a `firmware/memory-*.x`), the SysTick clock that turns
//! ticks into instructions, and the default model.
//!
//! Under `-icount shift=0` QEMU advances virtual time by exactly 1 ns per guest
//! instruction, and SysTick counts the machine's core clock in that virtual time, so
//! `instructions = ticks * 10^9 / f_core`. Each run checks `f_core` against the
//! firmware's calibration loop (a known instruction count), see
//! [`check_calibration`].

use anyhow::{bail, Result};

/// A core and the QEMU machine that emulates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Core {
    /// Cortex-M4F on mps2-an386 (thumbv7em-none-eabihf).
    #[default]
    M4,
    /// Cortex-M7 on mps2-an500 (thumbv7em-none-eabihf, the M4F's ELF).
    M7,
    /// Cortex-M33 on mps2-an505, Secure state (thumbv8m.main-none-eabihf, cortex-m33).
    M33,
    /// Cortex-M0 on microbit (thumbv6m-none-eabi; golden model by default).
    M0,
    /// STM32F405 (Cortex-M4F) on netduinoplus2: the HAL board firmware, USART1 output.
    Netduino,
}

/// What a [`Core`] is built and run with.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The `--core` name.
    pub name: &'static str,
    /// The core, in words.
    pub cpu: &'static str,
    /// QEMU `-machine`.
    pub machine: &'static str,
    /// Extra QEMU options for the machine.
    pub qemu_extra: &'static [&'static str],
    /// Rust target.
    pub target: &'static str,
    /// Memory map, a file in `firmware/` (`SNN_FW_MEMORY`).
    pub memory: &'static str,
    /// SysTick (core) clock of the QEMU machine, in Hz.
    pub systick_hz: u64,
    /// Build with the firmware's `dsp` feature (snn-core's DSP-extension kernels).
    pub dsp: bool,
    /// Default to snn-core's golden model (the default LeNet does not fit).
    pub golden_default: bool,
    /// Board-style firmware (`netduino` feature): output on the first USART, which QEMU
    /// connects to `-serial`, no semihosting.
    pub serial: bool,
}

impl Core {
    /// Every core, in CI order.
    pub const ALL: [Core; 5] = [Core::M4, Core::M7, Core::M33, Core::M0, Core::Netduino];

    pub const fn spec(self) -> Spec {
        match self {
            Core::M4 => Spec {
                name: "m4",
                cpu: "Cortex-M4F",
                machine: "mps2-an386",
                qemu_extra: &[],
                target: "thumbv7em-none-eabihf",
                memory: "memory-qemu.x",
                systick_hz: 25_000_000,
                dsp: true,
                golden_default: false,
                serial: false,
            },
            Core::M7 => Spec {
                name: "m7",
                cpu: "Cortex-M7",
                machine: "mps2-an500",
                qemu_extra: &[],
                target: "thumbv7em-none-eabihf",
                memory: "memory-qemu.x",
                systick_hz: 25_000_000,
                dsp: true,
                golden_default: false,
                serial: false,
            },
            Core::M33 => Spec {
                name: "m33",
                cpu: "Cortex-M33",
                machine: "mps2-an505",
                qemu_extra: &[],
                target: "thumbv8m.main-none-eabihf",
                memory: "memory-an505.x",
                systick_hz: 20_000_000,
                dsp: true,
                golden_default: false,
                serial: false,
            },
            Core::M0 => Spec {
                name: "m0",
                cpu: "Cortex-M0",
                machine: "microbit",
                // The real part's 16 KiB of SRAM, QEMU's default (memory-microbit.x).
                qemu_extra: &[],
                target: "thumbv6m-none-eabi",
                memory: "memory-microbit.x",
                systick_hz: 16_000_000,
                dsp: false,
                golden_default: true,
                serial: false,
            },
            Core::Netduino => Spec {
                name: "netduino",
                cpu: "STM32F405 (Cortex-M4F)",
                machine: "netduinoplus2",
                qemu_extra: &[],
                target: "thumbv7em-none-eabihf",
                memory: "memory-f405.x",
                systick_hz: 168_000_000,
                dsp: true,
                golden_default: false,
                serial: true,
            },
        }
    }
}

impl Spec {
    /// Guest instructions in `ticks` SysTick ticks at `-icount shift=0`, rounded down.
    pub fn instructions(&self, ticks: u64) -> u64 {
        (u128::from(ticks) * 1_000_000_000 / u128::from(self.systick_hz)) as u64
    }

    /// Instructions per tick (the counting quantum).
    pub fn per_tick(&self) -> f64 {
        1e9 / self.systick_hz as f64
    }

    /// The quantum as the reports print it (`±40`, `±62.5`, `±5.95`).
    pub fn quantum(&self) -> String {
        let q = self.per_tick();
        if q.fract() == 0.0 {
            format!("{q:.0}")
        } else if q >= 10.0 {
            format!("{q:.1}")
        } else {
            format!("{q:.2}")
        }
    }
}

/// The firmware's calibration line: `CALIBRATE instructions=N ticks=T`.
pub fn calibration(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("CALIBRATE instructions=")?;
    let (n, t) = rest.split_once(" ticks=")?;
    Some((n.parse().ok()?, t.parse().ok()?))
}

/// The firmware's stack line: `STACK peak=P size=S` (bytes).
pub fn stack(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("STACK peak=")?;
    let (p, s) = rest.split_once(" size=")?;
    Some((p.parse().ok()?, s.parse().ok()?))
}

/// Stack the firmware must have left over at its high-water mark, in bytes.
pub const STACK_SPARE_MIN: u64 = 4096;

/// Most stack the firmware may use, in bytes, on every core: the model descriptor is
/// built in place and a session's counts live in the arena, so what remains is one
/// `Classification` and the kernels' frames (docs/cores.md, *Stack*).
pub const STACK_PEAK_MAX: u64 = 4096;

/// Checks the machine's instructions per tick against the calibration loop: `n` known
/// instructions read `ticks` ticks. The measured span also holds the stopwatch's own
/// reads and the call (tens of instructions), hence the 0.1% tolerance; a wrong clock
/// figure is off by far more. Returns the measured instructions per tick.
pub fn check_calibration(spec: &Spec, n: u64, ticks: u64) -> Result<f64> {
    let measured = spec.instructions(ticks);
    let per_tick = n as f64 / ticks.max(1) as f64;
    if measured.abs_diff(n) > n / 1000 {
        bail!(
            "calibration: a loop of {n} instructions read {ticks} SysTick ticks on {}, \
             {per_tick:.3} instructions per tick, but xtask assumes {} ({} Hz); \
             is QEMU running with -icount shift=0?",
            spec.machine,
            spec.quantum(),
            spec.systick_hz
        );
    }
    Ok(per_tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_become_instructions() {
        assert_eq!(Core::M4.spec().instructions(7_500), 300_000);
        assert_eq!(Core::M33.spec().instructions(20_000), 1_000_000);
        assert_eq!(Core::M0.spec().instructions(16_001), 1_000_062);
        assert_eq!(Core::Netduino.spec().instructions(168_003), 1_000_017);
        assert_eq!(Core::M4.spec().quantum(), "40");
        assert_eq!(Core::M0.spec().quantum(), "62.5");
        assert_eq!(Core::Netduino.spec().quantum(), "5.95");
    }

    #[test]
    fn calibration_is_checked() {
        let m4 = Core::M4.spec();
        assert_eq!(
            calibration("CALIBRATE instructions=1000000 ticks=25001"),
            Some((1_000_000, 25_001))
        );
        assert_eq!(calibration("CASE 0 class=1"), None);
        assert!(check_calibration(&m4, 1_000_000, 25_001).is_ok());
        // mps2-an505's 20 MHz read as if it were 25 MHz: 20% off.
        let e = check_calibration(&m4, 1_000_000, 20_000).unwrap_err();
        assert!(
            e.to_string().contains("50.000 instructions per tick"),
            "{e}"
        );
    }

    #[test]
    fn stack_line() {
        assert_eq!(stack("STACK peak=36000 size=60904"), Some((36_000, 60_904)));
        assert_eq!(stack("STACK peak=1"), None);
    }

    #[test]
    fn names_are_the_cli_values() {
        use clap::ValueEnum;
        for c in Core::ALL {
            let v = c.to_possible_value().unwrap();
            assert_eq!(v.get_name(), c.spec().name);
        }
    }
}
