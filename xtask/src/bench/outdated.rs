//! `bench outdated`: `outdated --all` against cargo-outdated on a real workspace, cold and
//! warm.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use xshell::cmd;

use super::{median, real_lockfile};
use crate::report::{Report, Table};
use crate::util::sh;

pub(super) fn outdated(dir: &Path, runs: usize, no_anchor: bool) -> Result<Report> {
    let project = dir.join("real");
    real_lockfile(&project, "")?;
    let sh = sh::shell(&project)?;
    // Make sure cargo's own caches (crate manifests for `cargo metadata`) are filled first.
    cmd!(sh, "cargo metadata --format-version 1 --quiet")
        .quiet()
        .ignore_stdout()
        .run()?;
    let (cold, warm, latest) = measure_ours(&sh, &project, &dir.join("outdated-http-cache"), runs)?;
    let n = latest.len();
    let mut report = Report::new("bench outdated");
    let mut t = Table::new("outdated vs cargo-outdated", &["tool", "case", "wall"]);
    t.row(vec![
        "cargo xtask outdated --all".into(),
        "cold (empty HTTP cache)".into(),
        format!("{:.2} s", cold.as_secs_f64()),
    ]);
    t.row(vec![
        "cargo xtask outdated --all".into(),
        "warm".into(),
        format!("{:.2} s", warm.as_secs_f64()),
    ]);
    report.summary("workspace", format!("{} ({n} crates)", project.display()));
    if !no_anchor {
        versus_cargo_outdated(&sh, (cold, warm), &latest, &mut report, &mut t)?;
    }
    report.tables.push(t);
    Ok(report)
}

/// Our `outdated --all`, cold (empty HTTP cache) and warm, `runs` times each: the medians,
/// and the latest version of each crates.io package from the last cold run.
fn measure_ours(
    sh: &xshell::Shell,
    project: &Path,
    cache: &Path,
    runs: usize,
) -> Result<(Duration, Duration, BTreeMap<String, String>)> {
    let exe = std::env::current_exe()?;
    let run_ours = |clear: bool| -> Result<(Duration, String)> {
        if clear {
            let _ = fs::remove_dir_all(cache);
        }
        let t = Instant::now();
        let out = cmd!(sh, "{exe} --root {project} --format json outdated --all")
            .env("XTASK_HTTP_CACHE", cache)
            .quiet()
            .ignore_status()
            .read()?;
        Ok((t.elapsed(), out))
    };
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut ours_json = String::new();
    for _ in 0..runs {
        let (t, out) = run_ours(true)?;
        cold.push(t);
        ours_json = out;
        warm.push(run_ours(false)?.0);
    }
    let ours: serde_json::Value = serde_json::from_str(&ours_json)?;
    let latest: BTreeMap<String, String> = ours["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["ecosystem"] == "crates.io")
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_string(),
                p["latest"].as_str()?.to_string(),
            ))
        })
        .collect();
    Ok((median(cold), median(warm), latest))
}

/// cargo-outdated once (it takes minutes): its row, the speed-up, and whether the latest
/// versions of direct dependencies agree with ours.
fn versus_cargo_outdated(
    sh: &xshell::Shell,
    (cold, warm): (Duration, Duration),
    latest: &BTreeMap<String, String>,
    report: &mut Report,
    t: &mut Table,
) -> Result<()> {
    let t0 = Instant::now();
    let co = cmd!(sh, "cargo outdated --format json")
        .quiet()
        .ignore_status()
        .ignore_stderr()
        .read()?;
    let co_t = t0.elapsed();
    t.row(vec![
        "cargo outdated".into(),
        "(its caches as they are)".into(),
        format!("{:.1} s", co_t.as_secs_f64()),
    ]);
    let v: serde_json::Value = serde_json::from_str(&co).context("cargo outdated --format json")?;
    let (mut agree, mut differ) = (0, Vec::new());
    for d in v["dependencies"].as_array().into_iter().flatten() {
        let (Some(name), Some(l)) = (d["name"].as_str(), d["latest"].as_str()) else {
            continue;
        };
        if name.contains("->") || l == "---" || l == "Removed" {
            continue; // transitive rows: cargo-outdated reports what the upgraded tree would pull in
        }
        if latest.get(name).map(String::as_str) == Some(l) {
            agree += 1;
        } else {
            differ.push(format!("{name}: {l} vs {:?}", latest.get(name)));
        }
    }
    report.summary(
        "speed",
        format!(
            "{:.0}x faster cold, {:.0}x warm",
            co_t.as_secs_f64() / cold.as_secs_f64(),
            co_t.as_secs_f64() / warm.as_secs_f64()
        ),
    );
    report.summary(
        "latest (direct dependencies)",
        if differ.is_empty() {
            format!("identical for all {agree}")
        } else {
            format!("{agree} agree, differ: {differ:?}")
        },
    );
    Ok(())
}
