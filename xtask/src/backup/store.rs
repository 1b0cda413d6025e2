//! The backup store: naming, listing, publishing and checksums of backup files.
//!
//! Layout: `<backup.dir>/<kind>/<prefix>YYYYMMDD_HHMMSS[-N]<suffix>` with a `sha256sum`-style
//! `<file>.sha256` beside it. A backup is published by renaming the sidecar into place first
//! and the backup last, so a backup file never exists without its checksum; temporary files
//! (`.tmp-*`) and orphaned sidecars are what a killed run leaves, and are ignored by `list`
//! and removed by the next run that holds the lock.

use std::fs::{self};
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{NaiveDateTime, Utc};

use super::Kind;
use crate::util::files::{self, AtomicFile, Lock, TMP_PREFIX};

const TIME_FORMAT: &str = "%Y%m%d_%H%M%S";

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    /// UTC time from the file name.
    pub time: NaiveDateTime,
    /// The `-N` suffix of backups made within the same second (0 for none).
    pub seq: u32,
    pub size: u64,
}

impl Entry {
    pub fn sidecar(&self) -> PathBuf {
        sidecar_of(&self.path)
    }
}

pub fn sidecar_of(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// The whole backup store rooted at `backup.dir`.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

// Defined here, not in context.rs, so that the context does not depend on the backup
// module (which depends on it).
impl crate::context::Context {
    /// The backup store (`backup.dir` under the root): also where ledgers, reports, the
    /// audit log and other state of the toolkit live.
    pub fn store(&self) -> Store {
        Store {
            dir: self.root.join(&self.config.backup.dir),
        }
    }
}

impl Store {
    pub fn kind_dir(&self, kind: Kind) -> PathBuf {
        self.dir.join(kind.dir())
    }

    /// The store-wide lock: one backup/prune/restore run at a time.
    pub fn lock(&self, what: &str) -> Result<Lock> {
        Lock::acquire(&self.dir.join(".xtask.lock"), what)
    }

    /// Backups of `kind`, newest first. Temporary files and unparsable names are skipped.
    pub fn list(&self, kind: Kind) -> Result<Vec<Entry>> {
        let dir = self.kind_dir(kind);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut out = Vec::new();
        for de in rd {
            let de = de.with_context(|| format!("reading {}", dir.display()))?;
            let name = de.file_name().to_string_lossy().into_owned();
            let Some((time, seq)) = parse_name(kind, &name) else {
                continue;
            };
            let meta = de.metadata()?;
            if !meta.is_file() {
                continue;
            }
            out.push(Entry {
                name,
                path: de.path(),
                time,
                seq,
                size: meta.len(),
            });
        }
        out.sort_by_key(|e| std::cmp::Reverse((e.time, e.seq)));
        Ok(out)
    }

    /// A fresh, unused destination path for a backup made now.
    pub fn new_path(&self, kind: Kind) -> Result<PathBuf> {
        let dir = self.kind_dir(kind);
        files::create_private_dir(&dir)?;
        let stamp = Utc::now().format(TIME_FORMAT).to_string();
        for n in 0..1000 {
            let name = if n == 0 {
                format!("{}{stamp}{}", kind.prefix(), kind.suffix())
            } else {
                format!("{}{stamp}-{n}{}", kind.prefix(), kind.suffix())
            };
            let p = dir.join(name);
            if !p.exists() {
                return Ok(p);
            }
        }
        anyhow::bail!(
            "too many backups named {}{stamp}* in {}",
            kind.prefix(),
            dir.display()
        )
    }

    /// Remove what killed runs left behind. Call only while holding the lock.
    pub fn clean_stale(&self, kind: Kind) -> Result<Vec<PathBuf>> {
        let dir = self.kind_dir(kind);
        let mut removed = Vec::new();
        let Ok(rd) = fs::read_dir(&dir) else {
            return Ok(removed);
        };
        for de in rd.flatten() {
            let name = de.file_name().to_string_lossy().into_owned();
            let orphan = [".sha256", ".json"].iter().any(|suffix| {
                name.strip_suffix(suffix).is_some_and(|base| {
                    parse_name(kind, base).is_some() && !dir.join(base).exists()
                })
            });
            if name.starts_with(TMP_PREFIX) || orphan {
                fs::remove_file(de.path())
                    .with_context(|| format!("removing stale {}", de.path().display()))?;
                removed.push(de.path());
            }
        }
        Ok(removed)
    }
}

/// Parse `<prefix>YYYYMMDD_HHMMSS[-N]<suffix>` into its time and sequence number.
pub fn parse_name(kind: Kind, name: &str) -> Option<(NaiveDateTime, u32)> {
    let mid = name
        .strip_prefix(kind.prefix())?
        .strip_suffix(kind.suffix())?;
    let (stamp, seq) = match mid.split_once('-') {
        Some((stamp, n)) => (
            stamp,
            n.parse()
                .ok()
                .filter(|_| n.bytes().all(|b| b.is_ascii_digit()))?,
        ),
        None => (mid, 0),
    };
    Some((NaiveDateTime::parse_from_str(stamp, TIME_FORMAT).ok()?, seq))
}

/// Publish a finished backup: its sidecar first, then the backup itself.
pub fn publish(file: AtomicFile, dest: &Path, sha256: &str) -> Result<()> {
    let name = dest.file_name().unwrap().to_string_lossy();
    files::write_atomic(
        &sidecar_of(dest),
        format!("{sha256}  {name}\n").as_bytes(),
        0o600,
    )?;
    file.commit()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumState {
    Ok,
    Missing,
    Mismatch { expected: String, actual: String },
    Unreadable(String),
}

impl ChecksumState {
    pub fn label(&self) -> &'static str {
        match self {
            ChecksumState::Ok => "ok",
            ChecksumState::Missing => "missing",
            ChecksumState::Mismatch { .. } => "MISMATCH",
            ChecksumState::Unreadable(_) => "unreadable",
        }
    }
}

/// The expected digest from a sidecar file.
pub fn read_sidecar(path: &Path) -> Result<Option<String>> {
    let side = sidecar_of(path);
    match fs::read_to_string(&side) {
        Ok(s) => {
            let hex = s
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!("{} does not hold a sha256 digest", side.display());
            }
            Ok(Some(hex))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", side.display())),
    }
}

pub fn checksum_state(path: &Path) -> ChecksumState {
    let expected = match read_sidecar(path) {
        Ok(Some(e)) => e,
        Ok(None) => return ChecksumState::Missing,
        Err(e) => return ChecksumState::Unreadable(format!("{e:#}")),
    };
    match crate::util::hash::hash_file(path) {
        Ok((actual, _)) if actual == expected => ChecksumState::Ok,
        Ok((actual, _)) => ChecksumState::Mismatch { expected, actual },
        Err(e) => ChecksumState::Unreadable(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let (t, seq) =
            parse_name(Kind::Pipeline, "pipeline-backup-20261129_203000.tar.gz").unwrap();
        assert_eq!(seq, 0);
        assert_eq!(t.to_string(), "2026-11-29 20:30:00");
        assert_eq!(
            parse_name(Kind::Pipeline, "pipeline-backup-20261129_203000-12.tar.gz")
                .unwrap()
                .1,
            12
        );
        assert!(parse_name(Kind::Pipeline, "pipeline-backup-20261129_203000-x.tar.gz").is_none());
        assert!(
            parse_name(
                Kind::Pipeline,
                ".tmp-pipeline-backup-20261129_203000.tar.gz.1.0"
            )
            .is_none()
        );
        assert!(parse_name(Kind::Pipeline, "pipeline-backup-2026.tar.gz").is_none());
    }
}
