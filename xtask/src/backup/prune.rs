//! `backup prune`: retention. A pure selection ([`select`]) decides, a thin runner deletes.

use std::collections::BTreeSet;
use std::fs;

use anyhow::{Context as _, Result};
use chrono::{Datelike, Duration, NaiveDateTime};

use super::Kind;
use super::store::{Entry, Store};
use crate::config::Retention;
use crate::report::{Finding, Report, Severity, Table, codes};

/// Why a backup is kept, or `None` when it goes.
pub fn select(
    entries: &[Entry],
    r: &Retention,
    now: NaiveDateTime,
    newest_verified: Option<usize>,
) -> Vec<Option<String>> {
    // `entries` is newest first.
    let mut why: Vec<Vec<String>> = vec![Vec::new(); entries.len()];
    let cutoff = now - Duration::days(i64::from(r.keep_days));
    for (i, e) in entries.iter().enumerate() {
        if r.keep_days > 0 && e.time > cutoff {
            why[i].push(format!("younger than {} days", r.keep_days));
        }
        if (i as u64) < u64::from(r.keep_last) {
            why[i].push(format!("one of the newest {}", r.keep_last));
        }
    }
    let mut bucket = |n: u32, label: &str, key: &dyn Fn(&NaiveDateTime) -> (i32, u32)| {
        let mut seen = BTreeSet::new();
        for (i, e) in entries.iter().enumerate() {
            if seen.len() as u32 >= n {
                break;
            }
            if seen.insert(key(&e.time)) {
                why[i].push(format!("{label} backup"));
            }
        }
    };
    bucket(r.daily, "daily", &|t| (t.year(), t.ordinal()));
    bucket(r.weekly, "weekly", &|t| {
        (t.iso_week().year(), t.iso_week().week())
    });
    bucket(r.monthly, "monthly", &|t| (t.year(), t.month()));
    if let Some(i) = newest_verified {
        why[i].push("newest verified backup".into());
    }
    why.into_iter()
        .map(|w| {
            if w.is_empty() {
                None
            } else {
                Some(w.join(", "))
            }
        })
        .collect()
}

/// What pruning one kind of backup decided (and, unless a dry run, did).
#[derive(Debug)]
pub struct Pruned {
    pub kind: Kind,
    /// Every backup, newest first: its name, and why it is kept (`None`: deleted).
    pub decisions: Vec<(String, Option<String>)>,
    /// Names deleted (dry run: that would be deleted).
    pub deleted: Vec<String>,
    pub kept: Vec<String>,
    /// No backup of this kind verifies, so nothing was deleted.
    pub none_verified: bool,
}

/// Prune one kind of backup. `verified` tells whether a backup passes full verification;
/// it is asked newest first until one passes, and that one is never deleted.
pub fn prune(
    store: &Store,
    kind: Kind,
    retention: &Retention,
    dry_run: bool,
    verified: &dyn Fn(&Entry) -> bool,
) -> Result<Pruned> {
    let entries = store.list(kind)?;
    let newest_verified = entries.iter().position(verified);
    let now = chrono::Utc::now().naive_utc();
    let mut out = Pruned {
        kind,
        decisions: Vec::new(),
        deleted: Vec::new(),
        kept: Vec::new(),
        none_verified: newest_verified.is_none() && !entries.is_empty(),
    };
    for (e, keep) in entries
        .iter()
        .zip(select(&entries, retention, now, newest_verified))
    {
        // Without a verified backup, deleting anything could lose the last good copy.
        let keep = match keep {
            None if newest_verified.is_none() => Some(NONE_VERIFIED.to_string()),
            keep => keep,
        };
        if keep.is_some() {
            out.kept.push(e.name.clone());
        } else {
            if !dry_run {
                delete(e)?;
            }
            out.deleted.push(e.name.clone());
        }
        out.decisions.push((e.name.clone(), keep));
    }
    if !out.deleted.is_empty() && !dry_run {
        crate::util::files::sync_dir(&store.kind_dir(kind))?;
    }
    Ok(out)
}

const NONE_VERIFIED: &str = "no verified backup exists";

/// Delete a backup and its checksum sidecar.
fn delete(e: &Entry) -> Result<()> {
    fs::remove_file(&e.path).with_context(|| format!("deleting {}", e.path.display()))?;
    match fs::remove_file(e.sidecar()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("deleting {}", e.sidecar().display())),
    }
}

/// The report of `backup prune` over every kind.
pub fn report(pruned: &[Pruned], dry_run: bool) -> Report {
    let mut report = Report::dry("backup prune", dry_run);
    let mut deleted = Vec::new();
    for p in pruned {
        let name = p.kind.name();
        let mut table = Table::new(
            format!("Retention ({name})"),
            &["name", "decision", "reason"],
        );
        for (backup, keep) in &p.decisions {
            let (decision, reason) = match keep {
                Some(reason) => ("keep", reason.as_str()),
                None if dry_run => ("would delete", "outside every retention rule"),
                None => ("delete", "outside every retention rule"),
            };
            table.row(vec![backup.clone(), decision.into(), reason.into()]);
        }
        report.summary(
            name,
            format!(
                "{} kept, {} {}",
                p.kept.len(),
                p.deleted.len(),
                if dry_run {
                    "would be deleted"
                } else {
                    "deleted"
                }
            ),
        );
        report.tables.push(table);
        if p.none_verified {
            report.push(Finding::new(
                codes::NO_VERIFIED_BACKUP,
                Severity::High,
                format!(
                    "none of the {} {name} backups verifies: nothing is deleted; make a new backup and investigate",
                    p.decisions.len(),
                ),
            ));
        }
        deleted.extend(p.deleted.iter().cloned());
    }
    report.set(if dry_run { "would_delete" } else { "deleted" }, deleted);
    report.set("dry_run", dry_run);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(days_ago: i64, now: NaiveDateTime) -> Entry {
        let time = now - Duration::days(days_ago);
        Entry {
            name: format!("b{days_ago}"),
            path: "/x".into(),
            time,
            seq: 0,
            size: 0,
        }
    }

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 29)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn kept(entries: &[Entry], r: &Retention, nv: Option<usize>) -> Vec<String> {
        let d = select(entries, r, now(), nv);
        entries
            .iter()
            .zip(d)
            .filter(|(_, k)| k.is_some())
            .map(|(e, _)| e.name.clone())
            .collect()
    }

    #[test]
    fn runbook_default_keeps_seven_days_and_newest_three() {
        let entries: Vec<Entry> = [0, 1, 3, 6, 8, 10, 30]
            .iter()
            .map(|&d| at(d, now()))
            .collect();
        let r = Retention::default();
        assert_eq!(kept(&entries, &r, Some(0)), ["b0", "b1", "b3", "b6"]);
    }

    #[test]
    fn never_deletes_newest_verified() {
        let entries: Vec<Entry> = [20, 30, 40].iter().map(|&d| at(d, now())).collect();
        let r = Retention {
            keep_days: 7,
            keep_last: 0,
            ..Retention::default()
        };
        assert_eq!(kept(&entries, &r, Some(1)), ["b30"]);
    }

    #[test]
    fn daily_weekly_monthly_buckets() {
        let entries: Vec<Entry> = (0..120).map(|d| at(d, now())).collect();
        let r = Retention {
            keep_days: 0,
            keep_last: 0,
            daily: 3,
            weekly: 2,
            monthly: 3,
        };
        let k = kept(&entries, &r, None);
        // 3 daily (0,1,2) + newest of the current and previous ISO week + newest of 3 months.
        assert!(
            k.starts_with(&["b0".to_string(), "b1".into(), "b2".into()]),
            "{k:?}"
        );
        assert!(k.len() <= 3 + 2 + 3 && k.len() >= 5, "{k:?}");
        // 2026-11-29 is a Sunday: the previous ISO week's newest is 7 days ago.
        assert!(k.contains(&"b7".to_string()), "{k:?}");
        // Month buckets: November (b0), October (newest = Oct 31 = 29 days ago), September.
        assert!(
            k.contains(&"b29".to_string()) && k.contains(&"b60".to_string()),
            "{k:?}"
        );
    }
}
