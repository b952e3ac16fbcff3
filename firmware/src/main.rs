//! Firmware: validates the embedded model, classifies every embedded input with
//! `snn-core`, reports each result, the instructions (QEMU) or cycles (board) per
//! inference and the memory used, and exits 0 only if every class, score vector and
//! spike count equals what `snn-core` computed on the host.
#![no_std]
#![no_main]

mod vectors;

#[cfg(feature = "board")]
mod board;
#[cfg(feature = "board")]
use board as platform;
#[cfg(all(feature = "qemu", not(feature = "board")))]
mod qemu;
#[cfg(all(feature = "qemu", not(feature = "board")))]
use qemu as platform;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::{entry, exception};
use snn_embedded::runner::Runner;
use snn_embedded::slot::ModelSlot;
use snn_embedded::stopwatch::{dwt_advances, DwtStopwatch, Stopwatch, SysTickStopwatch};

include!(concat!(env!("OUT_DIR"), "/arena.rs"));

static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.snn"));
static VECTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vectors.bin"));

static SYST_WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    SYST_WRAPS.fetch_add(1, Ordering::Relaxed);
}

extern "C" {
    static __sdata: u8;
    static __ebss: u8;
    static __sidata: u8;
    static __edata: u8;
}

/// `(flash, ram)` bytes used by the image: code + read-only data + the initial values of
/// `.data`; and `.data + .bss` (the arena included, the stack excluded).
fn memory_used(flash_origin: usize) -> (usize, usize) {
    let sdata = core::ptr::addr_of!(__sdata) as usize;
    let edata = core::ptr::addr_of!(__edata) as usize;
    let ebss = core::ptr::addr_of!(__ebss) as usize;
    let sidata = core::ptr::addr_of!(__sidata) as usize;
    (sidata + (edata - sdata) - flash_origin, ebss - sdata)
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns this into a safe `&'static mut`: zero-initialised in .bss, so
    // the arena is reserved at link time and never built on the stack.
    static mut ARENA: [u32; ARENA_WORDS] = [0; ARENA_WORDS];

    let mut cp = cortex_m::Peripherals::take().expect("first and only take");
    let cycles = dwt_advances(&mut cp.DCB, &mut cp.DWT);
    let mut systick = SysTickStopwatch::start(cp.SYST, || SYST_WRAPS.load(Ordering::Relaxed));
    let mut dwt = DwtStopwatch::default();
    platform::init();

    let slot = match ModelSlot::new(MODEL) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("model rejected: {}", e);
            platform::exit(2)
        }
    };
    let model = slot.model().clone();
    let mut runner = match Runner::new(&model, ARENA) {
        Ok(r) => r,
        Err(e) => {
            defmt::error!("{}", e);
            platform::exit(3)
        }
    };
    let v = vectors::Vectors::parse(VECTORS);
    let (flash, ram) = memory_used(platform::FLASH_ORIGIN);
    defmt::println!(
        "MODEL bytes={=usize} crc={=u32:#010x} state_words={=usize} classes={=usize} populations={=usize} cases={=usize} steps={=u32}",
        slot.flash_bytes(),
        slot.checksum(),
        model.state_words(),
        model.classes(),
        model.populations(),
        v.cases,
        v.steps
    );
    defmt::println!(
        "MEMORY flash={=usize} ram={=usize} arena={=usize} counter={=str}",
        flash,
        ram,
        4 * ARENA_WORDS,
        if cycles { "dwt-cycles" } else { "systick" }
    );

    let mut mismatches = 0u32;
    let mut total_ticks = 0u64;
    let mut total_events = 0u64;
    for i in 0..v.cases {
        let case = v.case(i);
        let t0 = if cycles { dwt.now() } else { systick.now() };
        let result = platform::signal(
            || runner.classify(case.image, case.seed, v.steps),
            |r| r.as_ref().is_ok_and(|r| r.class == case.class),
        );
        let ticks = if cycles {
            dwt.since(t0)
        } else {
            systick.since(t0)
        };
        let r = match result {
            Ok(r) => r,
            Err(e) => {
                defmt::error!("case {=usize}: {}", i, e);
                platform::exit(4)
            }
        };
        let events = r.total_synaptic_events();
        let ok = r.class == case.class
            && r.input_spikes == case.input_spikes
            && events == case.events
            && r.scores
                .iter()
                .enumerate()
                .all(|(k, &s)| s == case.score(k))
            && r.spikes
                .iter()
                .enumerate()
                .all(|(p, &s)| s == case.spikes(p));
        mismatches += u32::from(!ok);
        total_ticks += ticks;
        total_events += events;
        defmt::println!(
            "CASE {=usize} class={=u16} expected={=u16} ok={=bool} ticks={=u64} events={=u64} input_spikes={=u32}",
            i,
            r.class,
            case.class,
            ok,
            ticks,
            events,
            r.input_spikes
        );
        defmt::println!("SCORES {=usize} {}", i, &r.scores[..]);
        defmt::println!("SPIKES {=usize} {}", i, &r.spikes[..]);
    }
    defmt::println!(
        "SUMMARY cases={=usize} mismatches={=u32} ticks={=u64} events={=u64} counter={=str}",
        v.cases,
        mismatches,
        total_ticks,
        total_events,
        if cycles { "dwt-cycles" } else { "systick" }
    );
    platform::exit(if mismatches == 0 { 0 } else { 1 })
}
