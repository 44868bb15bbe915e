//! Any text and maximum: coordinate parsing never panics, and what it accepts is valid,
//! bounded, and round-trips through both display forms.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phext::Coordinate;

fuzz_target!(|input: (u16, &str)| {
    let (max, text) = input;
    let max = u32::from(max);
    if let Ok(c) = Coordinate::parse_with_max(text, max) {
        assert!(c.components().iter().all(|&k| (1..=max).contains(&k)));
        assert_eq!(Coordinate::parse_with_max(&c.to_string(), max), Ok(c));
        assert_eq!(Coordinate::parse_with_max(&format!("{c:#}"), max), Ok(c));
        assert!(text.bytes().all(|b| b.is_ascii_digit() || b"./;".contains(&b)));
    }
    let _ = phext::ClientManifest::parse(text, max);
});
