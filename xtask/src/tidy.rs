//! Repository hygiene checks that run as `cargo test` in xtask.
//!
//! Every Rust source file opens with a `//!` paragraph saying what it holds (style
//! habit 1); written on the model of rust-analyzer's `TidyDocs`.

use std::path::{Path, PathBuf};

use crate::project_root;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name == "target" || name.starts_with('.') || name == "corpus" || name == "artifacts"
            {
                continue;
            }
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// True when the first non-attribute, non-blank line is a `//!` comment, or (for a
/// file whose module docs are a README) the file includes the README as its docs.
fn has_module_docs(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && (!l.starts_with("#![") || l.starts_with("#![doc")));
    match first {
        Some(l) => l.starts_with("//!") || l.starts_with("#![doc = include_str!"),
        None => false,
    }
}

#[test]
fn every_rust_file_has_module_docs() {
    let mut files = Vec::new();
    rust_files(&project_root(), &mut files);
    assert!(files.len() > 10, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| !has_module_docs(&std::fs::read_to_string(f).unwrap_or_default()))
        .map(|f| {
            f.strip_prefix(project_root())
                .unwrap_or(f)
                .display()
                .to_string()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` paragraph saying what they hold:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn module_docs_detection() {
    assert!(has_module_docs("//! Holds x.\nfn f() {}"));
    assert!(has_module_docs(
        "#![doc = include_str!(\"../README.md\")]\n"
    ));
    assert!(!has_module_docs("fn f() {}\n//! late"));
    assert!(!has_module_docs("// plain comment\n"));
}
