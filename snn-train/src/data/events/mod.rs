//! Event-camera recordings: readers for the datasets' own file formats, the
//! preprocessing they get once at load time, and their binning into time steps.
//!
//! * [`nmnist`]: N-MNIST (Orchard et al. 2015), `Train/<digit>/<id>.bin` and
//!   `Test/...`, 40-bit events on a 34 x 34 sensor.
//! * [`aedat`]: AEDAT 3.1 files and the DVS128 Gesture dataset (Amir et al. 2017) built
//!   on them: recordings with CSV label files, 128 x 128, 11 classes.
//! * [`bins`]: events to `T` frames, by time or by event count (as `tonic`'s
//!   `ToFrame` with `n_time_bins` / `n_event_bins` / `time_window`), `tonic`'s
//!   `Denoise`, and the spike trains a network reads (two polarity channels).
//!
//! A loaded split is an [`EventSet`]: every sample's events, sorted by time, with
//! timestamps relative to the sample's first event, stored in 6 bytes each.
//!
//! ```
//! use snn_train::data::events::{nmnist, Event};
//! // One ON event at (3, 4), t = 10 us, in N-MNIST's 5-byte record.
//! let events = nmnist::parse(&[3, 4, 0x80, 0, 10]).unwrap();
//! assert_eq!(events, vec![Event { t: 10, x: 3, y: 4, p: 1 }]);
//! ```

pub mod aedat;
pub mod bins;
pub mod nmnist;
pub mod synthetic;

use serde::{Deserialize, Serialize};

pub use bins::Binning;

/// One event: time in microseconds, sensor column `x` and row `y`, polarity `p`
/// (1: ON, brighter; 0: OFF), as the datasets' readers (and `tonic`) give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Event {
    /// Timestamp, microseconds.
    pub t: u64,
    /// Column.
    pub x: u16,
    /// Row.
    pub y: u16,
    /// Polarity: 0 or 1.
    pub p: u8,
}

/// What every sample of an event dataset gets once, at load time, in this order:
/// `tonic`'s `Denoise` on the sensor's events, then spatial down-sampling; and how the
/// samples are cut into time steps later ([`Binning`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventOptions {
    /// How a sample's events are cut into the run's time steps.
    pub binning: Binning,
    /// Spatial down-sampling factor `d` (1: none): `x' = x / d`, `y' = y / d`, as
    /// `tonic.transforms.Downsample(spatial_factor = 1 / d)`. DVS128 Gesture's default
    /// is 4 (128 -> 32).
    pub downsample: u16,
    /// `tonic`'s `Denoise(filter_time)` in microseconds (0: off): an event is kept
    /// when a 4-neighbour pixel had an event less than this long before.
    pub denoise_us: u32,
}

impl Default for EventOptions {
    fn default() -> Self {
        Self {
            binning: Binning::TimeBins,
            downsample: 1,
            denoise_us: 0,
        }
    }
}

/// The samples of one split of an event dataset, preprocessed: events sorted by
/// time, timestamps relative to each sample's first event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSet {
    /// Sensor columns after down-sampling.
    pub width: usize,
    /// Sensor rows after down-sampling.
    pub height: usize,
    /// How samples are cut into time steps.
    pub binning: Binning,
    /// Timestamps (microseconds since the sample's first event) of all samples.
    ts: Vec<u32>,
    /// `x | y << 7 | p << 14` of all samples (sensors up to 128 x 128).
    xyp: Vec<u16>,
    /// Sample `i` is `ts[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
}

/// The largest sensor side an [`EventSet`] stores (7 bits per coordinate).
pub const MAX_SIDE: usize = 128;

impl Default for EventSet {
    fn default() -> Self {
        Self::new(0, 0, Binning::TimeBins)
    }
}

impl EventSet {
    /// An empty set for a `width x height` sensor (at most [`MAX_SIDE`] each way).
    pub fn new(width: usize, height: usize, binning: Binning) -> Self {
        Self {
            width: width.min(MAX_SIDE),
            height: height.min(MAX_SIDE),
            binning,
            ts: Vec::new(),
            xyp: Vec::new(),
            starts: vec![0],
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Events of all samples.
    pub fn total_events(&self) -> usize {
        self.ts.len()
    }

    /// Appends a sample: its events are sorted by time (stably) and their timestamps
    /// made relative to the first. Events outside the sensor are an error, as is a
    /// sample longer than `u32::MAX` microseconds (71 minutes).
    ///
    /// # Errors
    /// A message naming the first offending event.
    pub fn push(&mut self, mut events: Vec<Event>) -> Result<(), String> {
        events.sort_by_key(|e| e.t);
        let t0 = events.first().map_or(0, |e| e.t);
        // Check everything before storing anything: a refused sample leaves no trace.
        // The sides are public: re-check the 7-bit packing's limit here.
        let (w, h) = (self.width.min(MAX_SIDE), self.height.min(MAX_SIDE));
        for e in &events {
            if usize::from(e.x) >= w || usize::from(e.y) >= h || e.p > 1 {
                return Err(format!(
                    "event at x = {}, y = {}, polarity {} lies outside the {} x {} sensor",
                    e.x, e.y, e.p, self.width, self.height
                ));
            }
        }
        let last = events.last().map_or(0, |e| e.t);
        if last - t0 > u64::from(u32::MAX) {
            return Err(format!("a sample lasts more than {} us", u32::MAX));
        }
        for e in &events {
            self.ts.push((e.t - t0) as u32);
            self.xyp.push(e.x | e.y << 7 | u16::from(e.p) << 14);
        }
        self.starts.push(self.ts.len());
        Ok(())
    }

    /// Sample `i`'s events (timestamps relative to its first).
    ///
    /// **Panics** when `i >= self.len()`.
    pub fn sample(&self, i: usize) -> Vec<Event> {
        let r = self.starts[i]..self.starts[i + 1];
        self.ts[r.clone()]
            .iter()
            .zip(&self.xyp[r])
            .map(|(&t, &v)| Event {
                t: u64::from(t),
                x: v & 127,
                y: (v >> 7) & 127,
                p: (v >> 14) as u8 & 1,
            })
            .collect()
    }

    /// The first `n` samples (all if fewer).
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.len());
        self.starts.truncate(n + 1);
        let end = self.starts[n];
        self.ts.truncate(end);
        self.xyp.truncate(end);
    }
}

/// Event augmentation for training, drawn per sample and epoch: each event dropped
/// with probability `drop`, then the whole sample shifted by `(dx, dy)`, each uniform
/// in `-jitter..=jitter` (events shifted off the sensor are dropped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventAugment {
    /// Largest shift in pixels, each way (0: none).
    pub jitter: u16,
    /// Probability of dropping each event (0: none).
    pub drop: f32,
}

impl EventAugment {
    /// True when it changes anything.
    pub fn active(&self) -> bool {
        self.jitter > 0 || self.drop > 0.0
    }

    /// `events` augmented, on a `width x height` sensor, with randomness from `rng`.
    pub fn apply<R: rand::Rng + ?Sized>(
        &self,
        events: Vec<Event>,
        (width, height): (usize, usize),
        rng: &mut R,
    ) -> Vec<Event> {
        let j = i32::from(self.jitter);
        let (dx, dy) = if j > 0 {
            (rng.random_range(-j..=j), rng.random_range(-j..=j))
        } else {
            (0, 0)
        };
        let drop = f64::from(self.drop);
        events
            .into_iter()
            .filter(|_| drop <= 0.0 || rng.random::<f64>() >= drop)
            .filter_map(|e| {
                let x = i32::from(e.x) + dx;
                let y = i32::from(e.y) + dy;
                let inside = (0..width as i32).contains(&x) && (0..height as i32).contains(&y);
                inside.then_some(Event {
                    x: x as u16,
                    y: y as u16,
                    ..e
                })
            })
            .collect()
    }
}

/// Applies `opts`' load-time preprocessing to one sample's sensor events (`tonic`'s
/// `Denoise`, then down-sampling).
pub fn preprocess(events: Vec<Event>, opts: &EventOptions) -> Vec<Event> {
    let events = if opts.denoise_us > 0 {
        bins::denoise(&events, opts.denoise_us)
    } else {
        events
    };
    let d = opts.downsample.max(1);
    if d == 1 {
        return events;
    }
    events
        .into_iter()
        .map(|e| Event {
            x: e.x / d,
            y: e.y / d,
            ..e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_stores_samples_sorted_and_relative() {
        let mut set = EventSet::new(34, 34, Binning::TimeBins);
        let e = |t, x, y, p| Event { t, x, y, p };
        set.push(vec![e(120, 1, 2, 1), e(100, 33, 33, 0)]).unwrap();
        set.push(vec![]).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.sample(0), vec![e(0, 33, 33, 0), e(20, 1, 2, 1)]);
        assert!(set.sample(1).is_empty());
        let err = set.push(vec![e(0, 34, 0, 0)]).unwrap_err();
        assert!(err.contains("x = 34"), "{err}");
        assert_eq!(set.len(), 2, "a refused sample is not added");
        set.truncate(1);
        assert_eq!(set.len(), 1);
        assert_eq!(set.total_events(), 2);
    }

    #[cfg(feature = "train")]
    #[test]
    fn augmentation_shifts_and_drops_within_the_sensor() {
        use rand::SeedableRng;
        let ev: Vec<Event> = (0..1000)
            .map(|i| Event {
                t: i,
                x: (i % 34) as u16,
                y: 17,
                p: 0,
            })
            .collect();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        let none = EventAugment::default();
        assert!(!none.active());
        assert_eq!(none.apply(ev.clone(), (34, 34), &mut rng), ev);
        let drop = EventAugment {
            jitter: 0,
            drop: 0.25,
        };
        let kept = drop.apply(ev.clone(), (34, 34), &mut rng).len();
        assert!(
            (700..800).contains(&kept),
            "kept {kept} of 1000 at drop 0.25"
        );
        let jit = EventAugment {
            jitter: 3,
            drop: 0.0,
        };
        for _ in 0..20 {
            let out = jit.apply(ev.clone(), (34, 34), &mut rng);
            assert!(out.iter().all(|e| e.x < 34 && e.y < 34));
            let dy = i32::from(out[0].y) - 17;
            assert!(dy.abs() <= 3 && out.iter().all(|e| i32::from(e.y) - 17 == dy));
        }
    }

    #[test]
    fn downsampling_floors_the_coordinates() {
        let opts = EventOptions {
            downsample: 4,
            ..EventOptions::default()
        };
        let out = preprocess(
            vec![Event {
                t: 0,
                x: 127,
                y: 3,
                p: 1,
            }],
            &opts,
        );
        assert_eq!((out[0].x, out[0].y), (31, 0));
    }
}
