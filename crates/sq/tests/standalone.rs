//! The repository stands alone: no file in it reaches for a path beside or above it (test
//! data, docs, scripts). `.ci/clone-alone` runs the whole of CI in a lone clone; this
//! catches the mistake at once.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if matches!(name.to_str(), Some("target" | ".git")) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn nothing_reaches_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut all = Vec::new();
    files(&root, &mut all);
    assert!(all.len() > 20, "walked {}", root.display());
    // Spelled in pieces, so that this file does not name them itself.
    let outside = [["..", "shared"].join("/"), ["..", "..", ".."].join("/")];
    let mut found = Vec::new();
    for path in all {
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&text);
        for needle in &outside {
            if text.contains(needle.as_str()) {
                found.push(format!("{} names {needle}", path.display()));
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
