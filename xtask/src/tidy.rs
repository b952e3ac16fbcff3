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

/// The crate-internal imports of a crate's modules, `depth` levels deep: module path
/// (`sim` at depth 1, `sim::grad` at depth 2; a folder's `mod.rs` is the folder) ->
/// the modules it names as `crate::...` (outside comments), cut to the same depth.
/// Re-exports at the crate root (`crate::TrainError`) count as the module that
/// defines them, given by `roots`. Only paths to modules of the graph count.
fn module_imports(
    src: &Path,
    depth: usize,
    roots: &[(&str, &str)],
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |rel: &Path| -> String {
        let parts: Vec<String> = rel
            .components()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .filter(|p| p != "mod")
            .take(depth)
            .collect();
        parts.join("::")
    };
    let mut texts = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src).unwrap_or(f);
        let module = module_of(rel);
        if matches!(
            module.split("::").next(),
            Some("lib" | "main" | "bin") | None
        ) {
            continue;
        }
        texts.push((module, std::fs::read_to_string(f).unwrap_or_default()));
    }
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for (module, _) in &texts {
        graph.entry(module.clone()).or_default();
    }
    let known: std::collections::BTreeSet<String> = graph.keys().cloned().collect();
    for (module, text) in &texts {
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (i, _) in code.match_indices("crate::") {
            for path in paths_at(&code[i + "crate::".len()..]) {
                let mut target: Vec<String> = path.split("::").map(str::to_string).collect();
                if let Some((_, m)) = roots.iter().find(|(item, _)| *item == target[0]) {
                    target.splice(0..1, m.split("::").map(str::to_string));
                }
                // The longest prefix of the path that is a module of the graph.
                let hit = (1..=target.len().min(depth))
                    .rev()
                    .map(|n| target[..n].join("::"))
                    .find(|m| known.contains(m));
                if let Some(t) = hit.filter(|t| t != module) {
                    graph.entry(module.clone()).or_default().insert(t);
                }
            }
        }
    }
    graph
}

/// The paths named right after a `crate::`: one (`a::b::C`), or each item of a group
/// (`{a::B, c}`, nested groups cut at their brace), as `::`-joined identifiers.
fn paths_at(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .split("::")
            .map(|seg| {
                seg.trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .take_while(|seg| !seg.is_empty())
            .collect::<Vec<_>>()
            .join("::")
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
    };
    let (mut depth, mut items, mut cur) = (0usize, Vec::new(), String::new());
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            cur.push(c);
        }
    }
    items.push(cur);
    items
        .iter()
        .map(|s| ident(s))
        .filter(|p| !p.is_empty())
        .collect()
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

/// The folders of `snn-train/src`, bottom first: a module imports only from its own
/// layer and the layers below, so the data flows one way (ARCHITECTURE.md draws it).
const TRAINER_LAYERS: &[&[&str]] = &[
    &["error", "data", "exec"],
    &["model"],
    &["sim"],
    &["io"],
    &["train"],
    &["measure"],
];

const TRAINER_ROOTS: [(&str, &str); 5] = [
    ("TrainError", "train::error"),
    ("ConfigError", "error"),
    ("DataError", "error"),
    ("NetworkError", "error"),
    ("LayerIndex", "error"),
];

#[test]
fn trainer_folders_import_downward_only() {
    let src = project_root().join("snn-train/src");
    let graph = module_imports(&src, 1, &TRAINER_ROOTS);
    // A canary: the parser sees the imports that are there.
    assert!(graph["train"].contains("sim") && graph["io"].contains("model"));
    let layer = |m: &str| TRAINER_LAYERS.iter().position(|l| l.contains(&m));
    for (module, deps) in &graph {
        let Some(own) = layer(module) else {
            panic!("snn-train/src/{module} is in no layer of TRAINER_LAYERS (xtask/src/tidy.rs)");
        };
        for d in deps {
            let theirs = layer(d).unwrap_or(usize::MAX);
            assert!(
                theirs <= own,
                "snn-train: `{module}` imports `{d}`, a layer above it (see TRAINER_LAYERS)"
            );
        }
    }
    if let Some(c) = find_cycle(&graph) {
        panic!(
            "snn-train's folders import each other in a cycle: {}",
            c.join(" -> ")
        );
    }
}

#[test]
fn trainer_modules_import_without_cycles() {
    let src = project_root().join("snn-train/src");
    let graph = module_imports(&src, 2, &TRAINER_ROOTS);
    assert!(graph.len() > 30, "found only {} modules", graph.len());
    if let Some(c) = find_cycle(&graph) {
        panic!(
            "snn-train's modules import each other in a cycle: {}",
            c.join(" -> ")
        );
    }
}

#[test]
fn module_imports_follow_paths_to_their_depth() {
    let dir = std::env::temp_dir().join(format!("tidy-imports-{}", std::process::id()));
    let w = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    w("lib.rs", "pub mod a; pub mod b;");
    w("a/mod.rs", "//! A.\npub mod x;\npub use x::X;");
    w(
        "a/x.rs",
        "//! X.\nuse crate::b::y::Y;\n// crate::b::z in a comment\npub struct X;",
    );
    w("b/mod.rs", "//! B.\npub mod y;");
    w("b/y.rs", "//! Y.\nuse crate::{Err, a::X};\npub struct Y;");
    let roots = [("Err", "a::x")];
    let top = module_imports(&dir, 1, &roots);
    let inner = module_imports(&dir, 2, &roots);
    std::fs::remove_dir_all(&dir).ok();
    let set = |v: &[&str]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(top["a"], set(&["b"]));
    assert_eq!(inner["a::x"], set(&["b::y"]));
    // `crate::{Err, a::X}` is one grouped path; `Err` is a root re-export of `a::x`.
    assert_eq!(inner["b::y"], set(&["a", "a::x"]));
    assert!(find_cycle(&top).is_some());
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
