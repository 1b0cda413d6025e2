//! Dependencies: `audit` (offline, with the cached advisory index) and `outdated --offline`
//! (the HTTP cache only: a scrape never asks the network).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use super::catalog as m;
use super::collect::Memo;
use super::exposition::Family;
use crate::context::Context;
use crate::report::{Severity, codes};
use crate::{audit as auditing, deps, outdated as behind};

const SEVERITIES: [Severity; 5] = [
    Severity::Info,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

pub fn audit(cx: &Context, now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    let opts = auditing::Options {
        paths: Vec::new(),
        db: Vec::new(),
        fail_on: None,
        deny: Vec::new(),
        // A stale database is a metric (and an alert), not a failed collector.
        allow_stale: true,
    };
    let summary = auditing::summary(cx, opts)?;
    if summary.incomplete {
        bail!(
            "the audit is incomplete (an input, or an advisory concerning it, could not be read): `cargo xtask audit` names it"
        );
    }
    let mut vulns = Family::new(&m::VULNERABILITIES);
    for eco in [deps::Ecosystem::Crates, deps::Ecosystem::PyPI] {
        for sev in SEVERITIES {
            let n = summary
                .vulnerabilities
                .get(&(eco, sev))
                .copied()
                .unwrap_or(0);
            vulns.push(&[eco.as_str(), sev.as_str()], n as f64);
        }
    }
    let mut age = Family::new(&m::ADVISORY_DB_AGE);
    let mut updated = Family::new(&m::ADVISORY_DB_UPDATED);
    let paths: Vec<&str> = summary.databases.iter().map(|(p, _)| p.as_str()).collect();
    for ((_, when), source) in summary.databases.iter().zip(source_labels(&paths)) {
        if let Some(when) = when {
            age.push(&[&source], (now - *when).num_seconds().max(0) as f64);
            updated.push(&[&source], when.timestamp() as f64);
        }
    }
    let packages = Family::single(&m::AUDIT_PACKAGES, summary.packages as f64);
    Ok(vec![vulns, age, updated, packages])
}

/// A short, unique label per database: its folder or file name (`rustsec`, `pypa`), the
/// whole path where two share a name.
fn source_labels(paths: &[&str]) -> Vec<String> {
    let name = |p: &str| {
        Path::new(p)
            .file_name()
            .map_or_else(|| p.to_string(), |n| n.to_string_lossy().into_owned())
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for p in paths {
        *seen.entry(name(p)).or_default() += 1;
    }
    paths
        .iter()
        .map(|p| {
            let n = name(p);
            if seen[&n] > 1 { p.to_string() } else { n }
        })
        .collect()
}

pub fn outdated(cx: &Context, _now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    let opts = behind::Options {
        paths: Vec::new(),
        all: false,
        offline: true,
        exit_code: None,
    };
    let found = behind::compute(cx, opts)?;
    if found.input_failed {
        bail!("an input could not be read: `cargo xtask outdated --offline` names it");
    }
    let mut packages = Family::new(&m::OUTDATED);
    for eco in [behind::Ecosystem::Crates, behind::Ecosystem::PyPI] {
        for update in [behind::Update::Major, behind::Update::Compatible] {
            let n = found.behind_by.get(&(eco, update)).copied().unwrap_or(0);
            packages.push(&[eco.as_str(), update.as_str()], n as f64);
        }
    }
    let eol = found
        .findings
        .iter()
        .filter(|f| f.code == codes::EOL_RUNTIME)
        .count();
    Ok(vec![
        packages,
        Family::single(&m::OUTDATED_UNCHECKED, found.unchecked as f64),
        Family::single(&m::EOL_RUNTIMES, eol as f64),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_labels_are_short_and_unique() {
        assert_eq!(
            source_labels(&[
                "/c/advisory-db/rustsec",
                "/c/advisory-db/pypa",
                "/x/all.zip"
            ]),
            ["rustsec", "pypa", "all.zip"]
        );
        assert_eq!(
            source_labels(&["/a/osv", "/b/osv", "/c/pypa"]),
            ["/a/osv", "/b/osv", "pypa"]
        );
    }
}
