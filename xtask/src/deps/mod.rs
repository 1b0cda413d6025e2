//! Dependency inputs of `audit`: Cargo.lock (v1–v4, with its dependency graph) and Python
//! requirements files and lockfiles (requirements*.txt, poetry.lock, uv.lock, Pipfile.lock,
//! pylock.toml). Each parser returns packages with the file and line they come from; every
//! malformed input is an error naming the file and line.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use rustc_hash::{FxHashMap as FxMap, FxHashSet as FxSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ecosystem {
    #[serde(rename = "crates.io")]
    Crates = 0,
    PyPI = 1,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Crates => "crates.io",
            Ecosystem::PyPI => "PyPI",
        }
    }

    /// The key names are compared by: PEP 503 normalisation for PyPI, as-is for crates.
    pub fn key(self, name: &str) -> String {
        self.key_of(name).into_owned()
    }

    /// [`Ecosystem::key`] without a copy where the name is its own key.
    pub fn key_of(self, name: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Ecosystem::Crates => std::borrow::Cow::Borrowed(name),
            Ecosystem::PyPI => std::borrow::Cow::Owned(pep503(name)),
        }
    }
}

/// PEP 503: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// Shared by every package of one input file.
    pub file: Rc<Path>,
    pub line: usize,
    /// Workspace members (Cargo) or requirement files (Python) that pull the package in
    /// (sorted; shared between packages with the same set).
    pub paths: Rc<[String]>,
    pub markers: Option<String>,
}

/// A requirement that names no exact version.
#[derive(Debug, Clone)]
pub struct Unpinned {
    pub file: PathBuf,
    pub line: usize,
    pub requirement: String,
}

#[derive(Debug, Default)]
pub struct Inputs {
    pub packages: Vec<Package>,
    pub unpinned: Vec<Unpinned>,
    /// Files that could not be read or parsed, with the error (file and line in it).
    pub failed: Vec<(PathBuf, String)>,
    /// Non-fatal notes: include cycles, editable requirements.
    pub notes: Vec<(PathBuf, usize, String)>,
}

const LOCKFILES: &[&str] = &[
    "Cargo.lock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "pylock.toml",
];

fn is_input(name: &str) -> bool {
    LOCKFILES.contains(&name)
        || (name.starts_with("pylock.") && name.ends_with(".toml"))
        || (name.starts_with("requirements") && name.ends_with(".txt"))
}

/// Folders never searched for inputs: build output, VCS data, dependencies, virtualenvs.
pub const SKIP_DIRS: &[&str] = &[
    "target",
    ".git",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".hg",
];

/// Files to audit under `paths` (files are taken as given, directories searched).
pub fn discover(paths: &[PathBuf], skip: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = BTreeSet::new();
    for p in paths {
        if p.is_file() {
            out.insert(p.clone());
            continue;
        }
        if !p.is_dir() {
            bail!("{}: no such file or directory", p.display());
        }
        let walker = WalkDir::new(p)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| {
                if !e.file_type().is_dir() || e.depth() == 0 {
                    return true;
                }
                let name = e.file_name().to_string_lossy();
                let venv = e.path().join("pyvenv.cfg").exists();
                !(SKIP_DIRS.contains(&name.as_ref()) || venv || skip.iter().any(|s| s == e.path()))
            });
        for e in walker {
            let e = e.with_context(|| format!("searching {}", p.display()))?;
            if e.file_type().is_file() && is_input(&e.file_name().to_string_lossy()) {
                out.insert(e.into_path());
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// A set of package names per ecosystem (as compared: PEP 503 for PyPI): the packages
/// an audit looks advisories up for.
#[derive(Default, Clone, Debug)]
pub struct Wanted([FxSet<String>; 2]);

impl Wanted {
    pub fn insert(&mut self, eco: Ecosystem, key: String) {
        self.0[eco as usize].insert(key);
    }

    pub fn contains(&self, eco: Ecosystem, key: &str) -> bool {
        self.0[eco as usize].contains(key)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(FxSet::is_empty)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Ecosystem, &str)> {
        let crates = self.0[0].iter().map(|k| (Ecosystem::Crates, k.as_str()));
        crates.chain(self.0[1].iter().map(|k| (Ecosystem::PyPI, k.as_str())))
    }
}

/// The registry packages of the Cargo.lock files among `files`, found by a quick search
/// for Cargo's exact `[[package]]` / `name` / `version` / `source` lines, without reading
/// anything else: enough to start looking advisories up while the files are parsed in
/// full. Whatever it misses (another layout, a Python file) the caller asks for afterwards.
///
/// The texts it read are returned for [`load_read`], so that each file is read once.
pub fn prescan_cargo_names(files: &[PathBuf]) -> (Wanted, Vec<(PathBuf, String)>) {
    let mut out = Wanted::default();
    let mut texts = Vec::new();
    let finder = memchr::memmem::Finder::new(b"[[package]]\nname = \"");
    for f in files.iter().filter(|f| f.ends_with("Cargo.lock")) {
        let Ok(text) = fs::read_to_string(f) else {
            continue; // the full parse reports it
        };
        texts.push((f.clone(), text));
        let text = texts.last().map_or(&[][..], |(_, t)| t.as_bytes());
        for at in finder.find_iter(text) {
            let rest = &text[at + finder.needle().len()..];
            let Some(q) = memchr::memchr(b'"', rest) else {
                continue;
            };
            let name = &rest[..q];
            // `"\nversion = "...."\nsource = "registry+` (or sparse+) must follow.
            let Some(after) = rest[q..].strip_prefix(b"\"\nversion = \"") else {
                continue;
            };
            let Some(nl) = memchr::memchr(b'\n', after) else {
                continue;
            };
            let src = &after[nl + 1..];
            if (src.starts_with(b"source = \"registry+") || src.starts_with(b"source = \"sparse+"))
                && let Ok(name) = std::str::from_utf8(name)
            {
                out.insert(Ecosystem::Crates, name.to_string());
            }
        }
    }
    (out, texts)
}

/// Parse every file; a failing file is recorded and the others still count.
pub fn load(files: &[PathBuf]) -> Inputs {
    load_read(files, Vec::new())
}

/// [`load`], with the texts of some files already read.
pub fn load_read(files: &[PathBuf], mut texts: Vec<(PathBuf, String)>) -> Inputs {
    let mut inputs = Inputs::default();
    let mut scans = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = match name.as_str() {
            "Cargo.lock" => {
                let text = match texts.iter().position(|(p, _)| p == f) {
                    Some(i) => Ok(texts.swap_remove(i).1),
                    None => read(f),
                };
                text.and_then(|t| scan_cargo_lock(f, t))
                    .map(|s| scans.push(s))
            }
            "poetry.lock" => toml_packages(f, "package", &mut inputs),
            "uv.lock" => toml_packages(f, "package", &mut inputs),
            "Pipfile.lock" => pipfile_lock(f, &mut inputs),
            n if n.starts_with("pylock") => toml_packages(f, "packages", &mut inputs),
            _ => requirements(f, &mut inputs),
        };
        if let Err(e) = result {
            inputs.failed.push((f.clone(), format!("{e:#}")));
        }
    }
    for scan in scans {
        let path = scan.path.clone();
        if let Err(e) = finish_cargo_lock(scan, &mut inputs) {
            inputs.failed.push((path, format!("{e:#}")));
        }
    }
    inputs
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn parse_toml(path: &Path, text: &str) -> Result<toml::Table> {
    toml::from_str(text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Line (1-based) of the `[[package]]` header whose `name`/`version` lines match.
fn toml_lines(text: &str, header: &str) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    let mut start = 0;
    let mut name = None;
    let unquote = |l: &str| {
        l.split_once('=')
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
    };
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l == header {
            start = i + 1;
            name = None;
        } else if l.starts_with("name =") || l.starts_with("name=") {
            name = unquote(l);
        } else if (l.starts_with("version =") || l.starts_with("version="))
            && start > 0
            && let (Some(n), Some(v)) = (name.take(), unquote(l))
        {
            out.entry((n, v)).or_insert(start);
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// One `[[package]]` of a Cargo.lock: where its strings are in the scan's text, and its
/// dependency strings' positions in the scan's list.
struct LockPkg {
    name: Range<usize>,
    version: Range<usize>,
    source: Option<Range<usize>>,
    deps: Range<usize>,
    line: usize,
}

/// A Cargo.lock read and scanned, its dependency graph not walked yet.
struct CargoScan {
    path: PathBuf,
    text: String,
    pkgs: Vec<LockPkg>,
    deps: Vec<Range<usize>>,
}

impl CargoScan {
    fn str(&self, r: &Range<usize>) -> &str {
        &self.text[r.clone()]
    }

    /// Registry packages are audited; members, path and git dependencies are not in the
    /// registry's advisory space.
    fn audited(&self, p: &LockPkg) -> bool {
        p.source.as_ref().is_some_and(|s| {
            let s = self.str(s);
            s.starts_with("registry+") || s.starts_with("sparse+")
        })
    }
}

/// Cargo writes Cargo.lock in one fixed shape; reading that shape line by line, without
/// copying, is several times faster than a TOML parser. Any line outside it returns `None`
/// and the caller uses the TOML parser instead, so this is never less correct.
fn fast_cargo_lock(text: &str) -> Option<(Vec<LockPkg>, Vec<Range<usize>>)> {
    /// `"value"` at `b[at..]` up to the closing quote ending the line's value: its range, if
    /// plain (no escapes, no quote inside).
    fn quoted(b: &[u8], at: usize, end: usize) -> Option<Range<usize>> {
        let v = b.get(at..end)?;
        if v.len() < 2 || v[0] != b'"' || v[v.len() - 1] != b'"' {
            return None;
        }
        if v[1..v.len() - 1].iter().any(|&c| c == b'\\' || c == b'"') {
            return None;
        }
        Some(at + 1..end - 1)
    }
    let b = text.as_bytes();
    let mut pkgs: Vec<LockPkg> = Vec::with_capacity(text.len() / 256);
    let mut deps: Vec<Range<usize>> = Vec::with_capacity(text.len() / 48);
    let mut in_deps = false;
    let mut in_metadata = false;
    let mut seen_table = false;
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', b).chain(std::iter::once(b.len()));
    for (i, nl) in ends.enumerate() {
        let at = start;
        start = nl + 1;
        let end = if nl > at && b[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let l = &b[at..end];
        let Some(&first) = l.first() else {
            continue;
        };
        if in_deps {
            // ` "name version",` or `]`
            let mut s = at;
            while s < end && (b[s] == b' ' || b[s] == b'\t') {
                s += 1;
            }
            let mut e = end;
            while e > s && (b[e - 1] == b' ' || b[e - 1] == b'\t') {
                e -= 1;
            }
            if e == s {
                continue;
            }
            if b[s] == b']' && e == s + 1 {
                in_deps = false;
                pkgs.last_mut()?.deps.end = deps.len();
                continue;
            }
            if b[e - 1] == b',' {
                e -= 1;
            }
            deps.push(quoted(b, s, e)?);
            continue;
        }
        // Cargo writes keys at the start of the line, one space around `=`, in this order.
        match first {
            b'#' => continue,
            b'[' => {
                match l.trim_ascii_end() {
                    b"[[package]]" => {
                        pkgs.push(LockPkg {
                            name: 0..0,
                            version: 0..0,
                            source: None,
                            deps: deps.len()..deps.len(),
                            line: i + 1,
                        });
                        in_metadata = false;
                    }
                    b"[metadata]" => in_metadata = true,
                    _ => return None,
                }
                seen_table = true;
                continue;
            }
            _ if in_metadata => continue,
            _ => {}
        }
        if !seen_table {
            let v = l.strip_prefix(b"version = ")?;
            if v.iter().all(|b| b.is_ascii_digit()) {
                continue;
            }
            return None;
        }
        let p = pkgs.last_mut()?;
        if l.starts_with(b"name = ") {
            p.name = quoted(b, at + 7, end)?;
        } else if l.starts_with(b"version = ") {
            p.version = quoted(b, at + 10, end)?;
        } else if l.starts_with(b"source = ") {
            p.source = Some(quoted(b, at + 9, end)?);
        } else if l.starts_with(b"checksum = ") {
        } else if l == b"dependencies = [" {
            p.deps = deps.len()..deps.len();
            in_deps = true;
        } else if l != b"dependencies = []" {
            return None;
        }
    }
    if in_deps
        || pkgs
            .iter()
            .any(|p| p.name.is_empty() || p.version.is_empty())
    {
        return None;
    }
    Some((pkgs, deps))
}

fn scan_cargo_lock(path: &Path, text: String) -> Result<CargoScan> {
    if let Some((pkgs, deps)) = fast_cargo_lock(&text) {
        return Ok(CargoScan {
            path: path.to_path_buf(),
            text,
            pkgs,
            deps,
        });
    }
    // Anything unusual: the full TOML parser (which also reports errors by line); its
    // strings are laid end to end in a text of their own.
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<LockPackage>,
    }
    let lock: Lock = toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let lines = toml_lines(&text, "[[package]]");
    let mut own = String::new();
    let mut put = |s: &str| {
        let start = own.len();
        own.push_str(s);
        start..own.len()
    };
    let mut deps = Vec::new();
    let mut pkgs = Vec::new();
    for p in &lock.package {
        let start = deps.len();
        deps.extend(p.dependencies.iter().map(|d| put(d)));
        pkgs.push(LockPkg {
            name: put(&p.name),
            version: put(&p.version),
            source: p.source.as_deref().map(&mut put),
            deps: start..deps.len(),
            line: lines
                .get(&(p.name.clone(), p.version.clone()))
                .copied()
                .unwrap_or(1),
        });
    }
    Ok(CargoScan {
        path: path.to_path_buf(),
        text: own,
        pkgs,
        deps,
    })
}

/// Walk a scanned Cargo.lock's dependency graph: each audited package with the workspace
/// members that pull it in.
fn finish_cargo_lock(scan: CargoScan, inputs: &mut Inputs) -> Result<()> {
    let parsed = &scan.pkgs;
    let name = |i: usize| scan.str(&parsed[i].name);
    let n = parsed.len();
    // Packages by name: indices sorted by name (stable: lockfile order within a name), and
    // each name's range in that order.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| name(i));
    let mut by_name: FxMap<&str, (usize, usize)> = FxMap::default();
    by_name.reserve(n);
    let mut i = 0;
    while i < n {
        let nm = name(order[i]);
        let mut j = i + 1;
        while j < n && name(order[j]) == nm {
            j += 1;
        }
        by_name.insert(nm, (i, j));
        i = j;
    }
    // One edge per dependency string, in the same order: v1 lists dependencies as
    // "name version (source)", v2+ as "name" or "name version".
    let mut edges: Vec<usize> = Vec::with_capacity(scan.deps.len());
    for p in parsed {
        for d in &scan.deps[p.deps.clone()] {
            let d = scan.str(d);
            let mut parts = d.split_ascii_whitespace();
            let dn = parts.next().unwrap_or_default();
            let dv = parts.next();
            let candidates = by_name.get(dn).map_or(&[][..], |&(a, b)| &order[a..b]);
            let target = match dv {
                Some(v) => candidates
                    .iter()
                    .find(|&&c| scan.str(&parsed[c].version) == v),
                None => candidates.first(),
            };
            match target {
                Some(&t) => edges.push(t),
                None => bail!(
                    "{}:{}: `{}` depends on `{d}`, which is not in the lockfile",
                    scan.path.display(),
                    p.line,
                    scan.str(&p.name)
                ),
            }
        }
    }
    // Workspace members and path dependencies have no source; each package learns which of
    // them pull it in, as a bit set over those roots (one word per 64 roots).
    let roots: Vec<usize> = (0..n).filter(|&i| parsed[i].source.is_none()).collect();
    let words = roots.len().div_ceil(64).max(1);
    let mut reach = vec![0u64; n * words];
    let mut seen = vec![usize::MAX; n];
    let mut queue = VecDeque::new();
    for (r, &root) in roots.iter().enumerate() {
        seen[root] = r;
        queue.push_back(root);
        while let Some(k) = queue.pop_front() {
            reach[k * words + r / 64] |= 1 << (r % 64);
            for &m in &edges[parsed[k].deps.clone()] {
                if seen[m] != r {
                    seen[m] = r;
                    queue.push_back(m);
                }
            }
        }
    }
    let file: Rc<Path> = Rc::from(scan.path.as_path());
    // Most packages share one set of members: one shared list per distinct set.
    let mut shared: FxMap<&[u64], Rc<[String]>> = FxMap::default();
    for (i, p) in parsed.iter().enumerate() {
        if !scan.audited(p) {
            continue;
        }
        let bits = &reach[i * words..(i + 1) * words];
        let paths = shared
            .entry(bits)
            .or_insert_with(|| {
                let mut names: Vec<String> = roots
                    .iter()
                    .enumerate()
                    .filter(|(r, _)| bits[r / 64] & (1 << (r % 64)) != 0)
                    .map(|(_, &root)| name(root).to_string())
                    .collect();
                names.sort();
                names.dedup();
                names.into()
            })
            .clone();
        inputs.packages.push(Package {
            ecosystem: Ecosystem::Crates,
            name: scan.str(&p.name).to_string(),
            version: scan.str(&p.version).to_string(),
            file: file.clone(),
            line: p.line,
            paths,
            markers: None,
        });
    }
    Ok(())
}

/// poetry.lock and uv.lock (`[[package]]`) and pylock.toml (`[[packages]]`).
fn toml_packages(path: &Path, key: &str, inputs: &mut Inputs) -> Result<()> {
    let text = read(path)?;
    let doc = parse_toml(path, &text)?;
    let lines = toml_lines(&text, &format!("[[{key}]]"));
    let Some(toml::Value::Array(pkgs)) = doc.get(key) else {
        bail!(
            "{}: no `[[{key}]]` tables: is this really a Python lockfile?",
            path.display()
        );
    };
    for p in pkgs {
        let Some(name) = p.get("name").and_then(|v| v.as_str()) else {
            bail!("{}: a `[[{key}]]` entry has no name", path.display());
        };
        // uv.lock: the project itself and local packages have a non-registry source.
        let source = p.get("source").and_then(|s| s.as_table());
        if source.is_some_and(|s| {
            ["editable", "virtual", "directory", "path"]
                .iter()
                .any(|k| s.contains_key(*k))
        }) {
            continue;
        }
        let Some(version) = p.get("version").and_then(|v| v.as_str()) else {
            let line = lines
                .iter()
                .find(|((n, _), _)| n == name)
                .map_or(1, |(_, l)| *l);
            inputs.unpinned.push(Unpinned {
                file: path.into(),
                line,
                requirement: name.into(),
            });
            continue;
        };
        inputs.packages.push(Package {
            ecosystem: Ecosystem::PyPI,
            name: name.to_string(),
            version: version.to_string(),
            file: Rc::from(path),
            line: lines
                .get(&(name.to_string(), version.to_string()))
                .copied()
                .unwrap_or(1),
            paths: Rc::from([file_label(path)]),
            markers: p
                .get("marker")
                .or_else(|| p.get("markers"))
                .and_then(|m| m.as_str())
                .map(str::to_string),
        });
    }
    Ok(())
}

fn pipfile_lock(path: &Path, inputs: &mut Inputs) -> Result<()> {
    let text = read(path)?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}: line {}: {e}", path.display(), e.line()))?;
    for section in ["default", "develop"] {
        let Some(obj) = doc.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, spec) in obj {
            let line = text
                .lines()
                .position(|l| l.trim_start().starts_with(&format!("\"{name}\"")))
                .map_or(1, |i| i + 1);
            match spec
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="))
            {
                Some(v) => inputs.packages.push(Package {
                    ecosystem: Ecosystem::PyPI,
                    name: name.clone(),
                    version: v.to_string(),
                    file: Rc::from(path),
                    line,
                    paths: Rc::from([format!("{} [{section}]", file_label(path))]),
                    markers: spec
                        .get("markers")
                        .and_then(|m| m.as_str())
                        .map(str::to_string),
                }),
                None => inputs.unpinned.push(Unpinned {
                    file: path.to_path_buf(),
                    line,
                    requirement: format!("{name} {spec}"),
                }),
            }
        }
    }
    Ok(())
}

fn file_label(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// requirements files with `-r`/`-c` includes (relative to the including file), followed
/// once each; a cycle is a note, not an endless loop.
fn requirements(path: &Path, inputs: &mut Inputs) -> Result<()> {
    let mut stack = Vec::new();
    requirements_rec(path, inputs, &mut stack, false)
}

fn requirements_rec(
    path: &Path,
    inputs: &mut Inputs,
    stack: &mut Vec<PathBuf>,
    constraint: bool,
) -> Result<()> {
    let canon = path
        .canonicalize()
        .with_context(|| format!("reading {}", path.display()))?;
    stack.push(canon);
    let text = read(path)?;
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if cur.is_empty() {
            start = i + 1;
        }
        if let Some(stripped) = raw.strip_suffix('\\') {
            cur.push_str(stripped);
            cur.push(' ');
            continue;
        }
        cur.push_str(raw);
        logical.push((start, std::mem::take(&mut cur)));
    }
    if !cur.is_empty() {
        logical.push((start, cur));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    for (line, l) in logical {
        // A comment starts at `#` at the beginning or after whitespace.
        let content = match l.find(" #").or_else(|| l.find("\t#")) {
            Some(i) => &l[..i],
            None if l.trim_start().starts_with('#') => "",
            None => &l,
        };
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let first = words.next().unwrap_or_default();
        let include = match first {
            "-r" | "--requirement" => Some((words.next(), false)),
            "-c" | "--constraint" => Some((words.next(), true)),
            _ => first
                .strip_prefix("--requirement=")
                .or_else(|| first.strip_prefix("-r"))
                .map(|f| (Some(f), false))
                .or_else(|| {
                    first
                        .strip_prefix("--constraint=")
                        .or_else(|| first.strip_prefix("-c"))
                        .map(|f| (Some(f), true))
                }),
        };
        if let Some((file, is_constraint)) = include {
            let Some(file) = file.filter(|f| !f.is_empty()) else {
                bail!("{}:{line}: `{first}` needs a file name", path.display());
            };
            let target = dir.join(file);
            let canon = target.canonicalize().with_context(|| {
                format!(
                    "{}:{line}: included file {} not found",
                    path.display(),
                    target.display()
                )
            })?;
            if stack.contains(&canon) {
                inputs.notes.push((
                    path.to_path_buf(),
                    line,
                    format!("include cycle: {file} is already being read"),
                ));
                continue;
            }
            requirements_rec(&target, inputs, stack, is_constraint)?;
            continue;
        }
        if first.starts_with('-') {
            if matches!(first, "-e" | "--editable") || first.starts_with("--editable=") {
                inputs.notes.push((
                    path.to_path_buf(),
                    line,
                    format!("editable requirement `{content}` is not audited"),
                ));
            }
            // Index and build options (--index-url, --hash on its own line, ...) pin nothing.
            continue;
        }
        parse_requirement(path, line, content, constraint, inputs)?;
    }
    stack.pop();
    Ok(())
}

fn parse_requirement(
    path: &Path,
    line: usize,
    content: &str,
    constraint: bool,
    inputs: &mut Inputs,
) -> Result<()> {
    // Options after the requirement (`--hash=...`, `--global-option`) are not part of it.
    let spec = match content.find(" --") {
        Some(i) => &content[..i],
        None => content,
    };
    let (req, markers) = match spec.split_once(';') {
        Some((r, m)) => (r.trim(), Some(m.trim().to_string())),
        None => (spec.trim(), None),
    };
    let name_end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    let name = &req[..name_end];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        if req.contains("://") || req.starts_with('.') || req.starts_with('/') {
            inputs.unpinned.push(Unpinned {
                file: path.into(),
                line,
                requirement: req.into(),
            });
            return Ok(());
        }
        bail!(
            "{}:{line}: `{content}` is not a requirement (expected NAME==VERSION)",
            path.display()
        );
    }
    let mut rest = req[name_end..].trim_start();
    if rest.starts_with('[') {
        let Some(close) = rest.find(']') else {
            bail!(
                "{}:{line}: unclosed `[` in extras of `{req}`",
                path.display()
            );
        };
        rest = rest[close + 1..].trim_start();
    }
    let pinned = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| {
            !v.is_empty()
                && !v.contains(',')
                && !v.contains('*')
                && !v.contains(char::is_whitespace)
        });
    match pinned {
        Some(v) if !constraint => inputs.packages.push(Package {
            ecosystem: Ecosystem::PyPI,
            name: name.to_string(),
            version: v.to_string(),
            file: Rc::from(path),
            line,
            paths: Rc::from([file_label(path)]),
            markers,
        }),
        // Constraints restrict versions without installing anything: only a pin is audited,
        // and an unpinned constraint is not a requirement.
        Some(_) | None if constraint => {}
        _ => inputs.unpinned.push(Unpinned {
            file: path.into(),
            line,
            requirement: spec.trim().to_string(),
        }),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_cargo_lock_agrees_with_toml() {
        let text = "# generated\nversion = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b 1.0.0\",\n \"c\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"00\"\n\n[[package]]\nname = \"c\"\nversion = \"2.0.0\"\n\n[metadata]\n\"checksum b 1.0.0\" = \"00\"\n";
        let (pkgs, deps) = fast_cargo_lock(text).unwrap();
        assert_eq!(pkgs.len(), 3);
        let deps_of_a: Vec<&str> = deps[pkgs[0].deps.clone()]
            .iter()
            .map(|r| &text[r.clone()])
            .collect();
        assert_eq!(deps_of_a, ["b 1.0.0", "c"]);
        assert!(pkgs[1].deps.is_empty() && pkgs[2].deps.is_empty());
        assert_eq!(&text[pkgs[0].name.clone()], "a");
        assert_eq!(
            pkgs[1].source.clone().map(|r| &text[r]),
            Some("registry+https://github.com/rust-lang/crates.io-index")
        );
        assert_eq!((pkgs[0].line, pkgs[2].line), (4, 18));
        // Anything unusual falls back to the TOML parser.
        assert!(fast_cargo_lock("[[package]]\nname = 'a'\nversion = \"1\"\n").is_none());
        assert!(
            fast_cargo_lock("[[package]]\nname = \"a\"\nversion = \"1\"\n[patch.unused]\n")
                .is_none()
        );
        assert!(fast_cargo_lock("[[package]]\nname = \"a\"\n").is_none());
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Django"), "django");
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("Foo__Bar-.baz"), "foo-bar-baz");
    }
}
