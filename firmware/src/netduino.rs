//! netduinoplus2 (STM32F405RG, Cortex-M4F) in QEMU: board-style firmware. The clock and
//! USART1 are set up through `stm32f4xx-hal` (no semihosting), and the defmt frames go
//! out on USART1 (PA9, 115200 8N1), which QEMU connects to its first `-serial`.
//! `cargo xtask qemu --core netduino` reads that stream, decodes it, and stops QEMU
//! after the contract's `EXIT` line, the end of every run (panics and HardFaults too).
//!
//! Clock: the 16 MHz HSI, no PLL (`Config::hsi()`). QEMU 7.2 does not model the
//! STM32F4 RCC (its ready bits read 0), so any configuration that starts the HSE or
//! the PLL waits for ever; the HSI needs no wait. (QEMU's SysTick runs at a fixed
//! 168 MHz whatever the RCC says; on silicon this build runs at 16 MHz.)

use core::cell::UnsafeCell;

use cortex_m_rt::{exception, ExceptionFrame};
use snn_embedded::contract::exit::ExitCode;
use snn_embedded::contract::report::ExitLine;
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;
use stm32f4xx_hal::serial::Tx;

// `FLASH_ORIGIN`: where code memory starts in the chosen memory map (build.rs).
include!(concat!(env!("OUT_DIR"), "/memory.rs"));

/// The defmt logger's state: the USART (once [`init`] ran) and the frame encoder.
struct State {
    taken: bool,
    interrupts_were_on: bool,
    tx: Option<Tx<pac::USART1>>,
    encoder: defmt::Encoder,
}

/// [`State`], shared between `main` and the logger.
struct Shared(UnsafeCell<State>);

// SAFETY: the single core reaches the state only with interrupts disabled: `init` in a
// `cortex_m::interrupt::free` section, the logger between `acquire` (which disables
// them) and `release`; `acquire` refuses a re-entrant frame (`taken`), so no two
// mutable references to it are ever live at once.
unsafe impl Sync for Shared {}

static STATE: Shared = Shared(UnsafeCell::new(State {
    taken: false,
    interrupts_were_on: false,
    tx: None,
    encoder: defmt::Encoder::new(),
}));

/// Sets the clocks (HSI, no PLL) and USART1 up for the log.
pub fn init() {
    let dp = pac::Peripherals::take().expect("first and only take");
    let mut rcc = dp.RCC.freeze(Config::hsi());
    let gpioa = dp.GPIOA.split(&mut rcc);
    let tx = dp
        .USART1
        .tx(gpioa.pa9, 115_200.bps(), &mut rcc)
        .expect("115200 bps from the 16 MHz HSI");
    cortex_m::interrupt::free(|_| {
        // SAFETY: interrupts are off and no log frame is open (the logger is not
        // called from here), so this is the only reference to the state (see `Shared`).
        unsafe { (*STATE.0.get()).tx = Some(tx) };
    });
}

/// Sends bytes of the log; dropped before [`init`] set USART1 up.
fn send(tx: &mut Option<Tx<pac::USART1>>, bytes: &[u8]) {
    if let Some(tx) = tx {
        // A write error cannot be reported anywhere but this log.
        let _ = tx.bwrite_all(bytes);
    }
}

#[defmt::global_logger]
struct UsartLogger;

// SAFETY: `acquire` disables interrupts and marks the logger taken (a nested frame
// panics), `release` restores them, so frames never interleave; every method touches
// the state only inside that span (or with interrupts off), as `Shared` requires.
unsafe impl defmt::Logger for UsartLogger {
    fn acquire() {
        let were_on = cortex_m::register::primask::read().is_active();
        cortex_m::interrupt::disable();
        // SAFETY: interrupts are off; `taken` rejects a frame opened inside a frame.
        let s = unsafe { &mut *STATE.0.get() };
        if s.taken {
            panic!("defmt logger taken reentrantly");
        }
        s.taken = true;
        s.interrupts_were_on = were_on;
        let State { tx, encoder, .. } = s;
        encoder.start_frame(|b| send(tx, b));
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: between `acquire` and `release`, interrupts are off and the logger ours.
        let s = unsafe { &mut *STATE.0.get() };
        let State { tx, encoder, .. } = s;
        encoder.end_frame(|b| send(tx, b));
        s.taken = false;
        if s.interrupts_were_on {
            // SAFETY: restores the state `acquire` found; no critical section of
            // this firmware spans a log frame.
            unsafe { cortex_m::interrupt::enable() };
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: between `acquire` and `release` (defmt's contract for `write`).
        let s = unsafe { &mut *STATE.0.get() };
        let State { tx, encoder, .. } = s;
        encoder.write(bytes, |b| send(tx, b));
    }
}

/// Busy / result signalling: the emulated board has no LEDs to drive.
pub fn signal<T>(f: impl FnOnce() -> T, _ok: impl FnOnce(&T) -> bool) -> T {
    f()
}

/// Prints the contract's `EXIT` line (the host stops QEMU on it) and waits.
pub fn exit(code: ExitCode) -> ! {
    defmt::println!("{}", ExitLine(code));
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    // A panic inside a log frame would re-enter the logger: close it first.
    // SAFETY: only the panicking context runs from here on (the handler never
    // returns), so nothing else holds the state.
    unsafe { (*STATE.0.get()).taken = false };
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(ExitCode::Panic)
}

#[exception]
unsafe fn HardFault(ef: &ExceptionFrame) -> ! {
    defmt::error!("HardFault pc={=u32:#x}", ef.pc());
    exit(ExitCode::HardFault)
}
