//! The log file format, version 3: a header naming the checkpoint the log extends, then
//! checksummed records in commit order.
//!
//! ```text
//! header   "SQWAL03\n" | base length u64 | base xxh3-128 u128 | log id u64
//!          | covered seq u64 | covered version u64                          (56 bytes)
//! record   payload length u32 | xxh3-64 of payload u64 | payload
//! payload  seq u64 | version u64 | unix time ms u64 | kind u8 | body
//! kind 1   edit      op u8 (1 insert, 2 update, 3 delete) | 9 × u32 coordinate | text
//! kind 2   batch     count u32 | count × (op u8 | 9 × u32 | text length u32 | text)
//! kind 3   name      bound u8 (0 or 1) | 9 × u32 coordinate | name (UTF-8)
//! kind 4   metadata  key length u16 | key (UTF-8) | value
//! ```
//!
//! Every integer is little-endian. `seq` orders a tenant's records across its documents
//! (a tenant-wide feed, the cluster's log objects); `version` counts one document's
//! changes (history). A batch is one record under one checksum: a crash anywhere inside
//! it leaves none of it. The base identifies the `.phext` checkpoint the records apply to,
//! and the covered position is where that checkpoint left the counters.
//!
//! What this reader does not understand it refuses, and never cuts: a log of a newer
//! version, a record of an unknown kind, a record whose checksum holds but whose body does
//! not parse. Only a torn or damaged tail (a length past the end, a checksum that does not
//! hold) is cut, since no acknowledged write can be in it. Version 2 logs (no counters,
//! one edit per record) are still read; their records get the versions that follow the
//! covered one, and the log is rewritten as version 3 at the next checkpoint.

use phext::Coordinate;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use super::{Body, Position, Record};
use crate::edit::Edit;

const MAGIC_PREFIX: &[u8; 5] = b"SQWAL";
/// The version this build writes.
pub const VERSION: u32 = 3;
const HEADER_V3: usize = 56;
const HEADER_V2: usize = 40;
const RECORD_HEAD: usize = 12;
const RECORD_FIXED: usize = 8 + 8 + 8 + 1;
const EDIT_FIXED: usize = 1 + 9 * 4;
/// The largest payload a record may claim; anything bigger is a torn or corrupt length.
const MAX_PAYLOAD: usize = 1 << 30;

const KIND_EDIT: u8 = 1;
const KIND_BATCH: u8 = 2;
const KIND_NAME: u8 = 3;
const KIND_METADATA: u8 = 4;

/// Which checkpoint a log extends: the `.phext` file's length and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Base {
    len: u64,
    hash: u128,
}

impl Base {
    /// The identity of checkpoint bytes (an absent file is the empty document).
    pub fn of(checkpoint: &[u8]) -> Self {
        Base {
            len: checkpoint.len() as u64,
            hash: xxh3_128(checkpoint),
        }
    }

    /// The base written as text (in checkpoint markers).
    pub fn to_text(self) -> String {
        format!("{} {:032x}", self.len, self.hash)
    }

    /// A base read back from [`Base::to_text`]'s two words.
    pub fn from_text(len: &str, hash: &str) -> Option<Self> {
        Some(Base {
            len: len.parse().ok()?,
            hash: u128::from_str_radix(hash, 16).ok()?,
        })
    }
}

/// The header of a new log extending `base` at `covered`, identified by `log_id`.
pub fn header(base: Base, log_id: u64, covered: Position) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_V3);
    out.extend_from_slice(MAGIC_PREFIX);
    out.extend_from_slice(format!("{VERSION:02}\n").as_bytes());
    out.extend_from_slice(&base.len.to_le_bytes());
    out.extend_from_slice(&base.hash.to_le_bytes());
    out.extend_from_slice(&log_id.to_le_bytes());
    out.extend_from_slice(&covered.seq.to_le_bytes());
    out.extend_from_slice(&covered.version.to_le_bytes());
    out
}

/// The length of a header this build writes.
pub const HEADER_LEN: usize = HEADER_V3;

/// The format version a file claims, if it starts like a log at all.
fn claimed_version(bytes: &[u8]) -> Option<u32> {
    let magic = bytes.get(..8)?;
    if &magic[..5] != MAGIC_PREFIX || magic[7] != b'\n' {
        return None;
    }
    std::str::from_utf8(&magic[5..7]).ok()?.parse().ok()
}

/// The length of the header of a log of a version this build reads.
pub fn header_len(bytes: &[u8]) -> Option<usize> {
    match claimed_version(bytes)? {
        2 => Some(HEADER_V2),
        VERSION => Some(HEADER_V3),
        _ => None,
    }
}

/// The id in a log's header (the shared journal tells logs at one path apart by it).
pub fn log_id(bytes: &[u8]) -> Option<u64> {
    let len = header_len(bytes)?;
    if bytes.len() < len {
        return None;
    }
    Some(u64::from_le_bytes(bytes[32..40].try_into().ok()?))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn coordinate_at(bytes: &[u8], at: usize) -> Option<Coordinate> {
    let mut components = [0u32; 9];
    for (i, slot) in components.iter_mut().enumerate() {
        *slot = u32_at(bytes, at + 4 * i)?;
    }
    Coordinate::new(components).ok()
}

fn put_coordinate(coordinate: &Coordinate, out: &mut Vec<u8>) {
    for component in coordinate.components() {
        out.extend_from_slice(&component.to_le_bytes());
    }
}

fn op_and_text(edit: &Edit) -> (u8, &Coordinate, &str) {
    match edit {
        Edit::Insert(c, t) => (1, c, t.as_str()),
        Edit::Update(c, t) => (2, c, t.as_str()),
        Edit::Delete(c) => (3, c, ""),
    }
}

fn edit_of(op: u8, coordinate: Coordinate, text: &[u8]) -> Option<Edit> {
    let text = std::str::from_utf8(text).ok()?;
    if phext::contains_delimiter(text.as_bytes()) {
        return None;
    }
    match op {
        1 => Some(Edit::Insert(coordinate, text.to_owned())),
        2 => Some(Edit::Update(coordinate, text.to_owned())),
        3 if text.is_empty() => Some(Edit::Delete(coordinate)),
        _ => None,
    }
}

/// Whether `record` can be written so that it reads back: every length fits its field
/// and the payload fits [`MAX_PAYLOAD`]. Check before [`encode`].
pub fn fits(record: &Record) -> bool {
    let texts = |edits: &[Edit]| -> Option<usize> {
        edits.iter().try_fold(0usize, |sum, edit| {
            let len = op_and_text(edit).2.len();
            u32::try_from(len).ok()?;
            sum.checked_add(EDIT_FIXED + 4 + len)
        })
    };
    let body = match &record.body {
        Body::Edit(edit) => Some(EDIT_FIXED + op_and_text(edit).2.len()),
        Body::Batch(edits) => u32::try_from(edits.len())
            .ok()
            .and_then(|_| texts(edits))
            .map(|len| 4 + len),
        Body::Name { name, .. } => Some(EDIT_FIXED + name.len()),
        Body::Metadata { key, value } => u16::try_from(key.len())
            .ok()
            .map(|_| 2 + key.len() + value.len()),
    };
    body.is_some_and(|len| RECORD_FIXED + len <= MAX_PAYLOAD)
}

/// Appends `record` to `out` and returns its length.
pub fn encode(record: &Record, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEAD]);
    out.extend_from_slice(&record.seq.to_le_bytes());
    out.extend_from_slice(&record.version.to_le_bytes());
    out.extend_from_slice(&record.time_ms.to_le_bytes());
    match &record.body {
        Body::Edit(edit) => {
            let (op, coordinate, text) = op_and_text(edit);
            out.push(KIND_EDIT);
            out.push(op);
            put_coordinate(coordinate, out);
            out.extend_from_slice(text.as_bytes());
        }
        Body::Batch(edits) => {
            out.push(KIND_BATCH);
            out.extend_from_slice(&(edits.len() as u32).to_le_bytes());
            for edit in edits {
                let (op, coordinate, text) = op_and_text(edit);
                out.push(op);
                put_coordinate(coordinate, out);
                out.extend_from_slice(&(text.len() as u32).to_le_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        Body::Name { name, coordinate } => {
            out.push(KIND_NAME);
            out.push(u8::from(coordinate.is_some()));
            put_coordinate(&coordinate.unwrap_or_default(), out);
            out.extend_from_slice(name.as_bytes());
        }
        Body::Metadata { key, value } => {
            out.push(KIND_METADATA);
            out.extend_from_slice(&(key.len() as u16).to_le_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(value);
        }
    }
    let payload_len = out.len() - start - RECORD_HEAD;
    let checksum = xxh3_64(&out[start + RECORD_HEAD..]);
    out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
    out[start + 4..start + RECORD_HEAD].copy_from_slice(&checksum.to_le_bytes());
    out.len() - start
}

/// Why a log is refused (left exactly as it is, the document not served).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Written by a newer build.
    NewerVersion(u32),
    /// A record this build does not know how to apply.
    UnknownKind {
        /// The record's kind byte.
        kind: u8,
        /// Where the record starts in the file.
        offset: usize,
    },
    /// A record whose checksum holds but whose body does not parse.
    Malformed {
        /// Where the record starts in the file.
        offset: usize,
    },
}

impl Refusal {
    /// The refusal in words, naming the file.
    pub fn describe(&self, file: &str) -> String {
        match self {
            Refusal::NewerVersion(version) => format!(
                "{file} is log format version {version}, newer than this server reads ({VERSION}); it is left untouched"
            ),
            Refusal::UnknownKind { kind, offset } => format!(
                "{file} holds a record of kind {kind} at byte {offset}, unknown to this server (log format version {VERSION}); it is left untouched"
            ),
            Refusal::Malformed { offset } => format!(
                "{file} holds a damaged record at byte {offset} whose checksum holds; it is left untouched"
            ),
        }
    }
}

/// What a log file holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Contents {
    /// The log extends `base`: its valid records and where they end.
    Records {
        /// The checkpoint it extends.
        base: Base,
        /// The log's id.
        log_id: u64,
        /// Where the checkpoint it extends left the counters (zero for version 2).
        covered: Position,
        /// Every complete, intact record, in order.
        records: Vec<Record>,
        /// Byte length of the header plus those records.
        valid_len: u64,
        /// Bytes after the last intact record (a torn or damaged tail).
        discarded: u64,
        /// Written by an earlier version: rewrite before appending.
        legacy: bool,
    },
    /// Not a log at all (wrong magic): never touched.
    Foreign,
    /// A log this build must not read or change.
    Refused(Refusal),
}

/// Reads a log, stopping at the first incomplete or damaged record.
pub fn decode(bytes: &[u8]) -> Contents {
    let version = match claimed_version(bytes) {
        Some(version) if version > VERSION => {
            return Contents::Refused(Refusal::NewerVersion(version))
        }
        Some(version @ (2 | VERSION)) => version,
        _ => return Contents::Foreign,
    };
    let legacy = version == 2;
    let header_len = if legacy { HEADER_V2 } else { HEADER_V3 };
    if bytes.len() < header_len {
        return Contents::Foreign;
    }
    let base = Base {
        len: u64_at(bytes, 8).unwrap_or_default(),
        hash: bytes[16..32]
            .try_into()
            .map(u128::from_le_bytes)
            .unwrap_or_default(),
    };
    let log_id = u64_at(bytes, 32).unwrap_or_default();
    let covered = if legacy {
        Position::default()
    } else {
        Position {
            seq: u64_at(bytes, 40).unwrap_or_default(),
            version: u64_at(bytes, 48).unwrap_or_default(),
        }
    };
    let mut records = Vec::new();
    let mut at = header_len;
    while let Some((payload, next)) = checked_payload(bytes, at) {
        let record = if legacy {
            legacy_record(payload, covered.version + records.len() as u64 + 1)
        } else {
            match record_of(payload) {
                Ok(record) => record,
                Err(kind) => return Contents::Refused(Refusal::UnknownKind { kind, offset: at }),
            }
        };
        let Some(record) = record else {
            if legacy {
                // Version 2 cut a record it could not parse like a torn one.
                break;
            }
            return Contents::Refused(Refusal::Malformed { offset: at });
        };
        records.push(record);
        at = next;
    }
    Contents::Records {
        base,
        log_id,
        covered,
        records,
        valid_len: at as u64,
        discarded: (bytes.len() - at) as u64,
        legacy,
    }
}

/// The payload of the record at `at` if it is complete and its checksum holds.
fn checked_payload(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let payload_len = u32_at(bytes, at)? as usize;
    let checksum = u64_at(bytes, at + 4)?;
    if payload_len > MAX_PAYLOAD {
        return None;
    }
    let start = at + RECORD_HEAD;
    let payload = bytes.get(start..start + payload_len)?;
    (xxh3_64(payload) == checksum).then_some((payload, start + payload_len))
}

/// A version 2 record: one edit, no counters.
fn legacy_record(payload: &[u8], version: u64) -> Option<Record> {
    if payload.len() < EDIT_FIXED {
        return None;
    }
    let edit = edit_of(
        payload[0],
        coordinate_at(payload, 1)?,
        &payload[EDIT_FIXED..],
    )?;
    Some(Record {
        seq: 0,
        version,
        time_ms: 0,
        body: Body::Edit(edit),
    })
}

/// A version 3 record; `Err(kind)` for a kind this build does not know, `Ok(None)` for a
/// body that does not parse.
fn record_of(payload: &[u8]) -> Result<Option<Record>, u8> {
    let Some(&kind) = payload.get(RECORD_FIXED - 1) else {
        return Ok(None);
    };
    if !(KIND_EDIT..=KIND_METADATA).contains(&kind) {
        return Err(kind);
    }
    let body = &payload[RECORD_FIXED..];
    let parsed = match kind {
        KIND_EDIT => edit_body(body).map(Body::Edit),
        KIND_BATCH => batch_body(body).map(Body::Batch),
        KIND_NAME => name_body(body),
        _ => metadata_body(body),
    };
    Ok(parsed.and_then(|body| {
        Some(Record {
            seq: u64_at(payload, 0)?,
            version: u64_at(payload, 8)?,
            time_ms: u64_at(payload, 16)?,
            body,
        })
    }))
}

fn edit_body(body: &[u8]) -> Option<Edit> {
    if body.len() < EDIT_FIXED {
        return None;
    }
    edit_of(body[0], coordinate_at(body, 1)?, &body[EDIT_FIXED..])
}

fn batch_body(body: &[u8]) -> Option<Vec<Edit>> {
    let count = u32_at(body, 0)? as usize;
    let mut edits = Vec::with_capacity(count.min(body.len() / EDIT_FIXED));
    let mut at = 4;
    for _ in 0..count {
        let op = *body.get(at)?;
        let coordinate = coordinate_at(body, at + 1)?;
        let len = u32_at(body, at + EDIT_FIXED)? as usize;
        let start = at + EDIT_FIXED + 4;
        edits.push(edit_of(op, coordinate, body.get(start..start + len)?)?);
        at = start + len;
    }
    (at == body.len()).then_some(edits)
}

fn name_body(body: &[u8]) -> Option<Body> {
    let bound = match *body.first()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let coordinate = coordinate_at(body, 1)?;
    let name = std::str::from_utf8(body.get(EDIT_FIXED..)?)
        .ok()?
        .to_owned();
    Some(Body::Name {
        name,
        coordinate: bound.then_some(coordinate),
    })
}

fn metadata_body(body: &[u8]) -> Option<Body> {
    let len = u16::from_le_bytes(body.get(..2)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(body.get(2..2 + len)?).ok()?.to_owned();
    Some(Body::Metadata {
        key,
        value: body[2 + len..].to_vec(),
    })
}

/// The marker written beside a checkpoint: which base it is and where it left the
/// counters, so versions and sequence numbers survive a log's removal.
///
/// ```text
/// sq-checkpoint 1 <base length> <base xxh3-128 hex> <seq> <version>\n
/// ```
pub mod marker {
    use super::{Base, Position};

    const WORD: &str = "sq-checkpoint";

    /// The marker's text.
    pub fn encode(base: Base, covered: Position) -> Vec<u8> {
        format!(
            "{WORD} 1 {} {} {}\n",
            base.to_text(),
            covered.seq,
            covered.version
        )
        .into_bytes()
    }

    /// The base and position a marker records, `None` if it is not one.
    pub fn decode(bytes: &[u8]) -> Option<(Base, Position)> {
        let text = std::str::from_utf8(bytes).ok()?.strip_suffix('\n')?;
        let words: Vec<&str> = text.split(' ').collect();
        let [WORD, "1", len, hash, seq, version] = words[..] else {
            return None;
        };
        Some((
            Base::from_text(len, hash)?,
            Position {
                seq: seq.parse().ok()?,
                version: version.parse().ok()?,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Coordinate {
        s.parse().unwrap()
    }

    fn record(seq: u64, body: Body) -> Record {
        Record {
            seq,
            version: seq + 100,
            time_ms: 1_700_000_000_000 + seq,
            body,
        }
    }

    fn sample() -> Vec<Record> {
        vec![
            record(1, Body::Edit(Edit::Insert(c("1"), "hello ☃".into()))),
            record(
                2,
                Body::Edit(Edit::Update(c("2.1.1/1.1.1/1.1.3"), "".into())),
            ),
            record(
                3,
                Body::Batch(vec![
                    Edit::Delete(c("9999")),
                    Edit::Update(c("1.2.3/4.5.6/7.8.9"), "line\r\n".into()),
                    Edit::Insert(c("3"), "".into()),
                ]),
            ),
            record(
                4,
                Body::Name {
                    name: "user/preferences/theme".into(),
                    coordinate: Some(c("1.1.1/1.1.1/1.1.7")),
                },
            ),
            record(
                5,
                Body::Name {
                    name: "gone".into(),
                    coordinate: None,
                },
            ),
            record(
                6,
                Body::Metadata {
                    key: "content-type".into(),
                    value: b"text/plain\0binary ok".to_vec(),
                },
            ),
        ]
    }

    fn covered() -> Position {
        Position {
            seq: 0,
            version: 100,
        }
    }

    fn log_of(records: &[Record]) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = header(Base::of(b"checkpoint"), 7, covered());
        let mut ends = vec![bytes.len()];
        for record in records {
            encode(record, &mut bytes);
            ends.push(bytes.len());
        }
        (bytes, ends)
    }

    #[test]
    fn every_kind_round_trips() {
        let records = sample();
        let (bytes, _) = log_of(&records);
        assert_eq!(
            decode(&bytes),
            Contents::Records {
                base: Base::of(b"checkpoint"),
                log_id: 7,
                covered: covered(),
                records,
                valid_len: bytes.len() as u64,
                discarded: 0,
                legacy: false,
            }
        );
        assert_eq!(log_id(&bytes), Some(7));
        assert_eq!(header_len(&bytes), Some(HEADER_LEN));
    }

    #[test]
    fn a_cut_anywhere_keeps_whole_records_only_and_a_batch_is_all_or_nothing() {
        let records = sample();
        let (bytes, ends) = log_of(&records);
        for cut in HEADER_LEN..bytes.len() {
            let Contents::Records {
                records: kept,
                valid_len,
                discarded,
                ..
            } = decode(&bytes[..cut])
            else {
                panic!("header intact at {cut}");
            };
            let whole = ends.iter().filter(|&&end| end <= cut).count() - 1;
            assert_eq!(kept, records[..whole], "cut at {cut}");
            assert_eq!(valid_len as usize, ends[whole]);
            assert_eq!(valid_len + discarded, cut as u64);
            // The batch (third record) is there with all three edits, or not at all.
            match kept.get(2).map(|r| &r.body) {
                Some(Body::Batch(edits)) => assert_eq!(edits.len(), 3, "cut at {cut}"),
                Some(other) => panic!("{other:?}"),
                None => assert!(cut < ends[3], "cut at {cut}"),
            }
        }
    }

    #[test]
    fn a_damaged_record_ends_the_log() {
        let records = sample();
        let (mut bytes, ends) = log_of(&records);
        bytes[ends[1] + RECORD_HEAD + 30] ^= 0x40;
        let Contents::Records {
            records: kept,
            discarded,
            ..
        } = decode(&bytes)
        else {
            panic!("header intact");
        };
        assert_eq!(kept, records[..1]);
        assert_eq!(discarded as usize, bytes.len() - ends[1]);
    }

    /// A well-formed record of kind `kind` (its checksum holds).
    fn with_kind(kind: u8) -> Vec<u8> {
        let (mut bytes, ends) = log_of(&sample()[..2]);
        let payload_start = ends[1] + RECORD_HEAD;
        bytes[payload_start + RECORD_FIXED - 1] = kind;
        let checksum = xxh3_64(&bytes[payload_start..ends[2]]);
        bytes[ends[1] + 4..payload_start].copy_from_slice(&checksum.to_le_bytes());
        bytes
    }

    #[test]
    fn an_unknown_kind_is_refused_not_cut() {
        for kind in [0, 5, 200] {
            assert_eq!(
                decode(&with_kind(kind)),
                Contents::Refused(Refusal::UnknownKind {
                    kind,
                    offset: log_of(&sample()[..1]).1[1],
                })
            );
        }
        let words = Refusal::UnknownKind {
            kind: 9,
            offset: 96,
        }
        .describe("notes.phext.wal");
        assert!(
            words.contains("notes.phext.wal") && words.contains("kind 9"),
            "{words}"
        );
    }

    #[test]
    fn a_record_whose_checksum_holds_but_body_does_not_parse_is_refused() {
        // Kind "edit" over the body of a name binding: the op byte is 1 but the text is
        // a name with a delimiter-free tail; make the coordinate invalid instead.
        let (mut bytes, ends) = log_of(&sample()[..1]);
        let payload_start = ends[0] + RECORD_HEAD;
        bytes[payload_start + RECORD_FIXED + 1..payload_start + RECORD_FIXED + 5]
            .copy_from_slice(&0u32.to_le_bytes());
        let checksum = xxh3_64(&bytes[payload_start..ends[1]]);
        bytes[ends[0] + 4..payload_start].copy_from_slice(&checksum.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Contents::Refused(Refusal::Malformed { offset: ends[0] })
        );
    }

    #[test]
    fn a_newer_version_is_refused_and_foreign_files_recognised() {
        let mut bytes = log_of(&sample()).0;
        bytes[5..7].copy_from_slice(b"04");
        assert_eq!(decode(&bytes), Contents::Refused(Refusal::NewerVersion(4)));
        assert!(Refusal::NewerVersion(4)
            .describe("a.phext.wal")
            .contains("version 4"));
        assert_eq!(decode(b""), Contents::Foreign);
        assert_eq!(
            decode(b"not a log at all, but long enough to have a header....."),
            Contents::Foreign
        );
        assert_ne!(Base::of(b"a"), Base::of(b"b"));
    }

    #[test]
    fn version_2_logs_are_read_with_versions_counted_from_one() {
        // A version 2 log: 40-byte header, then one edit per record.
        let mut bytes = b"SQWAL02\n".to_vec();
        let base = Base::of(b"");
        bytes.extend_from_slice(&base.len.to_le_bytes());
        bytes.extend_from_slice(&base.hash.to_le_bytes());
        bytes.extend_from_slice(&9u64.to_le_bytes());
        let mut payload = vec![1u8];
        put_coordinate(&c("1.1.1/1.1.1/1.1.2"), &mut payload);
        payload.extend_from_slice(b"old text");
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        assert_eq!(log_id(&bytes), Some(9));
        let Contents::Records {
            records, legacy, ..
        } = decode(&bytes)
        else {
            panic!("a version 2 log");
        };
        assert!(legacy);
        assert_eq!(
            records,
            vec![Record {
                seq: 0,
                version: 1,
                time_ms: 0,
                body: Body::Edit(Edit::Insert(c("1.1.1/1.1.1/1.1.2"), "old text".into()))
            }]
        );
    }

    #[test]
    fn records_that_would_not_read_back_do_not_fit() {
        assert!(sample().iter().all(fits));
        let long_key = record(
            1,
            Body::Metadata {
                key: "k".repeat(70_000),
                value: Vec::new(),
            },
        );
        assert!(!fits(&long_key));
        let huge = record(1, Body::Edit(Edit::Insert(c("1"), "x".repeat(MAX_PAYLOAD))));
        assert!(!fits(&huge));
    }

    #[test]
    fn markers_round_trip_and_refuse_anything_else() {
        let at = Position {
            seq: 42,
            version: 17,
        };
        let text = marker::encode(Base::of(b"x"), at);
        assert_eq!(marker::decode(&text), Some((Base::of(b"x"), at)));
        assert_eq!(marker::decode(b"sq-checkpoint 2 1 ab 3 4\n"), None);
        assert_eq!(marker::decode(b"garbage"), None);
        assert_eq!(marker::decode(&text[..text.len() - 1]), None);
    }
}
