//! Dependency inputs of `audit`: Cargo.lock (v1–v4, with its dependency graph) and Python
//! requirements files and lockfiles (requirements*.txt, poetry.lock, uv.lock, Pipfile.lock,
//! pylock.toml). Each parser returns packages with the file and line they come from; every
//! malformed input is an error naming the file and line.

mod cargo_lock;
pub mod python;

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use rustc_hash::FxHashSet as FxSet;

pub use cargo_lock::prescan_cargo_names;

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
                text.and_then(|t| cargo_lock::scan(f, t))
                    .map(|s| scans.push(s))
            }
            "poetry.lock" => python::toml_packages(f, "package", &mut inputs),
            "uv.lock" => python::toml_packages(f, "package", &mut inputs),
            "Pipfile.lock" => python::pipfile_lock(f, &mut inputs),
            n if n.starts_with("pylock") => python::toml_packages(f, "packages", &mut inputs),
            _ => python::requirements(f, &mut inputs),
        };
        if let Err(e) = result {
            inputs.failed.push((f.clone(), format!("{e:#}")));
        }
    }
    for scan in scans {
        let path = scan.path().to_path_buf();
        if let Err(e) = cargo_lock::finish(scan, &mut inputs) {
            inputs.failed.push((path, format!("{e:#}")));
        }
    }
    inputs
}

pub(crate) fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

pub(crate) fn parse_toml(path: &Path, text: &str) -> Result<toml::Table> {
    toml::from_str(text).with_context(|| path.display().to_string())
}

/// Line (1-based) of the `[[package]]` header whose `name`/`version` lines match.
pub(crate) fn toml_lines(text: &str, header: &str) -> HashMap<(String, String), usize> {
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

pub(crate) fn file_label(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Django"), "django");
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("Foo__Bar-.baz"), "foo-bar-baz");
    }
}
