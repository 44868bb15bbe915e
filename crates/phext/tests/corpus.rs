//! Every real document in `testdata/corpus` parses, round-trips, and agrees with libphext.

mod common;

use std::path::PathBuf;

use common::*;
use phext::{checksum, is_canonical, Document};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus")
}

/// `(file, non-empty scroll count)` as the corpus README lists them.
const CORPUS: &[(&str, usize)] = &[
    ("the-odyssey.phext", 52),
    ("one-page-site.phext", 14),
    ("daily-minimum-temperatures-in-me.phext", 3_654),
    ("tracer.phext", 70),
    ("regression-1-helios.phext", 22),
    ("basic.phext", 23),
    ("world.phext", 40),
    ("events.phext", 13),
];

fn read(name: &str) -> String {
    let path = corpus_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("corpus file {} must be readable: {e}", path.display()))
}

#[test]
fn the_corpus_is_complete() {
    let mut found: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("testdata/corpus is part of the repository")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".phext"))
        .collect();
    found.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "a corpus file is not covered by this test");
}

#[test]
fn every_document_round_trips_and_agrees_with_libphext() {
    for (name, scroll_count) in CORPUS {
        let text = read(name);
        let doc = Document::parse(text.as_bytes()).unwrap();
        assert_eq!(doc.len(), *scroll_count, "{name}: scroll count");
        assert_eq!(
            scrolls(&doc),
            lib_scrolls(&text),
            "{name}: parse vs phokenize"
        );

        let canonical = doc.to_bytes();
        let normalized = libphext::phext::normalize(&text);
        assert_eq!(
            canonical,
            normalized.as_bytes(),
            "{name}: serialize vs normalize"
        );
        assert_eq!(
            doc.serialized_len(),
            canonical.len() as u64,
            "{name}: size bookkeeping"
        );
        assert_eq!(
            is_canonical(text.as_bytes()),
            text == normalized,
            "{name}: canonicality"
        );
        assert_eq!(
            Document::parse(&canonical).unwrap(),
            doc,
            "{name}: parse(serialize(d))"
        );

        assert_eq!(
            doc.checksum(),
            checksum(normalized.as_bytes()),
            "{name}: checksum"
        );
        assert_eq!(
            doc.checksum(),
            libphext::phext::checksum(&normalized),
            "{name}: libphext checksum"
        );
        assert_eq!(
            doc.textmap(),
            libphext::phext::textmap(&normalized),
            "{name}: textmap"
        );
        assert_eq!(
            doc.manifest().to_bytes(),
            libphext::phext::manifest(&normalized).as_bytes(),
            "{name}: manifest"
        );
    }
}

#[test]
fn year_keyed_chapters_load_beyond_the_request_maximum() {
    let doc = Document::parse(read("daily-minimum-temperatures-in-me.phext").as_bytes()).unwrap();
    let max_chapter = doc.iter().map(|(c, _)| c.components()[6]).max();
    assert_eq!(max_chapter, Some(1990));
}

#[test]
fn crlf_is_kept_as_content() {
    let text = read("regression-1-helios.phext");
    let doc = Document::parse(text.as_bytes()).unwrap();
    let crlf: usize = doc.iter().map(|(_, t)| t.matches("\r\n").count()).sum();
    assert_eq!(crlf, 159);
}
