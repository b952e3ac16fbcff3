//! AEDAT 3.1 (iniVation's cAER format) and the DVS128 Gesture dataset (Amir et al.
//! 2017) recorded in it.
//!
//! An AEDAT 3.1 file is a text header (lines starting with `#`, the first
//! `#!AER-DAT3.1`, the last `#!END-HEADER`) followed by packets: a 28-byte
//! little-endian header (`eventType` i16, `eventSource` i16, `eventSize` i32,
//! `eventTSOffset` i32, `eventTSOverflow` i32, `eventCapacity` i32, `eventNumber` i32,
//! `eventValid` i32) and `eventCapacity` events of `eventSize` bytes. Polarity events
//! (type 1, 8 bytes) are a data word (bit 0 valid, bit 1 polarity, bits 2-16 `y`, bits
//! 17-31 `x`) and a 32-bit timestamp whose high bits are the packet's
//! `eventTSOverflow` (`t = overflow << 31 | ts`). Other event types (DVS Gesture files
//! hold special events, type 0) and invalid events are skipped.
//!
//! `tonic.io.read_dvs_ibm` reads `eventCapacity` 8-byte events of every packet as
//! polarity events whatever their type, validity or overflow; on files with polarity
//! packets only, all valid, without overflow (what the CI cross-check writes), both
//! readers give the same events.
//!
//! DVS128 Gesture: `DIR/trials_to_train.txt` and `DIR/trials_to_test.txt` list the
//! recordings (`user01_fluorescent.aedat`, ...); each has a label file
//! `user01_fluorescent_labels.csv` (`class,startTime_usec,endTime_usec`, classes 1 to
//! 11), and every labelled interval `[start, end)` is one sample.

use std::path::Path;

use super::{preprocess, Event, EventOptions, EventSet};
use crate::error::DataError;

/// DVS128's sensor side.
pub const SIDE: usize = 128;

/// DVS128 Gesture's classes.
pub const CLASSES: usize = 11;

/// The polarity event type.
pub const POLARITY: i16 = 1;

const END_HEADER: &[u8] = b"#!END-HEADER\r\n";

fn le_i32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Where the packets of an AEDAT 3.x file start.
fn data_start(bytes: &[u8]) -> Result<usize, String> {
    if !bytes.starts_with(b"#!AER-DAT3") {
        let first: String = bytes
            .iter()
            .take(16)
            .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
            .collect();
        return Err(format!(
            "not an AEDAT 3.x file (it starts with {first:?}, not #!AER-DAT3)"
        ));
    }
    bytes
        .windows(END_HEADER.len())
        .position(|w| w == END_HEADER)
        .map(|p| p + END_HEADER.len())
        .ok_or_else(|| "the header has no #!END-HEADER line".to_string())
}

/// The polarity events of an AEDAT 3.x file's bytes, in file order.
///
/// # Errors
/// A message for a missing or malformed header, a truncated packet, or a packet whose
/// sizes do not add up.
pub fn parse(bytes: &[u8]) -> Result<Vec<Event>, String> {
    let mut at = data_start(bytes)?;
    let mut out = Vec::new();
    let mut packet = 0usize;
    while at < bytes.len() {
        let Some(h) = bytes.get(at..at + 28) else {
            return Err(format!(
                "packet {packet} at byte {at}: {} bytes left, a header needs 28 (truncated file)",
                bytes.len() - at
            ));
        };
        let kind = i16::from_le_bytes([h[0], h[1]]);
        let (size, overflow) = (le_i32(h, 4), le_i32(h, 12));
        let (capacity, number) = (le_i32(h, 16), le_i32(h, 20));
        let bad = |what: String| format!("packet {packet} at byte {at}: {what}");
        if size <= 0 || capacity < 0 || number < 0 || number > capacity || overflow < 0 {
            return Err(bad(format!(
                "event size {size}, capacity {capacity}, number {number}, overflow {overflow} \
                 (sizes must be positive and number at most capacity)"
            )));
        }
        if kind == POLARITY && size != 8 {
            return Err(bad(format!("polarity events of {size} bytes, 8 expected")));
        }
        let len = (size as usize)
            .checked_mul(capacity as usize)
            .filter(|&n| n <= bytes.len() - at - 28)
            .ok_or_else(|| {
                bad(format!(
                    "{capacity} events of {size} bytes run past the end of the file (truncated)"
                ))
            })?;
        let body = &bytes[at + 28..at + 28 + len];
        if kind == POLARITY {
            for ev in body.chunks_exact(8).take(number as usize) {
                let data = le_i32(ev, 0) as u32;
                if data & 1 == 0 {
                    continue;
                }
                let ts = u64::from(le_i32(ev, 4) as u32 & 0x7fff_ffff);
                out.push(Event {
                    t: (overflow as u64) << 31 | ts,
                    x: ((data >> 17) & 0x7fff) as u16,
                    y: ((data >> 2) & 0x7fff) as u16,
                    p: ((data >> 1) & 1) as u8,
                });
            }
        }
        at += 28 + len;
        packet += 1;
    }
    Ok(out)
}

/// An AEDAT 3.1 file holding `events` (valid polarity events, timestamps below
/// `2^31`), `per_packet` to a packet: what the tests write their fixtures with.
///
/// # Errors
/// A message for an event the format cannot hold.
pub fn encode(events: &[Event], per_packet: usize) -> Result<Vec<u8>, String> {
    let mut out = b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n".to_vec();
    for chunk in events.chunks(per_packet.max(1)) {
        let n = chunk.len() as i32;
        out.extend_from_slice(&POLARITY.to_le_bytes());
        out.extend_from_slice(&1i16.to_le_bytes()); // eventSource
                                                    // eventSize, eventTSOffset, eventTSOverflow, eventCapacity, eventNumber, eventValid
        for v in [8i32, 4, 0, n, n, n] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for e in chunk {
            if e.x >= 1 << 15 || e.y >= 1 << 15 || e.t >= 1 << 31 || e.p > 1 {
                return Err(format!("AEDAT 3.1 polarity events cannot store {e:?}"));
            }
            let data = u32::from(e.x) << 17 | u32::from(e.y) << 2 | u32::from(e.p) << 1 | 1;
            out.extend_from_slice(&data.to_le_bytes());
            out.extend_from_slice(&(e.t as u32).to_le_bytes());
        }
    }
    Ok(out)
}

/// One labelled interval of a DVS128 Gesture recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label {
    /// Class, `0..11` (the file's 1 to 11, minus one).
    pub class: u8,
    /// First microsecond of the gesture.
    pub start: u64,
    /// The microsecond after its end.
    pub end: u64,
}

/// The intervals of a DVS128 Gesture `*_labels.csv` file's text.
///
/// # Errors
/// A message naming the line for a malformed row, a class outside 1 to 11, an
/// interval that ends before it starts or one that overlaps the one before it (so the
/// samples never hold more events than the recording).
pub fn parse_labels(text: &str) -> Result<Vec<Label>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.starts_with("class")) {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let num = |s: &str| s.parse::<u64>().ok();
        let (Some(class), Some(start), Some(end), 3) = (
            f.first().and_then(|s| num(s)),
            f.get(1).and_then(|s| num(s)),
            f.get(2).and_then(|s| num(s)),
            f.len(),
        ) else {
            return Err(format!(
                "line {}: {line:?} is not `class,startTime_usec,endTime_usec`",
                n + 1
            ));
        };
        if !(1..=CLASSES as u64).contains(&class) || end < start {
            return Err(format!(
                "line {}: class {class} (1 to {CLASSES}) over [{start}, {end}) us",
                n + 1
            ));
        }
        if let Some(prev) = out.last().filter(|p: &&Label| start < p.end) {
            return Err(format!(
                "line {}: [{start}, {end}) us overlaps the interval before it, which ends at {}",
                n + 1,
                prev.end
            ));
        }
        out.push(Label {
            class: class as u8 - 1,
            start,
            end,
        });
    }
    Ok(out)
}

/// The samples of one recording: the events of each labelled interval.
pub fn cut(events: &[Event], labels: &[Label]) -> Vec<(Vec<Event>, u8)> {
    labels
        .iter()
        .map(|l| {
            let ev = events
                .iter()
                .filter(|e| (l.start..l.end).contains(&e.t))
                .copied();
            (ev.collect(), l.class)
        })
        .collect()
}

/// Loads one split of DVS128 Gesture: the recordings `DIR/<list>` names
/// (`trials_to_train.txt` or `trials_to_test.txt`), cut at their labels, with `opts`'
/// preprocessing.
///
/// # Errors
/// [`DataError::NotFound`] without the list, [`DataError::Io`] and
/// [`DataError::Format`] (the file named) for unreadable or malformed files.
pub fn load_split(
    dir: &Path,
    list: &str,
    opts: &EventOptions,
) -> Result<(EventSet, Vec<u8>), DataError> {
    let list_path = dir.join(list);
    let names = std::fs::read_to_string(&list_path).map_err(|_| DataError::NotFound {
        name: "dvs-gesture".into(),
        hint: format!(
            "{} missing (DVS128 Gesture unpacks to DvsGesture/ with trials_to_train.txt, \
             trials_to_test.txt, the .aedat recordings and their _labels.csv files)",
            list_path.display()
        ),
    })?;
    let d = usize::from(opts.downsample.max(1));
    let mut set = EventSet::new(SIDE.div_ceil(d), SIDE.div_ceil(d), opts.binning);
    let mut labels = Vec::new();
    for name in names.lines().map(str::trim).filter(|n| !n.is_empty()) {
        // A plain file name: a list cannot point outside `dir`.
        if Path::new(name).file_name() != Some(std::ffi::OsStr::new(name)) {
            return Err(DataError::format(
                &list_path,
                format!("{name:?} is not a file name in {}", dir.display()),
            ));
        }
        let path = dir.join(name);
        let read = |p: &Path| {
            std::fs::read(p).map_err(|error| DataError::Io {
                path: p.to_path_buf(),
                error,
            })
        };
        let events = parse(&read(&path)?).map_err(|p| DataError::format(&path, p))?;
        if let Some(e) = events.iter().find(|e| usize::from(e.x.max(e.y)) >= SIDE) {
            return Err(DataError::format(
                &path,
                format!(
                    "event at x = {}, y = {} lies outside the 128 x 128 sensor",
                    e.x, e.y
                ),
            ));
        }
        let stem = name.strip_suffix(".aedat").unwrap_or(name);
        let csv = dir.join(format!("{stem}_labels.csv"));
        let text = String::from_utf8(read(&csv)?)
            .map_err(|_| DataError::format(&csv, "not UTF-8 text"))?;
        let intervals = parse_labels(&text).map_err(|p| DataError::format(&csv, p))?;
        for (events, class) in cut(&events, &intervals) {
            set.push(preprocess(events, opts))
                .map_err(|p| DataError::format(&path, p))?;
            labels.push(class);
        }
    }
    Ok((set, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_damage_is_an_error() {
        let ev: Vec<Event> = (0..10)
            .map(|i| Event {
                t: 100 * i,
                x: 127 - i as u16,
                y: i as u16,
                p: (i % 2) as u8,
            })
            .collect();
        let bytes = encode(&ev, 4).unwrap();
        assert_eq!(parse(&bytes).unwrap(), ev);
        for cut in [bytes.len() - 1, bytes.len() - 8, 60] {
            assert!(parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse(b"#!AER-DAT2.0\r\n")
            .unwrap_err()
            .contains("not an AEDAT 3"));
    }

    #[test]
    fn labels_cut_half_open_intervals() {
        let l = parse_labels("class,startTime_usec,endTime_usec\n3,100,200\n11,200,300\n").unwrap();
        assert_eq!(
            l[0],
            Label {
                class: 2,
                start: 100,
                end: 200
            }
        );
        let ev = |t| Event {
            t,
            x: 0,
            y: 0,
            p: 0,
        };
        let s = cut(&[ev(99), ev(100), ev(199), ev(200), ev(300)], &l);
        assert_eq!(s[0].0.len(), 2);
        assert_eq!(s[1].0, vec![ev(200)]);
        assert!(parse_labels("12,0,1").unwrap_err().contains("class 12"));
        assert!(parse_labels("1,5").is_err());
        assert!(parse_labels("1,0,10\n2,5,20")
            .unwrap_err()
            .contains("overlaps"));
    }
}
