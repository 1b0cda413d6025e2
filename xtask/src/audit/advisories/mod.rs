//! Reading advisory sources: OSV JSON and YAML folders, OSV `all.zip` exports and the RustSec
//! native layout, into one [`Parsed`] per source. Only the per-package folders of wanted
//! packages are opened where the layout has them (`crates/<name>/`, `vulns/<name>/`).
//!
//! A source is untrusted input: links inside it are never followed, and an advisory that
//! cannot be read is a [`Malformed`] naming the file and where the parser stopped, never
//! echoing what the file holds.

pub(crate) mod osv;
pub(crate) mod rustsec;
mod walk;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use chrono::{DateTime, NaiveDate, Utc};

use super::model::{Advisory, FETCH_META, Malformed, PackageKey, Stamp};
use crate::deps::Wanted;

/// What an advisory file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    OsvJson,
    OsvYaml,
    RustSec,
    OsvZip,
}

impl FileKind {
    /// The name of the layout, as the report's `kind` of a source says it.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::OsvJson => "osv-json",
            FileKind::OsvYaml => "osv-yaml",
            FileKind::RustSec => "rustsec",
            FileKind::OsvZip => "osv-zip",
        }
    }
}

/// Which kind of advisory file a file named `name` is: `.json` and `.yaml`/`.yml` (OSV),
/// `RUSTSEC-*.md` (RustSec native), `.zip` (an OSV export); `None` for anything else.
pub fn classify(name: &str) -> Option<FileKind> {
    match Path::new(name).extension()?.to_str()? {
        "json" => Some(FileKind::OsvJson),
        "yaml" | "yml" => Some(FileKind::OsvYaml),
        "md" if name.starts_with("RUSTSEC-") => Some(FileKind::RustSec),
        "zip" => Some(FileKind::OsvZip),
        _ => None,
    }
}

/// Why one advisory could not be read: where the parser stopped (never the content), and
/// the packages its readable part names.
#[derive(Debug)]
pub struct Unreadable {
    pub message: String,
    pub packages: Vec<PackageKey>,
}

impl Unreadable {
    fn new(message: impl Into<String>) -> Unreadable {
        Unreadable {
            message: message.into(),
            packages: Vec::new(),
        }
    }
}

/// Everything one pass over a source found.
pub struct Parsed {
    pub kind: String,
    /// Each advisory with the index in `stamps` of the file it came from.
    pub advisories: Vec<(Advisory, Option<usize>)>,
    pub malformed: Vec<Malformed>,
    pub newest: Option<DateTime<Utc>>,
    pub stamps: Vec<Stamp>,
}

/// Parse a source: every advisory file (`wanted` None), or only the per-package folders of
/// wanted packages. With `stamps`, every folder and advisory file visited is stamped first
/// (before it is read, so a file changed meanwhile shows up as a changed stamp).
pub fn parse_source(path: &Path, wanted: Option<&Wanted>, stamps: bool) -> Result<Parsed> {
    if path.is_file() && classify(&path.to_string_lossy()) != Some(FileKind::OsvZip) {
        bail!(
            "advisory source {} is a file but not a .zip OSV export",
            path.display()
        );
    }
    let walked = walk::walk(path, wanted, stamps);
    let mut kinds: BTreeSet<&str> = walked.files.iter().map(|f| f.kind.as_str()).collect();
    if !walked.zips.is_empty() {
        kinds.insert(FileKind::OsvZip.as_str());
    }
    let mut advisories = Vec::new();
    let mut malformed = walked.malformed;
    for (file, result) in walked.files.iter().zip(parse_files(&walked.files, path)) {
        match result {
            Ok(a) => advisories.push((a, file.stamp)),
            Err(e) => malformed.push(file.malformed(e)),
        }
    }
    for (zip, stamp) in &walked.zips {
        load_zip(zip, path, *stamp, &mut advisories, &mut malformed);
    }
    let mut stamps = walked.stamps;
    scope_stamps(&mut stamps, &advisories);
    Ok(Parsed {
        kind: if kinds.is_empty() {
            "empty".to_string()
        } else {
            kinds.into_iter().collect::<Vec<_>>().join("+")
        },
        newest: advisories.iter().filter_map(|(a, _)| a.modified).max(),
        advisories,
        malformed,
        stamps,
    })
}

/// Parse the advisory files found, in order. Threads pay off only for many files (a whole
/// database); a lockfile's few dozen advisories parse faster than a thread starts.
fn parse_files(files: &[walk::File], source: &Path) -> Vec<Result<Advisory, Unreadable>> {
    let threads = if files.len() < 128 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
    };
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|f| parse_file(&f.path, f.kind, source))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("parser thread panicked"))
            .collect()
    })
}

/// A file is also checked whenever a package its advisories affect is audited.
fn scope_stamps(stamps: &mut [Stamp], advisories: &[(Advisory, Option<usize>)]) {
    for (a, stamp) in advisories {
        let Some(s) = stamp.and_then(|i| stamps.get_mut(i)) else {
            continue;
        };
        if s.scopes.is_empty() {
            continue; // global already: checked on every run
        }
        for af in &a.affected {
            let scope = PackageKey::new(af.ecosystem, af.key.as_str());
            if !s.scopes.contains(&scope) {
                s.scopes.push(scope);
            }
        }
    }
}

/// Read one advisory file, never through a link (the walk saw a file; if a link took its
/// place since, it is refused rather than followed).
fn read_file(p: &Path) -> Result<Vec<u8>, Unreadable> {
    let mut bytes = Vec::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Unreadable::new(format!("unreadable: {e}")))?;
    Ok(bytes)
}

/// Parse one advisory file.
fn parse_file(p: &Path, kind: FileKind, source: &Path) -> Result<Advisory, Unreadable> {
    let bytes = read_file(p)?;
    match kind {
        FileKind::OsvJson => osv::from_json(&bytes, source),
        FileKind::OsvYaml => osv::from_yaml(text(&bytes)?, source),
        _ => rustsec::from_md(text(&bytes)?, source),
    }
}

fn text(bytes: &[u8]) -> Result<&str, Unreadable> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        Unreadable::new(format!("not UTF-8 text at line {line}, column {column}"))
    })
}

/// The 1-based line and column of byte `at`.
fn line_column(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1);
    (line, column + 1)
}

/// Every `.json` member of an OSV zip export, one at a time; a member that cannot be read
/// is malformed, an archive that cannot be read is malformed as a whole.
fn load_zip(
    zip: &Path,
    source: &Path,
    stamp: Option<usize>,
    advisories: &mut Vec<(Advisory, Option<usize>)>,
    malformed: &mut Vec<Malformed>,
) {
    let read = super::zip::for_each(zip, |name, bytes| {
        if classify(name) != Some(FileKind::OsvJson) {
            return;
        }
        match osv::from_json(bytes, source) {
            Ok(a) => advisories.push((a, stamp)),
            Err(e) => malformed.push(Malformed {
                file: PathBuf::from(format!("{}!{name}", zip.display())),
                message: e.message,
                packages: e.packages,
            }),
        }
    });
    if let Err(e) = read {
        malformed.push(Malformed {
            file: zip.to_path_buf(),
            message: format!("{e:#}"),
            packages: Vec::new(),
        });
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
        })
}

/// When a source was last updated: the record `advisories update` writes, or the commit
/// time of a git checkout.
pub fn freshness(path: &Path) -> Option<(DateTime<Utc>, String)> {
    let meta = path.join(FETCH_META);
    let updated = fs::read_to_string(&meta)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v["updated"].as_str().and_then(parse_time));
    if let Some(t) = updated {
        return Some((t, "last update".into()));
    }
    if path.join(".git").exists() {
        let sh = crate::util::sh::shell(path).ok()?;
        let out = xshell::cmd!(sh, "git log -1 --format=%cI")
            .quiet()
            .ignore_stderr()
            .read()
            .ok()?;
        return parse_time(out.trim()).map(|t| (t, "git commit".into()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_files_are_known_by_their_names() {
        for (name, kind) in [
            ("RUSTSEC-2020-0001.json", Some(FileKind::OsvJson)),
            ("PYSEC-2021-1.yaml", Some(FileKind::OsvYaml)),
            ("GHSA-xxxx.yml", Some(FileKind::OsvYaml)),
            ("RUSTSEC-2020-0001.md", Some(FileKind::RustSec)),
            ("README.md", None),
            ("all.zip", Some(FileKind::OsvZip)),
            ("LICENSE", None),
            ("notes.txt", None),
        ] {
            assert_eq!(classify(name), kind, "{name}");
        }
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_column(b"ab\ncd", 0), (1, 1));
        assert_eq!(line_column(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_column(b"ab\n", 99), (2, 1));
    }
}
