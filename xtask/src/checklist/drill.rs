//! The restore drill of `checklist monthly`: the newest pipeline and database backups
//! restored into a scratch folder (never the live tree), which is removed afterwards.

use anyhow::Result;

use crate::backup;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, codes};
use crate::util::files;

pub fn run(cx: &Context) -> Result<Report> {
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
            record(
                &mut report,
                "pipeline configuration",
                "restored into a scratch folder",
                r,
            );
        }
        if !store.list(backup::Kind::Sqlite)?.is_empty() {
            let to = scratch.join("db.sqlite");
            let r = backup::restore::db::run(cx, "latest", Some(&to), None, false, false)?;
            record(&mut report, "database", "restored and integrity-checked", r);
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

/// One restore of the drill: its line of the summary (`done`, or FAILED) and its findings.
fn record(report: &mut Report, what: &str, done: &str, restore: Report) {
    report.summary(
        what,
        if restore.exit_code() == 0 {
            done
        } else {
            "FAILED"
        },
    );
    report.findings.extend(restore.findings);
}
