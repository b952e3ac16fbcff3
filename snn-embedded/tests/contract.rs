//! Round trips through the host/device contract: vectors encoded and decoded back
//! (with the golden model's real results), every exit code to its status and back, and
//! every report line formatted and parsed back; plus the typed errors of damaged
//! vector files and malformed lines, which must never panic.

use proptest::prelude::*;
use snn_core::{Classification, Model};
use snn_embedded::contract::exit::ExitCode;
use snn_embedded::contract::report::{
    CaseLine, Counter, ExitLine, Line, MemoryLine, ModelLine, ParseError, ScoresLine, SpikesLine,
    SummaryLine,
};
use snn_embedded::contract::vectors::{
    case_seed, Encoder, Header, VectorError, Vectors, HEADER_LEN, MAGIC, VERSION,
};

static GOLDEN: &[u8] = include_bytes!("../../snn-core/tests/golden/model.snn");
static INPUTS: &[u8] = include_bytes!("../../snn-core/tests/golden/inputs.bin");

/// The golden model's first `n` inputs and their results, from `seed`.
fn golden_cases(n: usize, seed: u64) -> (Header, Vec<(&'static [u8], Classification)>) {
    let model = Model::from_bytes(GOLDEN).unwrap();
    let header = Header::for_model(&model, n, 16, seed).unwrap();
    let mut state = vec![0u32; model.state_words()];
    let cases = INPUTS
        .chunks(model.input_len())
        .take(n)
        .enumerate()
        .map(|(i, img)| {
            let r = model
                .classify(&mut state, img, case_seed(seed, i), 16)
                .unwrap();
            (img, r)
        })
        .collect();
    (header, cases)
}

fn encode(header: Header, cases: &[(&[u8], Classification)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut enc = Encoder::new(header, |b: &[u8]| bytes.extend_from_slice(b)).unwrap();
    for (img, r) in cases {
        enc.push(img, r).unwrap();
    }
    enc.finish().unwrap();
    assert_eq!(bytes.len(), header.encoded_len().unwrap());
    bytes
}

fn golden_file() -> Vec<u8> {
    let (h, cases) = golden_cases(6, 1000);
    encode(h, &cases)
}

#[test]
fn vectors_round_trip_with_the_golden_model() {
    let n = INPUTS.len() / Model::from_bytes(GOLDEN).unwrap().input_len();
    let (header, cases) = golden_cases(n, 1000);
    let bytes = encode(header, &cases);
    let v = Vectors::decode(&bytes).unwrap();
    assert_eq!(*v.header(), header);
    assert_eq!(v.len(), n);
    assert_eq!(v.cases().len(), n);
    for (case, (img, r)) in v.cases().zip(&cases) {
        assert_eq!(case.image, *img);
        assert_eq!(case.seed, 1000 + case.index as u64);
        assert_eq!(case.class, r.class);
        assert_eq!(case.input_spikes, r.input_spikes);
        assert_eq!(case.events, r.total_synaptic_events());
        assert!(case.scores().eq(r.scores.iter().copied()));
        assert!(case.spikes().eq(r.spikes.iter().copied()));
        assert!(case.matches(r));
        for change in 0..4 {
            let mut bad = r.clone();
            match change {
                0 => bad.scores[0] += 1,
                1 => bad.input_spikes += 1,
                2 => bad.synaptic_events[0] += 1,
                _ => bad.spikes.clear(),
            }
            assert!(!case.matches(&bad), "change {change} went unnoticed");
        }
    }
    assert!(v.case(n).is_none());
    assert!(v.case(usize::MAX).is_none());
}

#[test]
fn seeds_wrap_at_the_top_of_u64() {
    assert_eq!(case_seed(u64::MAX, 0), u64::MAX);
    assert_eq!(case_seed(u64::MAX, 1), 0);
    assert_eq!(case_seed(u64::MAX - 1, 3), 1);
    let (header, cases) = golden_cases(3, u64::MAX);
    let bytes = encode(header, &cases);
    let v = Vectors::decode(&bytes).unwrap();
    let seeds: Vec<u64> = v.cases().map(|c| c.seed).collect();
    assert_eq!(seeds, [u64::MAX, 0, 1]);
    assert!(v.cases().zip(&cases).all(|(c, (_, r))| c.matches(r)));
}

#[test]
fn header_layout_is_pinned() {
    let h = Header {
        cases: 2,
        input_len: 3,
        classes: 4,
        populations: 5,
        steps: 6,
        seed: 0x0102_0304_0506_0708,
    };
    let b = h.to_bytes();
    assert_eq!(&b[..4], b"SNNV");
    assert_eq!(b[4..8], VERSION.to_le_bytes());
    assert_eq!(b[8..12], 2u32.to_le_bytes());
    assert_eq!(b[24..28], 6u32.to_le_bytes());
    assert_eq!(b[28..36], 0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(Header::from_bytes(&b), Ok(h));
    assert_eq!(h.case_len(), Ok(16 + 4 * 4 + 4 * 5 + 3));
    assert_eq!(h.encoded_len(), Ok(HEADER_LEN + 2 * (16 + 16 + 20 + 3)));
}

#[test]
fn damaged_files_give_typed_errors() {
    let good = golden_file();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        Vectors::decode(&b).unwrap_err()
    };
    assert_eq!(
        Vectors::decode(&[]).unwrap_err(),
        VectorError::Truncated {
            needed: HEADER_LEN,
            found: 0
        }
    );
    assert_eq!(
        with(&|b| b[0] = b'X'),
        VectorError::BadMagic { found: *b"XNNV" }
    );
    assert_eq!(
        with(&|b| b[4] = 1),
        VectorError::UnsupportedVersion { found: 1 }
    );
    assert_eq!(
        with(&|b| b.truncate(HEADER_LEN - 1)),
        VectorError::Truncated {
            needed: HEADER_LEN,
            found: HEADER_LEN - 1
        }
    );
    assert_eq!(
        with(&|b| {
            b.pop();
        }),
        VectorError::Truncated {
            needed: good.len(),
            found: good.len() - 1
        }
    );
    assert_eq!(
        with(&|b| b.push(0)),
        VectorError::TrailingBytes {
            expected: good.len(),
            found: good.len() + 1
        }
    );
    let field = |offset: usize, value: u32| {
        with(&move |b: &mut Vec<u8>| b[offset..offset + 4].copy_from_slice(&value.to_le_bytes()))
    };
    let out_of_range = |field: &'static str, found: u64| VectorError::OutOfRange { field, found };
    // `input_len` 0 announces streamed inputs: records without images, so this file
    // is longer than such a header says.
    assert!(matches!(field(12, 0), VectorError::TrailingBytes { .. }));
    assert_eq!(field(16, 0), out_of_range("classes", 0));
    assert_eq!(field(16, 129), out_of_range("classes", 129));
    assert_eq!(field(20, 49), out_of_range("populations", 49));
    assert_eq!(field(24, 0), out_of_range("steps", 0));
    // The first record's class (right after the header) beyond the class count.
    assert_eq!(
        field(HEADER_LEN, 10_000),
        VectorError::ClassOutOfRange {
            case: 0,
            found: 10_000
        }
    );
    // Sizes announced far beyond the file: truncated on 64-bit, too large on 32-bit.
    let huge = field(8, u32::MAX);
    assert!(
        matches!(huge, VectorError::Truncated { .. } | VectorError::TooLarge),
        "{huge:?}"
    );
    for e in [huge, field(16, 0), with(&|b| b[0] = 0)] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn every_prefix_of_a_file_is_an_error_not_a_panic() {
    let good = golden_file();
    for n in 0..good.len() {
        assert!(Vectors::decode(&good[..n]).is_err(), "prefix {n}");
    }
    assert!(Vectors::decode(&good).is_ok());
}

#[test]
fn the_encoder_checks_what_it_writes() {
    let (header, cases) = golden_cases(2, 7);
    let (img, r) = &cases[0];
    let mut sink = Vec::new();
    let mut enc = Encoder::new(header, |b: &[u8]| sink.extend_from_slice(b)).unwrap();
    assert_eq!(
        enc.push(&img[1..], r),
        Err(VectorError::WrongLength {
            what: "image",
            expected: img.len(),
            found: img.len() - 1
        })
    );
    let mut short = r.clone();
    short.scores.pop();
    assert!(matches!(
        enc.push(img, &short),
        Err(VectorError::WrongLength { what: "scores", .. })
    ));
    let mut class = r.clone();
    class.class = header.classes as u16;
    assert!(matches!(
        enc.push(img, &class),
        Err(VectorError::ClassOutOfRange { case: 0, .. })
    ));
    enc.push(img, r).unwrap();
    let too_few = Encoder::new(header, |_: &[u8]| {}).unwrap().finish();
    assert!(matches!(
        too_few,
        Err(VectorError::CaseCount {
            expected: 2,
            found: 0
        })
    ));
    enc.push(img, r).unwrap();
    assert_eq!(
        enc.push(img, r),
        Err(VectorError::CaseCount {
            expected: 2,
            found: 3
        })
    );
    enc.finish().unwrap();
    // Nothing was written for the rejected cases.
    assert_eq!(sink.len(), header.encoded_len().unwrap());
    assert!(Vectors::decode(&sink).is_ok());
    let bad = Header { steps: 0, ..header };
    assert!(Encoder::new(bad, |_: &[u8]| {}).is_err());
}

#[test]
fn exit_codes_are_distinct_and_round_trip() {
    let mut seen = std::collections::HashSet::new();
    for &c in ExitCode::ALL {
        assert!(seen.insert(c.code()), "{c:?} shares its code");
        assert!((0..=255).contains(&c.code()));
        assert_eq!(ExitCode::from_code(c.code()), Some(c));
        assert_eq!(i32::from(c), c.code());
        assert!(!c.meaning().is_empty());
        assert_eq!(c.is_success(), c.code() == 0);
        assert!(ExitCode::legend()
            .to_string()
            .contains(&format!("{}: {}", c.code(), c.meaning())));
    }
    for code in -300..300 {
        if let Some(c) = ExitCode::from_code(code) {
            assert_eq!(c.code(), code);
        } else {
            assert!(!seen.contains(&code));
        }
    }
    // Pinned: QEMU runs, scripts and the README rely on these numbers.
    assert_eq!(ExitCode::Pass.code(), 0);
    assert_eq!(ExitCode::Mismatch.code(), 1);
    assert_eq!(ExitCode::InferenceFailed.code(), 4);
    assert_eq!(ExitCode::Panic.code(), 101);
    assert_eq!(ExitCode::HardFault.code(), 102);
    assert_eq!(ExitCode::Timeout.code(), 124);
    assert_eq!(
        ExitCode::InferenceFailed.to_string(),
        "4 (an inference failed)"
    );
}

/// Lines as the firmware prints them (the first two from a real QEMU run).
const REAL_LINES: [&str; 8] = [
    "MODEL bytes=518952 crc=0xf64e7481 state_words=33923 classes=10 populations=5 cases=20 steps=20",
    "MEMORY flash=574532 ram=135716 arena=135692 counter=systick",
    "CASE 0 class=7 expected=7 ok=true ticks=689922 events=2316191 input_spikes=3100",
    "SCORES 0 [-12, 40, 7, 0, 2147483647, -2147483648, 1, 2, 3, 4]",
    "SPIKES 19 [1, 0, 4294967295]",
    "SPIKES 2 []",
    "SUMMARY cases=20 mismatches=0 ticks=15359411 events=54982560 counter=dwt-cycles",
    "EXIT 102",
];

#[test]
fn real_lines_parse_and_print_back_identically() {
    for text in REAL_LINES {
        let line = Line::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(line.to_string(), text);
    }
    let Ok(Line::Exit(ExitLine(c))) = Line::parse("EXIT 102") else {
        panic!()
    };
    assert_eq!(c, ExitCode::HardFault);
}

#[test]
fn malformed_lines_give_typed_errors() {
    let err = |s: &str| Line::parse(s).unwrap_err();
    assert_eq!(err("model rejected: bad magic"), ParseError::UnknownTag);
    assert_eq!(err(""), ParseError::UnknownTag);
    assert_eq!(
        err("CASE 0 class=7"),
        ParseError::Missing { field: "expected" }
    );
    assert_eq!(
        err("CASE 0 expected=7 class=7 ok=true ticks=1 events=2 input_spikes=3"),
        ParseError::Missing { field: "class" }
    );
    assert_eq!(
        err("CASE 0 class=70000 expected=7 ok=true ticks=1 events=2 input_spikes=3"),
        ParseError::BadValue { field: "class" }
    );
    assert_eq!(
        err("CASE x class=7 expected=7 ok=true ticks=1 events=2 input_spikes=3"),
        ParseError::BadValue { field: "case" }
    );
    assert_eq!(
        err("CASE 0 class=7 expected=7 ok=yes ticks=1 events=2 input_spikes=3"),
        ParseError::BadValue { field: "ok" }
    );
    assert_eq!(
        err("CASE 0 class=7 expected=7 ok=true ticks=1 events=2 input_spikes=3 more"),
        ParseError::TrailingText
    );
    assert_eq!(
        err("MEMORY flash=1 ram=2 arena=3 counter=cycles"),
        ParseError::BadValue { field: "counter" }
    );
    for crc in ["f64e7481", "0xF64E7481", "0xf64e748", "0x0f64e7481"] {
        let text = format!(
            "MODEL bytes=1 crc={crc} state_words=1 classes=1 populations=1 cases=1 steps=1"
        );
        assert_eq!(err(&text), ParseError::BadValue { field: "crc" }, "{crc}");
    }
    assert_eq!(err("SCORES 0"), ParseError::Missing { field: "scores" });
    assert_eq!(
        err("SCORES 0 [1,2]"),
        ParseError::BadValue { field: "scores" }
    );
    assert_eq!(
        err("SPIKES 0 [-1]"),
        ParseError::BadValue { field: "spikes" }
    );
    let many = format!("SPIKES 0 [{}]", vec!["1"; 49].join(", "));
    assert_eq!(
        err(&many),
        ParseError::TooManyValues {
            field: "spikes",
            max: 48
        }
    );
    assert_eq!(err("EXIT 7"), ParseError::BadValue { field: "code" });
    assert!(!err("EXIT 7").to_string().is_empty());
}

fn counter() -> impl Strategy<Value = Counter> {
    prop_oneof![Just(Counter::SysTick), Just(Counter::DwtCycles)]
}

fn any_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        (
            any::<usize>(),
            any::<u32>(),
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
            any::<usize>(),
            any::<u32>()
        )
            .prop_map(
                |(bytes, crc, state_words, classes, populations, cases, steps)| {
                    Line::Model(ModelLine {
                        bytes,
                        crc,
                        state_words,
                        classes,
                        populations,
                        cases,
                        steps,
                    })
                }
            ),
        (any::<usize>(), any::<usize>(), any::<usize>(), counter()).prop_map(
            |(flash, ram, arena, counter)| Line::Memory(MemoryLine {
                flash,
                ram,
                arena,
                counter
            })
        ),
        (
            any::<usize>(),
            any::<u16>(),
            any::<u16>(),
            any::<bool>(),
            any::<u64>(),
            any::<u64>(),
            any::<u32>()
        )
            .prop_map(|(case, class, expected, ok, ticks, events, input_spikes)| {
                Line::Case(CaseLine {
                    case,
                    class,
                    expected,
                    ok,
                    ticks,
                    events,
                    input_spikes,
                })
            }),
        (any::<usize>(), prop::collection::vec(any::<i32>(), 0..=128)).prop_map(|(case, s)| {
            Line::Scores(ScoresLine {
                case,
                scores: heapless::Vec::from_slice(&s).unwrap(),
            })
        }),
        (any::<usize>(), prop::collection::vec(any::<u32>(), 0..=48)).prop_map(|(case, s)| {
            Line::Spikes(SpikesLine {
                case,
                spikes: heapless::Vec::from_slice(&s).unwrap(),
            })
        }),
        (
            any::<usize>(),
            any::<u32>(),
            any::<u64>(),
            any::<u64>(),
            counter()
        )
            .prop_map(|(cases, mismatches, ticks, events, counter)| {
                Line::Summary(SummaryLine {
                    cases,
                    mismatches,
                    ticks,
                    events,
                    counter,
                })
            }),
        prop::sample::select(ExitCode::ALL).prop_map(|c| Line::Exit(ExitLine(c))),
    ]
}

proptest! {
    #[test]
    fn every_line_formats_and_parses_back(line in any_line()) {
        let text = line.to_string();
        prop_assert_eq!(Line::parse(&text), Ok(line));
    }

    #[test]
    fn borrowed_and_owned_list_lines_print_alike(case in any::<usize>(), s in prop::collection::vec(any::<i32>(), 0..=128)) {
        let borrowed = ScoresLine { case, scores: &s[..] }.to_string();
        let owned = Line::Scores(ScoresLine { case, scores: heapless::Vec::from_slice(&s).unwrap() });
        prop_assert_eq!(borrowed, owned.to_string());
    }

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in "(CASE|SCORES|SPIKES|MODEL|EXIT)? ?[ -~]{0,80}") {
        if let Ok(line) = Line::parse(&text) {
            // Whatever parses is canonical or at least re-parses to the same line.
            prop_assert_eq!(Line::parse(&line.to_string()), Ok(line));
        }
    }

    #[test]
    fn damaged_vector_files_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = golden_file();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(v) = Vectors::decode(&bytes) {
            prop_assert_eq!(v.cases().count(), v.len());
            for c in v.cases() {
                prop_assert!(usize::from(c.class) < v.header().classes as usize);
                prop_assert_eq!(c.image.len(), v.header().input_len as usize);
            }
        }
    }
}

#[test]
fn magic_is_snnv() {
    assert_eq!(&MAGIC, b"SNNV");
}

/// A streamed vector file: no input in the records, the results of
/// `stream::classify_stream` on the host, read back case by case.
#[test]
fn streamed_vectors_hold_no_inputs_and_round_trip() {
    use snn_embedded::stream::{classify_stream, SliceSource};
    let model = Model::from_bytes(GOLDEN).unwrap();
    let words = model.input_len().div_ceil(32);
    let (cases, steps) = (3usize, 5u32);
    let stream: Vec<u32> = (0..cases * steps as usize * words)
        .map(|i| (i as u32).wrapping_mul(0x9e37_79b9) & 0x0101_0101)
        .collect();
    let header = Header::for_stream(&model, cases, steps).unwrap();
    assert!(header.streamed());
    let mut bytes = Vec::new();
    let mut enc = Encoder::new(header, |b: &[u8]| bytes.extend_from_slice(b)).unwrap();
    let mut src = SliceSource::new(&stream);
    let (mut state, mut buf) = (vec![0u32; model.state_words()], vec![0u32; 2 * words]);
    let mut results = Vec::new();
    for _ in 0..cases {
        let r = classify_stream(
            &model,
            &mut state,
            &mut src,
            &mut buf,
            steps,
            snn_core::EarlyExit::Never,
        )
        .unwrap();
        enc.push(&[], &r).unwrap();
        results.push(r);
    }
    enc.finish().unwrap();
    let v = Vectors::decode(&bytes).unwrap();
    assert_eq!(v.len(), cases);
    for (i, r) in results.iter().enumerate() {
        let c = v.case(i).unwrap();
        assert!(c.image.is_empty());
        assert_eq!(c.class, r.class);
    }
}
