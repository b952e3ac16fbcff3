//! N-MNIST (Orchard, Jayawant, Cohen & Thakor 2015): MNIST digits recorded by an ATIS
//! sensor on a pan-tilt unit, 34 x 34 pixels, three saccades of about 100 ms.
//!
//! A sample is one file `Train/<digit>/<id>.bin` or `Test/<digit>/<id>.bin`: records of
//! 40 bits, big-endian fields: `x` (8 bits), `y` (8 bits), polarity (1 bit, 1 = ON)
//! and a 23-bit timestamp in microseconds. A record with `y = 240` is not an event but
//! a timestamp overflow mark: the events after it get `2^13` added, as in the dataset
//! authors' `eventvision.py` and `tonic.io.read_mnist_file` (which we follow to the
//! bit, and check against in CI).

use std::path::{Path, PathBuf};

use super::{preprocess, Event, EventOptions, EventSet};
use crate::error::DataError;

/// Sensor side.
pub const SIDE: usize = 34;

/// The `y` of a timestamp-overflow record.
pub const OVERFLOW_Y: u8 = 240;

/// The events of one N-MNIST file's bytes.
///
/// # Errors
/// A message when the length is not a whole number of 5-byte records.
pub fn parse(bytes: &[u8]) -> Result<Vec<Event>, String> {
    if !bytes.len().is_multiple_of(5) {
        return Err(format!(
            "{} bytes is not a whole number of 5-byte events ({} left over): truncated file",
            bytes.len(),
            bytes.len() % 5
        ));
    }
    let mut offset = 0u64;
    let mut out = Vec::with_capacity(bytes.len() / 5);
    for r in bytes.chunks_exact(5) {
        if r[1] == OVERFLOW_Y {
            offset += 1 << 13;
            continue;
        }
        let ts = u64::from(r[2] & 127) << 16 | u64::from(r[3]) << 8 | u64::from(r[4]);
        out.push(Event {
            t: ts + offset,
            x: u16::from(r[0]),
            y: u16::from(r[1]),
            p: r[2] >> 7,
        });
    }
    Ok(out)
}

/// The bytes of `events` in N-MNIST's format (timestamps below `2^23`; no overflow
/// marks): what the tests write their fixtures with.
///
/// # Errors
/// A message for an event the format cannot hold.
pub fn encode(events: &[Event]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(events.len() * 5);
    for e in events {
        if e.x > 255 || e.y > 255 || e.y == u16::from(OVERFLOW_Y) || e.t >= 1 << 23 || e.p > 1 {
            return Err(format!("N-MNIST cannot store {e:?}"));
        }
        out.extend_from_slice(&[
            e.x as u8,
            e.y as u8,
            e.p << 7 | (e.t >> 16) as u8,
            (e.t >> 8) as u8,
            e.t as u8,
        ]);
    }
    Ok(out)
}

/// The `.bin` files of a split directory (`Train` or `Test`) with their digit, in the
/// order samples are stored: by file name, then digit, so that the first `n` samples
/// mix the classes.
fn split_files(split: &Path) -> Result<Vec<(PathBuf, u8)>, DataError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| DataError::Io { path, error }
    };
    let mut files = Vec::new();
    for digit in 0..10u8 {
        let dir = split.join(digit.to_string());
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().is_some_and(|e| e == "bin") {
                files.push((path, digit));
            }
        }
    }
    files.sort_by(|a, b| a.0.file_name().cmp(&b.0.file_name()).then(a.1.cmp(&b.1)));
    Ok(files)
}

/// Loads one split directory (`DIR/Train` or `DIR/Test`) with `opts`' preprocessing.
///
/// # Errors
/// [`DataError::NotFound`] without any `<digit>/*.bin` file, [`DataError::Io`] and
/// [`DataError::Format`] (the file named) for an unreadable or malformed file or an
/// event outside the sensor.
pub fn load_split(split: &Path, opts: &EventOptions) -> Result<(EventSet, Vec<u8>), DataError> {
    let files = split_files(split)?;
    if files.is_empty() {
        return Err(DataError::NotFound {
            name: "nmnist".into(),
            hint: format!(
                "no <digit>/*.bin files in {} (N-MNIST unpacks to Train/0..9 and Test/0..9)",
                split.display()
            ),
        });
    }
    let d = usize::from(opts.downsample.max(1));
    let mut set = EventSet::new(SIDE.div_ceil(d), SIDE.div_ceil(d), opts.binning);
    let mut labels = Vec::with_capacity(files.len());
    for (path, digit) in files {
        let bytes = std::fs::read(&path).map_err(|error| DataError::Io {
            path: path.clone(),
            error,
        })?;
        let events = parse(&bytes).map_err(|p| DataError::format(&path, p))?;
        if let Some(e) = events.iter().find(|e| usize::from(e.x.max(e.y)) >= SIDE) {
            return Err(DataError::format(
                &path,
                format!(
                    "event at x = {}, y = {} lies outside the 34 x 34 sensor",
                    e.x, e.y
                ),
            ));
        }
        set.push(preprocess(events, opts))
            .map_err(|p| DataError::format(&path, p))?;
        labels.push(digit);
    }
    Ok((set, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_overflow_marks_add_two_to_the_thirteen() {
        let ev = vec![
            Event {
                t: 5,
                x: 0,
                y: 33,
                p: 1,
            },
            Event {
                t: (1 << 23) - 1,
                x: 33,
                y: 0,
                p: 0,
            },
        ];
        let mut bytes = encode(&ev).unwrap();
        assert_eq!(parse(&bytes).unwrap(), ev);
        // An overflow mark between them shifts the second event.
        let second = bytes.split_off(5);
        bytes.extend_from_slice(&[0, OVERFLOW_Y, 0, 0, 0]);
        bytes.extend_from_slice(&second);
        let back = parse(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1].t, ev[1].t + 8192);
        assert!(parse(&bytes[..7]).unwrap_err().contains("truncated"));
    }
}
