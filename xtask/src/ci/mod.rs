//! `ci fetch|stats|dora|report`: the runbook's pipeline and delivery metrics ("Key Metrics
//! to Monitor") from GitHub Actions exports, the deployment ledger and git.
//!
//! Modules, each using only those before it: `model` (runs, jobs, steps, time), `load`
//! (exports → merged runs), `stats` (build metrics), `dora` (delivery metrics), `fetch`
//! (GitHub API → exports), `html` (the report page), `present` (results → reports).
//! `alerts` builds on this module; `ci report` gets the alert list from the function
//! `main` hands it, so that neither module imports the other both ways.

pub mod dora;
pub mod fetch;
pub mod html;
pub mod load;
pub mod model;
pub mod present;
mod raw;
mod scan;
pub mod stats;

use anyhow::Result;

use crate::cli::{CiCmd, CiInputs, CiWindow};
use crate::context::Context;
use crate::report::{Code, Report, Severity};
use model::{Exports, Secs};

/// One line of the alert list of `ci report`.
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub code: Code,
    pub severity: Severity,
    pub action: &'static str,
    pub message: String,
}

/// Evaluates the alert rules for the report page (`alerts::for_report`).
pub type AlertsFn = fn(&Context, &Exports, Secs) -> Result<Vec<AlertRow>>;

/// Why `ci stats` (and the alerts that read CI runs) have nothing to look at here, or None:
/// the export folder holds exports (for `checklist`).
pub fn nothing_to_check(cx: &Context) -> anyhow::Result<Option<String>> {
    let dir = load::exports_dir(cx);
    let any = !load::json_files(&dir)?.is_empty();
    Ok((!any).then(|| {
        format!(
            "no GitHub Actions exports in {}: `cargo xtask ci fetch --repo OWNER/NAME` fills it",
            cx.rel(&dir)
        )
    }))
}

pub fn run(cx: &Context, command: CiCmd, alerts: AlertsFn) -> Result<Report> {
    match command {
        CiCmd::Fetch {
            repo,
            since,
            no_jobs,
        } => {
            let repo = match repo.or_else(|| cx.config.ci.repo.clone()) {
                Some(r) => r,
                None => anyhow::bail!(
                    "ci fetch: which repository? pass --repo OWNER/NAME or set ci.repo in maintenance.toml"
                ),
            };
            let opts = fetch::Options {
                repo,
                since,
                jobs: !no_jobs,
                now: model::clock(None)?,
            };
            Ok(present::fetch(&fetch::fetch(cx, &opts)?))
        }
        CiCmd::Stats { inputs, window } => {
            let (x, s) = stats_of(cx, &inputs, &window)?;
            Ok(present::stats(&cx.config, &x, &s))
        }
        CiCmd::Dora { env, window } => {
            let now = model::clock(window.now.as_deref())?;
            let w = model::window(window.since.as_deref(), now, cx.config.ci.dora_window)?;
            let env = env.unwrap_or_else(|| cx.config.ci.environment.clone());
            Ok(present::dora(&dora::compute(cx, &env, w)?))
        }
        CiCmd::Report {
            html,
            inputs,
            window,
            env,
        } => report(cx, &html, &inputs, &window, env, alerts),
    }
}

/// Load the exports and compute the stats of the window.
fn stats_of(cx: &Context, inputs: &CiInputs, window: &CiWindow) -> Result<(Exports, stats::Stats)> {
    let now = model::clock(window.now.as_deref())?;
    let w = model::window(window.since.as_deref(), now, cx.config.ci.window)?;
    let x = load::load(cx, &inputs.runs, &inputs.jobs)?;
    let s = stats_over(cx, &x, w);
    Ok((x, s))
}

/// The stats of `window` with the configured options (`ci stats`, `metrics`).
pub fn stats_over(cx: &Context, x: &Exports, window: model::Window) -> stats::Stats {
    let opts = stats::Options {
        window,
        slowest: cx.config.ci.slowest,
        failure: &cx.config.alerts.build_failure_rate,
        trend: &cx.config.alerts.build_time_trend,
    };
    stats::compute(x, &opts)
}

/// `ci report --html FILE`: stats, DORA (over the same window) and alerts on one page.
fn report(
    cx: &Context,
    path: &std::path::Path,
    inputs: &CiInputs,
    window: &CiWindow,
    env: Option<String>,
    alerts: AlertsFn,
) -> Result<Report> {
    let (x, s) = stats_of(cx, inputs, window)?;
    let env = env.unwrap_or_else(|| cx.config.ci.environment.clone());
    let d = dora::compute(cx, &env, s.window);
    let rows = alerts(cx, &x, s.window.now);
    let title = cx.root.file_name().map_or("CI".into(), |n| {
        format!("CI report: {}", n.to_string_lossy())
    });
    let page = html::Page {
        title,
        generated: model::clock(None)?,
        exports: &x,
        stats: &s,
        dora: d.as_ref().map_err(|e| format!("{e:#}")),
        alerts: rows.as_deref().map_err(|e| format!("{e:#}")),
    };
    let (text, drawn) = html::render(&page);
    let out = cx.cli_path(path);
    crate::util::files::write_output(&out, text.as_bytes())?;
    let mut r = Report::new("ci report");
    r.summary("wrote", cx.rel(&out));
    r.summary("window", s.window.describe());
    let points: usize = drawn.duration_points.iter().map(|(_, n)| n).sum();
    r.summary(
        "plots",
        format!(
            "{} duration plot(s) with {points} point(s), {} success-rate bar(s), {} stage bar(s), {} slowest-step bar(s), {} queue bar(s), {} alert(s)",
            drawn.duration_points.len(),
            drawn.success_bars,
            drawn.stage_bars,
            drawn.step_bars,
            drawn.queue_bars,
            drawn.alerts
        ),
    );
    if let Err(e) = &d {
        r.summary("dora", format!("not shown: {e:#}"));
    }
    if let Err(e) = &rows {
        r.summary("alerts", format!("not shown: {e:#}"));
    }
    r.set("path", cx.rel(&out));
    r.set("drawn", &drawn);
    Ok(r)
}
