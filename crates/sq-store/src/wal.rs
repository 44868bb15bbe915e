//! The write-ahead log format: a header naming the checkpoint it extends, then
//! checksummed records, one per acknowledged edit.
//!
//! ```text
//! header  "SQWAL02\n" | base length u64 LE | base xxh3-128 u128 LE | log id u64 LE  (40 bytes)
//! record  payload length u32 LE | xxh3-64 of payload u64 LE | payload
//! payload op u8 (1 insert, 2 update, 3 delete) | 9 × u32 LE coordinate | UTF-8 text
//! ```
//!
//! The log id is random per log file, so the shared journal can tell this log from an
//! earlier one at the same path. The base identifies the `.phext` checkpoint the records
//! apply to. A crash after a
//! checkpoint replaced the `.phext` but before the log was removed leaves a log whose base
//! no longer matches: it is already folded in, and is discarded rather than replayed twice.

use phext::Coordinate;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use super::edit::Edit;

const MAGIC: &[u8; 8] = b"SQWAL02\n";
/// Bytes before the first record.
pub const HEADER_LEN: usize = 40;
const RECORD_HEAD: usize = 12;
const PAYLOAD_FIXED: usize = 1 + 9 * 4;
/// The largest payload a record may claim; anything bigger is a torn or corrupt length.
const MAX_PAYLOAD: usize = 1 << 30;

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
}

/// The header of a new log extending `base`, identified by `log_id`.
pub fn header(base: Base, log_id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&base.len.to_le_bytes());
    out.extend_from_slice(&base.hash.to_le_bytes());
    out.extend_from_slice(&log_id.to_le_bytes());
    out
}

/// The id in a log's header, if `bytes` starts with one.
pub fn log_id(bytes: &[u8]) -> Option<u64> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return None;
    }
    Some(u64::from_le_bytes(bytes[32..40].try_into().ok()?))
}

/// Appends the record of `edit` to `out` and returns its length.
pub fn encode(edit: &Edit, out: &mut Vec<u8>) -> usize {
    let (op, coordinate, text) = match edit {
        Edit::Insert(c, t) => (1u8, c, t.as_str()),
        Edit::Update(c, t) => (2, c, t.as_str()),
        Edit::Delete(c) => (3, c, ""),
    };
    let start = out.len();
    let payload_len = PAYLOAD_FIXED + text.len();
    out.extend_from_slice(&(payload_len as u32).to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
    let payload_start = out.len();
    out.push(op);
    for component in coordinate.components() {
        out.extend_from_slice(&component.to_le_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    let checksum = xxh3_64(&out[payload_start..]);
    out[start + 4..start + RECORD_HEAD].copy_from_slice(&checksum.to_le_bytes());
    out.len() - start
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
        /// Every complete, intact record, in order.
        edits: Vec<Edit>,
        /// Byte length of the header plus those records.
        valid_len: u64,
        /// Bytes after the last intact record (a torn or corrupt tail).
        discarded: u64,
    },
    /// Not a log at all (wrong magic): never touched.
    Foreign,
}

/// Reads a log, stopping at the first incomplete or damaged record.
pub fn decode(bytes: &[u8]) -> Contents {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Contents::Foreign;
    }
    let base = Base {
        len: u64::from_le_bytes(bytes[8..16].try_into().unwrap_or_default()),
        hash: u128::from_le_bytes(bytes[16..32].try_into().unwrap_or_default()),
    };
    let log_id = u64::from_le_bytes(bytes[32..40].try_into().unwrap_or_default());
    let mut edits = Vec::new();
    let mut at = HEADER_LEN;
    while let Some((edit, next)) = decode_record(bytes, at) {
        edits.push(edit);
        at = next;
    }
    Contents::Records {
        base,
        log_id,
        edits,
        valid_len: at as u64,
        discarded: (bytes.len() - at) as u64,
    }
}

fn decode_record(bytes: &[u8], at: usize) -> Option<(Edit, usize)> {
    let head = bytes.get(at..at + RECORD_HEAD)?;
    let payload_len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let checksum = u64::from_le_bytes(head[4..].try_into().ok()?);
    if !(PAYLOAD_FIXED..=MAX_PAYLOAD).contains(&payload_len) {
        return None;
    }
    let payload = bytes.get(at + RECORD_HEAD..at + RECORD_HEAD + payload_len)?;
    if xxh3_64(payload) != checksum {
        return None;
    }
    let mut components = [0u32; 9];
    for (i, slot) in components.iter_mut().enumerate() {
        *slot = u32::from_le_bytes(payload[1 + 4 * i..5 + 4 * i].try_into().ok()?);
    }
    let coordinate = Coordinate::new(components).ok()?;
    let text = std::str::from_utf8(&payload[PAYLOAD_FIXED..]).ok()?;
    if phext::contains_delimiter(text.as_bytes()) {
        return None;
    }
    let edit = match payload[0] {
        1 => Edit::Insert(coordinate, text.to_owned()),
        2 => Edit::Update(coordinate, text.to_owned()),
        3 if text.is_empty() => Edit::Delete(coordinate),
        _ => return None,
    };
    Some((edit, at + RECORD_HEAD + payload_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Coordinate {
        s.parse().unwrap()
    }

    fn sample() -> (Vec<u8>, Vec<Edit>) {
        let edits = vec![
            Edit::Insert(c("1"), "hello ☃".into()),
            Edit::Update(c("2.1.1/1.1.1/1.1.3"), "".into()),
            Edit::Delete(c("9999")),
            Edit::Update(c("1.2.3/4.5.6/7.8.9"), "line\r\n".into()),
        ];
        let mut bytes = header(Base::of(b"checkpoint"), 7);
        for edit in &edits {
            encode(edit, &mut bytes);
        }
        (bytes, edits)
    }

    #[test]
    fn records_round_trip() {
        let (bytes, edits) = sample();
        assert_eq!(
            decode(&bytes),
            Contents::Records {
                base: Base::of(b"checkpoint"),
                log_id: 7,
                edits,
                valid_len: bytes.len() as u64,
                discarded: 0
            }
        );
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_possible_length() {
        let (bytes, edits) = sample();
        let mut ends = vec![HEADER_LEN];
        let mut scratch = header(Base::of(b"checkpoint"), 7);
        for edit in &edits {
            encode(edit, &mut scratch);
            ends.push(scratch.len());
        }
        for cut in HEADER_LEN..bytes.len() {
            let Contents::Records {
                edits: kept,
                valid_len,
                discarded,
                ..
            } = decode(&bytes[..cut])
            else {
                panic!("header intact at {cut}");
            };
            let whole = ends.iter().filter(|&&end| end <= cut).count() - 1;
            assert_eq!(kept, edits[..whole], "cut at {cut}");
            assert_eq!(valid_len as usize, ends[whole]);
            assert_eq!(valid_len + discarded, cut as u64);
        }
    }

    #[test]
    fn a_corrupt_record_ends_the_log() {
        let (mut bytes, edits) = sample();
        let mut second = header(Base::of(b"checkpoint"), 7);
        encode(&edits[0], &mut second);
        let flip = second.len() + RECORD_HEAD + 3;
        bytes[flip] ^= 0x40;
        let Contents::Records {
            edits: kept,
            discarded,
            ..
        } = decode(&bytes)
        else {
            panic!("header intact");
        };
        assert_eq!(kept, edits[..1]);
        assert!(discarded > 0);
    }

    #[test]
    fn foreign_files_are_recognised() {
        assert_eq!(decode(b""), Contents::Foreign);
        assert_eq!(
            decode(b"not a log at all, but long enough to have a header"),
            Contents::Foreign
        );
        assert_ne!(Base::of(b"a"), Base::of(b"b"));
    }
}
