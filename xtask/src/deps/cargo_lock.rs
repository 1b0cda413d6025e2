//! Cargo.lock (v1–v4): a quick search for registry names, a zero-copy reader of the layout
//! Cargo writes (with the TOML parser for anything else), and the dependency graph walk that
//! tells which workspace members pull each package in.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result, bail};
use rustc_hash::{FxHashMap as FxMap, FxHashSet as FxSet};

use super::{
    CRATE_NAME_BYTE, Ecosystem, Inputs, MAX_CRATE_NAME, Package, VERSION_BYTE, Wanted, line_at,
    valid_version,
};

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
        let Ok(text) = super::read(f) else {
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
pub(crate) struct CargoScan {
    path: PathBuf,
    text: String,
    pkgs: Vec<LockPkg>,
    deps: Vec<Range<usize>>,
    /// Per package, whether it was refused (an invalid name or version, reported already):
    /// kept for the graph, never audited nor named. Empty when none was.
    refused: Vec<bool>,
}

impl CargoScan {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn str(&self, r: &Range<usize>) -> &str {
        &self.text[r.clone()]
    }

    /// Registry packages are audited; members, path and git dependencies are not in the
    /// registry's advisory space.
    fn audited(&self, i: usize) -> bool {
        let p = &self.pkgs[i];
        !self.refused(i)
            && p.source.as_ref().is_some_and(|s| {
                let s = self.str(s);
                s.starts_with("registry+") || s.starts_with("sparse+")
            })
    }

    fn refused(&self, i: usize) -> bool {
        self.refused.get(i).copied().unwrap_or(false)
    }
}

/// The bytes TOML allows inside a basic string without an escape, less `"` and `\\` (the
/// scanner leaves escapes to the TOML parser): no control character but tab.
const PLAIN_STRING_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = (b >= 0x20 || b == b'\t') && b != 0x7f && b != b'"' && b != b'\\';
        c += 1;
    }
    t
};

/// `"value"` at `b[at..end]`, the closing quote ending the line's value: its range, if
/// plain (no escapes, no quote inside, nothing TOML refuses in a string).
#[inline]
fn quoted(b: &[u8], at: usize, end: usize) -> Option<Range<usize>> {
    let v = b.get(at..end)?;
    if v.len() < 2 || v[0] != b'"' || v[v.len() - 1] != b'"' {
        return None;
    }
    if !v[1..v.len() - 1]
        .iter()
        .all(|&c| PLAIN_STRING_BYTE[usize::from(c)])
    {
        return None;
    }
    Some(at + 1..end - 1)
}

/// [`quoted`] for a value whose every byte must be allowed by `ok` (which allows neither
/// `\\` nor `"`): the same single pass over the bytes, validating as it goes.
#[inline]
fn quoted_in(b: &[u8], at: usize, end: usize, ok: &[bool; 256]) -> Option<Range<usize>> {
    let v = b.get(at..end)?;
    if v.len() < 3 || v[0] != b'"' || v[v.len() - 1] != b'"' {
        return None;
    }
    if !v[1..v.len() - 1].iter().all(|&c| ok[usize::from(c)]) {
        return None;
    }
    Some(at + 1..end - 1)
}

/// The state of [`fast_cargo_lock`]: what it has read so far and where it is.
struct FastScan<'a> {
    b: &'a [u8],
    pkgs: Vec<LockPkg>,
    deps: Vec<Range<usize>>,
    in_deps: bool,
    /// The last dependency had no comma after it: only `]` may follow.
    last_dep: bool,
    in_metadata: bool,
    seen_table: bool,
    /// The keys of the current table seen so far ([`KEYS`] bits, or the top level's
    /// `version`): a key given twice is a TOML error, left to the TOML parser to report.
    keys: u8,
    /// The keys of `[metadata]` (v1 checksums), for the same reason; `None` before the table.
    metadata: Option<FxSet<&'a [u8]>>,
}

/// The keys of a `[[package]]`, one bit each in [`FastScan::keys`].
const KEYS: [&[u8]; 5] = [b"name", b"version", b"source", b"checksum", b"dependencies"];

impl FastScan<'_> {
    /// A line inside `dependencies = [`: ` "name version",` or `]`.
    #[inline]
    fn dependency_line(&mut self, at: usize, end: usize) -> Option<()> {
        let b = self.b;
        let mut s = at;
        while s < end && (b[s] == b' ' || b[s] == b'\t') {
            s += 1;
        }
        let mut e = end;
        while e > s && (b[e - 1] == b' ' || b[e - 1] == b'\t') {
            e -= 1;
        }
        if e == s {
            return Some(());
        }
        if b[s] == b']' && e == s + 1 {
            self.in_deps = false;
            self.pkgs.last_mut()?.deps.end = self.deps.len();
            return Some(());
        }
        // TOML separates array elements with commas: one without is the last.
        if self.last_dep {
            return None;
        }
        if b[e - 1] == b',' {
            e -= 1;
        } else {
            self.last_dep = true;
        }
        self.deps.push(quoted(b, s, e)?);
        Some(())
    }

    /// A line of `[metadata]`: `"checksum NAME VERSION (SOURCE)" = "HASH"`, each key once.
    fn metadata_line(&mut self, at: usize, end: usize) -> Option<()> {
        let b = self.b;
        let close = at + 1 + memchr::memchr(b'"', b.get(at + 1..end)?)?;
        let key = quoted(b, at, close + 1)?;
        if b.get(close + 1..close + 4)? != b" = " {
            return None;
        }
        quoted(b, close + 4, end)?;
        self.metadata.as_mut()?.insert(&b[key]).then_some(())
    }

    /// Any other non-empty line (`line` is its 1-based number).
    #[inline]
    fn line(&mut self, line: usize, at: usize, end: usize) -> Option<()> {
        let b = self.b;
        let l = &b[at..end];
        // Cargo writes keys at the start of the line, one space around `=`, in this order.
        match l[0] {
            // TOML refuses control characters (but tab) in comments too.
            b'#' => {
                return l
                    .iter()
                    .all(|&c| (c >= 0x20 && c != 0x7f) || c == b'\t')
                    .then_some(());
            }
            b'[' => {
                match l.trim_ascii_end() {
                    b"[[package]]" => {
                        self.pkgs.push(LockPkg {
                            name: 0..0,
                            version: 0..0,
                            source: None,
                            deps: self.deps.len()..self.deps.len(),
                            line,
                        });
                        self.in_metadata = false;
                    }
                    // A table defined twice is a TOML error.
                    b"[metadata]" if self.metadata.is_none() => {
                        self.in_metadata = true;
                        self.metadata = Some(FxSet::default());
                    }
                    _ => return None,
                }
                self.seen_table = true;
                self.keys = 0;
                return Some(());
            }
            _ if self.in_metadata => return self.metadata_line(at, end),
            _ => {}
        }
        let key = KEYS.iter().position(|k| {
            l.strip_prefix(*k)
                .is_some_and(|rest| rest.starts_with(b" = "))
        })?;
        if self.keys & (1 << key) != 0 {
            return None;
        }
        self.keys |= 1 << key;
        if !self.seen_table {
            // `version = N`: a TOML integer (no sign, no leading zero, fits i64).
            let v = l.strip_prefix(b"version = ")?;
            let ok = (1..=18).contains(&v.len())
                && v.iter().all(u8::is_ascii_digit)
                && (v[0] != b'0' || v.len() == 1);
            return ok.then_some(());
        }
        let p = self.pkgs.last_mut()?;
        // A name or version outside its grammar: the TOML path reports it by line.
        if l.starts_with(b"name = ") {
            p.name = quoted_in(b, at + 7, end, &CRATE_NAME_BYTE)?;
            if p.name.len() > MAX_CRATE_NAME {
                return None;
            }
        } else if l.starts_with(b"version = ") {
            p.version = quoted_in(b, at + 10, end, &VERSION_BYTE)?;
        } else if l.starts_with(b"source = ") {
            p.source = Some(quoted(b, at + 9, end)?);
        } else if l.starts_with(b"checksum = ") {
            quoted(b, at + 11, end)?;
        } else if l == b"dependencies = [" {
            p.deps = self.deps.len()..self.deps.len();
            self.in_deps = true;
            self.last_dep = false;
        } else if l != b"dependencies = []" {
            return None;
        }
        Some(())
    }
}

/// Cargo writes Cargo.lock in one fixed shape; reading that shape line by line, without
/// copying, is several times faster than a TOML parser. Any line outside it returns `None`
/// and the caller uses the TOML parser instead, so this is never less correct.
fn fast_cargo_lock(text: &str) -> Option<(Vec<LockPkg>, Vec<Range<usize>>)> {
    let b = text.as_bytes();
    let mut scan = FastScan {
        b,
        pkgs: Vec::with_capacity(text.len() / 256),
        deps: Vec::with_capacity(text.len() / 48),
        in_deps: false,
        last_dep: false,
        in_metadata: false,
        seen_table: false,
        keys: 0,
        metadata: None,
    };
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', b).chain(std::iter::once(b.len()));
    for (i, nl) in ends.enumerate() {
        let at = start;
        start = nl + 1;
        // `\r\n` ends a line; a `\r` anywhere else (the last byte too) is left to TOML.
        let end = if nl > at && nl < b.len() && b[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        if end == at {
            continue;
        }
        if scan.in_deps {
            scan.dependency_line(at, end)?;
        } else {
            scan.line(i + 1, at, end)?;
        }
    }
    let FastScan {
        pkgs,
        deps,
        in_deps,
        ..
    } = scan;
    if in_deps
        || pkgs
            .iter()
            .any(|p| p.name.is_empty() || p.version.is_empty())
    {
        return None;
    }
    Some((pkgs, deps))
}

pub(crate) fn scan(path: &Path, text: String, inputs: &mut Inputs) -> Result<CargoScan> {
    if let Some((pkgs, deps)) = fast_cargo_lock(&text) {
        return Ok(CargoScan {
            path: path.to_path_buf(),
            text,
            pkgs,
            deps,
            refused: Vec::new(),
        });
    }
    scan_toml(path, &text, inputs)
}

/// [`scan`] by the full TOML parser (which also reports errors by line): anything unusual
/// takes this path. Its strings are laid end to end in a text of their own.
pub(crate) fn scan_toml(path: &Path, text: &str, inputs: &mut Inputs) -> Result<CargoScan> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<toml::Spanned<LockPackage>>,
    }
    let lock: Lock = toml::from_str(text).with_context(|| path.display().to_string())?;
    let mut own = String::new();
    let mut put = |s: &str| {
        let start = own.len();
        own.push_str(s);
        start..own.len()
    };
    let mut deps = Vec::new();
    let mut pkgs = Vec::new();
    let mut refused = vec![false; lock.package.len()];
    for (i, spanned) in lock.package.iter().enumerate() {
        // The span of an array-of-tables entry starts at its `[[package]]` header.
        let line = line_at(text, spanned.span().start);
        let p = spanned.get_ref();
        let problem = if !Ecosystem::Crates.valid_name(&p.name) {
            Some(Ecosystem::Crates.name_rule())
        } else if !valid_version(&p.version) {
            Some("its version holds a space, a control or a non-ASCII character")
        } else {
            None
        };
        if let Some(problem) = problem {
            refused[i] = true;
            inputs.failed.push((
                path.to_path_buf(),
                format!(
                    "{}:{line}: the package entry is refused, {problem}",
                    path.display()
                ),
            ));
        }
        let start = deps.len();
        deps.extend(p.dependencies.iter().map(|d| put(d)));
        pkgs.push(LockPkg {
            name: put(&p.name),
            version: put(&p.version),
            source: p.source.as_deref().map(&mut put),
            deps: start..deps.len(),
            line,
        });
    }
    Ok(CargoScan {
        path: path.to_path_buf(),
        text: own,
        pkgs,
        deps,
        refused,
    })
}

/// The dependency graph of a scan: for each dependency string (in `scan.deps` order), the
/// package it names.
fn edges(scan: &CargoScan) -> Result<Vec<usize>> {
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
                    "{}:{}: a dependency of this package ({d:?}) is not in the lockfile",
                    scan.path.display(),
                    p.line,
                ),
            }
        }
    }
    Ok(edges)
}

/// Which roots (packages without a source: workspace members and path dependencies) reach
/// each package, as a bit set over the roots (`words` words of 64 per package).
struct Reach {
    roots: Vec<usize>,
    words: usize,
    bits: Vec<u64>,
}

/// The most work the walk of [`reach`] may do, roots × (packages + dependencies): far above
/// any real workspace (a thousand members over ten thousand packages is about 2^25), and a
/// bound on the time and memory a crafted lockfile can take (the walk is quadratic).
const MAX_WALK: usize = 1 << 28;

fn reach(scan: &CargoScan, edges: &[usize]) -> Result<Reach> {
    let parsed = &scan.pkgs;
    let n = parsed.len();
    let roots: Vec<usize> = (0..n)
        .filter(|&i| parsed[i].source.is_none() && !scan.refused(i))
        .collect();
    if roots.len().saturating_mul(n + edges.len()) > MAX_WALK {
        bail!(
            "{}: {} of its {n} packages have no source (workspace members, path dependencies): too many to trace which members pull each package in; it was not audited",
            scan.path.display(),
            roots.len()
        );
    }
    let words = roots.len().div_ceil(64).max(1);
    let mut bits = vec![0u64; n * words];
    let mut seen = vec![usize::MAX; n];
    let mut queue = VecDeque::new();
    for (r, &root) in roots.iter().enumerate() {
        seen[root] = r;
        queue.push_back(root);
        while let Some(k) = queue.pop_front() {
            bits[k * words + r / 64] |= 1 << (r % 64);
            for &m in &edges[parsed[k].deps.clone()] {
                if seen[m] != r {
                    seen[m] = r;
                    queue.push_back(m);
                }
            }
        }
    }
    Ok(Reach { roots, words, bits })
}

/// Walk a scanned Cargo.lock's dependency graph: each audited package with the workspace
/// members that pull it in.
pub(crate) fn finish(scan: CargoScan, inputs: &mut Inputs) -> Result<()> {
    let edges = edges(&scan)?;
    let Reach { roots, words, bits } = reach(&scan, &edges)?;
    let parsed = &scan.pkgs;
    let name = |i: usize| scan.str(&parsed[i].name);
    let file: Rc<Path> = Rc::from(scan.path.as_path());
    // Most packages share one set of members: one shared list per distinct set.
    let mut shared: FxMap<&[u64], Rc<[String]>> = FxMap::default();
    for (i, p) in parsed.iter().enumerate() {
        if !scan.audited(i) {
            continue;
        }
        let bits = &bits[i * words..(i + 1) * words];
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

/// A scan's packages as plain values, for tests comparing the two paths: name, version,
/// source, dependency strings and line of each `[[package]]`, and whether it was refused.
#[cfg(test)]
pub(crate) type PlainPackage = (String, String, Option<String>, Vec<String>, usize, bool);

/// Whether [`scan`] reads `text` with the fast scanner.
#[cfg(test)]
pub(crate) fn takes_fast_path(text: &str) -> bool {
    fast_cargo_lock(text).is_some()
}

#[cfg(test)]
impl CargoScan {
    pub(crate) fn plain(&self) -> Vec<PlainPackage> {
        let s = |r: &Range<usize>| self.str(r).to_string();
        (0..self.pkgs.len())
            .map(|i| {
                let p = &self.pkgs[i];
                (
                    s(&p.name),
                    s(&p.version),
                    p.source.as_ref().map(s),
                    self.deps[p.deps.clone()].iter().map(s).collect(),
                    p.line,
                    self.refused(i),
                )
            })
            .collect()
    }
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
        // So does a name or version outside its grammar (the TOML path reports it).
        let ok = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n";
        assert!(fast_cargo_lock(ok).is_some());
        for bad in [
            ok.replace("\"a\"", "\"a.b\""),
            ok.replace("\"a\"", &format!("\"{}\"", "a".repeat(65))),
            ok.replace("1.0.0", "1.0.0 x"),
            ok.replace("1.0.0", "1.0.0\u{1b}"),
        ] {
            assert!(fast_cargo_lock(&bad).is_none(), "{bad:?}");
        }
        // A real lockfile takes the fast path (its validation refuses nothing Cargo writes).
        // (Found by the fuzz suite: see `fast_scanner_accepts_nothing_toml_refuses`.)
        let real = include_str!("../../../Cargo.lock");
        let (pkgs, _) = fast_cargo_lock(real).expect("the workspace's Cargo.lock");
        assert!(pkgs.len() > 100);
    }

    /// Found by `fuzz_tests::cargo_lock`: the member walk is quadratic (every root walks
    /// the graph), so 16 MiB of packages without a source, each depending on the next, took
    /// minutes and gigabytes. Past a bound it is an error naming the file.
    #[test]
    fn a_crafted_graph_too_large_to_walk_is_an_error() {
        let n = 20_000;
        let mut text = String::from("version = 4\n");
        for i in 0..n {
            text.push_str(&format!(
                "\n[[package]]\nname = \"p{i}\"\nversion = \"1.0.0\"\n"
            ));
            if i + 1 < n {
                text.push_str(&format!("dependencies = [\n \"p{}\",\n]\n", i + 1));
            }
        }
        text.push_str(
            "\n[[package]]\nname = \"r\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\n",
        );
        let mut inputs = Inputs::default();
        let s = scan(Path::new("Cargo.lock"), text, &mut inputs).unwrap();
        let e = finish(s, &mut inputs).unwrap_err().to_string();
        assert!(
            e.starts_with("Cargo.lock: 20000 of its 20001 packages have no source"),
            "{e}"
        );
        assert!(
            inputs.packages.is_empty(),
            "nothing audited is presented as complete"
        );
    }

    /// Found by `fuzz_tests::cargo_lock`: the scanner took files the TOML parser refuses
    /// (a key given twice, a control character, an unquoted checksum, ...) and read them
    /// silently, one of two values winning. Each now goes to the TOML path, which reports it.
    #[test]
    fn fast_scanner_accepts_nothing_toml_refuses() {
        let pkg = "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\n";
        let ok = format!("version = 4\n\n{pkg}");
        assert!(fast_cargo_lock(&ok).is_some());
        let v1 = format!("{pkg}\n[metadata]\n\"checksum a 1.0.0 (registry+x)\" = \"00\"\n");
        assert!(fast_cargo_lock(&v1).is_some());
        for bad in [
            format!("version = 4\nversion = 4\n{pkg}"),
            format!("version = \n{pkg}"),
            format!("version = 04\n{pkg}"),
            format!("{pkg}version = \"2.0.0\"\n"),
            format!("{pkg}name = \"b\"\n"),
            format!("{pkg}checksum = 00\n"),
            format!("{pkg}dependencies = []\ndependencies = []\n"),
            pkg.replace("registry+x", "registry+\u{1}"),
            format!("{pkg}dependencies = [\n \"b\u{7f}\",\n]\n"),
            format!("{pkg}dependencies = [\n \"b\"\n \"c\",\n]\n"),
            format!("# a \u{1b}[2J comment\n{pkg}"),
            format!("{pkg}\r"),
            format!("{v1}\"checksum a 1.0.0 (registry+x)\" = \"00\"\n"),
            format!("{v1}[metadata]\n"),
            format!("[metadata]\n{v1}"),
            format!("{v1}\"k\" = [\n"),
            format!("{v1}not toml\n"),
        ] {
            assert!(fast_cargo_lock(&bad).is_none(), "{bad:?}");
            let mut inputs = Inputs::default();
            assert!(
                scan(Path::new("Cargo.lock"), bad.clone(), &mut inputs).is_err(),
                "{bad:?}"
            );
        }
    }
}
