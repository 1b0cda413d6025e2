//! The pre-parsed advisory index: one file per source in `<advisory cache>/index/`, so that
//! an audit reads one file instead of parsing hundreds of advisories.
//!
//! Correctness comes first: an index answers only while it provably describes the source.
//! - It names the parser that wrote it (a hash of this crate's advisory parsing and scoring
//!   code and version): a new xtask never trusts an old index.
//! - It carries the source's fingerprint: for a folder written by `advisories update`, the
//!   fetch record (the update replaces the whole folder and that record); for a git
//!   checkout, `HEAD` and the commit it names; for a zip, the file's stamp.
//! - Other folders (and git work trees, which can be edited) carry stamps: inode, size,
//!   mtime and ctime of every folder and advisory file. A folder's times change when an
//!   entry is added, removed or renamed; a file's when it is written. A run checks the
//!   stamps that can matter to it: folders and files outside per-package folders, and the
//!   per-package folders and files of the packages being audited (including every file
//!   that names one of them). Any difference, or an unreadable index, means the source is
//!   parsed again and the index rewritten (atomically), so a cold run costs one full parse.
//!
//! Layout (text, one record per line, then a body of one advisory per line; fields are
//! tab-separated):
//! ```text
//! xtask-advisory-index <format> <parser hash>
//! {header JSON: source, kind, fingerprint, total, updated, updated_from, malformed, lengths}
//! o <offset of each advisory in the body, then the body's length, comma-separated>
//! g <rel path> <ino:size:mtime:mtime_ns:ctime:ctime_ns>           (a stamp checked every run)
//! p <c|p> <crate or PEP 503 name> <advisory numbers> <rel|stamp;rel|stamp...>
//! <body: per advisory, the part matching reads (id, withdrawn, affected), a tab, all of it>
//! ```
//! A `p` record exists for every package an advisory affects and every per-package folder;
//! its stamps are checked only when that package is audited.

mod build;
mod light;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::advisories::{self, Parsed};
use super::model::{Advisory, FETCH_META, Malformed, Sig, SplitAscii};
use crate::deps::Wanted;
use crate::util::files;

const MAGIC: &str = "xtask-advisory-index";
/// From this many stamps to check, they are checked on a thread of their own while the
/// advisories are read (measured: checking them serially made the audit 8% slower).
const STAMPS_PER_THREAD: usize = 64;
/// 2: malformed advisories are records of their own.
const FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    source: String,
    kind: String,
    fingerprint: Fingerprint,
    total: usize,
    updated: Option<DateTime<Utc>>,
    updated_from: String,
    /// Advisories that could not be read, named relative to the source.
    malformed: Vec<Malformed>,
    /// Bytes of the offsets line and the stamp and package records, then of the body.
    records_len: usize,
    body_len: usize,
}

/// What identifies a source's content without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `advisories update` record, git HEAD and commit, or zip stamp.
    pub id: String,
    /// Whether stamps must be checked too (not for folders `advisories update` owns).
    pub stamped: bool,
}

/// The fingerprint of `path` now. Never fails: what cannot be read is part of the answer.
pub fn fingerprint(path: &Path) -> Fingerprint {
    if path.is_file() {
        let sig = fs::metadata(path).map(|m| Sig::of(&m)).ok();
        let mut id = String::from("zip:");
        if let Some(s) = sig {
            s.write(&mut id);
        }
        return Fingerprint { id, stamped: false };
    }
    if let Ok(meta) = fs::read_to_string(path.join(FETCH_META)) {
        return Fingerprint {
            id: format!("update:{meta}"),
            stamped: false,
        };
    }
    let git = path.join(".git");
    if git.is_dir() {
        let head = fs::read_to_string(git.join("HEAD")).unwrap_or_default();
        let commit = match head.trim().strip_prefix("ref: ") {
            Some(r) => fs::read_to_string(git.join(r)).unwrap_or_else(|_| {
                // A packed ref: the packed-refs file's stamp stands for it.
                let mut s = String::from("packed:");
                if let Ok(m) = fs::metadata(git.join("packed-refs")) {
                    Sig::of(&m).write(&mut s);
                }
                s
            }),
            None => String::new(),
        };
        return Fingerprint {
            id: format!("git:{}:{}", head.trim(), commit.trim()),
            stamped: true,
        };
    }
    Fingerprint {
        id: "folder".into(),
        stamped: true,
    }
}

/// Where the index of `source` lives: named after the source, keyed by its full path.
pub fn file_for(index_dir: &Path, source: &Path) -> PathBuf {
    let full = fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
    let name: String = full
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let h = fnv(0xcbf2_9ce4_8422_2325, full.to_string_lossy().as_bytes());
    index_dir.join(format!("{name}-{h:016x}.idx"))
}

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Which parser wrote an index: a hash of the advisory parsing, scoring and indexing source
/// code and the crate version, computed at compile time.
fn parser_id() -> String {
    const fn fnv_const(mut h: u64, bytes: &[u8]) -> u64 {
        let mut i = 0;
        while i < bytes.len() {
            h ^= bytes[i] as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        h
    }
    const SOURCES: [&str; 10] = [
        include_str!("../model.rs"),
        include_str!("../matching.rs"),
        include_str!("../advisories/mod.rs"),
        include_str!("../advisories/osv.rs"),
        include_str!("../advisories/rustsec.rs"),
        include_str!("../advisories/walk.rs"),
        include_str!("../zip.rs"),
        include_str!("mod.rs"),
        include_str!("build.rs"),
        include_str!("light.rs"),
    ];
    const ID: u64 = {
        let mut h = 0xcbf2_9ce4_8422_2325;
        let mut i = 0;
        while i < SOURCES.len() {
            h = fnv_const(h, SOURCES[i].as_bytes());
            i += 1;
        }
        fnv_const(h, env!("CARGO_PKG_VERSION").as_bytes())
    };
    format!("{ID:016x}")
}

/// A source's index as found before the audited packages are known (so that it can be
/// read on another thread while the lockfiles are parsed).
pub struct Opened {
    pub fingerprint: Fingerprint,
    pub file: PathBuf,
    pub index: Result<Index>,
}

impl Opened {
    pub fn open(source: &Path, index_dir: &Path) -> Opened {
        let fingerprint = fingerprint(source);
        let file = file_for(index_dir, source);
        let index = Index::open_file(&file, &fingerprint).map(|mut ix| {
            // Stamps every run checks do not depend on the packages: check them now.
            ix.globals_current = Some(ix.check_globals(source));
            ix
        });
        Opened {
            fingerprint,
            file,
            index,
        }
    }
}

/// An index read from disk, checked for shape, parser and fingerprint (the stamps are
/// checked by [`Index::current`], for the packages a run asks about).
pub struct Index {
    bytes: Bytes,
    /// Byte range of the `g` and `p` records (UTF-8, checked once in `parse`).
    records: (usize, usize),
    header: Header,
    /// Global stamp records (`g`), and package records (`p`, sorted by ecosystem and name),
    /// as byte ranges of their lines (in `bytes`).
    globals: Vec<(usize, usize)>,
    packages: Vec<PackageRecord>,
    offsets: Vec<usize>,
    body: usize,
    /// Whether the global stamps were found current (None: not checked yet).
    globals_current: Option<bool>,
}

/// An index's bytes: mapped from its file, or just built.
pub enum Bytes {
    Mapped(files::Mapped),
    Owned(Vec<u8>),
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::Owned(v)
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// Where one `p` record's parts are in the index's bytes.
struct PackageRecord {
    tag: u8,
    name: (usize, usize),
    advisories: (usize, usize),
    stamps: (usize, usize),
}

/// What a run needs from an index: the stamps to check and the advisories to read.
pub struct Selection<'a> {
    pub stamps: Vec<(&'a str, &'a str)>,
    pub numbers: Vec<usize>,
}

impl Index {
    pub fn open_file(file: &Path, fingerprint: &Fingerprint) -> Result<Index> {
        let bytes = match files::Mapped::open(file) {
            Ok(b) => Bytes::Mapped(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("no index yet"),
            Err(e) => {
                return Err(e).with_context(|| format!("index {} unreadable", file.display()));
            }
        };
        Index::parse(bytes, fingerprint)
            .with_context(|| format!("index {} unusable", file.display()))
    }

    /// Check the shape, the parser and the fingerprint; errors say why the index is unusable.
    pub fn parse(bytes: impl Into<Bytes>, fingerprint: &Fingerprint) -> Result<Index> {
        let bytes: Bytes = bytes.into();
        let line_end = |from: usize| -> Result<usize> {
            bytes
                .get(from..)
                .and_then(|b| b.iter().position(|&c| c == b'\n'))
                .map(|n| from + n)
                .context("truncated")
        };
        let e1 = line_end(0)?;
        ensure!(
            bytes[..e1] == *format!("{MAGIC} {FORMAT} {}", parser_id()).as_bytes(),
            "written by another version of xtask"
        );
        let e2 = line_end(e1 + 1)?;
        let header: Header = serde_json::from_slice(&bytes[e1 + 1..e2]).context("header")?;
        ensure!(
            &header.fingerprint == fingerprint,
            "the source changed (new update, commit or zip)"
        );
        let start = e2 + 1;
        // The lengths come from the file: checked, a damaged one cannot overflow.
        let body = start
            .checked_add(header.records_len)
            .filter(|b| b.checked_add(header.body_len) == Some(bytes.len()))
            .context("truncated or damaged")?;
        ensure!(
            bytes.get(start..start + 2) == Some(b"o\t"),
            "truncated or damaged"
        );
        let e3 = line_end(start)?;
        let offsets: Vec<usize> = std::str::from_utf8(&bytes[start + 2..e3])?
            .split(',')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .context("offsets")?;
        ensure!(
            offsets.len().checked_sub(1) == Some(header.total)
                && offsets.last() == Some(&header.body_len)
                && offsets.windows(2).all(|w| w[0] <= w[1]),
            "truncated or damaged"
        );
        let records = std::str::from_utf8(&bytes[e3 + 1..body]).context("records")?;
        let (mut globals, mut packages) = (Vec::new(), Vec::new());
        let mut pos = e3 + 1;
        for line in records.split_terminator('\n') {
            let end = pos + line.len();
            let damaged = || anyhow!("damaged record at byte {pos}");
            match line.get(..2) {
                Some("g\t") => globals.push((pos + 2, end)),
                Some("p\t") => {
                    // p TAG NAME ADVISORIES STAMPS
                    // The first four tabs; stamps (the rest of the line) hold none.
                    let mut cut = [0usize; 4];
                    let mut n = 0;
                    for (k, t) in memchr::memchr_iter(b'\t', line.as_bytes())
                        .take(4)
                        .enumerate()
                    {
                        cut[k] = pos + t;
                        n += 1;
                    }
                    ensure!(n == 4 && cut[1] == cut[0] + 2, damaged());
                    packages.push(PackageRecord {
                        tag: line.as_bytes()[2],
                        name: (cut[1] + 1, cut[2]),
                        advisories: (cut[2] + 1, cut[3]),
                        stamps: (cut[3] + 1, end),
                    });
                }
                _ => return Err(damaged()),
            }
            pos = end + 1;
        }
        let name = |r: &PackageRecord| &bytes[r.name.0..r.name.1];
        ensure!(
            packages
                .windows(2)
                .all(|w| (w[0].tag, name(&w[0])) < (w[1].tag, name(&w[1]))),
            "package records out of order"
        );
        Ok(Index {
            records: (e3 + 1, body),
            bytes,
            header,
            globals,
            packages,
            offsets,
            body,
            globals_current: None,
        })
    }

    fn check_globals(&self, source: &Path) -> bool {
        let stamps: Option<Vec<(&str, &str)>> = self
            .globals
            .iter()
            .map(|&r| self.text(r).split_once('\t'))
            .collect();
        stamps.is_some_and(|s| Index::current(source, &s))
    }

    fn text(&self, (a, b): (usize, usize)) -> &str {
        debug_assert!(self.records.0 <= a && b <= self.records.1);
        // SAFETY: the records were checked to be UTF-8 in `parse`, and every range handed
        // out starts and ends at a tab, a newline or the records' ends (ASCII), so on char
        // boundaries.
        unsafe { std::str::from_utf8_unchecked(&self.bytes[a..b]) }
    }

    /// The stamps that matter to these packages and the advisories affecting them; `None`
    /// when a global stamp already showed that the source changed.
    pub fn select(&self, source: &Path, wanted: &Wanted) -> Result<Option<Selection<'_>>> {
        let stamped = self.header.fingerprint.stamped;
        let mut sel = Selection {
            stamps: Vec::new(),
            numbers: Vec::new(),
        };
        if stamped {
            let globals = match self.globals_current {
                Some(done) => done,
                None => self.check_globals(source),
            };
            if !globals {
                return Ok(None);
            }
        }
        for (e, name) in wanted.iter() {
            let tag = build::eco_tag(e) as u8;
            // Package records are sorted by (tag, name): binary search, no table to build.
            let Ok(i) = self
                .packages
                .binary_search_by(|r| (r.tag, self.text(r.name)).cmp(&(tag, name)))
            else {
                continue;
            };
            let r = &self.packages[i];
            if stamped {
                for st in SplitAscii::new(self.text(r.stamps), b';').filter(|s| !s.is_empty()) {
                    sel.stamps
                        .push(st.split_once('|').context("damaged stamp")?);
                }
            }
            for n in SplitAscii::new(self.text(r.advisories), b',').filter(|s| !s.is_empty()) {
                sel.numbers
                    .push(n.parse::<usize>().context("damaged package record")?);
            }
        }
        sel.numbers.sort_unstable();
        sel.numbers.dedup();
        sel.stamps.sort_unstable();
        sel.stamps.dedup();
        Ok(Some(sel))
    }

    /// Whether every given stamp still matches the source. Paths are resolved from an open
    /// handle on the source folder (`fstatat`), which saves each of the hundreds of `stat`s
    /// the walk down the folder's own path and an allocation.
    pub fn current(source: &Path, stamps: &[(&str, &str)]) -> bool {
        use std::os::fd::AsRawFd;
        let Ok(dir) = fs::File::open(source) else {
            return false;
        };
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        stamps.iter().all(|&(rel, sig)| {
            buf.clear();
            buf.extend_from_slice(if rel.is_empty() { b"." } else { rel.as_bytes() });
            if buf.contains(&0) {
                return false;
            }
            buf.push(0);
            // SAFETY: `buf` is NUL-terminated, `st` is plain data the call fills, and `dir`
            // stays open for the call. A link is stamped as itself, never followed.
            let st = unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                let flags = libc::AT_SYMLINK_NOFOLLOW;
                if libc::fstatat(dir.as_raw_fd(), buf.as_ptr().cast(), &mut st, flags) != 0 {
                    return false;
                }
                st
            };
            let now = Sig::of_stat(&st);
            Sig::parse(sig) == Some(now)
        })
    }

    /// Fill in what [`Index::advisories_for_matching`] left out of `adv` (advisory `n`),
    /// without reading its `affected` list again (PyPA's list thousands of versions).
    pub fn complete(&self, n: usize, adv: &mut Advisory) -> Result<()> {
        #[derive(Deserialize)]
        struct Rest {
            #[serde(default)]
            aliases: Vec<String>,
            #[serde(default)]
            summary: String,
            #[serde(default)]
            informational: Option<String>,
            #[serde(default)]
            cvss: Option<String>,
            #[serde(default)]
            cvss_score: Option<f64>,
            #[serde(default)]
            severity_label: Option<String>,
        }
        let r: Rest = serde_json::from_slice(self.body_of(n)?.1)
            .with_context(|| format!("advisory {n} of the index"))?;
        adv.aliases = r.aliases;
        adv.summary = r.summary;
        adv.informational = r.informational;
        adv.cvss = r.cvss;
        adv.cvss_score = r.cvss_score;
        adv.severity_label = r.severity_label;
        Ok(())
    }

    /// Advisory `n`'s matching view and full record.
    fn body_of(&self, n: usize) -> Result<(&[u8], &[u8])> {
        let (a, b) = (
            *self.offsets.get(n).context("damaged offsets")?,
            *self.offsets.get(n + 1).context("damaged offsets")?,
        );
        let line = self
            .bytes
            .get(self.body + a..self.body + b)
            .context("damaged offsets")?;
        let tab = memchr::memchr(b'\t', line).context("damaged advisory record")?;
        Ok((&line[..tab], &line[tab + 1..]))
    }

    /// Read advisories by number, with only what matching needs (id, withdrawn, affected):
    /// the rest is read by [`Index::complete`] for the few that match. Most advisories of a
    /// lockfile's crates concern other versions, so this halves the reading.
    pub fn advisories_for_matching(
        &self,
        numbers: &[usize],
        source: &Path,
    ) -> Result<Vec<Advisory>> {
        let src = source.display().to_string();
        numbers
            .iter()
            .map(|&n| {
                let (id, withdrawn, affected) = light::read(self.body_of(n)?.0)
                    .with_context(|| format!("advisory {n} of the index"))?;
                Ok(Advisory::for_matching(id, withdrawn, affected, src.clone()))
            })
            .collect()
    }

    /// Stamps checked on a second core while the advisories are read on this one (when
    /// there are enough of them to pay for a thread); `None` when a stamp changed.
    /// Returns each advisory's number with its matching view (see
    /// [`Index::advisories_for_matching`]).
    #[allow(clippy::type_complexity)]
    pub fn lookup(&self, source: &Path, wanted: &Wanted) -> Result<Option<Vec<(usize, Advisory)>>> {
        let Some(sel) = self.select(source, wanted)? else {
            return Ok(None);
        };
        let read = || self.advisories_for_matching(&sel.numbers, source);
        let (current, list) = if sel.stamps.len() >= STAMPS_PER_THREAD {
            std::thread::scope(|s| {
                let h = s.spawn(|| Index::current(source, &sel.stamps));
                let list = read();
                (h.join().unwrap_or(false), list)
            })
        } else {
            let ok = Index::current(source, &sel.stamps);
            (ok, if ok { read() } else { Ok(Vec::new()) })
        };
        if !current {
            return Ok(None);
        }
        Ok(Some(sel.numbers.iter().copied().zip(list?).collect()))
    }

    pub fn kind(&self) -> &str {
        &self.header.kind
    }
    pub fn total(&self) -> usize {
        self.header.total
    }
    pub fn updated(&self) -> Option<DateTime<Utc>> {
        self.header.updated
    }
    pub fn updated_from(&self) -> &str {
        &self.header.updated_from
    }
    /// Advisories that could not be read, named under the source as given now.
    pub fn malformed(&self, source: &Path) -> Vec<Malformed> {
        self.header
            .malformed
            .iter()
            .map(|m| Malformed {
                // The source itself (a zip) is kept as an empty path.
                file: if m.file.as_os_str().is_empty() {
                    source.to_path_buf()
                } else {
                    source.join(&m.file)
                },
                ..m.clone()
            })
            .collect()
    }
}

/// What became of a source's index in a run (the report's `index` of a database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    Reused,
    /// There was none that could be used: why.
    Built {
        why: String,
    },
    /// The source changed since it was written.
    Rebuilt,
    /// Built, but it could not be written: the next run parses the source again.
    NotSaved {
        error: String,
    },
    /// It could not be built: the run answers from a parse.
    NotBuilt {
        error: String,
    },
}

impl std::fmt::Display for IndexState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexState::Reused => f.write_str("reused"),
            IndexState::Built { why } => write!(f, "built: {why}"),
            IndexState::Rebuilt => f.write_str("rebuilt: the source changed"),
            IndexState::NotSaved { error } => write!(
                f,
                "not saved ({error}): the next run parses the source again"
            ),
            IndexState::NotBuilt { error } => write!(f, "not built: {error}"),
        }
    }
}

/// A source answered for some packages.
pub enum Answer {
    /// From its index: each advisory's number in it, with its matching view.
    Indexed {
        index: Index,
        found: Vec<(usize, Advisory)>,
        state: IndexState,
    },
    /// From a parse of the whole source, when no index could be built.
    Parsed {
        parsed: Parsed,
        updated: Option<DateTime<Utc>>,
        updated_from: String,
        state: IndexState,
    },
}

/// Answer for the `wanted` packages of the source at `path` from its index (opened
/// beforehand) while the index is valid for them; otherwise the source is parsed once and
/// the index (re)written.
pub fn answer(path: &Path, wanted: &Wanted, opened: Opened) -> Result<Answer> {
    let Opened {
        fingerprint,
        file,
        index,
    } = opened;
    let why = match index.and_then(|ix| Ok((ix.lookup(path, wanted)?, ix))) {
        Ok((Some(found), index)) => {
            return Ok(Answer::Indexed {
                index,
                found,
                state: IndexState::Reused,
            });
        }
        Ok((None, _)) => IndexState::Rebuilt,
        Err(e) => IndexState::Built {
            why: format!("{e:#}"),
        },
    };
    rebuild(path, wanted, &fingerprint, &file, why)
}

/// Parse the whole source at `path`, write its index to `file` (atomically) and answer for
/// `wanted` from it; `why` is the state to report when all goes well.
pub fn rebuild(
    path: &Path,
    wanted: &Wanted,
    fingerprint: &Fingerprint,
    file: &Path,
    why: IndexState,
) -> Result<Answer> {
    let parsed = advisories::parse_source(path, None, true)?;
    let (updated, updated_from) = match advisories::freshness(path) {
        Some((t, how)) => (Some(t), how),
        None => (parsed.newest, "newest advisory".to_string()),
    };
    let built =
        build::build(path, fingerprint, &parsed, updated, &updated_from).and_then(|bytes| {
            let saved = save(file, &bytes);
            let index = Index::parse(bytes, fingerprint)?;
            let found = index.lookup(path, wanted)?.context("index just built")?;
            Ok((index, found, saved))
        });
    Ok(match built {
        Ok((index, found, saved)) => Answer::Indexed {
            index,
            found,
            state: match saved {
                Ok(()) => why,
                Err(e) => IndexState::NotSaved {
                    error: format!("{e:#}"),
                },
            },
        },
        Err(e) => Answer::Parsed {
            parsed,
            updated,
            updated_from,
            state: IndexState::NotBuilt {
                error: format!("{e:#}"),
            },
        },
    })
}

fn save(file: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    files::write_atomic(file, bytes, 0o644)
}

/// Build (or refresh) the index of one source now: what `advisories update` does after a
/// fetch, so the first audit is already fast. Returns how many advisories it holds.
pub fn refresh(index_dir: &Path, source: &Path) -> Result<usize> {
    if !source.exists() {
        bail!("no advisory database at {}", source.display());
    }
    match answer(source, &Wanted::default(), Opened::open(source, index_dir))? {
        Answer::Indexed {
            state: IndexState::NotSaved { error },
            ..
        }
        | Answer::Parsed {
            state: IndexState::NotBuilt { error } | IndexState::NotSaved { error },
            ..
        } => bail!("{error}"),
        Answer::Indexed { index, .. } => Ok(index.total()),
        Answer::Parsed { state, .. } => bail!("{state}"),
    }
}
