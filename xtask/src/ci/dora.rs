//! `ci dora`: the four DORA metrics of an environment from its deployment ledger and git,
//! with the performance tier of each by the 2023 State of DevOps report.

use anyhow::{Result, bail};
use serde::Serialize;
use xshell::cmd;

use super::model::{Secs, Window, parse_time, percentile, rfc3339};
use crate::context::Context;
use crate::deploy::ledger::{Action, Entry, Ledger, Outcome};
use crate::util::sh;

/// The performance levels of the 2023 Accelerate State of DevOps report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Elite,
    High,
    Medium,
    Low,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Elite => "elite",
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        }
    }

    /// On demand (at least daily on average) / daily to weekly / weekly to monthly / less.
    pub fn of_frequency(per_week: f64) -> Tier {
        if per_week >= 7.0 {
            Tier::Elite
        } else if per_week >= 1.0 {
            Tier::High
        } else if per_week >= 12.0 / 52.0 {
            Tier::Medium
        } else {
            Tier::Low
        }
    }

    /// Under a day / a day to a week / a week to a month (30 days) / longer.
    pub fn of_lead_time(hours: f64) -> Tier {
        Tier::by_hours(hours, 24.0, 168.0, 720.0)
    }

    /// 5% / 10% / 15% / above.
    pub fn of_change_failure_rate(rate: f64) -> Tier {
        if rate <= 0.05 {
            Tier::Elite
        } else if rate <= 0.10 {
            Tier::High
        } else if rate <= 0.15 {
            Tier::Medium
        } else {
            Tier::Low
        }
    }

    /// Under an hour / under a day / a day to a week / longer.
    pub fn of_restore(hours: f64) -> Tier {
        Tier::by_hours(hours, 1.0, 24.0, 168.0)
    }

    fn by_hours(h: f64, elite: f64, high: f64, medium: f64) -> Tier {
        if h < elite {
            Tier::Elite
        } else if h < high {
            Tier::High
        } else if h <= medium {
            Tier::Medium
        } else {
            Tier::Low
        }
    }
}

/// What each figure means: printed with the report, stated in README.md.
pub const DEFINITIONS: &[(&str, &str)] = &[
    (
        "deployments",
        "deploy entries of the ledger started in the window that brought a version up: succeeded, failed, rolled back, or interrupted after `compose up` (rollbacks are not deployments; aborted means nothing was deployed)",
    ),
    (
        "deployment_frequency_per_week",
        "deployments / (window length in weeks); tier: elite at least 7 a week (on demand), high at least 1, medium at least one a month (12/52), low below",
    ),
    (
        "lead_time_p50_hours",
        "for every commit a succeeded deploy brought (`git rev-list <previous succeeded deploy's commit>..<its commit>`): deploy end − committer time; the median over commits; tier: elite under 24 h, high under a week, medium up to 30 days, low beyond",
    ),
    (
        "change_failure_rate",
        "deployments that failed, were rolled back (automatically), were interrupted, or that a later succeeded rollback undid, over deployments; tier: elite ≤ 5%, high ≤ 10%, medium ≤ 15%, low above",
    ),
    (
        "time_to_restore_p50_hours",
        "from the start of a failed deploy to the end of the entry that restored service: a rolled-back deploy's own end, else the next succeeded rollback or deploy; the median; tier: elite under 1 h, high under a day, medium up to a week, low beyond",
    ),
];

/// One deployment of the window.
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    pub time: String,
    pub version: String,
    pub outcome: &'static str,
    pub commit: Option<String>,
    /// Failed, rolled back, interrupted, or undone by a later rollback.
    pub change_failure: bool,
    /// Hours until service was restored (failed and rolled-back deploys).
    pub restored_after_hours: Option<f64>,
    /// Commits it brought (succeeded deploys with a baseline).
    pub commits: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dora {
    pub environment: String,
    pub ledger: String,
    pub since: String,
    pub now: String,
    pub deployments: u64,
    pub deployment_frequency_per_week: f64,
    pub deployment_frequency_tier: Tier,
    pub lead_time_p50_hours: Option<f64>,
    pub lead_time_tier: Option<Tier>,
    pub lead_time_commits: u64,
    pub change_failures: u64,
    pub change_failure_rate: Option<f64>,
    pub change_failure_tier: Option<Tier>,
    pub restores: u64,
    pub time_to_restore_p50_hours: Option<f64>,
    pub time_to_restore_tier: Option<Tier>,
    pub deploys: Vec<Deployment>,
    /// Things left out, each with why.
    pub notes: Vec<String>,
    /// Inputs that could not be read: the figures they feed are incomplete.
    pub problems: Vec<String>,
    #[serde(skip)]
    pub window: Window,
    /// Ledger lines that are not entries: line, torn, why.
    #[serde(skip)]
    pub bad_lines: Vec<(usize, bool, String)>,
}

impl Dora {
    /// No deployment yet: the figures `finish` fills in.
    fn empty(cx: &Context, env: &str, window: Window, ledger: &Ledger) -> Dora {
        Dora {
            environment: env.to_string(),
            ledger: cx.rel(&ledger.path),
            since: rfc3339(window.since),
            now: rfc3339(window.now),
            deployments: 0,
            deployment_frequency_per_week: 0.0,
            deployment_frequency_tier: Tier::Low,
            lead_time_p50_hours: None,
            lead_time_tier: None,
            lead_time_commits: 0,
            change_failures: 0,
            change_failure_rate: None,
            change_failure_tier: None,
            restores: 0,
            time_to_restore_p50_hours: None,
            time_to_restore_tier: None,
            deploys: Vec::new(),
            notes: Vec::new(),
            problems: Vec::new(),
            window,
            bad_lines: ledger
                .bad
                .iter()
                .map(|b| (b.line, b.torn, b.error.clone()))
                .collect(),
        }
    }
}

/// An entry's start and end times.
struct Times {
    start: Secs,
    end: Option<Secs>,
}

fn times(e: &Entry) -> Option<Times> {
    Some(Times {
        start: parse_time(&e.time)?,
        end: e.finished.as_deref().and_then(parse_time),
    })
}

/// Whether a deploy entry brought a version up, and whether that was a change failure by
/// its own outcome.
fn deployed(e: &Entry) -> Option<bool> {
    if e.action != Action::Deploy {
        return None;
    }
    match e.outcome {
        Outcome::Succeeded => Some(false),
        Outcome::Failed | Outcome::RolledBack => Some(true),
        Outcome::Interrupted if e.brought_up.is_some() => Some(true),
        Outcome::Interrupted | Outcome::Aborted | Outcome::Started => None,
    }
}

pub fn compute(cx: &Context, env: &str, window: Window) -> Result<Dora> {
    if env.is_empty()
        || !env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("environment `{env}`: use letters, digits, `-` and `_` only");
    }
    let ledger = Ledger::read(cx, env)?;
    if !ledger.path.exists() {
        bail!(
            "no deployment ledger for `{env}` ({}): deploy with `cargo xtask deploy {env} VERSION`, or pass --env",
            cx.rel(&ledger.path)
        );
    }
    let mut d = Dora::empty(cx, env, window, &ledger);
    let entries = &ledger.entries;
    let mut all_times = Vec::with_capacity(entries.len());
    for (e, line) in entries.iter().zip(&ledger.lines) {
        match times(e) {
            Some(t) => all_times.push(Some(t)),
            None => {
                d.problems.push(format!(
                    "{} line {line}: time `{}` is not an RFC 3339 time",
                    d.ledger,
                    e.time.escape_debug()
                ));
                all_times.push(None);
            }
        }
    }
    let undone = undone_by_rollback(entries);
    let mut restore_hours = Vec::new();
    let mut lead_hours = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let Some(t) = &all_times[i] else { continue };
        if !window.contains(t.start) {
            continue;
        }
        if e.outcome == Outcome::Started {
            d.notes.push(format!(
                "the {} of {} started {} has no outcome yet (in progress, or cut off): not counted",
                e.action.as_str(),
                e.version,
                e.time
            ));
            continue;
        }
        let Some(failed) = deployed(e) else { continue };
        let change_failure = failed || undone[i];
        let restored = if failed {
            restored_after(entries, &all_times, i, &mut d.notes)
        } else {
            None
        };
        let commits = if e.outcome == Outcome::Succeeded {
            lead_times(cx, entries, i, t, &mut lead_hours, &mut d)
        } else {
            None
        };
        if let Some(h) = restored {
            restore_hours.push(h);
        }
        d.deploys.push(Deployment {
            time: e.time.clone(),
            version: e.version.clone(),
            outcome: e.outcome.as_str(),
            commit: e.commit.clone(),
            change_failure,
            restored_after_hours: restored,
            commits,
        });
    }
    finish(&mut d, lead_hours, restore_hours);
    Ok(d)
}

/// The figures and tiers from the deployments, lead times and restore times.
fn finish(d: &mut Dora, mut lead: Vec<f64>, mut restore: Vec<f64>) {
    d.deployments = d.deploys.len() as u64;
    d.deployment_frequency_per_week = d.deployments as f64 / (d.window.len() as f64 / 604_800.0);
    d.deployment_frequency_tier = Tier::of_frequency(d.deployment_frequency_per_week);
    d.change_failures = d.deploys.iter().filter(|x| x.change_failure).count() as u64;
    d.change_failure_rate =
        (d.deployments > 0).then(|| d.change_failures as f64 / d.deployments as f64);
    d.change_failure_tier = d.change_failure_rate.map(Tier::of_change_failure_rate);
    lead.sort_by(f64::total_cmp);
    d.lead_time_commits = lead.len() as u64;
    d.lead_time_p50_hours = percentile(&lead, 50.0);
    d.lead_time_tier = d.lead_time_p50_hours.map(Tier::of_lead_time);
    restore.sort_by(f64::total_cmp);
    d.restores = restore.len() as u64;
    d.time_to_restore_p50_hours = percentile(&restore, 50.0);
    d.time_to_restore_tier = d.time_to_restore_p50_hours.map(Tier::of_restore);
}

/// Succeeded deploys that a later succeeded rollback undid: the rollback left the version
/// that deploy brought (`previous`), and no other version came up in between.
fn undone_by_rollback(entries: &[Entry]) -> Vec<bool> {
    let mut undone = vec![false; entries.len()];
    let mut running: Option<usize> = None;
    for (i, e) in entries.iter().enumerate() {
        match (e.action, e.outcome) {
            (Action::Deploy, Outcome::Succeeded) => running = Some(i),
            (Action::Deploy, Outcome::RolledBack | Outcome::Aborted | Outcome::Started) => {}
            (Action::Rollback, Outcome::Succeeded) => {
                if let Some(r) = running
                    && e.previous.as_deref() == Some(entries[r].version.as_str())
                {
                    undone[r] = true;
                }
                running = None;
            }
            (Action::Rollback, Outcome::Aborted | Outcome::Started) => {}
            _ => running = None,
        }
    }
    undone
}

/// Hours from the start of the failed deploy at `i` to the end of the entry that restored
/// service: its own end when rolled back, else the next succeeded rollback or deploy.
fn restored_after(
    entries: &[Entry],
    times: &[Option<Times>],
    i: usize,
    notes: &mut Vec<String>,
) -> Option<f64> {
    let e = &entries[i];
    let start = times[i].as_ref()?.start;
    let end = if e.outcome == Outcome::RolledBack {
        match times[i].as_ref()?.end {
            Some(end) => end,
            None => {
                notes.push(format!(
                    "the rolled-back deploy of {} at {} has no end time (a ledger written before `finished` was recorded): its time to restore is unknown",
                    e.version, e.time
                ));
                return None;
            }
        }
    } else {
        let next = (i + 1..entries.len())
            .find(|&k| entries[k].outcome == Outcome::Succeeded && times[k].is_some());
        match next {
            Some(k) => {
                let t = times[k].as_ref()?;
                t.end.unwrap_or(t.start)
            }
            None => {
                notes.push(format!(
                    "the deploy of {} at {} ({}) is not restored yet: not in the time to restore",
                    e.version,
                    e.time,
                    e.outcome.as_str()
                ));
                return None;
            }
        }
    };
    Some((end - start) as f64 / 3600.0)
}

/// Lead times of the commits the succeeded deploy at `i` brought; how many there were.
fn lead_times(
    cx: &Context,
    entries: &[Entry],
    i: usize,
    t: &Times,
    out: &mut Vec<f64>,
    d: &mut Dora,
) -> Option<u64> {
    let e = &entries[i];
    let Some(commit) = &e.commit else {
        d.notes.push(format!(
            "the deploy of {} at {} records no commit: its lead time is unknown",
            e.version, e.time
        ));
        return None;
    };
    let previous = entries[..i]
        .iter()
        .rev()
        .find(|p| p.action == Action::Deploy && p.outcome == Outcome::Succeeded)
        .and_then(|p| p.commit.clone());
    let Some(previous) = previous else {
        d.notes.push(format!(
            "the deploy of {} at {} is the first succeeded deploy with a commit: there is no earlier one to count its commits from",
            e.version, e.time
        ));
        return None;
    };
    let at = t.end.unwrap_or(t.start);
    match commit_times(cx, &previous, commit) {
        Ok(times) => {
            out.extend(times.iter().map(|c| (at - c) as f64 / 3600.0));
            Some(times.len() as u64)
        }
        Err(err) => {
            d.problems.push(format!(
                "lead time of the deploy of {} at {}: {err:#}",
                e.version, e.time
            ));
            None
        }
    }
}

/// Committer times of `git rev-list from..to`.
fn commit_times(cx: &Context, from: &str, to: &str) -> Result<Vec<Secs>> {
    for c in [from, to] {
        if !(7..=64).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("`{}` is not a commit id", c.escape_debug());
        }
    }
    let sh = sh::shell(&cx.root)?;
    let range = format!("{from}..{to}");
    let out = sh::stdout(cmd!(sh, "git log --format=%ct {range} --")).map_err(|e| {
        e.context(format!(
            "git cannot list {range} in {} (is it the deployed repository, with full history? `git fetch --unshallow`)",
            cx.root.display()
        ))
    })?;
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<Secs>()
                .map_err(|_| anyhow::anyhow!("git printed `{l}` for a committer time"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_2023_report() {
        assert_eq!(Tier::of_frequency(10.0), Tier::Elite);
        assert_eq!(Tier::of_frequency(7.0), Tier::Elite);
        assert_eq!(Tier::of_frequency(2.0), Tier::High);
        assert_eq!(Tier::of_frequency(0.5), Tier::Medium);
        assert_eq!(Tier::of_frequency(0.1), Tier::Low);
        assert_eq!(Tier::of_lead_time(3.0), Tier::Elite);
        assert_eq!(Tier::of_lead_time(48.0), Tier::High);
        assert_eq!(Tier::of_lead_time(300.0), Tier::Medium);
        assert_eq!(Tier::of_lead_time(2000.0), Tier::Low);
        assert_eq!(Tier::of_change_failure_rate(0.05), Tier::Elite);
        assert_eq!(Tier::of_change_failure_rate(0.1), Tier::High);
        assert_eq!(Tier::of_change_failure_rate(0.15), Tier::Medium);
        assert_eq!(Tier::of_change_failure_rate(0.64), Tier::Low);
        assert_eq!(Tier::of_restore(0.5), Tier::Elite);
        assert_eq!(Tier::of_restore(5.0), Tier::High);
        assert_eq!(Tier::of_restore(72.0), Tier::Medium);
        assert_eq!(Tier::of_restore(1000.0), Tier::Low);
    }
}
