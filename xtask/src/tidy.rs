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

/// The crate-internal imports of each top-level module of a crate's `src/`:
/// module name -> modules it names as `crate::m` (outside comments). A module's
/// submodules (`src/m/*.rs`) count as `m`; re-exports at the crate root
/// (`crate::TrainError`) count as the module that defines them, given by `roots`.
fn module_imports(
    src: &Path,
    roots: &[(&str, &str)],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap_or(&f);
        let module = match rel.components().next() {
            Some(c) => c
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string(),
            None => continue,
        };
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let deps = graph.entry(module.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let target = roots
                    .iter()
                    .find(|(item, _)| *item == name)
                    .map_or(name.clone(), |(_, m)| (*m).to_string());
                if target != module && target.chars().next().is_some_and(|c| c.is_lowercase()) {
                    deps.insert(target);
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn find_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        g: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        u: &str,
        state: &mut std::collections::BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(u.to_string(), 1);
        stack.push(u.to_string());
        for v in g.get(u).into_iter().flatten() {
            if !g.contains_key(v) {
                continue;
            }
            match state.get(v.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == v).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(v.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(g, v, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(u.to_string(), 2);
        None
    }
    let mut state = std::collections::BTreeMap::new();
    for u in graph.keys() {
        if !state.contains_key(u.as_str()) {
            if let Some(c) = visit(graph, u, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn trainer_modules_import_without_cycles() {
    let src = project_root().join("snn-train/src");
    let roots = [
        ("TrainError", "train_error"),
        ("ConfigError", "error"),
        ("DataError", "error"),
        ("NetworkError", "error"),
        ("LayerIndex", "error"),
    ];
    let graph = module_imports(&src, &roots);
    assert!(graph.len() > 10, "found only {} modules", graph.len());
    if let Some(c) = find_cycle(&graph) {
        panic!(
            "snn-train's modules import each other in a cycle: {}",
            c.join(" -> ")
        );
    }
}

#[test]
fn cycle_detection() {
    let g = |edges: &[(&str, &str)]| {
        let mut g = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
        for (a, b) in edges {
            g.entry((*a).into()).or_default().insert((*b).into());
            g.entry((*b).into()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&g(&[("a", "b"), ("b", "c")])), None);
    let c = find_cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
}
