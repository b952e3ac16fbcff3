//! QEMU mps2-an386: defmt over semihosting; the exit code reaches QEMU's exit status,
//! and panics and HardFaults end QEMU with their own codes (`ExitCode::Panic`,
//! `ExitCode::HardFault`), so a run can never hang or pass by accident.

use cortex_m_rt::{exception, ExceptionFrame};
use defmt_semihosting as _;
use snn_embedded::contract::exit::ExitCode;

/// Where code memory starts on mps2-an386.
pub const FLASH_ORIGIN: usize = 0x0000_0000;

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
