//! `metrics`: everything the toolkit knows as Prometheus metrics, where monitoring already
//! lives (the runbook's Prometheus, Grafana and alerting).
//!
//! - `cargo xtask metrics [--openmetrics]`: the exposition on standard output;
//!   `--textfile DIR`: `DIR/xtask.prom`, atomically, for node_exporter's textfile collector;
//! - `metrics push URL`: to a Pushgateway (PUT: the job/instance group is replaced);
//! - `metrics serve --listen ADDR`: `/metrics`, computed on scrape, reused for a while;
//! - `metrics rules`: Prometheus alerting rules; `metrics dashboard`: a Grafana dashboard.
//!
//! Layout: [`catalog`] declares every metric, [`exposition`] renders them, [`collect`] runs
//! the collectors ([`backups`], [`ci`], [`deploys`], [`deps`], [`secrets`]), which read the
//! toolkit's own state and run its commands in-process and offline: a scrape never touches
//! the network (CI figures come from the exports `ci fetch` left, DORA from the ledger and git).

mod backups;
mod catalog;
mod ci;
mod collect;
mod dashboard;
mod deploys;
mod deps;
mod exposition;
mod push;
mod rules;
mod secrets;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Result, bail};

use crate::cli::{MetricsArgs, MetricsCmd};
use crate::context::Context;
use crate::report::{Finding, Report, Severity, codes};
use crate::util::files;
use collect::{Collected, Memo, collect};
use exposition::Format;

/// The file node_exporter's textfile collector reads.
const TEXTFILE: &str = "xtask.prom";

/// `metrics …`. `None`: the output went to standard output.
pub fn run(cx: &Context, args: MetricsArgs) -> Result<Option<Report>> {
    match args.command {
        None => expose(cx, args.openmetrics, args.textfile.as_deref()),
        Some(MetricsCmd::Push { url, job, instance }) => {
            push::run(cx, &url, job, instance).map(Some)
        }
        Some(MetricsCmd::Serve { listen, cache_secs }) => {
            let cache = cache_secs.unwrap_or(cx.config.metrics.cache_secs);
            serve::run(cx, &listen, cache).map(|()| None)
        }
        Some(MetricsCmd::Rules { file }) => {
            let n: usize = rules::groups(cx).iter().map(|g| g.rules.len()).sum();
            emit(
                cx,
                file,
                "metrics rules",
                &rules::yaml(cx),
                &format!("{n} alerting rules"),
            )
        }
        Some(MetricsCmd::Dashboard { file }) => {
            let text = dashboard::json(cx);
            emit(cx, file, "metrics dashboard", &text, "a Grafana dashboard")
        }
    }
}

/// The exposition, to standard output or the textfile.
fn expose(cx: &Context, openmetrics: bool, textfile: Option<&Path>) -> Result<Option<Report>> {
    let collected = collect(cx, &Mutex::new(Memo::default()));
    let Some(dir) = textfile else {
        let format = if openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        };
        print!("{}", collected.render(format, None));
        let failed: Vec<String> = collected
            .failed()
            .map(|r| {
                let why = r.error.as_deref().unwrap_or_default();
                format!(
                    "{} ({why}; `cargo xtask {}` shows more)",
                    r.collector, r.command
                )
            })
            .collect();
        if !failed.is_empty() {
            bail!(
                "incomplete metrics: these collectors failed and their metrics are missing: {}",
                failed.join("; ")
            );
        }
        return Ok(None);
    };
    let dir = cx.cli_path(dir);
    if !dir.is_dir() {
        bail!(
            "--textfile {}: no such directory (give node_exporter's --collector.textfile.directory)",
            dir.display()
        );
    }
    let path = dir.join(TEXTFILE);
    // Readable by node_exporter, which usually runs as another user.
    files::write_atomic(
        &path,
        collected.render(Format::Text, None).as_bytes(),
        0o644,
    )?;
    let mut report = report_of(&collected, "metrics");
    report.summary("wrote", path.display().to_string());
    report.set("textfile", path.display().to_string());
    Ok(Some(report))
}

/// The report of a computation: how many series, and each collector that failed (the
/// metrics are then incomplete: exit 2).
fn report_of(collected: &Collected, command: &str) -> Report {
    let mut report = Report::new(command);
    let ok = collected.runs.iter().filter(|r| r.error.is_none()).count();
    report.summary("series", collected.series().to_string());
    report.summary(
        "collectors",
        format!("{ok} of {} complete", collected.runs.len()),
    );
    for r in collected.failed() {
        report.incomplete = true;
        report.push(Finding::new(
            codes::METRICS_COLLECTOR_FAILED,
            Severity::High,
            format!(
                "the {} metrics are missing (xtask_collector_success{{collector=\"{}\"}} 0): {}; `cargo xtask {}` shows more",
                r.collector,
                r.collector,
                r.error.as_deref().unwrap_or_default(),
                r.command
            ),
        ));
    }
    let runs: Vec<_> = collected
        .runs
        .iter()
        .map(|r| serde_json::json!({"collector": r.collector, "ok": r.error.is_none(), "seconds": r.took.as_secs_f64()}))
        .collect();
    report.set("series", collected.series());
    report.set("collectors", runs);
    report
}

/// Rules or dashboard: to FILE (atomically, with a report), or to standard output.
fn emit(
    cx: &Context,
    file: Option<PathBuf>,
    command: &str,
    text: &str,
    what: &str,
) -> Result<Option<Report>> {
    let Some(file) = file else {
        print!("{text}");
        return Ok(None);
    };
    let path = cx.cli_path(&file);
    files::write_output(&path, text.as_bytes())?;
    let mut report = Report::new(command);
    report.summary("wrote", format!("{what} to {}", path.display()));
    report.set("path", path.display().to_string());
    Ok(Some(report))
}
