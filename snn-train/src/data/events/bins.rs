//! From a sample's events to time steps, and `tonic`'s event denoising.
//!
//! Binning follows `tonic`'s slicers with no overlap, to the microsecond, on events
//! sorted by time (`t0` the first event's time, `n` the number of events, `T` steps):
//!
//! * [`Binning::TimeBins`] (`ToFrame(n_time_bins = T)`): windows of
//!   `w = (t_last - t0) / T` microseconds (integer division); step `k` holds the
//!   events with `t0 + k w <= t < t0 + (k + 1) w`. The events at or after
//!   `t0 + T w` (at least the last one) fall in no step.
//! * [`Binning::EventBins`] (`ToFrame(n_event_bins = T)`): `c = n / T` events a step,
//!   in order; the last `n mod T` fall in no step.
//! * [`Binning::Window`] (`ToFrame(time_window = us)`): step `k` holds
//!   `t0 + k us <= t < t0 + (k + 1) us` for the `n = max(1, (t_last - t0) / us)`
//!   windows `tonic` makes (no incomplete one: the events past them fall in no step);
//!   steps from `n` on are empty (`tonic` gives `n` frames instead).
//!
//! A frame counts the events of each polarity at each pixel (`tonic`'s `T x P x H x
//! W` frames); the network reads a spike wherever a count is non-zero, on two input
//! channels (OFF = channel 0, ON = channel 1, pixels in HWC order like the images).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::Event;

/// How a sample's events are cut into time steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binning {
    /// `T` windows of equal duration spanning the sample.
    #[default]
    TimeBins,
    /// `T` runs of equal event count.
    EventBins,
    /// Windows of this many microseconds from the first event.
    Window(u32),
}

/// The events of each of `steps` steps, as index ranges into `events` (sorted by
/// time).
pub fn slices(events: &[Event], steps: usize, binning: Binning) -> Vec<Range<usize>> {
    let (Some(first), Some(last), true) = (events.first(), events.last(), steps > 0) else {
        return vec![0..0; steps];
    };
    let at = |t: u64| events.partition_point(|e| e.t < t);
    // `n` windows of `w` microseconds from the first event, then empty steps.
    let windows = |w: u64, n: u64| -> Vec<Range<usize>> {
        (0..steps as u64)
            .map(|k| {
                if k >= n {
                    return 0..0;
                }
                let start = first.t.saturating_add(k.saturating_mul(w));
                at(start)..at(start.saturating_add(w))
            })
            .collect()
    };
    let span = last.t - first.t;
    match binning {
        Binning::TimeBins => windows(span / steps as u64, steps as u64),
        Binning::Window(us) => {
            let us = u64::from(us.max(1));
            windows(us, (span / us).max(1))
        }
        Binning::EventBins => {
            let c = events.len() / steps;
            (0..steps).map(|k| k * c..(k + 1) * c).collect()
        }
    }
}

/// `tonic`'s `ToFrame` frames: counts per step, polarity, row and column
/// (`[t][p][y][x]`, two polarities), of events on a `width x height` sensor. Events
/// outside it are not counted.
pub fn frames(
    events: &[Event],
    (width, height): (usize, usize),
    steps: usize,
    binning: Binning,
) -> Vec<u16> {
    let plane = width * height;
    let mut out = vec![0u16; steps * 2 * plane];
    for (k, r) in slices(events, steps, binning).into_iter().enumerate() {
        for e in &events[r] {
            let (x, y, p) = (usize::from(e.x), usize::from(e.y), usize::from(e.p));
            if x < width && y < height && p < 2 {
                let i = (k * 2 + p) * plane + y * width + x;
                out[i] = out[i].saturating_add(1);
            }
        }
    }
    out
}

/// The input spikes of `events` (sorted by time) on a `width x height` sensor over
/// `steps` steps of `binning`: `steps` bitsets of `ceil(2 * width * height / 32)`
/// words, step after step, a spike at input `(y * width + x) * 2 + p` wherever a step
/// holds an event of polarity `p` at `(x, y)` (two channels, HWC). What the trainer
/// feeds its network and `cargo xtask qemu --events` streams to the device.
pub fn spike_words(
    events: &[Event],
    (width, height): (usize, usize),
    steps: usize,
    binning: Binning,
) -> Vec<u32> {
    let w = (2 * width * height).div_ceil(32);
    let mut out = vec![0u32; steps * w];
    for (k, r) in slices(events, steps, binning).into_iter().enumerate() {
        for e in &events[r] {
            let (x, y, p) = (usize::from(e.x), usize::from(e.y), usize::from(e.p));
            if x < width && y < height && p < 2 {
                let i = (y * width + x) * 2 + p;
                out[k * w + i / 32] |= 1 << (i % 32);
            }
        }
    }
    out
}

/// `tonic.functional.denoise_numpy(events, filter_time)`, to the bit: an event is
/// kept when one of its 4-neighbours had an event less than `filter_us` before it.
/// As in `tonic`, the sensor is taken as the events' largest `x` and `y` plus one, and
/// every pixel starts as if it had fired at time 0 (so events before `filter_us` pass
/// wherever they have a neighbour inside that area).
pub fn denoise(events: &[Event], filter_us: u32) -> Vec<Event> {
    let w = events
        .iter()
        .map(|e| usize::from(e.x) + 1)
        .max()
        .unwrap_or(0);
    let h = events
        .iter()
        .map(|e| usize::from(e.y) + 1)
        .max()
        .unwrap_or(0);
    let f = u64::from(filter_us);
    let mut memory = vec![f; w * h];
    let mut out = Vec::new();
    for e in events {
        let (x, y) = (usize::from(e.x), usize::from(e.y));
        memory[x * h + y] = e.t + f;
        let recent = |x: usize, y: usize| memory[x * h + y] > e.t;
        if (x > 0 && recent(x - 1, y))
            || (x + 1 < w && recent(x + 1, y))
            || (y > 0 && recent(x, y - 1))
            || (y + 1 < h && recent(x, y + 1))
        {
            out.push(*e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: u64) -> Event {
        Event {
            t,
            x: 0,
            y: 0,
            p: 1,
        }
    }

    #[test]
    fn time_bins_drop_the_remainder_like_tonic() {
        // t0 = 0, t_last = 10, T = 3: w = 3, steps [0,3) [3,6) [6,9); 9 and 10 fall out.
        let e: Vec<Event> = [0, 2, 3, 5, 8, 9, 10].into_iter().map(ev).collect();
        let s = slices(&e, 3, Binning::TimeBins);
        assert_eq!(s, vec![0..2, 2..4, 4..5]);
        assert_eq!(slices(&e, 3, Binning::EventBins), vec![0..2, 2..4, 4..6]);
        // tonic makes max(1, 10 / 5) = 2 windows: the event at 10 is in none.
        assert_eq!(slices(&e, 3, Binning::Window(5)), vec![0..3, 3..6, 0..0]);
        assert_eq!(slices(&[], 2, Binning::TimeBins), vec![0..0, 0..0]);
    }

    #[test]
    fn frames_count_per_polarity_and_pixel() {
        let e = [
            Event {
                t: 0,
                x: 1,
                y: 0,
                p: 1,
            },
            Event {
                t: 1,
                x: 1,
                y: 0,
                p: 1,
            },
            Event {
                t: 2,
                x: 0,
                y: 1,
                p: 0,
            },
            Event {
                t: 4,
                x: 0,
                y: 0,
                p: 0,
            },
        ];
        let f = frames(&e, (2, 2), 2, Binning::TimeBins); // w = 2: [0,2) [2,4)
        let at = |t: usize, p: usize, y: usize, x: usize| f[((t * 2 + p) * 2 + y) * 2 + x];
        assert_eq!(at(0, 1, 0, 1), 2, "step 0, ON, (x 1, y 0)");
        assert_eq!(at(1, 0, 1, 0), 1, "step 1, OFF, (x 0, y 1)");
        assert_eq!(f.iter().map(|&c| u32::from(c)).sum::<u32>(), 3);
    }

    #[test]
    fn denoise_keeps_events_with_a_recent_neighbour() {
        let e = |t, x, y| Event { t, x, y, p: 0 };
        // Late in the recording (past the initial grace), an isolated event goes, a
        // neighbour within the filter time keeps the second.
        let input = [
            e(100_000, 5, 5),
            e(100_010, 6, 5),
            e(300_000, 0, 0),
            e(300_000, 9, 9),
        ];
        let out = denoise(&input, 1000);
        assert_eq!(out, vec![e(100_010, 6, 5)]);
    }
}
