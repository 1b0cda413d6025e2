//! The module graph of `xtask/src` has no cycles, and nothing imports from `main.rs`.
//!
//! A node is a top-level module (`audit`, `backup`, …; each `util::*` on its own); an edge is
//! a `crate::X` path in a module's code outside its tests (`use` lines and paths in code, not
//! comments). Within a folder, files form nodes too (`audit::sources`, …), with `super::`
//! paths as edges, so a folder's files cannot import each other in a circle either.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its test module and without comments.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers of `crate::a::b` paths, including `use crate::a::{b, c}` groups.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + 7..];
        let end = rest
            .find(|c: char| {
                !(c.is_alphanumeric()
                    || c == '_'
                    || c == ':'
                    || c == '{'
                    || c == ','
                    || c == ' '
                    || c == '}')
            })
            .unwrap_or(rest.len());
        let path = &rest[..end];
        // `crate::{a, b as c}`: a group right after `crate::`.
        let path = path
            .strip_prefix('{')
            .map_or(path.to_string(), |g| format!("::{{{g}"));
        let path = path.as_str();
        match path.split_once("::{") {
            Some((head, group)) => {
                let group = group.split('}').next().unwrap_or_default();
                for item in group.split(',') {
                    let item = item.trim().split(" as ").next().unwrap_or_default();
                    let mut p: Vec<String> = head
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect();
                    p.extend(item.split("::").map(|s| s.trim().to_string()));
                    out.push(p);
                }
            }
            None => out.push(
                path.split(['{', ',', ' ', '}'])
                    .next()
                    .unwrap_or_default()
                    .split("::")
                    .map(str::to_string)
                    .collect(),
            ),
        }
    }
    out
}

/// The node a file belongs to: its top-level module, or `util::NAME`.
fn node_of(rel: &Path) -> String {
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts[0] == "util" && parts.len() > 1 {
        format!("util::{}", parts[1])
    } else {
        parts[0].clone()
    }
}

fn node_of_path(p: &[String]) -> Option<String> {
    let first = p.first()?.as_str();
    if first == "util" {
        let second = p.get(1)?.as_str();
        return (second != "self").then(|| format!("util::{second}"));
    }
    Some(first.to_string())
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        out: Vec<Vec<String>>,
    }
    fn visit(t: &mut T, v: &str) {
        let i = t.index.len();
        t.index.insert(v.into(), i);
        t.low.insert(v.into(), i);
        t.stack.push(v.into());
        t.on.insert(v.into());
        let next: Vec<String> = t.g.get(v).into_iter().flatten().cloned().collect();
        for w in next {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let lw = t.low[&w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(&w) {
                let iw = t.index[&w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                t.on.remove(&w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_import_cycles_and_nothing_from_main() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| node_of(f.strip_prefix(&root).unwrap()))
        .filter(|n| n != "main")
        .collect();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inner: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let from = node_of(rel);
        if from == "main" {
            continue;
        }
        let code = code(&std::fs::read_to_string(f).unwrap());
        for p in crate_paths(&code) {
            let Some(to) = node_of_path(&p) else { continue };
            assert!(
                modules.contains(&to),
                "{}: `crate::{}` is not a module: nothing may import from main.rs",
                rel.display(),
                p.join("::")
            );
            if to != from {
                top.entry(from.clone()).or_default().insert(to);
            }
        }
        // Files of one folder: `super::x` from folder/y.rs is an edge y -> x.
        let file_node = rel.with_extension("").display().to_string();
        let folder = rel
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let is_mod = rel.file_name().is_some_and(|n| n == "mod.rs");
        for (i, _) in code.match_indices("super::") {
            if is_mod || folder.is_empty() {
                continue;
            }
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let sibling = if root.join(&folder).join(format!("{name}.rs")).exists()
                || root.join(&folder).join(&name).is_dir()
            {
                format!("{folder}/{name}")
            } else {
                format!("{folder}/mod")
            };
            if sibling != file_node {
                inner.entry(file_node.clone()).or_default().insert(sibling);
            }
        }
    }
    assert_eq!(
        cycles(&top),
        Vec::<Vec<String>>::new(),
        "cycles between modules"
    );
    assert_eq!(
        cycles(&inner),
        Vec::<Vec<String>>::new(),
        "cycles between the files of a folder"
    );
}
