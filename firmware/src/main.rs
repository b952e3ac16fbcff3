//! Firmware: validates the embedded model, classifies every embedded input with
//! `snn-core`, reports each result, the instructions (QEMU) or cycles (board) per
//! inference and the memory used, and exits 0 only if every class, score vector and
//! spike count equals what `snn-core` computed on the host.
//!
//! What it reads (the vector file), prints (the report lines) and exits with (the
//! exit codes) is the host/device contract of `snn_embedded::contract`; this file only
//! sequences it.
#![no_std]
#![no_main]

#[cfg(semihosted)]
mod stream;
mod vectors;

#[cfg(feature = "board")]
mod board;
#[cfg(feature = "board")]
use board as platform;
#[cfg(all(feature = "netduino", not(feature = "board")))]
mod netduino;
#[cfg(all(feature = "netduino", not(feature = "board")))]
use netduino as platform;
#[cfg(semihosted)]
mod qemu;
#[cfg(semihosted)]
use qemu as platform;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::{entry, exception};
use snn_core::Classification;
use snn_embedded::contract::exit::ExitCode;
use snn_embedded::contract::report::{
    CaseLine, Counter, MemoryLine, ModelLine, ScoresLine, SpikesLine, SummaryLine,
};
use snn_embedded::contract::vectors::{Case, Vectors};
use snn_embedded::runner::Runner;
use snn_embedded::slot::ModelSlot;
#[cfg(not(armv6m))]
use snn_embedded::stopwatch::{dwt_advances, DwtStopwatch};
use snn_embedded::stopwatch::{Stopwatch, SysTickStopwatch};

include!(concat!(env!("OUT_DIR"), "/consts.rs"));

static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model.snn"));

static SYST_WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    #[cfg(not(armv6m))]
    SYST_WRAPS.fetch_add(1, Ordering::Relaxed);
    // ARMv6-M has no atomic read-modify-write; this handler is the only writer.
    #[cfg(armv6m)]
    SYST_WRAPS.store(SYST_WRAPS.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

/// Guest instructions the calibration loop runs: `CALIBRATION_LOOPS` times 10.
const CALIBRATION_LOOPS: u32 = 100_000;

/// Exactly 10 instructions per iteration (8 `nop`, `subs`, `bne`), `n` iterations.
#[inline(never)]
fn spin10(n: u32) {
    // SAFETY: the loop reads and writes no memory and no stack (`nomem, nostack`); it
    // only counts r0, declared as an input clobbered on exit, down to 0 and sets the
    // flags (not `preserves_flags`). `n` is a non-zero constant, so it ends.
    unsafe {
        core::arch::asm!(
            "2:",
            "nop", "nop", "nop", "nop", "nop", "nop", "nop", "nop",
            "subs r0, #1",
            "bne 2b",
            inout("r0") n => _,
            options(nomem, nostack),
        );
    }
}

/// Times a loop of a known instruction count with `clock` and prints
/// `CALIBRATE instructions=N ticks=T`: under QEMU's `-icount shift=0` the host checks
/// its instructions-per-tick figure for the machine against it.
fn calibrate(clock: &mut impl Stopwatch) {
    let t0 = clock.now();
    spin10(core::hint::black_box(CALIBRATION_LOOPS));
    let ticks = clock.since(t0);
    defmt::println!(
        "CALIBRATE instructions={=u32} ticks={=u64}",
        10 * CALIBRATION_LOOPS,
        ticks
    );
}

extern "C" {
    static __sdata: u8;
    static __ebss: u8;
    static __sidata: u8;
    static __edata: u8;
}

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

/// `(peak, size)` of the stack in bytes: cortex-m-rt's `paint-stack` fills the whole
/// stack region with [`cortex_m_rt::STACK_PAINT_VALUE`] before `main`; the deepest word
/// no longer holding it is the high-water mark (a lower bound: a frame may leave a
/// word it reserved untouched).
fn stack_peak() -> (usize, usize) {
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = bottom;
    // Only below the current stack pointer: no live frame is read.
    while p + 4 <= sp.min(top) {
        // SAFETY: `p` is 4-aligned (link.x asserts `_stack_end % 4 == 0`) and lies in
        // RAM between the end of the statics (`_stack_end`) and the current stack
        // pointer, memory no Rust object owns now (the heap is unused, frames live
        // above `sp`); a volatile read of it creates no reference.
        if unsafe { (p as *const u32).read_volatile() } != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        p += 4;
    }
    (top - p, top - bottom)
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
    // Likewise the model's descriptor, built in place by `ModelSlot::load_sized`, with
    // room for the embedded model's layers only.
    static mut MODEL_STORAGE: Option<snn_core::Model<'static, MODEL_LAYERS>> = None;
    // One step of a spike stream (no words without one).
    #[cfg(semihosted)]
    static mut STREAM_BUF: [u32; STREAM_BUF_WORDS] = [0; STREAM_BUF_WORDS];

    #[cfg_attr(armv6m, allow(unused_mut))]
    let mut cp = cortex_m::Peripherals::take().expect("first and only take");
    #[cfg(not(armv6m))]
    let cycles = dwt_advances(&mut cp.DCB, &mut cp.DWT);
    // ARMv6-M has no cycle counter: SysTick only.
    #[cfg(armv6m)]
    let cycles = false;
    let counter = if cycles {
        Counter::DwtCycles
    } else {
        Counter::SysTick
    };
    let mut systick = SysTickStopwatch::start(cp.SYST, || SYST_WRAPS.load(Ordering::Relaxed));
    #[cfg(not(armv6m))]
    let mut dwt = DwtStopwatch::default();
    platform::init();

    let slot = match ModelSlot::load_sized(MODEL, MODEL_STORAGE) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("model rejected: {}", e);
            platform::exit(ExitCode::ModelRejected)
        }
    };
    // Borrowed, never copied: the descriptor lives in `MODEL_STORAGE`, not on the stack.
    let model = slot.model();
    let mut runner = match Runner::new(model, ARENA) {
        Ok(r) => r,
        Err(e) => {
            defmt::error!("{}", e);
            platform::exit(ExitCode::ArenaTooSmall)
        }
    };
    let v = match vectors::embedded() {
        Ok(v) => v,
        Err(e) => {
            defmt::error!("{}", e);
            platform::exit(ExitCode::BadVectors)
        }
    };
    report_start(&slot, &v, counter);

    calibrate(&mut systick);

    // `STEPS` (a build constant, checked against the header by `vectors::embedded`)
    // rather than the header's value: the engine's loops get a known trip count.
    // The results go out as they come (no `map_err`: a moved `Classification` would
    // cost its size in stack).
    let from_image = |runner: &mut Runner<'_, ARENA_WORDS, MODEL_LAYERS>, case: &Case<'_>| {
        runner.classify_until(case.image, case.seed, STEPS, EXIT)
    };
    #[cfg(semihosted)]
    let mut source = open_stream(&v);
    #[cfg(not(semihosted))]
    open_stream(&v);
    #[cfg(semihosted)]
    let from_stream =
        |runner: &mut Runner<'_, ARENA_WORDS, MODEL_LAYERS>, _: &Case<'_>| match source.as_mut() {
            Some(source) => runner.classify_stream(source, &mut *STREAM_BUF, STEPS, EXIT),
            None => Err(snn_embedded::stream::StreamError::Source(stream::StreamIo)),
        };
    // One monomorphised run per input kind: no trait object, no extra stack.
    let clocks = Clocks {
        #[cfg(not(armv6m))]
        dwt: &mut dwt,
        systick: &mut systick,
        #[cfg(not(armv6m))]
        cycles,
    };
    // A build constant: an image build holds no stream code at all (it would change
    // how the engine's step is inlined, and the instruction counts with it).
    #[cfg(semihosted)]
    let totals = if STREAM.is_some() {
        clocks.run(&mut runner, &v, from_stream)
    } else {
        clocks.run(&mut runner, &v, from_image)
    };
    #[cfg(not(semihosted))]
    let totals = clocks.run(&mut runner, &v, from_image);
    defmt::println!(
        "{}",
        SummaryLine {
            cases: v.len(),
            mismatches: totals.mismatches,
            ticks: totals.ticks,
            events: totals.events,
            counter,
        }
    );
    let (peak, size) = stack_peak();
    defmt::println!("STACK peak={=usize} size={=usize}", peak, size);
    platform::exit(if totals.mismatches == 0 {
        ExitCode::Pass
    } else {
        ExitCode::Mismatch
    })
}

/// What a run over every case adds up to.
#[derive(Default)]
struct Totals {
    mismatches: u32,
    ticks: u64,
    events: u64,
}

/// Prints the `MODEL` and `MEMORY` lines: the model and vectors run, the memory used.
fn report_start(slot: &ModelSlot<'_, MODEL_LAYERS>, v: &Vectors<'_>, counter: Counter) {
    let model = slot.model();
    let (flash, ram) = memory_used(platform::FLASH_ORIGIN);
    defmt::println!(
        "{}",
        ModelLine {
            bytes: slot.flash_bytes(),
            crc: slot.checksum(),
            state_words: model.state_words(),
            classes: model.classes(),
            populations: model.populations(),
            cases: v.len(),
            steps: v.header().steps,
        }
    );
    defmt::println!(
        "{}",
        MemoryLine {
            flash,
            ram,
            arena: 4 * ARENA_WORDS,
            counter,
        }
    );
}

/// The spike stream of streamed vectors (`None` for images), after checking that the
/// vectors and the build agree on it; exits with [`ExitCode::BadVectors`] otherwise.
#[cfg(semihosted)]
fn open_stream(v: &Vectors<'_>) -> Option<stream::FileSource> {
    if v.header().streamed() != STREAM.is_some() {
        defmt::error!("the test vectors and the build disagree on streamed input");
        platform::exit(ExitCode::BadVectors)
    }
    match STREAM.map(stream::FileSource::open) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            defmt::error!("spike stream: {}", e);
            platform::exit(ExitCode::BadVectors)
        }
        None => None,
    }
}

/// Builds without semihosting read no stream: exits with [`ExitCode::BadVectors`] for
/// streamed vectors or a streamed build.
#[cfg(not(semihosted))]
fn open_stream(v: &Vectors<'_>) {
    if v.header().streamed() || STREAM.is_some() {
        defmt::error!("streamed input needs semihosting (a QEMU build)");
        platform::exit(ExitCode::BadVectors)
    }
}

/// The stopwatches a run may time with: the DWT cycle counter where it advances,
/// else SysTick.
struct Clocks<'c, S: Stopwatch> {
    #[cfg(not(armv6m))]
    dwt: &'c mut DwtStopwatch,
    systick: &'c mut S,
    #[cfg(not(armv6m))]
    cycles: bool,
}

impl<S: Stopwatch> Clocks<'_, S> {
    /// [`run_cases`] with the right clock.
    fn run<E: defmt::Format, const N: usize>(
        self,
        runner: &mut Runner<'_, N, MODEL_LAYERS>,
        v: &Vectors<'_>,
        infer: impl FnMut(&mut Runner<'_, N, MODEL_LAYERS>, &Case<'_>) -> Result<Classification, E>,
    ) -> Totals {
        #[cfg(not(armv6m))]
        if self.cycles {
            return run_cases(self.dwt, runner, v, infer);
        }
        run_cases(self.systick, runner, v, infer)
    }
}

/// Runs every case of `v`, timing each inference (`infer`) with `clock`, and reports
/// each result; ends the run with [`ExitCode::InferenceFailed`] if an inference fails.
fn run_cases<E: defmt::Format, const N: usize>(
    clock: &mut impl Stopwatch,
    runner: &mut Runner<'_, N, MODEL_LAYERS>,
    v: &Vectors<'_>,
    mut infer: impl FnMut(&mut Runner<'_, N, MODEL_LAYERS>, &Case<'_>) -> Result<Classification, E>,
) -> Totals {
    let mut totals = Totals::default();
    for case in v.cases() {
        let t0 = clock.now();
        let result = platform::signal(
            || infer(runner, &case),
            |r| r.as_ref().is_ok_and(|r| r.class == case.class),
        );
        let ticks = clock.since(t0);
        // By reference: a moved copy of the `Classification` would cost stack.
        let r = match &result {
            Ok(r) => r,
            Err(e) => {
                defmt::error!("case {=usize}: {}", case.index, e);
                platform::exit(ExitCode::InferenceFailed)
            }
        };
        let ok = report(&case, r, ticks);
        totals.mismatches += u32::from(!ok);
        totals.ticks += ticks;
        totals.events += r.total_synaptic_events();
    }
    totals
}

/// Compares one result with the host's and prints its `CASE`, `SCORES` and `SPIKES`
/// lines; true when it matches.
fn report(case: &Case<'_>, r: &Classification, ticks: u64) -> bool {
    let ok = case.matches(r);
    defmt::println!(
        "{}",
        CaseLine {
            case: case.index,
            class: r.class,
            expected: case.class,
            ok,
            ticks,
            events: r.total_synaptic_events(),
            input_spikes: r.input_spikes,
        }
    );
    defmt::println!(
        "{}",
        ScoresLine {
            case: case.index,
            scores: &r.scores[..],
        }
    );
    defmt::println!(
        "{}",
        SpikesLine {
            case: case.index,
            spikes: &r.spikes[..],
        }
    );
    ok
}
