//! The report lines the firmware prints and the host reads back.
//!
//! # Grammar
//!
//! One line per record, single spaces, decimal integers unless noted:
//!
//! ```text
//! MODEL bytes=B crc=0xXXXXXXXX state_words=W classes=C populations=P cases=N steps=T
//! MEMORY flash=F ram=R arena=A counter=(systick|dwt-cycles)
//! CASE i class=K expected=K ok=(true|false) ticks=U events=E input_spikes=S
//! SCORES i [s0, s1, ...]          (i32, one per class)
//! SPIKES i [n0, n1, ...]          (u32, one per population)
//! SUMMARY cases=N mismatches=M ticks=U events=E counter=(systick|dwt-cycles)
//! EXIT code                       (board builds only: the ExitCode before stopping)
//! ```
//!
//! Every line type formats itself with `core::fmt::Display` and, behind the `defmt`
//! feature, with `defmt::Format`, to the same text: the firmware logs
//! `defmt::println!("{}", line)`, the host decodes the defmt frame to text and calls
//! [`Line::parse`]. The parser is strict (fields in order, nothing extra), so
//! `Line::parse(s)?.to_string() == s` for every line the firmware prints; `cargo xtask
//! qemu` checks exactly that on each run, which keeps the two formatters equal. Lines
//! that are not in the grammar (error messages) parse to [`ParseError::UnknownTag`].

use core::fmt;
use core::str::FromStr;

use heapless::Vec;
use snn_core::{MAX_CLASSES, MAX_POPULATIONS};

use super::exit::ExitCode;

/// Which counter timed the inferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Counter {
    /// SysTick, in core-clock ticks (QEMU: 40 instructions per tick at `-icount 0`).
    SysTick,
    /// The DWT cycle counter (real cores).
    DwtCycles,
}

impl Counter {
    /// The word in the report: `systick` or `dwt-cycles`.
    #[inline]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SysTick => "systick",
            Self::DwtCycles => "dwt-cycles",
        }
    }
}

impl FromStr for Counter {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "systick" => Ok(Self::SysTick),
            "dwt-cycles" => Ok(Self::DwtCycles),
            _ => Err(()),
        }
    }
}

/// `MODEL ...`: the embedded model and run, printed once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLine {
    /// Bytes of the model blob in flash.
    pub bytes: usize,
    /// The CRC-32 in the blob's header.
    pub crc: u32,
    /// State words the model needs.
    pub state_words: usize,
    /// Output classes.
    pub classes: usize,
    /// Spiking populations.
    pub populations: usize,
    /// Embedded test cases.
    pub cases: usize,
    /// Time steps per inference.
    pub steps: u32,
}

/// `MEMORY ...`: what the image uses, printed once at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLine {
    /// Flash bytes: code, read-only data and `.data`'s initial values.
    pub flash: usize,
    /// RAM bytes: `.data + .bss`, the arena included, the stack excluded.
    pub ram: usize,
    /// Bytes of the state arena.
    pub arena: usize,
    /// The counter that times inferences.
    pub counter: Counter,
}

/// `CASE i ...`: one inference's class and measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseLine {
    /// Index of the case.
    pub case: usize,
    /// Class the device computed.
    pub class: u16,
    /// Class the host expected.
    pub expected: u16,
    /// True when the whole result (class, scores, spikes, events) equals the host's.
    pub ok: bool,
    /// Counter ticks of the inference.
    pub ticks: u64,
    /// Synaptic events of the inference.
    pub events: u64,
    /// Input spikes over the window.
    pub input_spikes: u32,
}

/// `SCORES i [...]`: one inference's scores. The device formats a borrowed slice
/// (`ScoresLine<&[i32]>`); [`Line::parse`] returns the owned default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoresLine<S = Vec<i32, MAX_CLASSES>> {
    /// Index of the case.
    pub case: usize,
    /// One score per class.
    pub scores: S,
}

/// `SPIKES i [...]`: one inference's spike count per population (borrowed on the
/// device, owned when parsed, as for [`ScoresLine`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikesLine<S = Vec<u32, MAX_POPULATIONS>> {
    /// Index of the case.
    pub case: usize,
    /// One count per population.
    pub spikes: S,
}

/// `SUMMARY ...`: the totals, printed after the last case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryLine {
    /// Cases run.
    pub cases: usize,
    /// Cases whose result differs from the host's.
    pub mismatches: u32,
    /// Counter ticks of all inferences.
    pub ticks: u64,
    /// Synaptic events of all inferences.
    pub events: u64,
    /// The counter that timed them.
    pub counter: Counter,
}

/// `EXIT code`: printed by builds that cannot pass an exit status to the host (a board
/// under probe-rs) before they stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitLine(pub ExitCode);

/// Any line of the grammar, as parsed.
///
/// The list variants hold their values inline (no allocation in this `no_std` crate),
/// so a `Line` is about half a KiB: a short-lived parse result, not something to store
/// by the thousand.
#[allow(clippy::large_enum_variant)] // <- no `alloc` to box with; see above
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `MODEL ...`.
    Model(ModelLine),
    /// `MEMORY ...`.
    Memory(MemoryLine),
    /// `CASE ...`.
    Case(CaseLine),
    /// `SCORES ...`.
    Scores(ScoresLine),
    /// `SPIKES ...`.
    Spikes(SpikesLine),
    /// `SUMMARY ...`.
    Summary(SummaryLine),
    /// `EXIT ...`.
    Exit(ExitLine),
}

/// Why a line did not parse.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// The first word is not a tag of the grammar (for example a free-form error
    /// message of the firmware).
    UnknownTag,
    /// The line ends, or another word stands, where field `field` belongs.
    Missing {
        /// The field's name.
        field: &'static str,
    },
    /// Field `field` holds text that is not a value of its type.
    BadValue {
        /// The field's name.
        field: &'static str,
    },
    /// List `field` holds more than `max` values.
    TooManyValues {
        /// The list's name.
        field: &'static str,
        /// Its capacity.
        max: usize,
    },
    /// Text follows the last field.
    TrailingText,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnknownTag => f.write_str("not a report line (unknown tag)"),
            Self::Missing { field } => write!(f, "report line: field `{field}` missing"),
            Self::BadValue { field } => write!(f, "report line: bad value for `{field}`"),
            Self::TooManyValues { field, max } => {
                write!(f, "report line: `{field}` holds more than {max} values")
            }
            Self::TrailingText => f.write_str("report line: text after the last field"),
        }
    }
}

impl core::error::Error for ParseError {}

// ---- formatting: Display (host, tests) and defmt::Format (firmware), side by side ----

impl fmt::Display for ModelLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MODEL bytes={} crc={:#010x} state_words={} classes={} populations={} cases={} steps={}",
            self.bytes,
            self.crc,
            self.state_words,
            self.classes,
            self.populations,
            self.cases,
            self.steps
        )
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ModelLine {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "MODEL bytes={=usize} crc={=u32:#010x} state_words={=usize} classes={=usize} populations={=usize} cases={=usize} steps={=u32}",
            self.bytes,
            self.crc,
            self.state_words,
            self.classes,
            self.populations,
            self.cases,
            self.steps
        )
    }
}

impl fmt::Display for MemoryLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MEMORY flash={} ram={} arena={} counter={}",
            self.flash,
            self.ram,
            self.arena,
            self.counter.as_str()
        )
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for MemoryLine {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "MEMORY flash={=usize} ram={=usize} arena={=usize} counter={=str}",
            self.flash,
            self.ram,
            self.arena,
            self.counter.as_str()
        )
    }
}

impl fmt::Display for CaseLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CASE {} class={} expected={} ok={} ticks={} events={} input_spikes={}",
            self.case,
            self.class,
            self.expected,
            self.ok,
            self.ticks,
            self.events,
            self.input_spikes
        )
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for CaseLine {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "CASE {=usize} class={=u16} expected={=u16} ok={=bool} ticks={=u64} events={=u64} input_spikes={=u32}",
            self.case,
            self.class,
            self.expected,
            self.ok,
            self.ticks,
            self.events,
            self.input_spikes
        )
    }
}

/// `[a, b, c]`: defmt's display of a slice.
fn list<T: fmt::Display>(f: &mut fmt::Formatter<'_>, values: &[T]) -> fmt::Result {
    f.write_str("[")?;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{v}")?;
    }
    f.write_str("]")
}

impl<S: AsRef<[i32]>> fmt::Display for ScoresLine<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SCORES {} ", self.case)?;
        list(f, self.scores.as_ref())
    }
}

#[cfg(feature = "defmt")]
impl<S: AsRef<[i32]>> defmt::Format for ScoresLine<S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SCORES {=usize} {}", self.case, self.scores.as_ref())
    }
}

impl<S: AsRef<[u32]>> fmt::Display for SpikesLine<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SPIKES {} ", self.case)?;
        list(f, self.spikes.as_ref())
    }
}

#[cfg(feature = "defmt")]
impl<S: AsRef<[u32]>> defmt::Format for SpikesLine<S> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "SPIKES {=usize} {}", self.case, self.spikes.as_ref())
    }
}

impl fmt::Display for SummaryLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SUMMARY cases={} mismatches={} ticks={} events={} counter={}",
            self.cases,
            self.mismatches,
            self.ticks,
            self.events,
            self.counter.as_str()
        )
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for SummaryLine {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(
            f,
            "SUMMARY cases={=usize} mismatches={=u32} ticks={=u64} events={=u64} counter={=str}",
            self.cases,
            self.mismatches,
            self.ticks,
            self.events,
            self.counter.as_str()
        )
    }
}

impl fmt::Display for ExitLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EXIT {}", self.0.code())
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for ExitLine {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "EXIT {=i32}", self.0.code())
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Model(l) => l.fmt(f),
            Self::Memory(l) => l.fmt(f),
            Self::Case(l) => l.fmt(f),
            Self::Scores(l) => l.fmt(f),
            Self::Spikes(l) => l.fmt(f),
            Self::Summary(l) => l.fmt(f),
            Self::Exit(l) => l.fmt(f),
        }
    }
}

// ---- parsing ----

/// The words of a line after its tag, read field by field.
struct Words<'a>(core::str::Split<'a, char>);

impl<'a> Words<'a> {
    /// The next word, standing for `field`.
    fn word(&mut self, field: &'static str) -> Result<&'a str, ParseError> {
        self.0.next().ok_or(ParseError::Missing { field })
    }

    /// The next word as a value of `field`.
    fn value<T: FromStr>(&mut self, field: &'static str) -> Result<T, ParseError> {
        self.word(field)?
            .parse()
            .map_err(|_| ParseError::BadValue { field })
    }

    /// The next word, `key=value`, as the value's text.
    fn key_text(&mut self, key: &'static str) -> Result<&'a str, ParseError> {
        self.word(key)?
            .strip_prefix(key)
            .and_then(|r| r.strip_prefix('='))
            .ok_or(ParseError::Missing { field: key })
    }

    /// The next word, `key=value`, as the value.
    fn key<T: FromStr>(&mut self, key: &'static str) -> Result<T, ParseError> {
        self.key_text(key)?
            .parse()
            .map_err(|_| ParseError::BadValue { field: key })
    }

    /// Nothing may follow.
    fn end(mut self) -> Result<(), ParseError> {
        match self.0.next() {
            None => Ok(()),
            Some(_) => Err(ParseError::TrailingText),
        }
    }
}

/// `0x` and exactly eight lowercase hex digits (what `{:#010x}` writes for a `u32`).
fn hex_u32(s: &str, field: &'static str) -> Result<u32, ParseError> {
    let bad = ParseError::BadValue { field };
    let digits = s.strip_prefix("0x").ok_or(bad)?;
    let lower = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if digits.len() != 8 || !lower {
        return Err(bad);
    }
    u32::from_str_radix(digits, 16).map_err(|_| bad)
}

/// `[a, b, c]` (or `[]`) into a bounded vector.
fn parse_list<T: FromStr, const N: usize>(
    s: &str,
    field: &'static str,
) -> Result<Vec<T, N>, ParseError> {
    let inner = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or(ParseError::BadValue { field })?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Ok(out);
    }
    for v in inner.split(", ") {
        let v = v.parse().map_err(|_| ParseError::BadValue { field })?;
        out.push(v)
            .map_err(|_| ParseError::TooManyValues { field, max: N })?;
    }
    Ok(out)
}

impl Line {
    /// Parses one line of decoded firmware output (see the module docs for the
    /// grammar).
    ///
    /// ```
    /// use snn_embedded::contract::report::{CaseLine, Line};
    ///
    /// let text = "CASE 3 class=7 expected=7 ok=true ticks=689922 events=2316191 input_spikes=3000";
    /// let Ok(Line::Case(c)) = Line::parse(text) else { panic!() };
    /// assert_eq!((c.case, c.class, c.ok), (3, 7, true));
    /// assert_eq!(Line::Case(c).to_string(), text);
    /// ```
    ///
    /// # Errors
    /// [`ParseError::UnknownTag`] for a line outside the grammar, else the
    /// [`ParseError`] naming the first field that is missing or malformed.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let (tag, rest) = text.split_once(' ').unwrap_or((text, ""));
        let mut w = Words(rest.split(' '));
        let line = match tag {
            "MODEL" => Self::Model(ModelLine {
                bytes: w.key("bytes")?,
                crc: hex_u32(w.key_text("crc")?, "crc")?,
                state_words: w.key("state_words")?,
                classes: w.key("classes")?,
                populations: w.key("populations")?,
                cases: w.key("cases")?,
                steps: w.key("steps")?,
            }),
            "MEMORY" => Self::Memory(MemoryLine {
                flash: w.key("flash")?,
                ram: w.key("ram")?,
                arena: w.key("arena")?,
                counter: w.key("counter")?,
            }),
            "CASE" => Self::Case(CaseLine {
                case: w.value("case")?,
                class: w.key("class")?,
                expected: w.key("expected")?,
                ok: w.key("ok")?,
                ticks: w.key("ticks")?,
                events: w.key("events")?,
                input_spikes: w.key("input_spikes")?,
            }),
            "SCORES" | "SPIKES" => {
                let (case, values) = rest.split_once(' ').ok_or(ParseError::Missing {
                    field: if tag == "SCORES" { "scores" } else { "spikes" },
                })?;
                let case = case
                    .parse()
                    .map_err(|_| ParseError::BadValue { field: "case" })?;
                return Ok(if tag == "SCORES" {
                    Self::Scores(ScoresLine {
                        case,
                        scores: parse_list(values, "scores")?,
                    })
                } else {
                    Self::Spikes(SpikesLine {
                        case,
                        spikes: parse_list(values, "spikes")?,
                    })
                });
            }
            "SUMMARY" => Self::Summary(SummaryLine {
                cases: w.key("cases")?,
                mismatches: w.key("mismatches")?,
                ticks: w.key("ticks")?,
                events: w.key("events")?,
                counter: w.key("counter")?,
            }),
            "EXIT" => {
                let code: i32 = w.value("code")?;
                Self::Exit(ExitLine(
                    ExitCode::from_code(code).ok_or(ParseError::BadValue { field: "code" })?,
                ))
            }
            _ => return Err(ParseError::UnknownTag),
        };
        w.end()?;
        Ok(line)
    }
}
