//! Where a checklist's report goes besides standard output: one Markdown file per run under
//! `<backup.dir>/reports/`, and GitHub Actions' job summary (`$GITHUB_STEP_SUMMARY`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::Cadence;
use crate::context::Context;
use crate::report::{Finding, Format, Report, Severity, Style, codes};
use crate::util::files;

/// One Markdown file per run, published atomically under a name no other run has: a second
/// run in the same second gets `-2`. When it cannot be written the results are still
/// printed, and the run fails (exit 2) with a finding that says why.
pub fn report_file(cx: &Context, cadence: Cadence, report: &mut Report) {
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

/// Append the Markdown report to the job summary when `$GITHUB_STEP_SUMMARY` names a file
/// (GitHub Actions sets it for every step). A summary that cannot be written fails the run
/// (exit 2): the job page would otherwise show nothing, silently.
pub fn step_summary(report: &mut Report) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) else {
        return;
    };
    let path = PathBuf::from(path);
    let mut md = report.render(Format::Markdown, Style::default());
    md.push('\n');
    if let Err(e) = files::append(&path, md.as_bytes()) {
        report.push(Finding::new(
            codes::CHECKLIST_SUMMARY_UNWRITTEN,
            Severity::High,
            format!(
                "the job summary could not be written ({e:#}): check GITHUB_STEP_SUMMARY ({})",
                path.display()
            ),
        ));
        report.incomplete = true;
    }
}

/// Write `bytes` to `<dir>/<base>.md`, or `<base>-2.md`, … (the first name not taken):
/// written and synced under a temporary name, then linked to the final name, which fails
/// rather than replace a file another run published.
fn publish(dir: &Path, base: &str, bytes: &[u8]) -> Result<PathBuf> {
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
