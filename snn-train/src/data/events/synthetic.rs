//! Small synthetic event datasets in the real file formats, for tests, examples and
//! trying the pipeline without the real recordings: each class is a shape that moves
//! differently, with sensor noise, written as N-MNIST `.bin` files or as a DVS128
//! Gesture directory (AEDAT 3.1 recordings, label CSVs, trial lists). Deterministic
//! for a seed.

use std::path::Path;

use super::{aedat, nmnist, Event};

/// SplitMix64: a tiny deterministic generator (the data layer does without `rand`'s
/// seeded generators).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One N-MNIST-like sample of class `class` (0 to 9): a bar through the centre at
/// `18 * class` degrees, shifted by up to 3 pixels each way per sample, seen during
/// three saccades of 100 ms (ON events in the first half of each, OFF in the second),
/// with 1 event in 8 uniform noise. Sorted by time.
pub fn nmnist_sample(class: u8, seed: u64, events_per_saccade: usize) -> Vec<Event> {
    let mut r = Mix(seed ^ u64::from(class) << 32);
    let angle = f64::from(class) * std::f64::consts::PI / 10.0;
    let (dx, dy) = (angle.cos(), angle.sin());
    let side = nmnist::SIDE as f64;
    let (sx, sy) = (r.below(7) as f64 - 3.0, r.below(7) as f64 - 3.0);
    let mut out = Vec::new();
    for s in 0..3u64 {
        // Each saccade shifts the bar by a few pixels.
        let ox = sx + [0.0, 2.0, -2.0][s as usize];
        let oy = sy + [0.0, 2.0, 1.0][s as usize];
        for _ in 0..events_per_saccade {
            let t = s * 100_000 + r.below(100_000);
            let (x, y, p) = if r.below(8) == 0 {
                (r.below(34) as f64, r.below(34) as f64, r.below(2) as u8)
            } else {
                let along = r.below(2001) as f64 / 100.0 - 10.0;
                let across = r.below(3) as f64 - 1.0;
                let x = side / 2.0 + ox + along * dx - across * dy;
                let y = side / 2.0 + oy + along * dy + across * dx;
                (x, y, u8::from(t % 100_000 < 50_000))
            };
            if (0.0..side).contains(&x) && (0.0..side).contains(&y) {
                out.push(Event {
                    t,
                    x: x as u16,
                    y: y as u16,
                    p,
                });
            }
        }
    }
    out.sort_by_key(|e| e.t);
    out
}

/// Writes an N-MNIST-like dataset: `DIR/Train/<digit>/<id>.bin` (`train` a class) and
/// `DIR/Test/...` (`test` a class).
///
/// # Errors
/// I/O errors.
pub fn write_nmnist(dir: &Path, train: usize, test: usize, seed: u64) -> std::io::Result<()> {
    for (split, n, salt) in [("Train", train, 0u64), ("Test", test, 1 << 40)] {
        for class in 0..10u8 {
            let d = dir.join(split).join(class.to_string());
            std::fs::create_dir_all(&d)?;
            for i in 0..n {
                let ev = nmnist_sample(class, seed ^ salt ^ (i as u64) << 8, 120);
                let bytes = nmnist::encode(&ev).map_err(std::io::Error::other)?;
                std::fs::write(d.join(format!("{:05}.bin", i + 1)), bytes)?;
            }
        }
    }
    Ok(())
}

/// One gesture-like recording: the 11 classes one after the other, each a blob of
/// radius 6 moving across the 128 x 128 sensor in its own direction for 400 ms, from
/// `start` microseconds, with 5% noise events; and its labels.
pub fn gesture_recording(
    seed: u64,
    start: u64,
    events_per_gesture: usize,
) -> (Vec<Event>, Vec<aedat::Label>) {
    let mut r = Mix(seed);
    let mut events = Vec::new();
    let mut labels = Vec::new();
    let side = aedat::SIDE as f64;
    for class in 0..aedat::CLASSES as u8 {
        let t0 = start + u64::from(class) * 500_000;
        let angle = f64::from(class) * 2.0 * std::f64::consts::PI / aedat::CLASSES as f64;
        for _ in 0..events_per_gesture {
            let dt = r.below(400_000);
            let (x, y) = if r.below(20) == 0 {
                (r.below(128) as f64, r.below(128) as f64)
            } else {
                let travel = dt as f64 / 400_000.0 * 60.0 - 30.0;
                let jx = r.below(13) as f64 - 6.0;
                let jy = r.below(13) as f64 - 6.0;
                (
                    side / 2.0 + travel * angle.cos() + jx,
                    side / 2.0 + travel * angle.sin() + jy,
                )
            };
            if (0.0..side).contains(&x) && (0.0..side).contains(&y) {
                events.push(Event {
                    t: t0 + dt,
                    x: x as u16,
                    y: y as u16,
                    p: r.below(2) as u8,
                });
            }
        }
        labels.push(aedat::Label {
            class,
            start: t0,
            end: t0 + 400_000,
        });
    }
    events.sort_by_key(|e| e.t);
    (events, labels)
}

/// Writes a DVS128 Gesture-like directory: `train` recordings listed in
/// `trials_to_train.txt`, `test` in `trials_to_test.txt`, each an AEDAT 3.1 file with
/// its `_labels.csv`.
///
/// # Errors
/// I/O errors.
pub fn write_gesture(dir: &Path, train: usize, test: usize, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (list, n, first) in [
        ("trials_to_train.txt", train, 1),
        ("trials_to_test.txt", test, 1 + train),
    ] {
        let mut names = String::new();
        for u in first..first + n {
            let stem = format!("user{u:02}_synthetic");
            let (ev, labels) = gesture_recording(seed ^ u as u64, 1_000_000, 300);
            let bytes = aedat::encode(&ev, 1024).map_err(std::io::Error::other)?;
            std::fs::write(dir.join(format!("{stem}.aedat")), bytes)?;
            let mut csv = String::from("class,startTime_usec,endTime_usec\n");
            for l in labels {
                csv += &format!("{},{},{}\n", l.class + 1, l.start, l.end);
            }
            std::fs::write(dir.join(format!("{stem}_labels.csv")), csv)?;
            names += &format!("{stem}.aedat\n");
        }
        std::fs::write(dir.join(list), names)?;
    }
    Ok(())
}
