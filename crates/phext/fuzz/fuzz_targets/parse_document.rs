//! Any bytes: parsing never panics, refuses exactly the non-UTF-8 inputs, and the
//! canonical form round-trips and equals libphext's `normalize`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phext::{is_canonical, Document};

fuzz_target!(|bytes: &[u8]| {
    let Ok(doc) = Document::parse(bytes) else {
        assert!(std::str::from_utf8(bytes).is_err());
        return;
    };
    let canonical = doc.to_bytes();
    assert_eq!(doc.serialized_len(), canonical.len() as u64);
    assert!(is_canonical(&canonical));
    assert_eq!(is_canonical(bytes), bytes == canonical.as_slice());
    assert_eq!(Document::parse(&canonical).ok().as_ref(), Some(&doc));
    if let Ok(text) = std::str::from_utf8(bytes) {
        assert_eq!(canonical, libphext::phext::normalize(text).into_bytes());
    }
    let _ = doc.textmap();
    let _ = doc.to_json();
    let _ = doc.manifest();
});
