//! Nine-component coordinates: strict parsing, canonical display, document order.

use std::fmt;
use std::str::FromStr;

/// The number of components in a coordinate.
pub const COMPONENTS: usize = 9;

/// The largest component a coordinate parsed from text may have unless told otherwise.
///
/// It bounds what a request can address (a far coordinate costs its distance in
/// delimiter bytes); documents being parsed are never capped.
pub const DEFAULT_MAX_COMPONENT: u32 = 9_999;

const COMPONENT_NAMES: [&str; COMPONENTS] = [
    "library",
    "shelf",
    "series",
    "collection",
    "volume",
    "book",
    "chapter",
    "section",
    "scroll",
];

/// A phext address: nine positive components, most significant first
/// (`library.shelf.series/collection.volume.book/chapter.section.scroll`).
///
/// Every value of this type is valid: no component is zero. The derived ordering is
/// lexicographic over the components, which is exactly document order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinate([u32; COMPONENTS]);

/// Why a coordinate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoordinateError {
    /// The text was empty.
    Empty,
    /// A component was empty (two separators in a row, or one at either end).
    EmptyComponent,
    /// A character other than an ASCII digit or a separator (`.`, `/`, `;`).
    InvalidCharacter(char),
    /// More than nine components.
    TooManyComponents,
    /// A component was zero; components count from 1.
    Zero,
    /// A component exceeded the allowed maximum.
    AboveMaximum {
        /// The largest value allowed.
        max: u32,
    },
}

impl fmt::Display for CoordinateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "empty coordinate"),
            Self::EmptyComponent => write!(f, "empty coordinate component"),
            Self::InvalidCharacter(c) => write!(f, "invalid character {c:?} in coordinate"),
            Self::TooManyComponents => write!(f, "more than 9 coordinate components"),
            Self::Zero => write!(f, "coordinate components start at 1, not 0"),
            Self::AboveMaximum { max } => write!(f, "coordinate component above {max}"),
        }
    }
}

impl std::error::Error for CoordinateError {}

impl Coordinate {
    /// The origin, `1.1.1/1.1.1/1.1.1`: where a document's first scroll sits.
    pub const ORIGIN: Coordinate = Coordinate([1; COMPONENTS]);

    /// A coordinate from its nine components, most significant first.
    ///
    /// Fails with [`CoordinateError::Zero`] if any component is zero. No maximum applies:
    /// use [`Coordinate::parse_with_max`] for untrusted text.
    pub fn new(components: [u32; COMPONENTS]) -> Result<Self, CoordinateError> {
        if components.contains(&0) {
            return Err(CoordinateError::Zero);
        }
        Ok(Coordinate(components))
    }

    /// Builds a coordinate whose components are known to be non-zero.
    pub(crate) const fn from_nonzero(components: [u32; COMPONENTS]) -> Self {
        Coordinate(components)
    }

    /// The nine components, most significant (library) first.
    pub fn components(&self) -> [u32; COMPONENTS] {
        self.0
    }

    /// The largest of the nine components.
    pub fn max_component(&self) -> u32 {
        self.0.iter().copied().max().unwrap_or(1)
    }

    /// Parses text with components bounded by `max`.
    ///
    /// The text is 1 to 9 numbers of ASCII digits (leading zeros allowed) separated by
    /// single `.`, `/` or `;`, which are interchangeable. Short forms with `k` numbers fill
    /// library, shelf, series, … with the first `k-1` numbers in order; the last number is
    /// always the scroll, and unfilled components stay 1: `5` is `1.1.1/1.1.1/1.1.5`, `2.3`
    /// is `2.1.1/1.1.1/1.1.3`. Never panics.
    pub fn parse_with_max(text: &str, max: u32) -> Result<Self, CoordinateError> {
        if text.is_empty() {
            return Err(CoordinateError::Empty);
        }
        let mut numbers = [0u32; COMPONENTS];
        let mut count = 0usize;
        let mut value: Option<u64> = None;
        for ch in text.chars().chain(std::iter::once('.')) {
            match ch {
                '0'..='9' => {
                    let digit = u64::from(ch as u8 - b'0');
                    // Saturate well above any u32 so an endless run of digits cannot overflow.
                    value = Some((value.unwrap_or(0) * 10 + digit).min(u64::from(u32::MAX) + 1));
                }
                '.' | '/' | ';' => {
                    let number = value.take().ok_or(CoordinateError::EmptyComponent)?;
                    if count == COMPONENTS {
                        return Err(CoordinateError::TooManyComponents);
                    }
                    if number == 0 {
                        return Err(CoordinateError::Zero);
                    }
                    if number > u64::from(max) {
                        return Err(CoordinateError::AboveMaximum { max });
                    }
                    numbers[count] = number as u32;
                    count += 1;
                }
                other => return Err(CoordinateError::InvalidCharacter(other)),
            }
        }
        let mut components = [1u32; COMPONENTS];
        components[..count - 1].copy_from_slice(&numbers[..count - 1]);
        components[COMPONENTS - 1] = numbers[count - 1];
        Ok(Coordinate(components))
    }

    /// The name of component `position` (0 = `library` … 8 = `scroll`).
    pub fn component_name(position: usize) -> Option<&'static str> {
        COMPONENT_NAMES.get(position).copied()
    }
}

impl Default for Coordinate {
    fn default() -> Self {
        Self::ORIGIN
    }
}

impl FromStr for Coordinate {
    type Err = CoordinateError;

    /// Parses with the default maximum, [`DEFAULT_MAX_COMPONENT`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_with_max(text, DEFAULT_MAX_COMPONENT)
    }
}

/// The longest text form: nine 10-digit components and eight separators.
const MAX_TEXT_LEN: usize = 9 * 10 + 8;

/// Writes nine components as `a.b.c/d.e.f/g.h.i` (with `group_separator` between groups)
/// into `buf` and returns the length. Hand-rolled because toc and json export print one
/// coordinate per scroll and the formatting machinery dominated their cost.
fn format_components(
    buf: &mut [u8; MAX_TEXT_LEN],
    c: &[u32; COMPONENTS],
    group_separator: u8,
) -> usize {
    let mut len = 0;
    for (position, &value) in c.iter().enumerate() {
        if position > 0 {
            buf[len] = if position % 3 == 0 {
                group_separator
            } else {
                b'.'
            };
            len += 1;
        }
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        let mut rest = value;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let count = digits.len() - start;
        buf[len..len + count].copy_from_slice(&digits[start..]);
        len += count;
    }
    len
}

/// Writes nine components in canonical layout to a formatter.
pub(crate) fn write_components(
    f: &mut fmt::Formatter<'_>,
    c: &[u32; COMPONENTS],
    group_separator: char,
) -> fmt::Result {
    let mut buf = [0u8; MAX_TEXT_LEN];
    let len = format_components(&mut buf, c, group_separator as u8);
    // Only ASCII digits and separators were written.
    f.write_str(std::str::from_utf8(&buf[..len]).unwrap_or_default())
}

impl Coordinate {
    /// Appends the canonical form to `out`, without the formatting machinery.
    pub fn push_to(&self, out: &mut String) {
        let mut buf = [0u8; MAX_TEXT_LEN];
        let len = format_components(&mut buf, &self.0, b'/');
        out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
    }
}

impl fmt::Display for Coordinate {
    /// The canonical form `1.1.1/1.1.1/1.1.2`; the alternate form (`{:#}`) is the URL
    /// form `1.1.1;1.1.1;1.1.2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let separator = if f.alternate() { ';' } else { '/' };
        write_components(f, &self.0, separator)
    }
}

impl fmt::Debug for Coordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Coordinate({self})")
    }
}

impl TryFrom<[u32; COMPONENTS]> for Coordinate {
    type Error = CoordinateError;

    fn try_from(components: [u32; COMPONENTS]) -> Result<Self, Self::Error> {
        Self::new(components)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, CoordinateError> {
        text.parse::<Coordinate>().map(|c| c.to_string())
    }

    #[test]
    fn full_form_round_trips() {
        assert_eq!(parse("1.1.1/1.1.1/1.1.2").unwrap(), "1.1.1/1.1.1/1.1.2");
        assert_eq!(parse("2.3.4/5.6.7/8.9.1").unwrap(), "2.3.4/5.6.7/8.9.1");
    }

    #[test]
    fn separators_are_interchangeable() {
        assert_eq!(parse("1;1;1;1;1;1;1;2;1").unwrap(), "1.1.1/1.1.1/1.2.1");
        assert_eq!(parse("1.1.1;1.1.1;1.3.1").unwrap(), "1.1.1/1.1.1/1.3.1");
        assert_eq!(parse("1/1/1/1/1/1/1/1/4").unwrap(), "1.1.1/1.1.1/1.1.4");
    }

    #[test]
    fn short_forms_fill_from_library_and_end_at_the_scroll() {
        assert_eq!(parse("5").unwrap(), "1.1.1/1.1.1/1.1.5");
        assert_eq!(parse("2.3").unwrap(), "2.1.1/1.1.1/1.1.3");
        assert_eq!(parse("1.2.3").unwrap(), "1.2.1/1.1.1/1.1.3");
        assert_eq!(parse("7.1.1/3.1.1").unwrap(), "7.1.1/3.1.1/1.1.1");
        assert_eq!(parse("1.2.3.4.5.6.7.8").unwrap(), "1.2.3/4.5.6/7.1.8");
    }

    #[test]
    fn leading_zeros_are_allowed() {
        assert_eq!(parse("01.1.1/1.1.1/1.1.0002").unwrap(), "1.1.1/1.1.1/1.1.2");
    }

    #[test]
    fn bad_forms_are_typed_errors() {
        use CoordinateError::*;
        let cases: &[(&str, CoordinateError)] = &[
            ("", Empty),
            ("abc", InvalidCharacter('a')),
            ("x1y.1.1/1.1.1/1.1.4", InvalidCharacter('x')),
            ("1,1,2", InvalidCharacter(',')),
            (" 1", InvalidCharacter(' ')),
            ("1 ", InvalidCharacter(' ')),
            ("-1", InvalidCharacter('-')),
            ("+1", InvalidCharacter('+')),
            ("1.1.1-1.1.1-1.1.5", InvalidCharacter('-')),
            ("١", InvalidCharacter('١')),
            ("1.1.1/1.1.1/1.1.1/9.9", TooManyComponents),
            ("1.1.1/1.1.1/1.1.1/", EmptyComponent),
            ("/1", EmptyComponent),
            ("1..1", EmptyComponent),
            ("1//1", EmptyComponent),
            (".", EmptyComponent),
            ("0.1.1/1.1.1/1.1.1", Zero),
            ("1.1.1/1.1.1/1.1.0", Zero),
            ("000", Zero),
            ("1.1.1/1.1.1/1.1.10000", AboveMaximum { max: 9_999 }),
            ("18446744073709551616", AboveMaximum { max: 9_999 }),
            (
                "99999999999999999999999999999999999999",
                AboveMaximum { max: 9_999 },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).as_ref(), Err(expected), "input {text:?}");
        }
    }

    #[test]
    fn the_maximum_is_configurable() {
        assert!(Coordinate::parse_with_max("1.1.1/1.1.1/1.1.10000", 10_000).is_ok());
        assert_eq!(
            Coordinate::parse_with_max("1.1.1/1.1.2/1990.9.9", 999),
            Err(CoordinateError::AboveMaximum { max: 999 })
        );
        assert_eq!(
            parse("1.1.1/1.1.2/1990.9.9").unwrap(),
            "1.1.1/1.1.2/1990.9.9"
        );
        let huge = Coordinate::parse_with_max("4294967295", u32::MAX).unwrap();
        assert_eq!(huge.components()[8], u32::MAX);
        assert!(Coordinate::parse_with_max("4294967296", u32::MAX).is_err());
    }

    #[test]
    fn new_refuses_zero() {
        assert_eq!(
            Coordinate::new([1, 1, 1, 1, 0, 1, 1, 1, 1]),
            Err(CoordinateError::Zero)
        );
        assert_eq!(Coordinate::new([1; 9]), Ok(Coordinate::ORIGIN));
        assert!(Coordinate::try_from([2; 9]).is_ok());
    }

    #[test]
    fn alternate_display_is_the_url_form() {
        let c: Coordinate = "1.2.3/4.5.6/7.8.9".parse().unwrap();
        assert_eq!(format!("{c:#}"), "1.2.3;4.5.6;7.8.9");
        assert_eq!(format!("{c:?}"), "Coordinate(1.2.3/4.5.6/7.8.9)");
    }

    #[test]
    fn order_is_document_order() {
        let mut coords: Vec<Coordinate> = [
            "2.1.1/1.1.1/1.1.1",
            "1.1.1/1.1.1/1.1.2",
            "1.1.1/1.1.1/1.2.1",
            "1.1.1/1.1.1/1.1.1",
            "1.1.1/1.1.2/1.1.1",
            "1.1.1/1.1.1/1.1.10",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        coords.sort();
        let printed: Vec<String> = coords.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            printed,
            [
                "1.1.1/1.1.1/1.1.1",
                "1.1.1/1.1.1/1.1.2",
                "1.1.1/1.1.1/1.1.10",
                "1.1.1/1.1.1/1.2.1",
                "1.1.1/1.1.2/1.1.1",
                "2.1.1/1.1.1/1.1.1"
            ]
        );
    }

    #[test]
    fn push_to_matches_display() {
        for text in [
            "1.1.1/1.1.1/1.1.1",
            "4294967295.10.909/1.22.333/4444.55555.666666",
        ] {
            let c = Coordinate::parse_with_max(text, u32::MAX).unwrap();
            let mut out = String::from("> ");
            c.push_to(&mut out);
            assert_eq!(out, format!("> {c}"));
            assert_eq!(c.to_string(), text);
        }
    }

    #[test]
    fn component_names_cover_all_positions() {
        assert_eq!(Coordinate::component_name(0), Some("library"));
        assert_eq!(Coordinate::component_name(8), Some("scroll"));
        assert_eq!(Coordinate::component_name(9), None);
    }
}
