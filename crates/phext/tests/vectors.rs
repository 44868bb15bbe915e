//! The test vectors of phext-format.md (§3, §5-§9, §12 A-E) ported as data, and one
//! pinned test per deliberate difference from libphext 0.4.0 (§11 D1-D7).

mod common;

use common::*;
use phext::{checksum, is_canonical, normalize, Coordinate, CoordinateError, Document, EditError};

const O: &str = "1.1.1/1.1.1/1.1.1";

/// Scrolls as `(coordinate, text)` pairs, the way the format reference lists them.
type Scrolls<'a> = Vec<(&'a str, &'a str)>;

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(c, t)| (c.to_string(), t.to_string()))
        .collect()
}

// §3 and §12 A: parsing.

#[test]
fn parse_table() {
    let table: Vec<(Vec<u8>, Scrolls)> = vec![
        (
            b"one\x17two\x17three".to_vec(),
            vec![
                (O, "one"),
                ("1.1.1/1.1.1/1.1.2", "two"),
                ("1.1.1/1.1.1/1.1.3", "three"),
            ],
        ),
        (b"\x17\x18b".to_vec(), vec![("1.1.1/1.1.1/1.2.1", "b")]),
        (b"\x18b".to_vec(), vec![("1.1.1/1.1.1/1.2.1", "b")]),
        (
            b"a\x19\x17\x17\x17\x17e".to_vec(),
            vec![(O, "a"), ("1.1.1/1.1.1/2.1.5", "e")],
        ),
        (
            b"\x1A\x1C\x1D\x1E\x1F\x01stuff here".to_vec(),
            vec![("2.1.1/1.1.1/1.1.1", "stuff here")],
        ),
        (
            b"\x17\x17lead\x17\x17\x17gap\x01\x01\x17deep\x17".to_vec(),
            vec![
                ("1.1.1/1.1.1/1.1.3", "lead"),
                ("1.1.1/1.1.1/1.1.6", "gap"),
                ("3.1.1/1.1.1/1.1.2", "deep"),
            ],
        ),
        (
            b"one\x01two\x1Fthree\x1Efour\x1Dfive\x1Csix\x1Aseven\x19eight\x18nine\x17ten".to_vec(),
            vec![
                (O, "one"),
                ("2.1.1/1.1.1/1.1.1", "two"),
                ("2.2.1/1.1.1/1.1.1", "three"),
                ("2.2.2/1.1.1/1.1.1", "four"),
                ("2.2.2/2.1.1/1.1.1", "five"),
                ("2.2.2/2.2.1/1.1.1", "six"),
                ("2.2.2/2.2.2/1.1.1", "seven"),
                ("2.2.2/2.2.2/2.1.1", "eight"),
                ("2.2.2/2.2.2/2.2.1", "nine"),
                ("2.2.2/2.2.2/2.2.2", "ten"),
            ],
        ),
        (
            b"one\x17two\x18three\x19four\x1afive\x1csix\x1dseven\x1eeight\x1fnine\x01ten".to_vec(),
            vec![
                (O, "one"),
                ("1.1.1/1.1.1/1.1.2", "two"),
                ("1.1.1/1.1.1/1.2.1", "three"),
                ("1.1.1/1.1.1/2.1.1", "four"),
                ("1.1.1/1.1.2/1.1.1", "five"),
                ("1.1.1/1.2.1/1.1.1", "six"),
                ("1.1.1/2.1.1/1.1.1", "seven"),
                ("1.1.2/1.1.1/1.1.1", "eight"),
                ("1.2.1/1.1.1/1.1.1", "nine"),
                ("2.1.1/1.1.1/1.1.1", "ten"),
            ],
        ),
        (b"".to_vec(), vec![]),
        (b"\x01\x1F\x1E\x1D\x1C\x1A\x19\x18\x17".to_vec(), vec![]),
        (
            b"3A\x17B2\x18C1".to_vec(),
            vec![
                (O, "3A"),
                ("1.1.1/1.1.1/1.1.2", "B2"),
                ("1.1.1/1.1.1/1.2.1", "C1"),
            ],
        ),
        (
            b"hello\x17world\x17".to_vec(),
            vec![(O, "hello"), ("1.1.1/1.1.1/1.1.2", "world")],
        ),
        (
            b"a\x17b\x17".to_vec(),
            vec![(O, "a"), ("1.1.1/1.1.1/1.1.2", "b")],
        ),
    ];
    for (bytes, expected) in table {
        assert_eq!(scrolls(&parse(&bytes)), pairs(&expected), "input {bytes:?}");
    }
}

#[test]
fn parse_per_dimension() {
    for (position, &delimiter) in phext::DELIMITERS.iter().enumerate() {
        let bytes = cat(&[b"T1", &[delimiter], b"T2", &[delimiter], b"T3"]);
        let doc = parse(&bytes);
        for k in 1..=3u32 {
            let mut components = [1u32; 9];
            components[position] = k;
            let at = Coordinate::new(components).unwrap();
            assert_eq!(doc.select(&at), format!("T{k}"), "delimiter {delimiter:#x}");
        }
        assert_eq!(doc.len(), 3);
    }
}

#[test]
fn parse_realistic_deep_address() {
    let bytes = cat(&[
        &run(LB, 5),
        &run(SF, 12),
        &run(SR, 3),
        &run(CN, 1),
        &run(VM, 10),
        &run(BK, 3),
        &run(CH, 1),
        &run(SN, 19),
        &run(SC, 2),
        b"here's some text at 6.13.4/2.11.4/2.20.3",
        &[SC],
        b"this is the next scroll and won't be picked",
    ]);
    let doc = parse(&bytes);
    assert_eq!(
        doc.select(&coord("6.13.4/2.11.4/2.20.3")),
        "here's some text at 6.13.4/2.11.4/2.20.3"
    );
    assert_eq!(doc.len(), 2);
}

#[test]
fn parse_many_scrolls_past_the_old_cap() {
    let text: Vec<String> = (1..=1001).map(|i| format!("s{i}")).collect();
    let doc = parse(text.join("\x17").as_bytes());
    assert_eq!(doc.len(), 1001);
    for i in 998..=1001 {
        assert_eq!(
            doc.select(&coord(&format!("1.1.1/1.1.1/1.1.{i}"))),
            format!("s{i}")
        );
    }
}

// §12 B and §5: normalization and canonical bytes.

#[test]
fn normalize_vectors() {
    let table: &[(&[u8], &[u8])] = &[
        (b"\x17Scroll two\x18\x18\x18\x18", b"\x17Scroll two"),
        (b"\x17\x18b", b"\x18b"),
        (b"a\x17\x17", b"a"),
        (b"\x01\x1F\x1E\x1D\x1C\x1A\x19\x18\x17", b""),
        (b"\n\n\x17\n", b"\n\n\x17\n"),
        (b"a\x17\x18b", b"a\x18b"),
        (b"x\x17", b"x"),
        (
            b"\x17\x17lead\x17\x17\x17gap\x01\x01\x17deep\x17",
            b"\x17\x17lead\x17\x17\x17gap\x01\x01\x17deep",
        ),
    ];
    for (input, expected) in table {
        assert_eq!(normalize(input).unwrap(), *expected, "input {input:?}");
        assert_eq!(is_canonical(input), input == expected, "input {input:?}");
    }
}

fn doc_of(entries: &[(&str, &str)]) -> Document {
    let mut doc = Document::new();
    for (c, t) in entries {
        doc.update(coord(c), t).unwrap();
    }
    doc
}

#[test]
fn canonical_serialization_table() {
    let table: Vec<(Scrolls, Vec<u8>)> = vec![
        (vec![("1.1.1/1.1.1/1.2.2", "t")], b"\x18\x17t".to_vec()),
        (
            vec![(O, "a"), ("1.1.1/1.1.1/2.1.5", "e")],
            b"a\x19\x17\x17\x17\x17e".to_vec(),
        ),
        (
            vec![
                ("1.1.1/1.1.1/1.1.2", "w"),
                ("2.1.1/1.1.1/1.1.1", "x"),
                ("2.1.1/1.1.1/1.1.3", "y"),
            ],
            b"\x17w\x01x\x17\x17y".to_vec(),
        ),
        (
            vec![("2.1.1/1.1.1/1.1.1", "p"), ("5.5.5/5.5.5/5.5.5", "M")],
            cat(&[
                b"\x01p",
                &run(LB, 3),
                &run(SF, 4),
                &run(SR, 4),
                &run(CN, 4),
                &run(VM, 4),
                &run(BK, 4),
                &run(CH, 4),
                &run(SN, 4),
                &run(SC, 4),
                b"M",
            ]),
        ),
        (
            vec![
                (O, "hello world"),
                ("1.1.1/1.1.1/1.1.4", "scroll 4"),
                ("2.1.1/1.1.1/1.1.1", "Library 2"),
                ("2.3.4/5.6.7/8.9.1", "random insertion"),
            ],
            cat(&[
                b"hello world\x17\x17\x17scroll 4\x01Library 2",
                &run(SF, 2),
                &run(SR, 3),
                &run(CN, 4),
                &run(VM, 5),
                &run(BK, 6),
                &run(CH, 7),
                &run(SN, 8),
                b"random insertion",
            ]),
        ),
        (vec![], vec![]),
    ];
    for (entries, expected) in table {
        let doc = doc_of(&entries);
        assert_eq!(doc.to_bytes(), expected, "{entries:?}");
        assert_eq!(doc.serialized_len(), expected.len() as u64);
        assert_eq!(parse(&expected), doc, "parse(serialize(m)) == m");
    }
}

// §6: far coordinates cost their distance.

#[test]
fn far_coordinate_sizes() {
    let doc = doc_of(&[("111.222.333/444.555.666/777.888.999", "Hello World")]);
    assert_eq!(doc.serialized_len(), 4_997);
    assert_eq!(doc.to_bytes().len(), 4_997);
    assert_eq!(
        doc.textmap(),
        "* 111.222.333/444.555.666/777.888.999: Hello World\n"
    );
    let mut doc = Document::new();
    doc.update(Coordinate::new([1_000_000; 9]).unwrap(), "x")
        .unwrap();
    assert_eq!(
        doc.serialized_len(),
        8_999_992,
        "9 × 999,999 delimiters and 1 byte"
    );
}

// §7: checksums.

#[test]
fn checksum_table() {
    let table: &[(&[u8], &str)] = &[
        (b"", "99aa06d3014798d86001c324468d497f"),
        (b"a", "a96faf705af16834e6c632b61e964e1f"),
        (b"a\x17", "e9c1eb8cbf06f8d80dc7ad7d2ee57747"),
        (b"hello", "b5e9c1ad071b3e7fc779cfaa5e523818"),
        (b"replaced", "5ea053415bf09d1e4f2b3ca22528884a"),
        (b"posted update", "54a3adbada3fce103cc68acd9ebb769f"),
        (
            b"line one\nline two +%41",
            "9404e33a789e378a03640c5671b539e1",
        ),
        (b"some text to hash", "8bce2a4c7bdb6e4f52e74e9ca0ccb4b5"),
        (b"00000000000000000000", "7e79edd92a62a048e1cd24ffab542e34"),
        (
            b"\x17replaced\x18line one\nline two +%41\x01posted update",
            "0c9c37dc20e176e20a7cf187aefe2782",
        ),
        (
            b"\x17replaced\x01posted update",
            "620e370f26b3b6c3183a949ec2674e73",
        ),
        (b"\x17\x17x", "d9358b9f8eb3fcf938e84fe947579dab"),
        (b"first scroll", "ba9d944e4967e29d48bae69ac2999699"),
        (b"second scroll", "2fe1b2040314ac66f132dd3b4926157c"),
        (b"second section", "fddb6916753b6f4e0b5281469134778b"),
        (b"second chapter", "16ab5b1a0a997db95ec215a3bf2c57b3"),
        (b"book 2", "0f20f79bf36f63e8fba25cc6765e2d0d"),
        (b"volume 2", "7ead0c6fef43adb446fe3bda6fb0adc7"),
        (b"collection 2", "78c12298931c6edede92962137a9280a"),
        (b"series 2", "0f35100c84df601a490b7b63d7e8c0a8"),
        (b"shelf 2", "3bbf7e67cb33d613a906bc5a3cbefd95"),
        (b"library 2", "2e7fdd387196a8a2706ccb9ad6792bc3"),
    ];
    for (input, expected) in table {
        assert_eq!(checksum(input), *expected, "input {input:?}");
    }
}

// §8 and §9: textmap and manifest of document X.

const DOC_X: &[u8] = b"first scroll\x17second scroll\x18second section\x19second chapter\x1Abook 2\x1Cvolume 2\x1Dcollection 2\x1Eseries 2\x1Fshelf 2\x01library 2";
const X_COORDS: [&str; 10] = [
    O,
    "1.1.1/1.1.1/1.1.2",
    "1.1.1/1.1.1/1.2.1",
    "1.1.1/1.1.1/2.1.1",
    "1.1.1/1.1.2/1.1.1",
    "1.1.1/1.2.1/1.1.1",
    "1.1.1/2.1.1/1.1.1",
    "1.1.2/1.1.1/1.1.1",
    "1.2.1/1.1.1/1.1.1",
    "2.1.1/1.1.1/1.1.1",
];
const X_TEXTS: [&str; 10] = [
    "first scroll",
    "second scroll",
    "second section",
    "second chapter",
    "book 2",
    "volume 2",
    "collection 2",
    "series 2",
    "shelf 2",
    "library 2",
];

#[test]
fn textmap_vectors() {
    let expected: String = X_COORDS
        .iter()
        .zip(X_TEXTS)
        .map(|(c, t)| format!("* {c}: {t}\n"))
        .collect();
    assert_eq!(parse(DOC_X).textmap(), expected);
    assert_eq!(
        parse(b"\x17replaced\x18line one\nline two +%41\x01posted update").textmap(),
        "* 1.1.1/1.1.1/1.1.2: replaced\n* 1.1.1/1.1.1/1.2.1: line one...\n* 2.1.1/1.1.1/1.1.1: posted update\n"
    );
}

#[test]
fn manifest_of_x() {
    let delimiters = [0x17u8, 0x18, 0x19, 0x1A, 0x1C, 0x1D, 0x1E, 0x1F, 0x01];
    let mut expected = Vec::new();
    for (i, text) in X_TEXTS.iter().enumerate() {
        if i > 0 {
            expected.push(delimiters[i - 1]);
        }
        expected.extend_from_slice(checksum(text.as_bytes()).as_bytes());
    }
    assert_eq!(parse(DOC_X).manifest().to_bytes(), expected);
}

// §12 C: the insert chain.

#[test]
fn insert_chain() {
    let mut doc = parse(b"aaa\x01bbb\x17ccc");
    let p = "2.1.1/1.1.1/";
    for (c, t) in [
        ("1.1.3", "ddd"),
        ("1.1.4", "eee"),
        ("1.2.1", "fff"),
        ("1.2.2", "ggg"),
        ("2.1.1", "hhh"),
        ("1.1.5", "iii"),
    ] {
        doc.insert(coord(&format!("{p}{c}")), t).unwrap();
    }
    assert_eq!(
        doc.to_bytes(),
        b"aaa\x01bbb\x17ccc\x17ddd\x17eee\x17iii\x18fff\x17ggg\x19hhh"
    );
    doc.insert(coord(O), "---AAA").unwrap();
    for (c, t) in [
        ("1.1.1", "---BBB"),
        ("1.1.2", "---CCC"),
        ("1.1.3", "---DDD"),
        ("1.1.4", "---EEE"),
        ("1.1.5", "---III"),
        ("1.2.1", "---FFF"),
        ("1.2.2", "---GGG"),
        ("2.1.1", "---HHH"),
    ] {
        doc.insert(coord(&format!("{p}{c}")), t).unwrap();
    }
    for (c, t) in [
        ("2.1.1/1.1.2/1.1.1", "jjj"),
        ("2.1.1/1.2.1/1.1.1", "kkk"),
        ("2.1.1/2.1.1/1.1.1", "lll"),
        ("2.1.2/1.1.1/1.1.1", "mmm"),
        ("2.2.1/1.1.1/1.1.1", "nnn"),
        ("3.1.1/1.1.1/1.1.1", "ooo"),
    ] {
        doc.insert(coord(c), t).unwrap();
    }
    assert_eq!(
        doc.to_bytes(),
        b"aaa---AAA\x01bbb---BBB\x17ccc---CCC\x17ddd---DDD\x17eee---EEE\x17iii---III\x18fff---FFF\x17ggg---GGG\x19hhh---HHH\x1Ajjj\x1Ckkk\x1Dlll\x1Emmm\x1Fnnn\x01ooo".to_vec()
    );

    let mut doc = parse(b"x\x17");
    doc.insert(coord("1.1.1/1.1.1/1.1.2"), "Y").unwrap();
    assert_eq!(doc.to_bytes(), b"x\x17Y");

    let mut doc = Document::new();
    doc.insert(coord(O), "Lux 🔆 test").unwrap();
    assert_eq!(doc.select(&coord(O)), "Lux 🔆 test");
    assert_eq!(doc.to_bytes(), "Lux 🔆 test".as_bytes());
}

// §12 D: replace (update).

#[test]
fn replace_changes_only_its_own_scroll() {
    let base: &[u8] = b"AAA\x17bbb\x18ccc\x19ddd\x1Aeee\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj";
    let edits = [
        (O, "aaa"),
        ("1.1.1/1.1.1/1.1.2", "222"),
        ("1.1.1/1.1.1/1.2.1", "3-"),
        ("1.1.1/1.1.1/2.1.1", "delta"),
        ("1.1.1/1.1.2/1.1.1", "a bridge just close enough"),
        ("1.1.1/1.2.1/1.1.1", "nifty"),
        ("1.1.1/2.1.1/1.1.1", "G8"),
        ("1.1.2/1.1.1/1.1.1", "Hello World"),
        ("1.2.1/1.1.1/1.1.1", "_o_"),
        ("2.1.1/1.1.1/1.1.1", "/win"),
    ];
    for (c, text) in edits {
        let original = parse(base);
        let mut doc = original.clone();
        doc.update(coord(c), text).unwrap();
        for (at, before) in original.iter() {
            let expected = if at == coord(c) { text } else { before };
            assert_eq!(doc.select(&at), expected, "edit at {c}");
        }
        assert_eq!(doc.len(), original.len());
    }
}

#[test]
fn replace_vectors() {
    let mut doc = parse(b"hello world\x17scroll two");
    doc.update(coord("2.1.1/1.1.1/1.1.5"), "2.1.1-1.1.1-1.1.5")
        .unwrap();
    assert_eq!(
        doc.to_bytes(),
        b"hello world\x17scroll two\x01\x17\x17\x17\x172.1.1-1.1.1-1.1.5"
    );

    let mut doc = parse(b"a\x18b\x19c");
    assert_eq!(doc.select(&coord("1.1.1/1.1.1/1.1.2")), "");
    let unchanged = doc.clone();
    assert_eq!(doc.delete(&coord("1.1.1/1.1.1/1.1.2")), None);
    assert_eq!(doc, unchanged);
    doc.update(coord("1.1.1/1.1.1/1.1.2"), "X").unwrap();
    assert_eq!(doc.to_bytes(), b"a\x17X\x18b\x19c");

    let base = b"A\x17B\x17C\x18D\x19E\x1AF\x1CG\x1DH\x1EI\x1FJ\x01K";
    let mut doc = parse(base);
    doc.update(coord("3.1.1/1.1.1/1.1.1"), "L").unwrap();
    assert_eq!(doc.to_bytes(), cat(&[base, b"\x01L"]));
}

#[test]
fn replace_chain_from_empty() {
    let mut doc = Document::new();
    let mut expected = Vec::new();
    let steps: Vec<(&str, &str, Vec<u8>)> = vec![
        (O, "aaa", b"aaa".to_vec()),
        ("1.1.1/1.1.1/1.1.2", "bbb", b"\x17bbb".to_vec()),
        (
            "1.2.3/4.5.6/7.8.9",
            "ccc",
            cat(&[
                &run(SF, 1),
                &run(SR, 2),
                &run(CN, 3),
                &run(VM, 4),
                &run(BK, 5),
                &run(CH, 6),
                &run(SN, 7),
                &run(SC, 8),
                b"ccc",
            ]),
        ),
        (
            "1.4.4/2.8.8/4.16.16",
            "ddd",
            cat(&[
                &run(SF, 2),
                &run(SR, 3),
                &run(CN, 1),
                &run(VM, 7),
                &run(BK, 7),
                &run(CH, 3),
                &run(SN, 15),
                &run(SC, 15),
                b"ddd",
            ]),
        ),
        (
            "11.12.13/14.15.16/17.18.19",
            "eee",
            cat(&[
                &run(LB, 10),
                &run(SF, 11),
                &run(SR, 12),
                &run(CN, 13),
                &run(VM, 14),
                &run(BK, 15),
                &run(CH, 16),
                &run(SN, 17),
                &run(SC, 18),
                b"eee",
            ]),
        ),
    ];
    for (c, text, appended) in steps {
        doc.update(coord(c), text).unwrap();
        expected.extend_from_slice(&appended);
        assert_eq!(doc.to_bytes(), expected, "after {c}");
    }
}

// §12 E: the remove chain.

#[test]
fn remove_chain() {
    let mut doc = parse(b"aaa\x17bbb\x18ccc\x19ddd\x1Aeee\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj");
    let expected: [&[u8]; 10] = [
        b"\x17bbb\x18ccc\x19ddd\x1Aeee\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj",
        b"\x18ccc\x19ddd\x1Aeee\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj",
        b"\x19ddd\x1Aeee\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj",
        b"\x1Aeee\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj",
        b"\x1Cfff\x1Dggg\x1Ehhh\x1Fiii\x01jjj",
        b"\x1Dggg\x1Ehhh\x1Fiii\x01jjj",
        b"\x1Ehhh\x1Fiii\x01jjj",
        b"\x1Fiii\x01jjj",
        b"\x01jjj",
        b"",
    ];
    let texts = [
        "aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg", "hhh", "iii", "jjj",
    ];
    let coords = [
        O,
        "1.1.1/1.1.1/1.1.2",
        "1.1.1/1.1.1/1.2.1",
        "1.1.1/1.1.1/2.1.1",
        "1.1.1/1.1.2/1.1.1",
        "1.1.1/1.2.1/1.1.1",
        "1.1.1/2.1.1/1.1.1",
        "1.1.2/1.1.1/1.1.1",
        "1.2.1/1.1.1/1.1.1",
        "2.1.1/1.1.1/1.1.1",
    ];
    for i in 0..10 {
        assert_eq!(doc.delete(&coord(coords[i])).as_deref(), Some(texts[i]));
        assert_eq!(doc.to_bytes(), expected[i], "after deleting {}", coords[i]);
    }
    let mut doc = parse(b"\x17\x18b");
    assert_eq!(doc.delete(&coord(O)), None);
    assert_eq!(doc.to_bytes(), b"\x18b");
}

// §11: each libphext 0.4.0 bug, with the input that triggers it there and SQ's answer.

#[test]
fn d1_implode_after_an_empty_scroll() {
    use std::collections::HashMap;
    let lib = |entries: &[(&str, &str)]| {
        let map: HashMap<_, _> = entries
            .iter()
            .map(|(c, t)| (to_lib(&coord(c)), t.to_string()))
            .collect();
        libphext::phext::implode(map)
    };
    let first = [
        (O, "a"),
        ("1.1.1/1.1.1/1.1.2", ""),
        ("1.1.1/1.1.1/1.1.3", "c"),
    ];
    assert_eq!(lib(&first), "a\x17c", "libphext shifts c down");
    assert_eq!(doc_of(&first).to_bytes(), b"a\x17\x17c");

    let second = [
        (O, "a"),
        ("1.1.1/1.1.1/2.1.1", ""),
        ("1.1.1/1.1.1/2.1.5", "e"),
    ];
    assert_eq!(lib(&second), "a\x17\x17\x17\x17e");
    assert_eq!(doc_of(&second).to_bytes(), b"a\x19\x17\x17\x17\x17e");
}

#[test]
fn d2_zero_components_are_unrepresentable() {
    let mut zero = libphext::phext::Coordinate::new();
    zero.z.library = 0;
    zero.z.shelf = 0;
    zero.z.series = 0;
    zero.y.collection = 0;
    zero.y.volume = 0;
    zero.y.book = 0;
    zero.x.chapter = 0;
    zero.x.section = 0;
    zero.x.scroll = 0;
    assert_eq!(
        libphext::phext::replace("abc\x17def", zero, "X"),
        "Xabc\x17def"
    );
    let mut section_zero = libphext::phext::Coordinate::new();
    section_zero.x.section = 0;
    section_zero.x.scroll = 5;
    assert_eq!(
        libphext::phext::replace("abc\x17def", section_zero, "X"),
        "\x17\x17\x17\x17Xabc\x17def"
    );

    assert_eq!(Coordinate::new([0; 9]), Err(CoordinateError::Zero));
    assert_eq!(
        "0.0.0/0.0.0/0.0.0".parse::<Coordinate>(),
        Err(CoordinateError::Zero)
    );
    assert_eq!(
        "1.1.1/1.1.1/1.0.5".parse::<Coordinate>(),
        Err(CoordinateError::Zero)
    );
}

#[test]
fn d3_strict_coordinate_parsing() {
    let lenient = |s: &str| libphext::phext::to_coordinate(s).to_string();
    let cases: &[(&str, &str)] = &[
        ("", O),
        ("abc", O),
        ("HOME", O),
        ("x1y.1.1/1.1.1/1.1.4", "1.1.1/1.1.1/1.1.4"),
        ("1,1,1/1,1,1/1,1,2", "111.111.1/1.1.1/1.1.112"),
        ("2.1.1-1.1.1-1.1.5", "2.1.11/1.11.1/1.1.5"),
        ("1.1.1/1.1.1/1.1.1/9.9", "1.1.1/1.1.1/1.1.9"),
    ];
    for (input, libphext_reads) in cases {
        assert_eq!(lenient(input), *libphext_reads, "libphext {input:?}");
        assert!(
            input.parse::<Coordinate>().is_err(),
            "SQ must refuse {input:?}"
        );
    }
    // A zero component prints as "" in libphext; SQ refuses it.
    for input in ["1..1/1.1.1/1.1.1", "1.1.1/1.1.1/1.1."] {
        assert_eq!(lenient(input), "", "libphext {input:?}");
        assert!(input.parse::<Coordinate>().is_err());
    }
    assert!("1.1.1/1.1.1/1.1.18446744073709551616"
        .parse::<Coordinate>()
        .is_err());
}

#[test]
fn d4_try_from_never_panics() {
    use std::convert::TryFrom;
    for input in [
        "1a.2b.3/1.1.1/1.1.1",
        "1..1/1.1.1/1.1.1",
        "1. 1.1/1.1.1/1.1.1",
        "-1.1.1/1.1.1/1.1.1",
        "١.1.1/1.1.1/1.1.1",
    ] {
        let lib = std::panic::catch_unwind(|| libphext::phext::Coordinate::try_from(input));
        assert!(lib.is_err(), "libphext panics on {input:?}");
        assert!(input.parse::<Coordinate>().is_err(), "SQ refuses {input:?}");
    }
    let lib_zero = libphext::phext::Coordinate::try_from("0.1.1/1.1.1/1.1.1");
    assert!(lib_zero.is_ok(), "libphext accepts a zero");
    assert!("0.1.1/1.1.1/1.1.1".parse::<Coordinate>().is_err());
    // Short and `;` forms: libphext refuses them, SQ reads them.
    assert!(libphext::phext::Coordinate::try_from("1.1.1;1.1.1;1.1.2").is_err());
    assert_eq!(coord("1.1.1;1.1.1;1.1.2").to_string(), "1.1.1/1.1.1/1.1.2");
    assert_eq!(coord("5").to_string(), "1.1.1/1.1.1/1.1.5");
}

#[test]
fn d5_components_are_bounded_for_requests() {
    let mut far = libphext::phext::Coordinate::new();
    far.x.scroll = 1_000_000;
    assert_eq!(libphext::phext::replace("", far, "x").len(), 1_000_000);
    assert_eq!(
        "1.1.1/1.1.1/1.1.1000000".parse::<Coordinate>(),
        Err(CoordinateError::AboveMaximum { max: 9_999 })
    );
    // Documents are never capped when parsed.
    let doc = parse(&cat(&[&run(SC, 999_999), b"x"]));
    assert_eq!(
        doc.first().map(|(c, _)| c.to_string()).as_deref(),
        Some("1.1.1/1.1.1/1.1.1000000")
    );
}

#[test]
fn d6_no_trailing_empty_token() {
    use libphext::phext::{manifest, phokenize, textmap};
    let tokens = phokenize("a\x17\x17");
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[1].scroll, "");
    assert_eq!(scrolls(&parse(b"a\x17\x17")), pairs(&[(O, "a")]));

    let tokens = phokenize("\x17Scroll two\x18\x18\x18\x18");
    assert_eq!(
        tokens
            .last()
            .map(|t| (t.coord.to_string(), t.scroll.clone())),
        Some(("1.1.1/1.1.1/1.2.1".into(), String::new()))
    );
    assert_eq!(parse(b"\x17Scroll two\x18\x18\x18\x18").len(), 1);

    assert_eq!(phokenize("").len(), 1);
    assert_eq!(textmap(""), "* 1.1.1/1.1.1/1.1.1: \n");
    assert_eq!(Document::new().textmap(), "");
    assert_eq!(textmap("a\x17\x17").lines().count(), 2);
    assert_eq!(parse(b"a\x17\x17").textmap().lines().count(), 1);
    assert_eq!(
        manifest("a\x17\x17"),
        "a96faf705af16834e6c632b61e964e1f\x1799aa06d3014798d86001c324468d497f"
    );
    assert_eq!(
        parse(b"a\x17\x17").manifest().to_bytes(),
        b"a96faf705af16834e6c632b61e964e1f"
    );
    assert_eq!(manifest(""), "99aa06d3014798d86001c324468d497f");
    assert_eq!(Document::new().manifest().to_bytes(), b"");
}

#[test]
fn d7_delimiters_inside_content_are_refused() {
    assert_eq!(
        libphext::phext::replace("A\x17B\x17C", libphext::phext::Coordinate::new(), "x\x17y"),
        "x\x17y\x17B\x17C"
    );
    let mut doc = parse(b"A\x17B\x17C");
    let before = doc.clone();
    assert_eq!(
        doc.update(coord(O), "x\x17y"),
        Err(EditError::TextContainsDelimiter)
    );
    assert_eq!(
        doc.insert(coord(O), "x\x01y"),
        Err(EditError::TextContainsDelimiter)
    );
    assert_eq!(doc, before);
    assert_eq!(doc.select(&coord("1.1.1/1.1.1/1.1.2")), "B");
}
