//! The audit's data: advisories as matched and kept in the index, the packages they name,
//! the advisories that could not be read, and the stamps that tell whether a source
//! changed. Every other part of the audit builds on these types; this module imports none
//! of them (`model ← matching ← advisories ← index ← db ← audit`).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::deps::Ecosystem;

/// Written into a source folder by `advisories update`: when, from where, which commit.
pub const FETCH_META: &str = ".xtask-source.json";

/// One advisory as matched: everything the report needs (and what the index stores).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub summary: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
    /// RustSec's informational kind (`unmaintained`, `unsound`, `notice`) as the database
    /// spells it; `None` for a vulnerability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub informational: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<String>,
    /// The vector's base score, computed once when the source is parsed (v4 scoring is
    /// costly) and kept in the index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_score: Option<f64>,
    /// A textual severity given by the database (GHSA's `database_specific.severity`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_label: Option<String>,
    pub affected: Vec<Affected>,
    /// Used while parsing a source (its newest date); not kept in the index.
    #[serde(skip)]
    pub modified: Option<DateTime<Utc>>,
    /// Set from the source being read; not kept in the index.
    #[serde(skip)]
    pub source: String,
}

impl Advisory {
    /// An advisory with only what matching needs; the rest is filled in for the ones that
    /// match (see `Db::complete`).
    pub fn for_matching(
        id: String,
        withdrawn: bool,
        affected: Vec<Affected>,
        source: String,
    ) -> Self {
        Advisory {
            id,
            aliases: Vec::new(),
            summary: String::new(),
            withdrawn,
            informational: None,
            cvss: None,
            cvss_score: None,
            severity_label: None,
            affected,
            modified: None,
            source,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Affected {
    pub ecosystem: Ecosystem,
    pub key: String,
    pub rule: Rule,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Rule {
    /// OSV: explicit versions and ranges of events.
    Osv {
        versions: Vec<String>,
        ranges: Vec<Range>,
    },
    /// RustSec native: vulnerable unless `patched` or `unaffected` matches.
    RustSec {
        patched: Vec<String>,
        unaffected: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

/// A package as advisories name it: its ecosystem and its name as compared (PEP 503 for
/// PyPI). Ordered by ecosystem, then name: the order of the index's package records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PackageKey {
    pub ecosystem: Ecosystem,
    pub key: String,
}

impl PackageKey {
    pub fn new(ecosystem: Ecosystem, key: impl Into<String>) -> PackageKey {
        PackageKey {
            ecosystem,
            key: key.into(),
        }
    }
}

impl std::fmt::Display for PackageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.key, self.ecosystem.as_str())
    }
}

/// An advisory file (or zip member, or folder) that could not be read. The message says
/// where the parser stopped, never what the file holds: a source may hold anything.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Malformed {
    pub file: PathBuf,
    pub message: String,
    /// The packages it concerns, as far as its place in the source (a per-package folder)
    /// or its readable part tells; empty when nothing tells (it may concern any package).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageKey>,
}

/// A file's or folder's identity and times, as `stat` gives them (of a link itself, never
/// of what it points to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sig([i64; 6]);

/// `s.split(sep)` for an ASCII separator, as a loop the caller's codegen unit can inline:
/// `str::split(char)` goes through a searcher that, without LTO (the dev profile has none,
/// docs/benchmarks.md "Build cost"), stays a call per field on the index's hot path.
pub struct SplitAscii<'a> {
    rest: Option<&'a str>,
    sep: u8,
}

impl<'a> SplitAscii<'a> {
    pub fn new(s: &'a str, sep: u8) -> SplitAscii<'a> {
        debug_assert!(sep.is_ascii());
        SplitAscii { rest: Some(s), sep }
    }
}

impl<'a> Iterator for SplitAscii<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let r = self.rest?;
        // An ASCII byte is never inside a UTF-8 sequence: both halves stay valid.
        match r.bytes().position(|b| b == self.sep) {
            Some(i) => {
                self.rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                self.rest = None;
                Some(r)
            }
        }
    }
}

impl Sig {
    pub fn of(m: &fs::Metadata) -> Sig {
        // Inode numbers and sizes fit i64 on every file system this runs on; wrapping
        // would only ever cause a spurious rebuild.
        Sig([
            m.ino() as i64,
            m.size() as i64,
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ])
    }

    pub fn of_stat(st: &libc::stat) -> Sig {
        Sig([
            st.st_ino as i64,
            st.st_size,
            st.st_mtime,
            st.st_mtime_nsec,
            st.st_ctime,
            st.st_ctime_nsec,
        ])
    }

    pub fn parse(s: &str) -> Option<Sig> {
        let mut out = [0i64; 6];
        let mut it = SplitAscii::new(s, b':');
        for v in &mut out {
            *v = it.next()?.parse().ok()?;
        }
        it.next().is_none().then_some(Sig(out))
    }

    pub fn write(&self, out: &mut String) {
        use std::fmt::Write as _;
        let [a, b, c, d, e, f] = self.0;
        let _ = write!(out, "{a}:{b}:{c}:{d}:{e}:{f}");
    }
}

/// One stamped folder or file of a source. `scopes` empty: checked on every run; else only
/// when one of these packages is audited.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub rel: String,
    pub scopes: Vec<PackageKey>,
    pub sig: Sig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ascii_is_str_split() {
        for s in [
            "",
            ":",
            "a",
            "a:b",
            ":a:",
            "::",
            "é:ü:",
            "1:2:3:4:5:6",
            "ß\u{1f}x",
        ] {
            for sep in [b':', 0x1f] {
                let ours: Vec<&str> = SplitAscii::new(s, sep).collect();
                let std: Vec<&str> = s.split(sep as char).collect();
                assert_eq!(ours, std, "{s:?} on {sep:#x}");
            }
        }
        assert_eq!(Sig::parse("1:2:3:4:5:6"), Some(Sig([1, 2, 3, 4, 5, 6])));
        assert_eq!(Sig::parse("1:2:3:4:5"), None);
        assert_eq!(Sig::parse("1:2:3:4:5:6:7"), None);
    }
}
