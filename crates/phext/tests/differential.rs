//! Differential and property tests against libphext 0.4.0 (phext-format.md §11, §12 F).

mod common;

use std::collections::{BTreeMap, HashMap};

use common::*;
use phext::{checksum, is_canonical, Coordinate, Document, DELIMITERS};
use proptest::prelude::*;

/// Every comparison §11 allows, for one valid UTF-8 document.
fn agree_with_libphext(text: &str) {
    let doc = Document::parse(text.as_bytes()).unwrap();
    assert_eq!(
        scrolls(&doc),
        lib_scrolls(text),
        "parse vs phokenize: {text:?}"
    );

    let normalized = libphext::phext::normalize(text);
    let canonical = doc.to_bytes();
    assert_eq!(
        canonical,
        normalized.as_bytes(),
        "serialize vs normalize: {text:?}"
    );
    assert_eq!(doc.serialized_len(), canonical.len() as u64);
    assert_eq!(
        is_canonical(text.as_bytes()),
        normalized == text,
        "canonicality: {text:?}"
    );
    assert_eq!(
        Document::parse(&canonical).unwrap(),
        doc,
        "parse(serialize(d)) == d"
    );
    assert_eq!(
        Document::parse(&canonical).unwrap().to_bytes(),
        canonical,
        "idempotent"
    );

    assert_eq!(checksum(text.as_bytes()), libphext::phext::checksum(text));
    assert_eq!(doc.checksum(), libphext::phext::checksum(&normalized));
    if !normalized.is_empty() {
        assert_eq!(
            doc.textmap(),
            libphext::phext::textmap(&normalized),
            "textmap: {text:?}"
        );
        assert_eq!(
            doc.manifest().to_bytes(),
            libphext::phext::manifest(&normalized).as_bytes(),
            "manifest: {text:?}"
        );
    }

    // explode -> implode -> explode keeps the non-empty content.
    let exploded: HashMap<_, _> = libphext::phext::explode(text)
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let imploded = libphext::phext::implode(exploded);
    assert_eq!(
        Document::parse(imploded.as_bytes()).unwrap(),
        doc,
        "explode/implode: {text:?}"
    );
}

// §12 F: the edge documents.

#[test]
fn edge_documents() {
    let deep = format!("{}deep{}deeper", "\x01".repeat(1001), "\x1F".repeat(1001));
    let edges = [
        "",
        "one scroll\nwith two lines",
        "a\x17b\x18c\x19d\x1Ae\x1Cf\x1Dg\x1Eh\x1Fi\x01j",
        "\x17\x17lead\x17\x17\x17gap\x01\x01\x17deep\x17",
        "trailing one\x17",
        "trailing two\x17\x17",
        "\x01\x1F\x1E\x1D\x1C\x1A\x19\x18\x17",
        "ünïcödé ✓\x1Fshelf ☃\x1Aboek ü\x17🜁",
        "\n\n\x17\n",
        "a\x18b\x19c",
        "a\x17b\x17",
        "x\x17",
        "\x19\x1Aa",
        "a\x18b\x19c\x1Ad\x1Ce\x1Df\x1Eg\x1Fh\x01i",
        &deep,
    ];
    for text in edges {
        agree_with_libphext(text);
    }
}

/// The reference's 64-bit LCG; each draw is `state >> 33`.
struct Lcg(u64);

impl Lcg {
    fn draw(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const PIECES: [&str; 8] = ["a", "bc", "ü", "☃", "🜁", "\n", " ", "text"];

fn lcg_document(seed: u64, pieces: usize) -> String {
    let mut rng = Lcg(seed);
    let mut out = String::new();
    for _ in 0..pieces {
        if rng.draw() % 3 == 0 {
            for _ in 0..=(rng.draw() % 3) {
                out.push(DELIMITERS[(rng.draw() % 9) as usize] as char);
            }
        } else {
            out.push_str(PIECES[(rng.draw() % PIECES.len() as u64) as usize]);
        }
    }
    out
}

#[test]
fn seeded_random_documents() {
    for seed in [0x5eed, 0xc0de, 0x5b7, 0xfab1e] {
        for pieces in [1, 10, 100, 2_000] {
            agree_with_libphext(&lcg_document(seed + pieces as u64, pieces));
        }
    }
}

#[test]
fn fifty_thousand_scrolls_round_trip() {
    let mut text = String::new();
    for i in 0..50_000usize {
        if i > 0 {
            text.push(if i % 1_600 == 0 {
                '\x1C'
            } else if i % 40 == 0 {
                '\x1A'
            } else {
                '\x17'
            });
        }
        text.push_str(&format!("{:<68}", format!("scroll {i}")));
    }
    let doc = Document::parse(text.as_bytes()).unwrap();
    assert_eq!(doc.len(), 50_000);
    assert!(doc.iter().all(|(_, t)| t.len() == 68));
    assert_eq!(doc.to_bytes(), text.as_bytes());
    assert_eq!(doc.to_bytes(), libphext::phext::normalize(&text).as_bytes());
}

/// Random documents: content pieces (unicode, CRLF, controls that are not delimiters)
/// mixed with runs of 1-3 random delimiters.
fn document_strategy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "a", "bc", "ü", "☃", "🜁", "\n", " ", "text", "\r\n", "\t", "\x1b", "\x00", "Ċ", "\r",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z\u{80}-\u{10ffff}]{1,8}",
        3 => prop::collection::vec(prop::sample::select(DELIMITERS.to_vec()), 1..=3)
            .prop_map(|run| run.into_iter().map(char::from).collect()),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// Scroll text for edits: valid UTF-8 without delimiters, sometimes empty.
fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(String::new()),
        6 => prop::collection::vec(
            prop::sample::select(vec!["a", "bc", "ü", "☃", "\n", "\r\n", " ", "\x1b"]),
            1..5
        )
        .prop_map(|p| p.concat()),
    ]
}

fn small_coordinate() -> impl Strategy<Value = Coordinate> {
    // Few distinct values per component, so edits collide and neighbours matter.
    prop::array::uniform9(1u32..=3).prop_map(|c| Coordinate::new(c).unwrap())
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(Coordinate, String),
    Update(Coordinate, String),
    Delete(Coordinate),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (small_coordinate(), text_strategy()).prop_map(|(c, t)| Edit::Insert(c, t)),
        (small_coordinate(), text_strategy()).prop_map(|(c, t)| Edit::Update(c, t)),
        small_coordinate().prop_map(Edit::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_documents_agree_with_libphext(text in document_strategy()) {
        agree_with_libphext(&text);
    }

    #[test]
    fn random_edit_sequences_agree_with_a_model(
        start in document_strategy(),
        edits in prop::collection::vec(edit_strategy(), 0..40),
    ) {
        let mut doc = Document::parse(start.as_bytes()).unwrap();
        let mut model: BTreeMap<Coordinate, String> =
            doc.iter().map(|(c, t)| (c, t.to_owned())).collect();
        for edit in &edits {
            match edit {
                Edit::Insert(c, t) => {
                    prop_assert_eq!(doc.insert(*c, t).unwrap(), t.len());
                    if !t.is_empty() {
                        model.entry(*c).or_default().push_str(t);
                    }
                }
                Edit::Update(c, t) => {
                    let previous = doc.update(*c, t).unwrap();
                    let expected = if t.is_empty() { model.remove(c) } else { model.insert(*c, t.clone()) };
                    prop_assert_eq!(previous, expected);
                }
                Edit::Delete(c) => prop_assert_eq!(doc.delete(c), model.remove(c)),
            }
            let now: BTreeMap<Coordinate, String> = doc.iter().map(|(c, t)| (c, t.to_owned())).collect();
            prop_assert_eq!(&now, &model);
            prop_assert_eq!(doc.serialized_len(), doc.to_bytes().len() as u64);
        }
        // The model serialized by libphext (no empty values, so implode is an oracle).
        let lib_map: HashMap<_, _> = model.iter().map(|(c, t)| (to_lib(c), t.clone())).collect();
        prop_assert_eq!(doc.to_bytes(), libphext::phext::implode(lib_map).into_bytes());
    }

    #[test]
    fn single_edits_agree_with_libphext_edits(
        start in document_strategy(),
        at in small_coordinate(),
        text in text_strategy().prop_filter("non-empty", |t| !t.is_empty()),
    ) {
        let normalized = libphext::phext::normalize(&start);
        let base = Document::parse(start.as_bytes()).unwrap();

        let mut doc = base.clone();
        doc.update(at, &text).unwrap();
        let lib = libphext::phext::replace(&normalized, to_lib(&at), &text);
        prop_assert_eq!(scrolls(&doc), lib_scrolls(&lib), "replace");

        let mut doc = base.clone();
        doc.insert(at, &text).unwrap();
        let lib = libphext::phext::insert(normalized.clone(), to_lib(&at), &text);
        prop_assert_eq!(scrolls(&doc), lib_scrolls(&lib), "insert");

        let mut doc = base.clone();
        doc.delete(&at);
        let lib = libphext::phext::remove(&normalized, to_lib(&at));
        prop_assert_eq!(scrolls(&doc), lib_scrolls(&lib), "remove");

        let lib = libphext::phext::fetch(&normalized, to_lib(&at));
        prop_assert_eq!(base.select(&at), lib.as_str(), "fetch");
    }

    #[test]
    fn coordinate_parsing_never_panics_and_round_trips(text in "[0-9./;a-z ]{0,40}") {
        if let Ok(c) = text.parse::<Coordinate>() {
            prop_assert_eq!(c.to_string().parse::<Coordinate>(), Ok(c));
            prop_assert_eq!(format!("{c:#}").parse::<Coordinate>(), Ok(c));
        }
    }

    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        match Document::parse(&bytes) {
            Ok(doc) => prop_assert!(std::str::from_utf8(&bytes).is_ok() && doc.serialized_len() <= bytes.len() as u64),
            Err(_) => prop_assert!(std::str::from_utf8(&bytes).is_err()),
        }
    }
}
