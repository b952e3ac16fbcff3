//! QEMU (mps2-an386, mps2-an500, mps2-an505, microbit): defmt over semihosting; the exit code reaches QEMU's exit status,
//! and panics and HardFaults end QEMU with their own codes (`ExitCode::Panic`,
//! `ExitCode::HardFault`), so a run can never hang or pass by accident.

use cortex_m_rt::{exception, ExceptionFrame};
use defmt_semihosting as _;
use snn_embedded::contract::exit::ExitCode;

// `FLASH_ORIGIN`: where code memory starts in the chosen memory map (build.rs).
include!(concat!(env!("OUT_DIR"), "/memory.rs"));

/// Ends the QEMU run with `code` as its exit status.
pub fn exit(code: ExitCode) -> ! {
    semihosting::process::exit(code.code())
}

/// Nothing to set up on the emulated machine.
pub fn init() {}

/// Busy / result signalling: QEMU has no LEDs to drive.
pub fn signal<T>(f: impl FnOnce() -> T, _ok: impl FnOnce(&T) -> bool) -> T {
    f()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(ExitCode::Panic)
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    defmt::error!("HardFault pc={=u32:#x}", ef.pc());
    exit(ExitCode::HardFault)
}
