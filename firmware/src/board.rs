//! NUCLEO-F429ZI (STM32F429ZI): defmt over RTT, panic-probe, and the user LEDs as
//! busy (LD1, green, PB0) and result (LD2, blue, PB7) signals. Flash and run with
//! `cargo xtask flash --chip STM32F429ZITx` (probe-rs).
//!
//! TODO(2): for another board, change the LED pins here and its memory map in
//! `memory-f429.x`.

use core::cell::RefCell;

use cortex_m::interrupt::Mutex;
use defmt_rtt as _;
use panic_probe as _;
use snn_embedded::contract::exit::ExitCode;
use snn_embedded::contract::report::ExitLine;
use snn_embedded::signal::Signals;
use stm32f4xx_hal::gpio::{Output, Pin, PushPull};
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;

/// Where flash starts on STM32F4.
pub const FLASH_ORIGIN: usize = 0x0800_0000;

type Leds = Signals<Pin<'B', 0, Output<PushPull>>, Pin<'B', 7, Output<PushPull>>>;

static LEDS: Mutex<RefCell<Option<Leds>>> = Mutex::new(RefCell::new(None));

/// Takes the LEDs (the core clock stays on the 16 MHz HSI: the figures are cycles).
pub fn init() {
    let dp = pac::Peripherals::take().expect("first and only take");
    let mut rcc = dp.RCC.constrain();
    let gpiob = dp.GPIOB.split(&mut rcc);
    let Ok(leds) = Signals::new(
        gpiob.pb0.into_push_pull_output(),
        gpiob.pb7.into_push_pull_output(),
    );
    cortex_m::interrupt::free(|cs| LEDS.borrow(cs).replace(Some(leds)));
}

/// Runs `f` with the busy LED on, then lights the result LED when `ok`.
pub fn signal<T>(f: impl FnOnce() -> T, ok: impl FnOnce(&T) -> bool) -> T {
    let mut leds = cortex_m::interrupt::free(|cs| LEDS.borrow(cs).take());
    let out = match leds.as_mut() {
        Some(l) => match l.busy_while(f, ok) {
            Ok(v) => v,
            Err(never) => match never {},
        },
        None => f(),
    };
    cortex_m::interrupt::free(|cs| LEDS.borrow(cs).replace(leds));
    out
}

/// Stops: probe-rs ends `run` at the breakpoint; the code is in the log (an `EXIT`
/// line of the contract's report).
pub fn exit(code: ExitCode) -> ! {
    defmt::println!("{}", ExitLine(code));
    loop {
        cortex_m::asm::bkpt();
    }
}
