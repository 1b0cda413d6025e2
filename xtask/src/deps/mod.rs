//! Dependency inputs of `audit`: Cargo.lock (v1–v4, with its dependency graph) and Python
//! requirements files and lockfiles (requirements*.txt, poetry.lock, uv.lock, Pipfile.lock,
//! pylock.toml). Each parser returns packages with the file and line they come from; every
//! malformed input is an error naming the file and line, and never quotes a line it could
//! not understand (it may hold a secret).
//!
//! Reading is fenced: only regular files of at most [`MAX_INPUT_BYTES`] are read, and a file
//! an input names (a requirements include) must resolve, links followed, inside the root.

pub(crate) mod cargo_lock;
pub mod python;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
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

    /// Whether `name` is a package name of this ecosystem: for crates, 1 to 64 ASCII letters,
    /// digits, `-` and `_`; for PyPI, PEP 508's (letters and digits, with `-`, `_` and `.`
    /// inside). Anything else is refused where it is read, so that no name from an input can
    /// carry a line break or an escape sequence into a report.
    pub fn valid_name(self, name: &str) -> bool {
        let b = name.as_bytes();
        match self {
            Ecosystem::Crates => {
                (1..=MAX_CRATE_NAME).contains(&b.len())
                    && b.iter().all(|&c| CRATE_NAME_BYTE[usize::from(c)])
            }
            Ecosystem::PyPI => match (b.first(), b.last()) {
                (Some(f), Some(l)) => {
                    f.is_ascii_alphanumeric()
                        && l.is_ascii_alphanumeric()
                        && b.iter()
                            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
                }
                _ => false,
            },
        }
    }

    /// What a valid name looks like, for messages.
    pub fn name_rule(self) -> &'static str {
        match self {
            Ecosystem::Crates => {
                "not a valid crate name (1 to 64 ASCII letters, digits, `-` and `_`)"
            }
            Ecosystem::PyPI => {
                "not a valid PyPI package name (PEP 508: ASCII letters and digits, with `-`, `_` and `.` inside)"
            }
        }
    }

    /// [`Ecosystem::key`] without a copy where the name is its own key.
    pub fn key_of(self, name: &str) -> std::borrow::Cow<'_, str> {
        match self {
            Ecosystem::Crates => std::borrow::Cow::Borrowed(name),
            Ecosystem::PyPI => std::borrow::Cow::Owned(pep503(name)),
        }
    }
}

/// The longest crate name crates.io accepts.
pub const MAX_CRATE_NAME: usize = 64;

/// The bytes of a crate name: ASCII letters, digits, `-`, `_`.
pub(crate) const CRATE_NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        c += 1;
    }
    t
};

/// The bytes a version may hold: printable ASCII without space, `"` and `\`.
pub(crate) const VERSION_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_graphic() && b != b'"' && b != b'\\';
        c += 1;
    }
    t
};

/// Whether `v` can be a package version of any ecosystem (no space, no control character,
/// ASCII only): a check that keeps line breaks and escape sequences out of reports, not a
/// version parser.
pub fn valid_version(v: &str) -> bool {
    !v.is_empty() && v.len() <= 256 && v.bytes().all(|c| VERSION_BYTE[usize::from(c)])
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
        let meta = match fs::metadata(p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("{}: no such file or directory", p.display())
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        if meta.is_file() {
            out.insert(p.clone());
            continue;
        }
        if !meta.is_dir() {
            bail!(
                "{}: not a regular file ({}): give a lockfile, a requirements file or a folder",
                p.display(),
                file_kind(meta.file_type())
            );
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

/// Parse every file; a failing file is recorded and the others still count. The files a
/// requirements file includes must be inside the including file's folder: [`load_read`]
/// takes the project root instead.
pub fn load(files: &[PathBuf]) -> Inputs {
    load_with(None, files, Vec::new())
}

/// [`load`], with includes allowed anywhere inside `root` (for a file inside it), and the
/// texts of some files already read.
pub fn load_read(root: &Path, files: &[PathBuf], texts: Vec<(PathBuf, String)>) -> Inputs {
    load_with(Some(root), files, texts)
}

fn load_with(root: Option<&Path>, files: &[PathBuf], mut texts: Vec<(PathBuf, String)>) -> Inputs {
    // Resolved once: every include is compared with it.
    let root = root.map(|r| r.canonicalize().unwrap_or_else(|_| r.to_path_buf()));
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
                text.and_then(|t| cargo_lock::scan(f, t, &mut inputs))
                    .map(|s| scans.push(s))
            }
            "poetry.lock" => python::toml_packages(f, "package", &mut inputs),
            "uv.lock" => python::toml_packages(f, "package", &mut inputs),
            "Pipfile.lock" => python::pipfile_lock(f, &mut inputs),
            n if n.starts_with("pylock") => python::toml_packages(f, "packages", &mut inputs),
            _ => python::requirements(f, root.as_deref(), &mut inputs),
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

/// The largest input file read: a bigger one is refused without being read.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// What a file that is not a regular file is, for messages.
fn file_kind(t: fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "not a file"
    }
}

/// Open `path` for reading if it is a regular file of at most [`MAX_INPUT_BYTES`]. Opening
/// does not block (a FIFO would), and the check is made on what was opened.
fn open_regular(path: &Path, what: &str, flags: libc::c_int) -> Result<(fs::File, u64)> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | flags)
        .open(path)
        .with_context(|| format!("reading {what} {}", path.display()))?;
    let meta = f
        .metadata()
        .with_context(|| format!("reading {what} {}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{what} {} is not a regular file ({}): it was not read",
            path.display(),
            file_kind(meta.file_type())
        );
    }
    if meta.len() > MAX_INPUT_BYTES {
        bail!(
            "{what} {} has {} bytes, more than the {} MiB an input may have: it was not read",
            path.display(),
            meta.len(),
            MAX_INPUT_BYTES >> 20
        );
    }
    Ok((f, meta.len()))
}

/// The text of an opened file of `len` bytes, refused past [`MAX_INPUT_BYTES`] (it may
/// grow meanwhile).
fn read_capped((f, len): (fs::File, u64), path: &Path) -> Result<String> {
    // One allocation of the right size (and one byte more, to see the end without growing).
    let mut text = String::with_capacity(usize::try_from(len).unwrap_or(0) + 1);
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("reading {}", path.display()))?;
    if text.len() as u64 > MAX_INPUT_BYTES {
        bail!(
            "{} grew past the {} MiB an input may have while it was read",
            path.display(),
            MAX_INPUT_BYTES >> 20
        );
    }
    Ok(text)
}

/// Read an input given or found: a regular file of at most [`MAX_INPUT_BYTES`].
pub(crate) fn read(path: &Path) -> Result<String> {
    read_capped(open_regular(path, "input", 0)?, path)
}

/// Read a file an input names (`target`, a requirements include): it must resolve, every
/// link followed, to a regular file inside `fence`, and the file opened is checked to be
/// that one. Returns its resolved path (for cycle checks) and its text.
pub(crate) fn read_inside(target: &Path, fence: &Path) -> Result<(PathBuf, String)> {
    let what = "included file";
    let canon = target
        .canonicalize()
        .with_context(|| format!("{what} {} not found", target.display()))?;
    let outside = || {
        anyhow::anyhow!(
            "{what} {} is outside the project root {} (links followed): includes must stay inside it; it was not read",
            target.display(),
            fence.display()
        )
    };
    if !canon.starts_with(fence) {
        return Err(outside());
    }
    // `canon` holds no link; O_NOFOLLOW refuses one put in its place meanwhile.
    let opened = open_regular(&canon, what, libc::O_NOFOLLOW)?;
    // Where the kernel says the opened file is (a folder on the way may have been swapped
    // for a link since `canonicalize`).
    {
        use std::os::fd::AsRawFd as _;
        if let Ok(real) = fs::read_link(format!("/proc/self/fd/{}", opened.0.as_raw_fd()))
            && !real.starts_with(fence)
        {
            return Err(outside());
        }
    }
    let text = read_capped(opened, target)?;
    Ok((canon, text))
}

pub(crate) fn parse_toml(path: &Path, text: &str) -> Result<toml::Table> {
    toml::from_str(text).with_context(|| path.display().to_string())
}

/// The 1-based line of byte `offset` of `text`.
pub(crate) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The 1-based line of each entry of the lockfile's array of tables (`[[package]]`, or
/// `[[packages]]` in pylock.toml), in order, from toml's spans (an entry's span starts at its
/// header). Empty when the text does not parse (the caller has reported that).
pub(crate) fn toml_entry_lines(text: &str) -> Vec<usize> {
    #[derive(serde::Deserialize)]
    struct Entries {
        #[serde(default, alias = "packages")]
        package: Vec<toml::Spanned<serde::de::IgnoredAny>>,
    }
    toml::from_str::<Entries>(text).map_or_else(
        |_| Vec::new(),
        |e| {
            e.package
                .iter()
                .map(|p| line_at(text, p.span().start))
                .collect()
        },
    )
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

    /// Lines come from toml's spans, whatever the entries' layout (keys in any order, inline
    /// tables, comments, the same name twice).
    #[test]
    fn lockfile_entry_lines_from_spans() {
        let text = "# lock\n[[package]]\nversion = \"1\"\nname = \"a\"\n\n  [[package]] # b\nname = \"a\"\nversion = \"2\"\n[package.source]\nregistry = \"x\"\n[[package]]\nname = \"c\"\n";
        assert_eq!(toml_entry_lines(text), [2, 6, 11]);
        let pylock = "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\n";
        assert_eq!(toml_entry_lines(pylock), [2]);
        assert!(toml_entry_lines("[[package]\n").is_empty());
        assert_eq!(line_at("a\nb\nc", 4), 3);
    }

    #[test]
    fn pep503_names() {
        assert_eq!(pep503("Django"), "django");
        assert_eq!(pep503("zope.interface"), "zope-interface");
        assert_eq!(pep503("Foo__Bar-.baz"), "foo-bar-baz");
    }

    #[test]
    fn names_and_versions_of_each_ecosystem() {
        let crates = Ecosystem::Crates;
        assert!(crates.valid_name("serde_json") && crates.valid_name("x-1"));
        assert!(crates.valid_name(&"a".repeat(64)) && !crates.valid_name(&"a".repeat(65)));
        for bad in ["", "a.b", "a b", "a\nb", "é"] {
            assert!(!crates.valid_name(bad), "{bad:?}");
        }
        let pypi = Ecosystem::PyPI;
        assert!(
            pypi.valid_name("zope.interface") && pypi.valid_name("A") && pypi.valid_name("a_b-c")
        );
        for bad in ["", "-a", "a-", "a.", "a b", "requests\noutput = /tmp/x"] {
            assert!(!pypi.valid_name(bad), "{bad:?}");
        }
        assert!(valid_version("1.0.0-rc.1+build") && valid_version("2!1.0.post1"));
        for bad in ["", "1.0 ", "1.0\u{1b}[2J", "1\n2", "1.0\"", "1.é"] {
            assert!(!valid_version(bad), "{bad:?}");
        }
    }
}
