//! The nine delimiter bytes and the coordinate position each one advances.

/// The delimiter byte of each coordinate position, most significant first:
/// library `0x01`, shelf `0x1F`, series `0x1E`, collection `0x1D`, volume `0x1C`,
/// book `0x1A`, chapter `0x19`, section `0x18`, scroll `0x17`.
///
/// `0x1B` (ESC) is deliberately absent: it is ordinary content.
pub const DELIMITERS: [u8; 9] = [0x01, 0x1F, 0x1E, 0x1D, 0x1C, 0x1A, 0x19, 0x18, 0x17];

const NOT_A_DELIMITER: u8 = u8::MAX;

/// `POSITION[byte]` is the coordinate position (0 = library … 8 = scroll) a delimiter
/// byte advances, or `NOT_A_DELIMITER`. A table keeps the parser's inner loop branch-light.
const POSITION: [u8; 256] = {
    let mut table = [NOT_A_DELIMITER; 256];
    let mut position = 0;
    while position < DELIMITERS.len() {
        table[DELIMITERS[position] as usize] = position as u8;
        position += 1;
    }
    table
};

/// The coordinate position (0 = library … 8 = scroll) that `byte` advances, if it is
/// one of the nine delimiters.
#[inline]
pub fn delimiter_position(byte: u8) -> Option<usize> {
    match POSITION[byte as usize] {
        NOT_A_DELIMITER => None,
        position => Some(position as usize),
    }
}

/// Whether `byte` is one of the nine phext delimiters.
#[inline]
pub fn is_delimiter(byte: u8) -> bool {
    POSITION[byte as usize] != NOT_A_DELIMITER
}

/// Whether `text` contains any of the nine phext delimiters.
///
/// Scroll text must not: a delimiter inside a scroll would silently re-address every
/// scroll that follows it.
pub fn contains_delimiter(text: &[u8]) -> bool {
    text.iter().any(|&byte| is_delimiter(byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_nine_bytes_are_delimiters() {
        let found: Vec<u8> = (0..=255u8).filter(|&b| is_delimiter(b)).collect();
        assert_eq!(
            found,
            vec![0x01, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1D, 0x1E, 0x1F]
        );
        assert!(!is_delimiter(0x1B), "ESC is content");
        assert!(!is_delimiter(b'\n'));
        assert!(!is_delimiter(0x00));
    }

    #[test]
    fn positions_run_from_library_to_scroll() {
        assert_eq!(delimiter_position(0x01), Some(0));
        assert_eq!(delimiter_position(0x1F), Some(1));
        assert_eq!(delimiter_position(0x1A), Some(5));
        assert_eq!(delimiter_position(0x17), Some(8));
        assert_eq!(delimiter_position(b'a'), None);
    }

    #[test]
    fn contains_delimiter_finds_any_of_them() {
        assert!(!contains_delimiter(b"plain text\r\n\t\x00\x07\x1b"));
        for &d in &DELIMITERS {
            assert!(contains_delimiter(&[b'a', d, b'b']));
        }
    }
}
