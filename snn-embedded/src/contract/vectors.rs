//! The test-vector file: inputs and the host's expected results, embedded in the
//! firmware by its `build.rs` and checked case by case on the device.
//!
//! # Layout (version 2)
//!
//! All integers little-endian, no padding, no alignment required.
//!
//! ```text
//! offset  size  field
//!      0     4  magic        b"SNNV"
//!      4     4  version      u32 = 2
//!      8     4  cases        u32
//!     12     4  input_len    u32            (bytes per image; 0: the inputs
//!                                           are spike streams read at run time,
//!                                           see `crate::stream`, not stored here)
//!     16     4  classes      u32, 1..=MAX_CLASSES
//!     20     4  populations  u32, <= MAX_POPULATIONS
//!     24     4  steps        u32, >= 1
//!     28     8  seed         u64            (case i runs with case_seed(seed, i))
//!     36        cases x record
//!
//! record (case_len = 16 + 4 * classes + 4 * populations + input_len bytes):
//!      0     4  class         u32, < classes
//!      4     4  input_spikes  u32
//!      8     8  events        u64            (total synaptic events)
//!     16        scores        i32 x classes
//!               spikes        u32 x populations
//!               image         u8 x input_len
//! ```
//!
//! The file is exactly `36 + cases * case_len` bytes. [`Vectors::decode`] checks the
//! magic, the version, every header range, that the sizes fit `usize` on the target,
//! the exact length and every expected class, and only then hands out cases; it never
//! panics. [`Encoder`] writes the same layout through a closure, without allocating.

use snn_core::{Classification, Model, MAX_CLASSES, MAX_POPULATIONS};

/// The first four bytes of a vector file.
pub const MAGIC: [u8; 4] = *b"SNNV";
/// The layout version this module writes and reads.
pub const VERSION: u32 = 2;
/// Bytes before the first record.
pub const HEADER_LEN: usize = 36;
/// Bytes of a record before its scores: class, input spikes, events.
const RECORD_FIXED: usize = 16;

/// The encoder seed of case `i` when the first case uses `base`: `base + i`, wrapping
/// at 2^64 (so any `u64` is a valid base). The host's expected results and the device
/// both derive seeds here.
#[inline]
pub const fn case_seed(base: u64, i: usize) -> u64 {
    base.wrapping_add(i as u64)
}

/// Why a vector file could not be written or read.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VectorError {
    /// The file holds `found` bytes; its header (or, before the header is read, the
    /// magic and version) needs `needed`.
    Truncated {
        /// Bytes the header says the file has (or the header's own length).
        needed: usize,
        /// Bytes found.
        found: usize,
    },
    /// The file holds `found` bytes, more than the `expected` its header announces.
    TrailingBytes {
        /// Bytes the header announces.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// The file starts with `found` instead of [`MAGIC`].
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The header says version `found`; this build reads [`VERSION`] only.
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// Header field `field` holds `found`, outside its range (see the layout).
    OutOfRange {
        /// The field's name in the layout.
        field: &'static str,
        /// The value found.
        found: u64,
    },
    /// `cases` records of the announced size do not fit in `usize` on this target.
    TooLarge,
    /// Case `case` expects class `found`, not below the header's `classes`.
    ClassOutOfRange {
        /// The case's index.
        case: usize,
        /// The class found.
        found: u32,
    },
    /// When writing: `what` (`"image"`, `"scores"` or `"spikes"`) has `found`
    /// entries where the header says `expected`.
    WrongLength {
        /// Which part of the case.
        what: &'static str,
        /// Entries the header requires.
        expected: usize,
        /// Entries given.
        found: usize,
    },
    /// When writing: `found` cases were written (or attempted) where the header
    /// announces `expected`.
    CaseCount {
        /// Cases the header announces.
        expected: u32,
        /// Cases written, or the index of the case one too many.
        found: u64,
    },
}

impl core::fmt::Display for VectorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Truncated { needed, found } => write!(
                f,
                "test vectors truncated: {found} bytes, the header needs {needed}"
            ),
            Self::TrailingBytes { expected, found } => write!(
                f,
                "test vectors have {found} bytes, the header announces {expected}"
            ),
            Self::BadMagic { found } => write!(
                f,
                "not a test-vector file: starts with {found:02x?}, not \"SNNV\""
            ),
            Self::UnsupportedVersion { found } => write!(
                f,
                "test-vector version {found}, this build reads version {VERSION}"
            ),
            Self::OutOfRange { field, found } => {
                write!(f, "test-vector header: {field} = {found} is out of range")
            }
            Self::TooLarge => f.write_str("test-vector sizes overflow this target's usize"),
            Self::ClassOutOfRange { case, found } => write!(
                f,
                "test vector {case}: expected class {found} is not below the class count"
            ),
            Self::WrongLength {
                what,
                expected,
                found,
            } => write!(
                f,
                "test vector {what}: {found} entries, expected {expected}"
            ),
            Self::CaseCount { expected, found } => write!(
                f,
                "test vectors: {found} cases written, the header announces {expected}"
            ),
        }
    }
}

impl core::error::Error for VectorError {}

/// What every case of a vector file shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Number of cases.
    pub cases: u32,
    /// Bytes per input image (the model's `input_len`).
    pub input_len: u32,
    /// Scores per case (the model's classes).
    pub classes: u32,
    /// Spike counts per case (the model's spiking populations).
    pub populations: u32,
    /// Time steps per inference.
    pub steps: u32,
    /// Encoder seed of case 0; case `i` uses [`case_seed`]`(seed, i)`.
    pub seed: u64,
}

impl Header {
    /// The header for `cases` inputs of `model`, run for `steps` steps from `seed`.
    ///
    /// # Errors
    /// [`VectorError::OutOfRange`] when a count does not fit the layout.
    pub fn for_model(
        model: &Model<'_>,
        cases: usize,
        steps: u32,
        seed: u64,
    ) -> Result<Self, VectorError> {
        let field = |field: &'static str, v: usize| {
            u32::try_from(v).map_err(|_| VectorError::OutOfRange {
                field,
                found: v as u64,
            })
        };
        let h = Self {
            cases: field("cases", cases)?,
            input_len: field("input_len", model.input_len())?,
            classes: field("classes", model.classes())?,
            populations: field("populations", model.populations())?,
            steps,
            seed,
        };
        h.check()?;
        Ok(h)
    }

    /// The header for `cases` inferences of `model` whose input spikes are streamed
    /// (`input_len` 0: the records hold no input; seed 0, unused), `steps` steps each.
    ///
    /// # Errors
    /// [`VectorError::OutOfRange`] when a count does not fit the layout.
    pub fn for_stream(model: &Model<'_>, cases: usize, steps: u32) -> Result<Self, VectorError> {
        let h = Self {
            input_len: 0,
            ..Self::for_model(model, cases, steps, 0)?
        };
        h.check()?;
        Ok(h)
    }

    /// True when the inputs are streamed, not stored in the records.
    pub const fn streamed(&self) -> bool {
        self.input_len == 0
    }

    /// The seed of case `i`: [`case_seed`]`(self.seed, i)`.
    #[inline]
    pub const fn case_seed(&self, i: usize) -> u64 {
        case_seed(self.seed, i)
    }

    /// Checks every field's range and that the sizes fit `usize`.
    ///
    /// # Errors
    /// [`VectorError::OutOfRange`] or [`VectorError::TooLarge`].
    pub fn check(&self) -> Result<(), VectorError> {
        let range = |field: &'static str, v: u32, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(VectorError::OutOfRange {
                    field,
                    found: u64::from(v),
                })
            }
        };
        range(
            "classes",
            self.classes,
            (1..=MAX_CLASSES).contains(&(self.classes as usize)),
        )?;
        range(
            "populations",
            self.populations,
            self.populations as usize <= MAX_POPULATIONS,
        )?;
        range("steps", self.steps, self.steps >= 1)?;
        self.encoded_len().map(|_| ())
    }

    /// Bytes of one record: class, input spikes, events, scores, spikes and image.
    ///
    /// # Errors
    /// [`VectorError::TooLarge`] when that overflows `usize`.
    pub fn case_len(&self) -> Result<usize, VectorError> {
        let words = (self.classes as usize)
            .checked_add(self.populations as usize)
            .and_then(|w| w.checked_mul(4))
            .ok_or(VectorError::TooLarge)?;
        RECORD_FIXED
            .checked_add(words)
            .and_then(|b| b.checked_add(self.input_len as usize))
            .ok_or(VectorError::TooLarge)
    }

    /// Bytes of the whole file: `HEADER_LEN + cases * case_len`.
    ///
    /// # Errors
    /// [`VectorError::TooLarge`] when that overflows `usize`.
    pub fn encoded_len(&self) -> Result<usize, VectorError> {
        self.case_len()?
            .checked_mul(self.cases as usize)
            .and_then(|b| b.checked_add(HEADER_LEN))
            .ok_or(VectorError::TooLarge)
    }

    /// The header's [`HEADER_LEN`] bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let mut w = Writer {
            out: &mut out,
            pos: 0,
        };
        w.put(&MAGIC);
        w.put(&VERSION.to_le_bytes());
        for v in [
            self.cases,
            self.input_len,
            self.classes,
            self.populations,
            self.steps,
        ] {
            w.put(&v.to_le_bytes());
        }
        w.put(&self.seed.to_le_bytes());
        out
    }

    /// Reads and checks a header from the start of `bytes` (which may go on).
    ///
    /// # Errors
    /// [`VectorError::Truncated`], [`VectorError::BadMagic`],
    /// [`VectorError::UnsupportedVersion`], or what [`Header::check`] finds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VectorError> {
        let truncated = VectorError::Truncated {
            needed: HEADER_LEN,
            found: bytes.len(),
        };
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.array::<4>().ok_or(truncated)?;
        if magic != MAGIC {
            return Err(VectorError::BadMagic { found: magic });
        }
        let version = r.u32().ok_or(truncated)?;
        if version != VERSION {
            return Err(VectorError::UnsupportedVersion { found: version });
        }
        let mut word = || r.u32().ok_or(truncated);
        let (cases, input_len, classes, populations, steps) =
            (word()?, word()?, word()?, word()?, word()?);
        let seed = r.u64().ok_or(truncated)?;
        let h = Self {
            cases,
            input_len,
            classes,
            populations,
            steps,
            seed,
        };
        h.check()?;
        Ok(h)
    }
}

/// Writes a vector file through `sink`, one piece at a time and without allocating:
/// [`Encoder::new`] writes the header, [`Encoder::push`] one case, and
/// [`Encoder::finish`] checks that the header's case count was reached.
///
/// ```
/// use snn_embedded::contract::vectors::{Encoder, Header, Vectors};
///
/// static MODEL: &[u8] = include_bytes!("../../../snn-core/tests/golden/model.snn");
/// static INPUTS: &[u8] = include_bytes!("../../../snn-core/tests/golden/inputs.bin");
/// let model = snn_core::Model::from_bytes(MODEL).unwrap();
/// let header = Header::for_model(&model, 2, 16, u64::MAX).unwrap();
/// let (mut buf, mut len) = ([0u8; 4096], 0);
/// let mut enc = Encoder::new(header, |b: &[u8]| {
///     buf[len..len + b.len()].copy_from_slice(b);
///     len += b.len();
/// })
/// .unwrap();
/// let mut state = [0u32; 4096];
/// for (i, image) in INPUTS.chunks(model.input_len()).take(2).enumerate() {
///     let r = model.classify(&mut state, image, header.case_seed(i), 16).unwrap();
///     enc.push(image, &r).unwrap();
/// }
/// enc.finish().unwrap();
///
/// let v = Vectors::decode(&buf[..len]).unwrap();
/// assert_eq!(v.len(), 2);
/// assert_eq!(v.case(1).unwrap().seed, 0); // u64::MAX + 1 wraps
/// ```
#[derive(Debug)]
pub struct Encoder<W: FnMut(&[u8])> {
    header: Header,
    written: u32,
    sink: W,
}

impl<W: FnMut(&[u8])> Encoder<W> {
    /// Checks `header` and writes it to `sink`.
    ///
    /// # Errors
    /// What [`Header::check`] finds (nothing is written then).
    pub fn new(header: Header, mut sink: W) -> Result<Self, VectorError> {
        header.check()?;
        sink(&header.to_bytes());
        Ok(Self {
            header,
            written: 0,
            sink,
        })
    }

    /// Writes the next case: its input `image` and the host's `expected` result.
    ///
    /// # Errors
    /// [`VectorError::CaseCount`] past the header's count,
    /// [`VectorError::WrongLength`] for an image, score or spike vector of the wrong
    /// length, [`VectorError::ClassOutOfRange`]; nothing is written then.
    pub fn push(&mut self, image: &[u8], expected: &Classification) -> Result<(), VectorError> {
        let h = &self.header;
        if self.written >= h.cases {
            return Err(VectorError::CaseCount {
                expected: h.cases,
                found: u64::from(self.written) + 1,
            });
        }
        let length = |what, expected: u32, found: usize| {
            if expected as usize == found {
                Ok(())
            } else {
                Err(VectorError::WrongLength {
                    what,
                    expected: expected as usize,
                    found,
                })
            }
        };
        length("image", h.input_len, image.len())?;
        length("scores", h.classes, expected.scores.len())?;
        length("spikes", h.populations, expected.spikes.len())?;
        if u32::from(expected.class) >= h.classes {
            return Err(VectorError::ClassOutOfRange {
                case: self.written as usize,
                found: u32::from(expected.class),
            });
        }
        let sink = &mut self.sink;
        sink(&u32::from(expected.class).to_le_bytes());
        sink(&expected.input_spikes.to_le_bytes());
        sink(&expected.total_synaptic_events().to_le_bytes());
        for s in &expected.scores {
            sink(&s.to_le_bytes());
        }
        for s in &expected.spikes {
            sink(&s.to_le_bytes());
        }
        sink(image);
        self.written += 1;
        Ok(())
    }

    /// Ends the file (dropping the sink, so whatever it borrowed is free again).
    ///
    /// # Errors
    /// [`VectorError::CaseCount`] when fewer cases than announced were written.
    pub fn finish(self) -> Result<(), VectorError> {
        if self.written != self.header.cases {
            return Err(VectorError::CaseCount {
                expected: self.header.cases,
                found: u64::from(self.written),
            });
        }
        Ok(())
    }
}

/// A decoded vector file: the header and the cases, borrowed from the bytes.
#[derive(Debug, Clone, Copy)]
pub struct Vectors<'a> {
    header: Header,
    records: &'a [u8],
    case_len: usize,
}

impl<'a> Vectors<'a> {
    /// Reads a whole vector file (see the module docs for what is checked).
    ///
    /// # Errors
    /// The [`VectorError`] naming the first problem.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, VectorError> {
        let header = Header::from_bytes(bytes)?;
        let total = header.encoded_len()?;
        if bytes.len() < total {
            return Err(VectorError::Truncated {
                needed: total,
                found: bytes.len(),
            });
        }
        if bytes.len() > total {
            return Err(VectorError::TrailingBytes {
                expected: total,
                found: bytes.len(),
            });
        }
        let v = Self {
            header,
            records: bytes.get(HEADER_LEN..).unwrap_or_default(),
            case_len: header.case_len()?,
        };
        for i in 0..v.len() {
            let class = v.record(i).and_then(|r| Reader { bytes: r, pos: 0 }.u32());
            match class {
                Some(c) if c < header.classes => {}
                found => {
                    return Err(VectorError::ClassOutOfRange {
                        case: i,
                        found: found.unwrap_or(u32::MAX),
                    })
                }
            }
        }
        Ok(v)
    }

    /// The header.
    #[inline]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Number of cases.
    #[inline]
    pub fn len(&self) -> usize {
        self.header.cases as usize
    }

    /// True when the file holds no case.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.header.cases == 0
    }

    fn record(&self, i: usize) -> Option<&'a [u8]> {
        let start = i.checked_mul(self.case_len)?;
        self.records.get(start..start.checked_add(self.case_len)?)
    }

    /// Case `i`, or `None` past the end.
    pub fn case(&self, i: usize) -> Option<Case<'a>> {
        let h = &self.header;
        let mut r = Reader {
            bytes: self.record(i)?,
            pos: 0,
        };
        let class = u16::try_from(r.u32()?).ok()?;
        let input_spikes = r.u32()?;
        let events = r.u64()?;
        let scores = r.take(4 * h.classes as usize)?;
        let spikes = r.take(4 * h.populations as usize)?;
        let image = r.take(h.input_len as usize)?;
        Some(Case {
            index: i,
            seed: h.case_seed(i),
            class,
            input_spikes,
            events,
            image,
            scores,
            spikes,
        })
    }

    /// Every case, in order.
    pub fn cases(&self) -> impl ExactSizeIterator<Item = Case<'a>> + 'a {
        let v = *self;
        (0..v.len()).map(move |i| {
            // `decode` checked every record, so `case` is `Some` for every index; the
            // fallback keeps this free of panics regardless.
            v.case(i).unwrap_or(Case {
                index: i,
                seed: v.header.case_seed(i),
                class: u16::MAX,
                input_spikes: 0,
                events: 0,
                image: &[],
                scores: &[],
                spikes: &[],
            })
        })
    }
}

/// One case: its input, its seed and the host's expected result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case<'a> {
    /// Position in the file.
    pub index: usize,
    /// Encoder seed ([`case_seed`] of the header's seed and `index`).
    pub seed: u64,
    /// Expected class.
    pub class: u16,
    /// Expected input spikes over the window.
    pub input_spikes: u32,
    /// Expected total synaptic events.
    pub events: u64,
    /// The input image (`input_len` bytes).
    pub image: &'a [u8],
    scores: &'a [u8],
    spikes: &'a [u8],
}

impl<'a> Case<'a> {
    /// Expected scores, one per class.
    pub fn scores(&self) -> impl ExactSizeIterator<Item = i32> + 'a {
        self.scores.chunks_exact(4).map(|w| le_u32(w) as i32)
    }

    /// Expected spike counts, one per population.
    pub fn spikes(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.spikes.chunks_exact(4).map(le_u32)
    }

    /// True when `r` equals the expected result in class, input spikes, total events,
    /// every score and every spike count.
    pub fn matches(&self, r: &Classification) -> bool {
        r.class == self.class
            && r.input_spikes == self.input_spikes
            && r.total_synaptic_events() == self.events
            && r.scores.iter().copied().eq(self.scores())
            && r.spikes.iter().copied().eq(self.spikes())
    }
}

/// A little-endian `u32` from up to four bytes (missing bytes read as 0).
fn le_u32(b: &[u8]) -> u32 {
    let mut w = [0u8; 4];
    for (d, s) in w.iter_mut().zip(b) {
        *d = *s;
    }
    u32::from_le_bytes(w)
}

/// A bounds-checked cursor: every read is `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
}

/// Fills a fixed buffer front to back (only used for the header, whose size is known).
struct Writer<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) {
        for (d, s) in self.out.iter_mut().skip(self.pos).zip(b) {
            *d = *s;
        }
        self.pos += b.len();
    }
}
