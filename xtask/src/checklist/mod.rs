//! `checklist daily|weekly|monthly|quarterly`: run the runbook items of a cadence that have
//! commands, and write one report (Markdown in `<backup.dir>/reports/`, plus the chosen
//! format on stdout). Each item runs in-process; an item that cannot run is a finding, and
//! the others still run.

use anyhow::{Context as _, Result};

use crate::audit;
use crate::backup;
use crate::config::InformationalKind;
use crate::context::Context;
use crate::deploy;
use crate::outdated;
use crate::report::{Finding, Format, Report, Severity, Style, Table, codes};
use crate::util::files;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cadence {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl Cadence {
    fn name(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
        }
    }
}

/// How an item runs: in-process, into a report.
type Runner = Box<dyn Fn(&Context) -> Result<Report>>;

/// A runbook item, the command line it stands for (after `cargo xtask`), and how it runs.
type Item = (&'static str, String, Runner);

fn items(cx: &Context, cadence: Cadence) -> Vec<Item> {
    let mut v: Vec<Item> = Vec::new();
    let envs: Vec<String> = cx.config.deploy.environments.keys().cloned().collect();
    let audit_with = |fail_on: Option<Severity>, deny: Vec<InformationalKind>| {
        move |cx: &Context| {
            audit::run(
                cx,
                audit::Options {
                    paths: vec![],
                    db: vec![],
                    fail_on,
                    deny: deny.clone(),
                    allow_stale: false,
                },
            )
        }
    };
    let outdated_with = |all: bool| {
        move |cx: &Context| {
            let opts = outdated::Options {
                paths: vec![],
                all,
                offline: false,
                exit_code: None,
            };
            outdated::run(cx, opts)
        }
    };
    match cadence {
        Cadence::Daily => {
            v.push((
                "Backups are verifiable",
                "backup verify".into(),
                Box::new(|cx| backup::verify(cx, None, false)),
            ));
            for env in envs {
                v.push((
                    "Deployment status checks",
                    format!("releases {env}"),
                    Box::new(move |cx| deploy::releases(cx, &env)),
                ));
            }
        }
        Cadence::Weekly => {
            v.push((
                "Dependency Management: vulnerability audit",
                "audit".into(),
                Box::new(audit_with(None, vec![])),
            ));
            v.push((
                "Check for outdated packages, base images and actions",
                "outdated".into(),
                Box::new(outdated_with(false)),
            ));
        }
        Cadence::Monthly => {
            v.push((
                "Every backup verifies",
                "backup verify --all".into(),
                Box::new(|cx| backup::verify(cx, None, true)),
            ));
            v.push((
                "Review disaster recovery procedures: restore drill",
                "restore … --to (temp)".into(),
                Box::new(drill),
            ));
            v.push((
                "Update CI/CD tools, actions and base images",
                "outdated --all".into(),
                Box::new(outdated_with(true)),
            ));
        }
        Cadence::Quarterly => {
            v.push((
                "Security posture assessment",
                "audit --fail-on low --deny unmaintained,unsound".into(),
                Box::new(audit_with(
                    Some(Severity::Low),
                    vec![InformationalKind::Unmaintained, InformationalKind::Unsound],
                )),
            ));
            v.push((
                "Every backup verifies",
                "backup verify --all".into(),
                Box::new(|cx| backup::verify(cx, None, true)),
            ));
        }
    }
    v
}

/// A restore drill: the newest pipeline and database backups restored into a scratch folder
/// (never the live tree), which is removed afterwards.
fn drill(cx: &Context) -> Result<Report> {
    let mut report = Report::new("restore drill");
    let scratch = cx
        .store()
        .dir
        .join(format!("{}drill-{}", files::TMP_PREFIX, std::process::id()));
    let result = (|| -> Result<()> {
        let store = cx.store();
        if !store.list(backup::Kind::Pipeline)?.is_empty() {
            let r = backup::restore::config::run(
                cx,
                "latest",
                Some(&scratch.join("config")),
                false,
                false,
            )?;
            report.summary(
                "pipeline configuration",
                if r.exit_code() == 0 {
                    "restored into a scratch folder"
                } else {
                    "FAILED"
                },
            );
            report.findings.extend(r.findings);
        }
        if !store.list(backup::Kind::Sqlite)?.is_empty() {
            let to = scratch.join("db.sqlite");
            let r = backup::restore::db::run(cx, "latest", Some(&to), None, false, false)?;
            report.summary(
                "database",
                if r.exit_code() == 0 {
                    "restored and integrity-checked"
                } else {
                    "FAILED"
                },
            );
            report.findings.extend(r.findings);
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    if report.summary.is_empty() {
        report.push(Finding::new(
            codes::NO_BACKUPS,
            Severity::High,
            "there is no backup to drill with: run `cargo xtask backup`",
        ));
    }
    Ok(report)
}

pub fn run(cx: &Context, cadence: Cadence) -> Result<Report> {
    let mut report = Report::new(format!("checklist {}", cadence.name()));
    report.fail_on = Severity::High;
    let mut t = Table::new("Items", &["runbook item", "command", "result"]);
    let mut rows = Vec::new();
    for (item, command, f) in items(cx, cadence) {
        let result = run_item(cx, &mut report, item, &command, f);
        t.row(vec![
            item.to_string(),
            format!("cargo xtask {command}"),
            result.clone(),
        ]);
        rows.push(serde_json::json!({"item": item, "command": command, "result": result}));
    }
    if rows.is_empty() {
        report.summary(
            "items",
            "none configured for this cadence (daily needs deploy.environments for status checks)",
        );
    }
    report.tables.push(t);
    report.set("cadence", cadence.name());
    report.set("items", rows);
    write_report(cx, cadence, &mut report);
    Ok(report)
}

/// Run one item into the checklist's report: its result in a word, its findings that need
/// attention. Those fail the checklist as they fail the item (the checklist's threshold is
/// the lowest of its items'), so "needs attention" never comes with exit 0.
fn run_item(cx: &Context, report: &mut Report, item: &str, command: &str, f: Runner) -> String {
    match f(cx) {
        Ok(mut r) => {
            let failing = r.failing().count();
            let result = match r.exit_code() {
                0 => "ok".to_string(),
                2 => "incomplete".to_string(),
                _ => format!("{failing} finding(s) need attention"),
            };
            // Only what needs attention, so that the report stays readable.
            let fail_on = r.fail_on;
            report
                .findings
                .extend(r.findings.drain(..).filter(|f| f.severity >= fail_on));
            report.fail_on = report.fail_on.min(fail_on);
            report.incomplete |= r.incomplete;
            result
        }
        Err(e) => {
            report.push(Finding::new(
                codes::CHECKLIST_ITEM_FAILED,
                Severity::High,
                format!("{item} (`cargo xtask {command}`): {e:#}"),
            ));
            "FAILED to run".to_string()
        }
    }
}

/// One Markdown file per run, published atomically under a name no other run has: a second
/// run in the same second gets `-2`. When it cannot be written the results are still
/// printed, and the run fails (exit 2) with a finding that says why.
fn write_report(cx: &Context, cadence: Cadence, report: &mut Report) {
    let dir = cx.store().dir.join("reports");
    let stamp = chrono::Utc::now().format("%Y%m%d_%H%M%S");
    let base = format!("checklist-{}-{stamp}", cadence.name());
    let md = report.render(Format::Markdown, Style::default());
    match files::create_private_dir(&dir).and_then(|()| publish(&dir, &base, md.as_bytes())) {
        Ok(path) => {
            report.summary("report", path.display().to_string());
            report.set("report", path.display().to_string());
        }
        Err(e) => {
            report.push(Finding::new(
                codes::CHECKLIST_REPORT_UNWRITTEN,
                Severity::High,
                format!(
                    "the report could not be written ({e:#}): the results printed here are the only copy; fix {} and run again",
                    dir.display()
                ),
            ));
            report.incomplete = true;
        }
    }
}

/// Write `bytes` to `<dir>/<base>.md`, or `<base>-2.md`, … (the first name not taken):
/// written and synced under a temporary name, then linked to the final name, which fails
/// rather than replace a file another run published.
fn publish(dir: &std::path::Path, base: &str, bytes: &[u8]) -> Result<std::path::PathBuf> {
    let tmp = dir.join(format!(
        "{}{base}-{}.md",
        files::TMP_PREFIX,
        std::process::id()
    ));
    files::write_atomic(&tmp, bytes, 0o600)?;
    let result = (|| {
        for n in 1.. {
            let name = if n == 1 {
                format!("{base}.md")
            } else {
                format!("{base}-{n}.md")
            };
            let path = dir.join(name);
            match std::fs::hard_link(&tmp, &path) {
                Ok(()) => {
                    files::sync_dir(dir)?;
                    return Ok(path);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("publishing {}", path.display()));
                }
            }
        }
        unreachable!("some name is free")
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}
