//! Membrane storage: 16-bit or 32-bit ([`Membranes`](crate::format::Membranes)), and
//! the row accumulate every synaptic kernel of [`crate::layer`] ends in.
//!
//! A weight row is stored interleaved ([`crate::format::interleave_rows`]): in each
//! complete group of four the middle two bytes are swapped. [`Membrane::add_row`]
//! adds a stored row into a membrane row in logical order:
//!
//! ```text
//! mem[j] += s * w[j]        for j in 0..len, s = -1 for a negative spike else +1
//! ```
//!
//! `i32` membranes add wrapping (validation bounds one step's current so they never
//! wrap); `i16` membranes add saturating at `-32768..=32767`, one spike after the
//! other in the order the kernels visit them, which is the same on every target.
//!
//! With the `dsp` feature on 32-bit Arm, 16-bit rows are added two lanes per
//! instruction (`SXTB16`, `QADD16`); elsewhere by the portable loops below, which
//! compute the same values (the QEMU runs check it).

use crate::neuron::Neurons;

/// A membrane value type: `i16` or `i32`.
pub trait Membrane: Copy + Default + bytemuck::Pod + core::fmt::Debug + 'static {
    /// Adds (or subtracts, when `negative`) the stored weight row `w` into `mem`
    /// (lengths are the shorter of the two).
    fn add_row(mem: &mut [Self], w: &[u8], negative: bool);

    /// Adds `rows` consecutive stored weight rows of `row` weights into the membrane
    /// rows of `mem` in reverse order: weight row `r` into membrane row `rows - 1 - r`
    /// (a convolution's consecutive kernel taps reach consecutive output columns
    /// backwards). Each row as [`add_row`](Self::add_row); rows past the end of `mem`
    /// or `w` are left out.
    #[inline]
    fn add_rows_reversed(mem: &mut [Self], w: &[u8], rows: usize, row: usize, negative: bool) {
        let _ = rows;
        for (w, m) in w.chunks_exact(row).zip(mem.chunks_exact_mut(row).rev()) {
            Self::add_row(m, w, negative);
        }
    }

    /// `m += delta`: wrapping for `i32`, saturating to the `i16` range for `i16`.
    fn add(&mut self, delta: i32);

    /// Advances a population by one step (see [`Neurons::step`]); `pairs` is the
    /// population's packed-threshold table (16-bit only, see
    /// [`Neurons::write_pairs`]).
    fn step(neurons: &Neurons<'_>, mem: &mut [Self], pairs: &[u32], bits: &mut [u32]) -> u32;
}

/// Weight `k` of a group of four as stored (`[w0, w2, w1, w3]`) in logical order.
const LOGICAL: [usize; 4] = [0, 2, 1, 3];

impl Membrane for i32 {
    #[inline]
    fn add_row(mem: &mut [i32], w: &[u8], negative: bool) {
        if cfg!(target_arch = "arm") {
            add_row_words(mem, w, negative)
        } else {
            add_row_bytes(mem, w, negative)
        }
    }

    #[inline]
    fn add(&mut self, delta: i32) {
        *self = self.wrapping_add(delta);
    }

    #[inline]
    fn step(neurons: &Neurons<'_>, mem: &mut [i32], _pairs: &[u32], bits: &mut [u32]) -> u32 {
        neurons.step(mem, bits)
    }
}

impl Membrane for i16 {
    #[inline(always)]
    fn add_row(mem: &mut [i16], w: &[u8], negative: bool) {
        #[cfg(all(feature = "dsp", target_arch = "arm"))]
        {
            add_row_i16_dsp(mem, w, negative)
        }
        #[cfg(not(all(feature = "dsp", target_arch = "arm")))]
        {
            add_row_i16(mem, w, negative)
        }
    }

    #[cfg(all(feature = "dsp", target_arch = "arm"))]
    #[inline(always)]
    fn add_rows_reversed(mem: &mut [i16], w: &[u8], rows: usize, row: usize, negative: bool) {
        add_rows_reversed_i16_dsp(mem, w, rows, row, negative)
    }

    #[inline]
    fn add(&mut self, delta: i32) {
        *self = i32::from(*self)
            .saturating_add(delta)
            .clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }

    #[inline]
    fn step(neurons: &Neurons<'_>, mem: &mut [i16], pairs: &[u32], bits: &mut [u32]) -> u32 {
        neurons.step_i16(mem, pairs, bits)
    }
}

/// The portable `i32` row add: one byte at a time (vectorises on the host).
#[inline]
pub fn add_row_bytes(mem: &mut [i32], w: &[u8], negative: bool) {
    let n = mem.len().min(w.len());
    let (mem, w) = (&mut mem[..n], &w[..n]);
    let (mc, mr) = mem.as_chunks_mut::<4>();
    let (wc, wr) = w.as_chunks::<4>();
    let s = if negative { -1 } else { 1 };
    for (m, w) in mc.iter_mut().zip(wc) {
        for (k, &l) in LOGICAL.iter().enumerate() {
            m[l] = m[l].wrapping_add(s * i32::from(w[k] as i8));
        }
    }
    for (m, &w) in mr.iter_mut().zip(wr) {
        *m = m.wrapping_add(s * i32::from(w as i8));
    }
}

/// The `i32` row add four weights per 32-bit load: byte `k` of the little-endian word
/// is `(word >> 8k) as i8`, which a Cortex-M4 adds with one `SXTAB`.
#[inline]
pub fn add_row_words(mem: &mut [i32], w: &[u8], negative: bool) {
    let n = mem.len().min(w.len());
    let (mem, w) = (&mut mem[..n], &w[..n]);
    let (mc, mr) = mem.as_chunks_mut::<4>();
    let (wc, wr) = w.as_chunks::<4>();
    let lane = |word: u32, k: u32| i32::from((word >> (8 * k)) as u8 as i8);
    if negative {
        for (m, w) in mc.iter_mut().zip(wc) {
            let word = u32::from_le_bytes(*w);
            m[0] = m[0].wrapping_sub(lane(word, 0));
            m[2] = m[2].wrapping_sub(lane(word, 1));
            m[1] = m[1].wrapping_sub(lane(word, 2));
            m[3] = m[3].wrapping_sub(lane(word, 3));
        }
    } else {
        for (m, w) in mc.iter_mut().zip(wc) {
            let word = u32::from_le_bytes(*w);
            m[0] = m[0].wrapping_add(lane(word, 0));
            m[2] = m[2].wrapping_add(lane(word, 1));
            m[1] = m[1].wrapping_add(lane(word, 2));
            m[3] = m[3].wrapping_add(lane(word, 3));
        }
    }
    add_row_bytes(mr, wr, negative);
}

/// The portable `i16` row add: saturating, one weight at a time.
#[inline]
pub fn add_row_i16(mem: &mut [i16], w: &[u8], negative: bool) {
    let n = mem.len().min(w.len());
    let (mem, w) = (&mut mem[..n], &w[..n]);
    let (mc, mr) = mem.as_chunks_mut::<4>();
    let (wc, wr) = w.as_chunks::<4>();
    if negative {
        for (m, w) in mc.iter_mut().zip(wc) {
            for (k, &l) in LOGICAL.iter().enumerate() {
                m[l] = m[l].saturating_sub(i16::from(w[k] as i8));
            }
        }
        for (m, &w) in mr.iter_mut().zip(wr) {
            *m = m.saturating_sub(i16::from(w as i8));
        }
    } else {
        for (m, w) in mc.iter_mut().zip(wc) {
            for (k, &l) in LOGICAL.iter().enumerate() {
                m[l] = m[l].saturating_add(i16::from(w[k] as i8));
            }
        }
        for (m, &w) in mr.iter_mut().zip(wr) {
            *m = m.saturating_add(i16::from(w as i8));
        }
    }
}

/// The DSP form of [`Membrane::add_rows_reversed`] for `i16`: every row in one
/// assembly call ([`crate::dsp::add_rows`]). Odd rows, or membranes off a word
/// boundary, take the row by row path.
#[cfg(all(feature = "dsp", target_arch = "arm"))]
#[inline(always)]
fn add_rows_reversed_i16_dsp(mem: &mut [i16], w: &[u8], rows: usize, row: usize, negative: bool) {
    let span = rows * row;
    if mem.len() != span || w.len() != span {
        for (w, m) in w.chunks_exact(row).zip(mem.chunks_exact_mut(row).rev()) {
            add_row_i16_dsp(m, w, negative);
        }
        return;
    }
    if row.is_multiple_of(2) {
        if let Ok(words) = bytemuck::try_cast_slice_mut::<i16, u32>(mem) {
            crate::dsp::add_rows(words, w, rows, row, negative);
            return;
        }
    }
    for (w, m) in w.chunks_exact(row).zip(mem.chunks_exact_mut(row).rev()) {
        add_row_i16_dsp(m, w, negative);
    }
}

/// The DSP `i16` row add: blocks of eight weights in assembly
/// ([`crate::dsp::add_blocks`]: two loads, four `SXTB16`, four `QADD16` or `QSUB16`),
/// then a last group of four (one load, two `SXTB16`, two `QADD16`), a last pair (two
/// byte loads packed into one word, one `SXTB16`, one `QADD16`) and a last odd weight.
/// A row that does not start on a word boundary (an odd channel count) takes the
/// portable path.
#[cfg(all(feature = "dsp", target_arch = "arm"))]
#[inline(always)]
fn add_row_i16_dsp(mem: &mut [i16], w: &[u8], negative: bool) {
    use crate::dsp::{qadd16, qsub16, sxtb16, sxtb16_ror8};
    let n = mem.len().min(w.len());
    let (mem, w) = (&mut mem[..n], &w[..n]);
    let (pairs, odd) = mem.split_at_mut(n & !1);
    let Ok(words) = bytemuck::try_cast_slice_mut::<i16, u32>(pairs) else {
        return add_row_i16(mem, w, negative);
    };
    let op = |m: u32, x: u32| if negative { qsub16(m, x) } else { qadd16(m, x) };
    let blocks = n / 8;
    let (head, tail) = words.split_at_mut(4 * blocks);
    crate::dsp::add_blocks(head, w, negative);
    let mut wt = &w[8 * blocks..];
    let mut k = 0;
    if let Some(&[a, b, c, d]) = wt.first_chunk::<4>() {
        if let [m0, m1, ..] = &mut tail[..] {
            let x = u32::from_le_bytes([a, b, c, d]);
            *m0 = op(*m0, sxtb16(x));
            *m1 = op(*m1, sxtb16_ror8(x));
            (wt, k) = (&wt[4..], 2);
        }
    }
    if let (Some(&[a, b]), Some(m0)) = (wt.first_chunk::<2>(), tail.get_mut(k)) {
        *m0 = op(*m0, sxtb16(u32::from(a) | (u32::from(b) << 16)));
        wt = &wt[2..];
    }
    if let (Some(&x), [m]) = (wt.first(), odd) {
        let x = i16::from(x as i8);
        *m = if negative {
            m.saturating_sub(x)
        } else {
            m.saturating_add(x)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::interleave_rows;
    use proptest::prelude::*;

    proptest! {
        /// Every row add equals the logical-order reference on the de-interleaved row.
        #[test]
        fn row_adds_follow_the_logical_order(
            w in proptest::collection::vec(any::<u8>(), 0..40),
            m0 in proptest::collection::vec(any::<i16>(), 40),
            negative in any::<bool>(),
        ) {
            let n = w.len();
            let mut stored = w.clone();
            interleave_rows(&mut stored, n);
            let s = if negative { -1 } else { 1 };
            // i32
            let base: Vec<i32> = m0[..n].iter().map(|&v| i32::from(v) * 1000).collect();
            let want: Vec<i32> = base.iter().zip(&w).map(|(&m, &w)| m + s * i32::from(w as i8)).collect();
            let (mut a, mut b) = (base.clone(), base.clone());
            add_row_bytes(&mut a, &stored, negative);
            add_row_words(&mut b, &stored, negative);
            prop_assert_eq!(&a, &want);
            prop_assert_eq!(&b, &want);
            // i16, saturating
            let want: Vec<i16> = m0[..n].iter().zip(&w)
                .map(|(&m, &w)| (i32::from(m) + s * i32::from(w as i8)).clamp(-32768, 32767) as i16)
                .collect();
            let mut c = m0[..n].to_vec();
            add_row_i16(&mut c, &stored, negative);
            prop_assert_eq!(c, want);
        }
    }
}
