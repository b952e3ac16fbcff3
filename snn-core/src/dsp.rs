//! The Cortex-M DSP-extension instructions the 16-bit kernels use (feature `dsp`,
//! Armv7E-M and Armv8-M Mainline with the DSP extension: Cortex-M4, M7, M33).
//!
//! The small functions are one instruction each on a pair of 16-bit lanes packed in a
//! `u32` (lane 0 in bits 0..16, lane 1 in bits 16..32); [`leak_pair`] is four and
//! [`fire_select`] three that must share the `GE` flags. The loops
//! ([`hard_walk`], [`add_blocks`], [`add_rows`]) run a whole population's neuron
//! pairs or a run of weight rows in one block. The portable kernels in
//! [`crate::membrane`] and [`crate::neuron`] compute the same lanes with ordinary
//! integer arithmetic; the QEMU runs compare the two bit for bit.
//!
//! Stable Rust exposes neither these intrinsics nor a `target_feature = "dsp"` cfg,
//! hence inline assembly and a cargo feature. `add_rows` needs 13 general-purpose
//! registers at once: a target that reserves both r7 and r9 (forced frame pointers
//! and `+reserve-r9`) would not compile it.
#![allow(unsafe_code)]

use core::arch::asm;

/// `SXTB16`: sign-extends bytes 0 and 2 of `x` into the two 16-bit lanes.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    let r: u32;
    // SAFETY: a register-to-register instruction of the DSP extension (present on
    // every core this feature is enabled for): it reads `x`, writes `r`, touches no
    // memory, stack or flags.
    unsafe {
        asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// `SXTB16 ..., ROR #8`: sign-extends bytes 1 and 3 of `x` into the two lanes.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    let r: u32;
    // SAFETY: as `sxtb16`; the rotation is part of the same instruction.
    unsafe {
        asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    r
}

/// One two-operand register-to-register DSP instruction as a function `(a, b) -> r`.
macro_rules! lane_op {
    ($(#[$doc:meta])* $name:ident, $insn:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(a: u32, b: u32) -> u32 {
            let r: u32;
            // SAFETY: one register-to-register instruction of the DSP extension
            // (present on every core the feature is enabled for): it reads `a` and
            // `b`, writes `r`, touches no memory or stack. The flags (GE, Q) are
            // declared clobbered (no `preserves_flags`), so none is assumed kept.
            unsafe {
                asm!(concat!($insn, " {r}, {a}, {b}"), r = lateout(reg) r, a = in(reg) a,
                     b = in(reg) b, options(pure, nomem, nostack));
            }
            r
        }
    };
}

lane_op!(
    /// `QADD16`: lane-wise signed saturating addition.
    qadd16,
    "qadd16"
);
lane_op!(
    /// `QSUB16`: lane-wise signed saturating subtraction `a - b`.
    qsub16,
    "qsub16"
);
lane_op!(
    /// `SSUB16`: lane-wise wrapping subtraction `a - b` (only its lanes where `a > b`
    /// are used, where it does not wrap).
    ssub16,
    "ssub16"
);

/// `leak` on both lanes of `u`: `(lane * l + 2^14) >> 15` per lane, `l` the leak bits
/// (below `2^15`, so a positive `i16`) in the low half of `l`.
///
/// ```text
/// SMLABB a, u, l, 2^14       a = u.lo * l + 2^14
/// SMLATB b, u, l, 2^14       b = u.hi * l + 2^14
/// ASR    a, a, #15
/// PKHBT  v, a, b, LSL #1     v = a[15:0] | (b << 1)[31:16] = (a, b >> 15)
/// ```
/// The products are at most `2^30` in magnitude, so the accumulations never overflow
/// (the Q flag is untouched in practice, and declared clobbered anyway).
#[inline(always)]
pub fn leak_pair(u: u32, l: u32) -> u32 {
    let v: u32;
    // SAFETY: register-to-register DSP instructions only; `a` and `b` are scratch
    // outputs the compiler allocates apart from the inputs (`out`, not `lateout`).
    unsafe {
        asm!(
            "smlabb {a}, {u}, {l}, {r}",
            "smlatb {b}, {u}, {l}, {r}",
            "asr {a}, {a}, #15",
            "pkhbt {v}, {a}, {b}, lsl #1",
            a = out(reg) _,
            b = out(reg) _,
            v = lateout(reg) v,
            u = in(reg) u,
            l = in(reg) l,
            r = in(reg) 1u32 << 14,
            options(pure, nomem, nostack),
        );
    }
    v
}

/// The firing decision of two neurons: with `u` their membranes and `th` their
/// thresholds, a lane fires when `u > th`. Returns `(v, fired)`: `v` takes the lane of
/// `rest` where the neuron did not fire and of `reset` where it did; `fired` has bit
/// 15 set when lane 0 fired and bit 31 when lane 1 did, nothing else.
///
/// ```text
/// SSUB16 t, th, u        GE of a lane = th - u >= 0   (did not fire)
/// SEL    v, rest, reset  lane = GE ? rest : reset
/// SEL    f, 0, 0x80008000
/// ```
#[inline(always)]
pub fn fire_select(u: u32, th: u32, rest: u32, reset: u32) -> (u32, u32) {
    let (v, f): (u32, u32);
    // SAFETY: register-to-register instructions only; the GE flags SSUB16 sets are
    // read by the two SELs inside this one asm block, and declared clobbered. SSUB16's
    // difference goes to `v` (an `out`, so apart from every input) and is overwritten
    // by the first SEL.
    unsafe {
        asm!(
            "ssub16 {v}, {th}, {u}",
            "sel {v}, {rest}, {reset}",
            "sel {f}, {zero}, {ones}",
            v = out(reg) v,
            f = out(reg) f,
            th = in(reg) th,
            u = in(reg) u,
            rest = in(reg) rest,
            reset = in(reg) reset,
            zero = in(reg) 0u32,
            ones = in(reg) 0x8000_8000u32,
            options(pure, nomem, nostack),
        );
    }
    (v, f)
}

/// The hard-reset update of a 16-bit population (see
/// [`crate::neuron::Neurons::step_i16`]): `words` are its membrane pairs, a whole
/// number of pixels of `pairs.len()` words (else nothing is done), `pairs` the packed
/// thresholds of one pixel, `l` the leak (`LEAKY`). Calls `fired(acc, q, n)` for each
/// run of `n <= 16` pairs from pair `q` on that fired: pair `j` of the run fired in
/// lane 0 if bit `16 - n + j` of `acc` is set, in lane 1 if bit `32 - n + j` is.
///
/// The assembly ([`hard_walk`]) walks the whole population; it stops only to hand
/// over 16 runs' records at a time.
#[inline(always)]
pub fn hard_pairs<const LEAKY: bool>(
    words: &mut [u32],
    pairs: &[u32],
    l: u32,
    mut fired: impl FnMut(u32, usize, usize),
) {
    let half = pairs.len();
    if words.is_empty() || half == 0 || !words.len().is_multiple_of(half) {
        return;
    }
    let base = words.as_mut_ptr();
    let mut records = [0u32; 3 * 16];
    let mut walk = Walk {
        tbase: pairs.as_ptr(),
        tend: pairs.as_ptr().wrapping_add(half),
        mend: base.wrapping_add(words.len()),
        out: records.as_mut_ptr(),
        out_end: records.as_ptr().wrapping_add(records.len()),
        run: 0,
    };
    let (mut m, mut tp) = (base, pairs.as_ptr());
    while m.cast_const() < walk.mend {
        walk.out = records.as_mut_ptr();
        // SAFETY: `words` and `pairs` are borrowed (mutably and shared) for the whole
        // walk, `words.len()` is a non-zero whole number of pixels of `half >= 1`
        // words (checked above); `(m, tp)` start at the first pixel and then are
        // where the last call stopped, which keeps them the same position in a
        // pixel; `records` is 16 whole records; and `m < mend` (the loop's condition).
        (m, tp) = unsafe { hard_walk::<LEAKY>(&mut walk, m, tp, l) };
        let written = (walk.out as usize - records.as_ptr() as usize) / 12;
        for r in records.chunks_exact(3).take(written) {
            let (acc, after, run) = (r[0], r[1] as usize, r[2] as usize);
            fired(acc, (after - base as usize) / 4 - run, run);
        }
    }
}

/// Where a [`hard_walk`] is and what it needs, read and written by the assembly at
/// fixed offsets (`#[repr(C)]`, word by word in this order).
#[repr(C)]
struct Walk {
    /// The packed thresholds of one pixel (`tbase..tend`, one word per pair of
    /// channels, at least one).
    tbase: *const u32,
    /// One past the last threshold word.
    tend: *const u32,
    /// One past the last membrane word (a whole number of pixels after the first).
    mend: *const u32,
    /// The next record slot: the walk writes `[acc, m, run]` for each run that fired.
    out: *mut u32,
    /// One past the last record slot (a whole number of 3-word records after `out`).
    out_end: *const u32,
    /// Scratch: the current run's length in pairs.
    run: u32,
}

/// The assembly of [`hard_walk`]; `$leak` computes `{a}` = the leaked pair from `r0`
/// (nothing for integrate-and-fire) and `$keep` is the register a neuron that does
/// not fire keeps (`{a}` leaked, `r0` as it was).
macro_rules! walk_asm {
    ($m:ident, $tp:ident, $w:ident, [$($leak:literal),*], $keep:literal, $($operands:tt)*) => {
        asm!(
            "push {{{k}}}",
            // A run: at most 16 pairs, inside one pixel.
            "1:",
            "ldr {t}, [sp]",
            "ldr {a}, [{t}, #4]",
            "sub {a}, {a}, {tp}",
            "lsr {k}, {a}, #2",
            "cmp {k}, #16",
            "it hi",
            "movhi {k}, #16",
            "str {k}, [{t}, #20]",
            "mov {acc}, #0",
            "2:",
            "ldr r0, [{m}], #4",
            "ldr {t}, [{tp}], #4",
            "cbz r0, 3f",
            $($leak,)*
            "ssub16 {b}, {t}, r0",
            concat!("sel {b}, ", $keep, ", {zero}"),
            "sel {a}, {zero}, {ones}",
            "str {b}, [{m}, #-4]",
            "orr {acc}, {a}, {acc}, lsr #1",
            "subs {k}, {k}, #1",
            "bne 2b",
            "b 4f",
            "3:",
            "lsr {acc}, {acc}, #1",
            "subs {k}, {k}, #1",
            "bne 2b",
            // The run's end: the thresholds wrap at the pixel's end; a run that fired
            // leaves a record; the walk stops at the membranes' end or a full buffer.
            "4:",
            "ldr {t}, [sp]",
            "ldr {a}, [{t}, #4]",
            "cmp {tp}, {a}",
            "it eq",
            "ldreq {tp}, [{t}]",
            "cmp {acc}, #0",
            "beq 5f",
            "ldr {a}, [{t}, #12]",
            "ldr {b}, [{t}, #20]",
            "str {acc}, [{a}]",
            "str {m}, [{a}, #4]",
            "str {b}, [{a}, #8]",
            "add {a}, {a}, #12",
            "str {a}, [{t}, #12]",
            "ldr {b}, [{t}, #16]",
            "cmp {a}, {b}",
            "beq 6f",
            "5:",
            "ldr {a}, [{t}, #8]",
            "cmp {m}, {a}",
            "blo 1b",
            "6:",
            "add sp, sp, #4",
            m = inout(reg) $m,
            tp = inout(reg) $tp,
            k = inout(reg) $w => _,
            acc = out(reg) _,
            zero = in(reg) 0u32,
            ones = in(reg) 0x8000_8000u32,
            // `CBZ` takes a low register.
            out("r0") _,
            t = out(reg) _,
            a = out(reg) _,
            b = out(reg) _,
            $($operands)*
        )
    };
}

/// The hard-reset update of a 16-bit population's neuron pairs (see
/// [`crate::neuron::Neurons::step_i16`]), from membrane word `*m` and threshold word
/// `*tp` on: per word, `v = leak(u)` (`LEAKY`; `v = u` without) where `u <= th` and
/// `v = 0` where `u > th`, lane by lane; a word at rest (`u = 0`) is skipped. The
/// pairs are walked in runs of at most 16 inside a pixel. A run's spike bits enter
/// `acc` from the top, one shift per word (lane 0 at bit 15, lane 1 at bit 31, so pair
/// `j` of a run of `n` ends at bits `16 - n + j` and `32 - n + j`); a run with a spike
/// writes the record `[acc, m after the run, n]` at `walk.out`. Stops at `walk.mend`
/// or when the record buffer is full, and returns where it stopped (`m`, `tp`).
/// `l` is the leak (below `2^15`).
///
/// Per word at work: 14 instructions with the leak (`LDR`, `LDR`, `CBZ`, `SMLABB`,
/// `SMLATB`, `ASR`, `PKHBT`, `SSUB16`, `SEL`, `SEL`, `STR`, `ORR` with the shift,
/// `SUBS`, `BNE`), 10 without; at rest: 6. Per run: 18, and 10 more with a record.
///
/// # Safety
/// `walk` describes a population whose membranes `m..walk.mend` and thresholds
/// `walk.tbase..walk.tend` are valid (membranes writable, nothing else aliasing them),
/// `tbase < tend`, `mend - m` a whole number of pixels (`tend - tbase` words) less
/// `tp - tbase`, with `tp` in `tbase..tend`; `walk.out..walk.out_end` is writable and
/// a non-zero whole number of records; and `m < mend`.
#[inline(always)]
unsafe fn hard_walk<const LEAKY: bool>(
    walk: &mut Walk,
    m: *mut u32,
    tp: *const u32,
    l: u32,
) -> (*mut u32, *const u32) {
    let (mut m, mut tp) = (m, tp);
    let w: *mut Walk = walk;
    // SAFETY: by the caller's contract. Each run covers `k = min(16, (tend - tp) / 4)
    // >= 1` pairs of the current pixel: the loads of `tp[..k]` stay below `tend` and
    // the loads and stores of `m[..k]` below `mend` (m and tp move together and a
    // pixel ends at `tend` exactly when it ends on a pixel boundary of `m`). A record
    // is three words at `out`, and the walk stops once `out` reaches `out_end`. The
    // walk state is read and written through `w` (the fields at offsets 0-20 of the
    // `#[repr(C)]` struct), borrowed mutably for the call. One word is pushed and
    // popped; GE and condition flags are clobbered (no `preserves_flags`).
    unsafe {
        if LEAKY {
            walk_asm!(m, tp, w, [
                "smlabb {a}, r0, {l}, {r}",
                "smlatb {b}, r0, {l}, {r}",
                "asr {a}, {a}, #15",
                "pkhbt {a}, {a}, {b}, lsl #1"
            ], "{a}", l = in(reg) l, r = in(reg) 1u32 << 14);
        } else {
            let _ = l;
            walk_asm!(m, tp, w, [], "r0",);
        }
    }
    (m, tp)
}

/// Adds (`QADD16`, or subtracts with `QSUB16` when `negative`) `blocks` blocks of eight
/// stored weights (two interleaved groups of four, see
/// [`crate::format::interleave_rows`]) into `4 * blocks` membrane words (eight 16-bit
/// membranes), saturating lane by lane. Returns nothing; `mem` and `w` must hold at
/// least `4 * blocks` words and `8 * blocks` bytes (checked by the caller's slicing:
/// this function takes the slices and uses the shorter).
///
/// Per block: 14 instructions for 8 synaptic events (`LDR` x2, `LDM`, `SXTB16` x4,
/// `QADD16` x4, `STM`, `SUBS`, `BNE`).
#[inline(always)]
pub fn add_blocks(mem: &mut [u32], w: &[u8], negative: bool) {
    let blocks = (mem.len() / 4).min(w.len() / 8);
    if blocks == 0 {
        return;
    }
    macro_rules! blocks_with {
        ($op:literal) => {
            // SAFETY: `blocks >= 1` iterations; iteration `i` reads bytes
            // `8i..8i + 8` of `w` (two `LDR`s, unaligned loads are allowed on
            // Armv7-M and Armv8-M Mainline) and reads and writes words `4i..4i + 4`
            // of `mem` (`LDM`/`STM` into r1-r4, which need word alignment: `mem` is a
            // `[u32]`).
            // Both are in bounds by the definition of `blocks`; `mem` is borrowed
            // mutably, `w` shared. The pointers and the counter are `inout` and
            // discarded; the scratch registers are `out`.
            unsafe {
                asm!(
                    "2:",
                    "ldr {x}, [{wp}], #8",
                    "ldr {y}, [{wp}, #-4]",
                    "ldm {m}, {{r1, r2, r3, r4}}",
                    "sxtb16 {t}, {x}",
                    concat!($op, " r1, r1, {t}"),
                    "sxtb16 {t}, {x}, ror #8",
                    concat!($op, " r2, r2, {t}"),
                    "sxtb16 {t}, {y}",
                    concat!($op, " r3, r3, {t}"),
                    "sxtb16 {t}, {y}, ror #8",
                    concat!($op, " r4, r4, {t}"),
                    "stm {m}!, {{r1, r2, r3, r4}}",
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    m = inout(reg) mem.as_mut_ptr() => _,
                    wp = inout(reg) w.as_ptr() => _,
                    n = inout(reg) blocks => _,
                    x = out(reg) _,
                    y = out(reg) _,
                    out("r1") _,
                    out("r2") _,
                    out("r3") _,
                    out("r4") _,
                    t = out(reg) _,
                    options(nostack),
                );
            }
        };
    }
    if negative {
        blocks_with!("qsub16");
    } else {
        blocks_with!("qadd16");
    }
}

/// Adds (`QADD16`, or `QSUB16` when `negative`) `rows` stored weight rows of `row`
/// weights (`row` even; consecutive in `w`) into the membrane rows of `mem` in reverse
/// order: weight row `r` into membrane words `(rows - 1 - r) * row / 2 ..` (a
/// convolution's consecutive kernel taps reach consecutive output columns backwards).
/// Per row: blocks of eight weights, then a group of four and a pair as `row % 8`
/// asks, then four instructions to step to the next row.
///
/// Does nothing unless `row` is even and nonzero, `mem` holds `rows * row / 2` words
/// and `w` `rows * row` bytes (the caller sizes both).
#[inline(always)]
pub fn add_rows(mem: &mut [u32], w: &[u8], rows: usize, row: usize, negative: bool) {
    let half = row / 2;
    if rows == 0
        || row == 0
        || !row.is_multiple_of(2)
        || mem.len() < rows * half
        || w.len() < rows * row
    {
        return;
    }
    let (blocks, group, pair) = (row / 8, (row % 8) / 4, (row % 4) / 2);
    // Row 0's membranes are the last row of `mem`. Per row: the block count, how far
    // the membrane pointer moves back after the row (it has moved `2 * row` bytes on;
    // the next row starts `2 * row` bytes before this one's start), an unused word,
    // and the group and pair counts. The weights are consecutive: no step.
    let m_last = (rows - 1) * half;
    let steps: [usize; 5] = [blocks, 4 * row, 0, group, pair];
    macro_rules! rows_with {
        ($op:literal) => {
            // SAFETY: with `rows >= 1` and `row = 8 * blocks + 4 * group + 2 * pair`,
            // row r (r in 0..rows) reads bytes `r * row .. (r + 1) * row` of `w` and
            // reads and writes words `(rows-1-r) * half .. (rows-r) * half` of `mem`,
            // in bounds by the checks above; after the row both pointers have moved
            // exactly one row (`2 * row` bytes of membranes, `row` bytes of weights),
            // and `steps` takes them to the next row's starts. `steps` is only read.
            // `LDM`/`STM` (into r1-r4), `LDRD`/`STRD`, `LDR`/`STR` of membranes need
            // word alignment: `mem` is a `[u32]` and every row starts on a word
            // (`half` words per row); the weight `LDR`/`LDRH` may be unaligned
            // (allowed on Armv7-M and Armv8-M Mainline). `mem` is borrowed mutably,
            // `w` shared.
            unsafe {
                asm!(
                    "3:",
                    "ldr r0, [{p}]",
                    "cbz r0, 6f",
                    "2:",
                    "ldr {x}, [{w}], #8",
                    "ldm {m}, {{r1, r2, r3, r4}}",
                    "sxtb16 {t}, {x}",
                    concat!($op, " r1, r1, {t}"),
                    "sxtb16 {t}, {x}, ror #8",
                    concat!($op, " r2, r2, {t}"),
                    "ldr {x}, [{w}, #-4]",
                    "sxtb16 {t}, {x}",
                    concat!($op, " r3, r3, {t}"),
                    "sxtb16 {t}, {x}, ror #8",
                    concat!($op, " r4, r4, {t}"),
                    "stm {m}!, {{r1, r2, r3, r4}}",
                    "subs r0, r0, #1",
                    "bne 2b",
                    "6:",
                    "ldr r0, [{p}, #12]",
                    "cbz r0, 4f",
                    "ldr {x}, [{w}], #4",
                    "ldrd {a}, {b}, [{m}]",
                    "sxtb16 {t}, {x}",
                    concat!($op, " {a}, {a}, {t}"),
                    "sxtb16 {t}, {x}, ror #8",
                    concat!($op, " {b}, {b}, {t}"),
                    "strd {a}, {b}, [{m}], #8",
                    "4:",
                    "ldr r0, [{p}, #16]",
                    "cbz r0, 5f",
                    "ldrh {x}, [{w}], #2",
                    "sxtb16 {t}, {x}",
                    "sxtb16 {x}, {x}, ror #8",
                    "pkhbt {t}, {t}, {x}, lsl #16",
                    "ldr {a}, [{m}]",
                    concat!($op, " {a}, {a}, {t}"),
                    "str {a}, [{m}], #4",
                    "5:",
                    "ldr {t}, [{p}, #4]",
                    "sub {m}, {m}, {t}",
                    "subs {rows}, {rows}, #1",
                    "bne 3b",
                    m = inout(reg) mem.as_mut_ptr().wrapping_add(m_last) => _,
                    w = inout(reg) w.as_ptr() => _,
                    rows = inout(reg) rows => _,
                    p = in(reg) steps.as_ptr(),
                    // The counter, in a low register for `CBZ`.
                    out("r0") _,
                    x = out(reg) _,
                    a = out(reg) _,
                    b = out(reg) _,
                    out("r1") _,
                    out("r2") _,
                    out("r3") _,
                    out("r4") _,
                    t = out(reg) _,
                    options(nostack),
                );
            }
        };
    }
    if negative {
        rows_with!("qsub16");
    } else {
        rows_with!("qadd16");
    }
}

/// One signed 16 x 16 multiply-accumulate of the DSP extension as a function
/// `(a, b, acc) -> acc + a.lane * b.lo`.
macro_rules! mac_op {
    ($(#[$doc:meta])* $name:ident, $insn:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(a: u32, b: u32, acc: i32) -> i32 {
            let r: i32;
            // SAFETY: one register-to-register instruction of the DSP extension
            // (present on every core the feature is enabled for): it reads `a`, `b`
            // and `acc`, writes `r`, touches no memory or stack. It may set the Q flag
            // on overflow, so the flags are declared clobbered (no `preserves_flags`).
            unsafe {
                asm!(concat!($insn, " {r}, {a}, {b}, {acc}"), r = lateout(reg) r,
                     a = in(reg) a, b = in(reg) b, acc = in(reg) acc,
                     options(pure, nomem, nostack));
            }
            r
        }
    };
}

mac_op!(
    /// `SMLABB`: `acc + a.lo * b.lo` (wrapping; callers keep it in range).
    smlabb,
    "smlabb"
);
mac_op!(
    /// `SMLATB`: `acc + a.hi * b.lo` (wrapping; callers keep it in range).
    smlatb,
    "smlatb"
);

/// Adds `v` times the stored weight row `w` into `acc` (lengths: the shorter),
/// four weights per `SXTB16` pair and `SMLAxB` each: the same sums as
/// [`crate::analog::mac_row_portable`].
#[inline]
pub fn mac_row(acc: &mut [i32], w: &[u8], v: i32) {
    let n = acc.len().min(w.len());
    let (acc, w) = (&mut acc[..n], &w[..n]);
    let (ac, ar) = acc.as_chunks_mut::<4>();
    let (wc, wr) = w.as_chunks::<4>();
    let b = v as u32;
    for (a, w) in ac.iter_mut().zip(wc) {
        let word = u32::from_le_bytes(*w);
        let (w01, w23) = (sxtb16(word), sxtb16_ror8(word));
        a[0] = smlabb(w01, b, a[0]);
        a[1] = smlatb(w01, b, a[1]);
        a[2] = smlabb(w23, b, a[2]);
        a[3] = smlatb(w23, b, a[3]);
    }
    crate::analog::mac_row_portable(ar, wr, v);
}
