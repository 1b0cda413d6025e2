//! CI and DORA, from the `ci` module: completed runs of the GitHub Actions exports by
//! workflow and conclusion, each workflow's success ratio and duration quantiles over
//! `ci.window` (as `ci stats` computes them), and the DORA figures of `ci.environment` over
//! `ci.dora_window` (as `ci dora`). No exports, no ledger: nothing emitted, not an error.

use std::sync::Mutex;

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};

use super::catalog as m;
use super::collect::Memo;
use super::exposition::Family;
use crate::ci::{self, dora, load, model, stats};
use crate::context::Context;
use crate::deploy::ledger;

pub fn ci(cx: &Context, now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    if ci::nothing_to_check(cx)?.is_some() {
        return Ok(Vec::new());
    }
    let x = load::load(cx, &[], &[])?;
    let window = model::window(None, now.timestamp(), cx.config.ci.window)?;
    let s = ci::stats_over(cx, &x, window);
    let mut runs = Family::new(&m::CI_RUNS);
    for (workflow, conclusion, n) in stats::conclusions(&x) {
        runs.push(&[&workflow, conclusion], n as f64);
    }
    let mut ratio = Family::new(&m::CI_SUCCESS_RATIO);
    let mut duration = Family::new(&m::CI_DURATION);
    for w in &s.workflows {
        let f = &w.current;
        if let Some(r) = f.success_rate {
            ratio.push(&[&w.name], r);
        }
        for (p, v) in [("50", f.duration_p50_secs), ("95", f.duration_p95_secs)] {
            if let Some(v) = v {
                duration.push(&[&w.name, p], v);
            }
        }
    }
    Ok(vec![
        runs,
        ratio,
        duration,
        build_failure_ratio(cx, &x, now)?,
    ])
}

/// The runbook's `build_failure_rate` as a gauge, over the window `alerts` uses (computed
/// here: a counter of runs by their latest attempt goes down on a successful re-run, which
/// Prometheus would read as a reset). Absent when the rule is off or has too few runs.
fn build_failure_ratio(cx: &Context, x: &model::Exports, now: DateTime<Utc>) -> Result<Family> {
    let rule = &cx.config.alerts.build_failure_rate;
    let window = model::window(None, now.timestamp(), rule.window)?;
    let f = stats::finished_in(x, &window);
    let counted = f.counted();
    let mut ratio = Family::new(&m::CI_BUILD_FAILURE_RATIO);
    if rule.enabled && counted > 0 && counted >= rule.min_runs as u64 {
        ratio.push(&[], f.failed as f64 / counted as f64);
    }
    Ok(ratio)
}

pub fn dora(cx: &Context, now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    let env = &cx.config.ci.environment;
    if !ledger::dir(cx).join(format!("{env}.jsonl")).exists() {
        return Ok(Vec::new());
    }
    let window = model::window(None, now.timestamp(), cx.config.ci.dora_window)?;
    let d = dora::compute(cx, env, window)?;
    if !d.problems.is_empty() {
        bail!(
            "the DORA figures of `{env}` are incomplete: {}",
            d.problems.join("; ")
        );
    }
    let hours = |h: Option<f64>| h.map(|h| h * 3600.0);
    let figures = [
        (&m::DORA_DEPLOYMENTS, Some(d.deployment_frequency_per_week)),
        (&m::DORA_LEAD_TIME, hours(d.lead_time_p50_hours)),
        (&m::DORA_CHANGE_FAILURE, d.change_failure_rate),
        (&m::DORA_RESTORE, hours(d.time_to_restore_p50_hours)),
    ];
    Ok(figures
        .into_iter()
        .filter_map(|(def, v)| {
            let v = v?;
            let mut f = Family::new(def);
            f.push(&[env], v);
            Some(f)
        })
        .collect())
}
