//! Backups (the store, as `backup list` and `backup verify` see it) and checklists (the
//! newest report of each cadence in `<backup.dir>/reports/`).

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDateTime, Utc};

use super::catalog as m;
use super::collect::Memo;
use super::exposition::Family;
use crate::backup::{self, Kind, Verdict, db, pipeline};
use crate::context::Context;

/// Which kinds `cargo xtask backup` makes here: the pipeline configuration always, and the
/// configured database (a SQLite file only when it exists).
fn expected(cx: &Context, kind: Kind) -> bool {
    match (kind, db::Source::resolve(cx, None)) {
        (Kind::Pipeline, _) => true,
        (Kind::Sqlite, db::Source::Sqlite(p)) => p.exists(),
        (Kind::Postgres, db::Source::Postgres(_)) => true,
        _ => false,
    }
}

pub fn backups(cx: &Context, _now: DateTime<Utc>, memo: &Mutex<Memo>) -> Result<Vec<Family>> {
    let store = cx.store();
    let mut count = Family::new(&m::BACKUPS);
    let mut last = Family::new(&m::BACKUP_LAST_SUCCESS);
    let mut size = Family::new(&m::BACKUP_SIZE);
    let mut verified = Family::new(&m::BACKUP_VERIFIED);
    let mut current = Family::new(&m::BACKUP_UP_TO_DATE);
    let mut total = Family::new(&m::BACKUP_STORE_SIZE);
    for kind in Kind::ALL {
        let entries = store.list(kind)?;
        let made: Vec<_> = entries
            .iter()
            .filter(|e| !backup::is_safety_backup(kind, &e.path))
            .collect();
        if entries.is_empty() && !expected(cx, kind) {
            continue;
        }
        let k = kind.name();
        count.push(&[k], made.len() as f64);
        total.push(&[k], entries.iter().map(|e| e.size as f64).sum());
        let Some(newest) = made.first() else { continue };
        last.push(&[k], newest.time.and_utc().timestamp() as f64);
        size.push(&[k], newest.size as f64);
        if let Some(ok) = verify(memo, kind, &newest.path, cx)? {
            verified.push(&[k], f64::from(u8::from(ok)));
        }
        if kind == Kind::Pipeline {
            let same = holds_current_config(cx, &newest.path)?;
            current.push(&[k], f64::from(u8::from(same)));
        }
    }
    Ok(vec![count, last, size, verified, current, total])
}

/// Full verification of a backup, remembered by file, size and modification time. `None`:
/// it was deleted meanwhile (pruned), so there is nothing to say of it.
fn verify(memo: &Mutex<Memo>, kind: Kind, path: &Path, cx: &Context) -> Result<Option<bool>> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(None);
    };
    let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    let known = memo
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .verified
        .get(&key)
        .copied();
    if let Some(ok) = known {
        return Ok(Some(ok));
    }
    let ok = match backup::verify_path(kind, path, cx.config.database.check) {
        Ok(Verdict::Ok) => true,
        Ok(Verdict::Gone) => return Ok(None),
        // Damaged, or unreadable: either way it is not a backup to rely on.
        Ok(Verdict::Problems(_)) | Err(_) => false,
    };
    let mut memo = memo.lock().unwrap_or_else(PoisonError::into_inner);
    // Verdicts of pruned backups go: the memo holds at most what the store holds.
    memo.verified.retain(|(p, _, _), _| p.exists());
    memo.verified.insert(key, ok);
    Ok(Some(ok))
}

/// Does the archive hold exactly what `backup config` would archive now? (With
/// `backup --if-changed` an unchanged configuration makes no new archive: its newest one
/// stays old, and current.)
fn holds_current_config(cx: &Context, archive: &Path) -> Result<bool> {
    let plan = pipeline::plan(
        &cx.root,
        &cx.store().dir,
        &cx.config.pipeline,
        cx.config.pipeline_paths_explicit,
    )?;
    Ok(pipeline::archive::read_manifest(archive).is_ok_and(|m| m == plan.manifest))
}

/// The statuses a checklist command can end in, as the report's Items table words them
/// (label values: `not_configured` for "not configured").
const RESULTS: [&str; 4] = ["ok", "findings", "failed", "not_configured"];

pub fn checklists(cx: &Context, _now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    let dir = cx.store().dir.join("reports");
    let mut newest: std::collections::BTreeMap<String, (NaiveDateTime, u32, String)> =
        Default::default();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for de in rd {
        let name = de
            .with_context(|| format!("reading {}", dir.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some((cadence, time, seq)) = report_name(&name) else {
            continue;
        };
        let slot = newest
            .entry(cadence.to_string())
            .or_insert((time, seq, name.clone()));
        if (time, seq) > (slot.0, slot.1) {
            *slot = (time, seq, name);
        }
    }
    let mut last = Family::new(&m::CHECKLIST_LAST_RUN);
    let mut items = Family::new(&m::CHECKLIST_ITEMS);
    for (cadence, (time, _, name)) in &newest {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let counts = item_results(&text)
            .with_context(|| format!("{}: not a checklist report", path.display()))?;
        last.push(&[cadence], time.and_utc().timestamp() as f64);
        for (result, n) in RESULTS.iter().zip(counts) {
            items.push(&[cadence, result], n as f64);
        }
    }
    Ok(vec![last, items])
}

/// `checklist-CADENCE-YYYYMMDD_HHMMSS[-N].md`: the cadence, the time and N (1 for none).
fn report_name(name: &str) -> Option<(&str, NaiveDateTime, u32)> {
    let rest = name.strip_prefix("checklist-")?.strip_suffix(".md")?;
    let (cadence, stamp) = rest.split_once('-')?;
    if !["daily", "weekly", "monthly", "quarterly"].contains(&cadence) {
        return None;
    }
    let (stamp, seq) = match stamp.split_once('-') {
        Some((s, n)) => (s, n.parse().ok().filter(|n| *n >= 2)?),
        None => (stamp, 1),
    };
    let time = NaiveDateTime::parse_from_str(stamp, "%Y%m%d_%H%M%S").ok()?;
    Some((cadence, time, seq))
}

/// How many commands of a checklist report ended in each of [`RESULTS`], from its Items
/// table (`| section | runbook item | command | status | duration | key figure |`: one row
/// per command an item runs). A report of no automated item has no table.
fn item_results(text: &str) -> Result<[usize; 4]> {
    const HEADER: &str = "| section | runbook item | command | status | duration | key figure |";
    if !text.starts_with("## cargo xtask checklist ") {
        bail!("it does not start with `## cargo xtask checklist`");
    }
    let mut counts = [0; 4];
    let Some(start) = text.find("\n### Items\n") else {
        return Ok(counts);
    };
    let mut lines = text[start + 1..]
        .lines()
        .skip(1)
        .skip_while(|l| l.trim().is_empty());
    if lines.next() != Some(HEADER) {
        bail!("its Items table has other columns than `{HEADER}`");
    }
    for row in lines.skip(1).take_while(|l| l.starts_with('|')) {
        // Cells are separated by ` | `; a `|` inside a cell is written `\|`.
        let status = row
            .trim_end()
            .strip_prefix("| ")
            .map(|r| r.split(" | ").nth(3).unwrap_or_default().trim())
            .with_context(|| format!("an Items row has no status: `{row}`"))?;
        let i = match status {
            "ok" => 0,
            "findings" => 1,
            "failed" => 2,
            "not configured" => 3,
            s => bail!("a command's status `{s}` is not one `checklist` writes"),
        };
        counts[i] += 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_names_give_cadence_time_and_sequence() {
        let (c, t, n) = report_name("checklist-weekly-20260105_060000.md").unwrap();
        assert_eq!(
            (c, t.to_string().as_str(), n),
            ("weekly", "2026-01-05 06:00:00", 1)
        );
        assert_eq!(
            report_name("checklist-daily-20260105_060000-3.md")
                .unwrap()
                .2,
            3
        );
        for bad in [
            "checklist-hourly-20260105_060000.md",
            "checklist-daily-2026.md",
            "checklist-daily-20260105_060000-x.md",
            ".tmp-checklist-daily-20260105_060000-1.md",
            "checklist-daily-20260105_060000.md.bak",
        ] {
            assert!(report_name(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn item_results_from_the_items_table() {
        let text = "## cargo xtask checklist weekly\n\n- **report**: x\n\n### Items\n\n\
                    | section | runbook item | command | status | duration | key figure |\n\
                    |---|---|---|---|---|---|\n\
                    | Weekly | Dependency audit | cargo xtask audit | findings | 6 ms | 2 \\| 3 |\n\
                    |  |  | cargo xtask outdated | ok | 1 s | 0 behind |\n\
                    | Monthly | Drill | cargo xtask restore | failed | 0 ms | could not run |\n\
                    | Daily | Tests | cargo xtask tests report | not configured | 0 ms | no JUnit |\n\
                    \n### Findings\n\n| severity | code | message | where |\n|---|---|---|---|\n\
                    | high | `x` | y | ok |\n";
        assert_eq!(item_results(text).unwrap(), [1, 1, 1, 1]);
        let none =
            "## cargo xtask checklist daily\n\n- **items**: none configured\n\nNo findings.\n";
        assert_eq!(item_results(none).unwrap(), [0; 4]);
        assert!(item_results("# something else\n").is_err());
        let odd = text.replace("| ok | 1 s", "| maybe | 1 s");
        let e = item_results(&odd).unwrap_err().to_string();
        assert!(e.contains("maybe"), "{e}");
    }
}
