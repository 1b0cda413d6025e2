//! Dependency inputs of `audit`: Cargo.lock (v1–v4, with its dependency graph) and Python
//! requirements files and lockfiles (requirements*.txt, poetry.lock, uv.lock, Pipfile.lock,
//! pylock.toml). Each parser returns packages with the file and line they come from; every
//! malformed input is an error naming the file and line.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use serde::Serialize;
use walkdir::WalkDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Ecosystem {
    #[serde(rename = "crates.io")]
    Crates,
    PyPI,
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
        match self {
            Ecosystem::Crates => name.to_string(),
            Ecosystem::PyPI => pep503(name),
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

#[derive(Debug, Clone, Serialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    pub file: PathBuf,
    pub line: usize,
    /// Workspace members (Cargo) or requirement files (Python) that pull the package in.
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

/// Parse every file; a failing file is recorded and the others still count.
pub fn load(files: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = match name.as_str() {
            "Cargo.lock" => cargo_lock(f, &mut inputs),
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

type LockLines = HashMap<(String, String), usize>;

/// Cargo writes Cargo.lock in one fixed shape; reading that shape line by line is several
/// times faster than a TOML parser. Any line outside it returns `None` and the caller uses
/// the TOML parser instead, so this is never less correct.
fn fast_cargo_lock(text: &str) -> Option<(Vec<LockPackage>, LockLines)> {
    fn quoted(v: &str) -> Option<&str> {
        let inner = v.trim().strip_prefix('"')?.strip_suffix('"')?;
        (!inner.contains(['\\', '"'])).then_some(inner)
    }
    let mut pkgs: Vec<LockPackage> = Vec::new();
    let mut lines = HashMap::new();
    let mut start = 0;
    let mut in_deps = false;
    let mut in_metadata = false;
    let mut seen_table = false;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if in_deps {
            if l == "]" {
                in_deps = false;
            } else {
                let d = quoted(l.strip_suffix(',').unwrap_or(l))?;
                pkgs.last_mut()?.dependencies.push(d.to_string());
            }
            continue;
        }
        if l == "[[package]]" {
            if let Some(p) = pkgs.last() {
                lines
                    .entry((p.name.clone(), p.version.clone()))
                    .or_insert(start);
            }
            pkgs.push(LockPackage {
                name: String::new(),
                version: String::new(),
                source: None,
                dependencies: Vec::new(),
            });
            start = i + 1;
            in_metadata = false;
            seen_table = true;
            continue;
        }
        if l == "[metadata]" {
            in_metadata = true;
            seen_table = true;
            continue;
        }
        if l.starts_with('[') {
            return None;
        }
        let (k, v) = l.split_once('=')?;
        let (k, v) = (k.trim(), v.trim());
        if in_metadata {
            continue;
        }
        if !seen_table {
            if k == "version" && v.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            return None;
        }
        let p = pkgs.last_mut()?;
        match k {
            "name" => p.name = quoted(v)?.to_string(),
            "version" => p.version = quoted(v)?.to_string(),
            "source" => p.source = Some(quoted(v)?.to_string()),
            "checksum" => {}
            "dependencies" if v == "[" => in_deps = true,
            _ => return None,
        }
    }
    if in_deps
        || pkgs
            .iter()
            .any(|p| p.name.is_empty() || p.version.is_empty())
    {
        return None;
    }
    if let Some(p) = pkgs.last() {
        lines
            .entry((p.name.clone(), p.version.clone()))
            .or_insert(start);
    }
    Some((pkgs, lines))
}

fn cargo_lock(path: &Path, inputs: &mut Inputs) -> Result<()> {
    let text = read(path)?;
    let (parsed, lines) = match fast_cargo_lock(&text) {
        Some(v) => v,
        None => {
            // Anything unusual: the full TOML parser (which also reports errors by line).
            #[derive(serde::Deserialize)]
            struct Lock {
                #[serde(default)]
                package: Vec<LockPackage>,
            }
            let lock: Lock =
                toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            (lock.package, toml_lines(&text, "[[package]]"))
        }
    };
    // v1 lists dependencies as "name version (source)", v2+ as "name" or "name version".
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in parsed.iter().enumerate() {
        by_name.entry(p.name.as_str()).or_default().push(i);
    }
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); parsed.len()];
    for (i, p) in parsed.iter().enumerate() {
        for d in &p.dependencies {
            let mut parts = d.split_whitespace();
            let dn = parts.next().unwrap_or_default();
            let dv = parts.next();
            let candidates = by_name.get(dn).map(Vec::as_slice).unwrap_or_default();
            let target = match dv {
                Some(v) => candidates.iter().find(|&&c| parsed[c].version == v),
                None => candidates.first(),
            };
            match target {
                Some(&t) => edges[i].push(t),
                None => bail!(
                    "{}: `{}` depends on `{d}`, which is not in the lockfile",
                    path.display(),
                    p.name
                ),
            }
        }
    }
    // Workspace members and path dependencies have no source; each package learns which of
    // them pull it in.
    let mut paths: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); parsed.len()];
    for (root, p) in parsed.iter().enumerate() {
        if p.source.is_some() {
            continue;
        }
        let mut seen = vec![false; parsed.len()];
        let mut queue = VecDeque::from([root]);
        seen[root] = true;
        while let Some(n) = queue.pop_front() {
            paths[n].insert(root);
            for &m in &edges[n] {
                if !seen[m] {
                    seen[m] = true;
                    queue.push_back(m);
                }
            }
        }
    }
    for (i, p) in parsed.iter().enumerate() {
        if p.source
            .as_deref()
            .is_some_and(|s| !s.starts_with("registry+") && !s.starts_with("sparse+"))
        {
            continue; // git and path sources are not in the registry's advisory space
        }
        if p.source.is_none() {
            continue;
        }
        inputs.packages.push(Package {
            ecosystem: Ecosystem::Crates,
            name: p.name.clone(),
            version: p.version.clone(),
            file: path.to_path_buf(),
            line: lines
                .get(&(p.name.clone(), p.version.clone()))
                .copied()
                .unwrap_or(1),
            paths: paths[i].iter().map(|&r| parsed[r].name.clone()).collect(),
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
            file: path.to_path_buf(),
            line: lines
                .get(&(name.to_string(), version.to_string()))
                .copied()
                .unwrap_or(1),
            paths: vec![file_label(path)],
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
                    file: path.to_path_buf(),
                    line,
                    paths: vec![format!("{} [{section}]", file_label(path))],
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
            file: path.to_path_buf(),
            line,
            paths: vec![file_label(path)],
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
        let (pkgs, lines) = fast_cargo_lock(text).unwrap();
        assert_eq!(pkgs.len(), 3);
        assert_eq!(pkgs[0].dependencies, ["b 1.0.0", "c"]);
        assert_eq!(
            pkgs[1].source.as_deref(),
            Some("registry+https://github.com/rust-lang/crates.io-index")
        );
        assert_eq!(lines[&("a".to_string(), "0.1.0".to_string())], 4);
        assert_eq!(lines[&("c".to_string(), "2.0.0".to_string())], 18);
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
