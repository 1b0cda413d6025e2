//! Running the collectors: each one reads the toolkit's state (or runs a command in-process,
//! offline) into metric families. They run side by side; one that fails or panics loses
//! only its own metrics, and says so: `xtask_collector_success{collector} 0`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::catalog;
use super::exposition::{Family, Format, render};
use super::{backups, ci, deploys, deps, secrets};
use crate::context::Context;

/// What stays valid between computations of `metrics serve`: the verdicts of full backup
/// verifications, by file, size and modification time (a backup is never changed in place).
#[derive(Debug, Default)]
pub struct Memo {
    pub verified: HashMap<(PathBuf, u64, Option<SystemTime>), bool>,
}

/// A collector: the families it computed at `now`, or why it could not.
pub type Collector = fn(&Context, DateTime<Utc>, &Mutex<Memo>) -> Result<Vec<Family>>;

/// Every collector with its name (the `collector` label) and the command that shows the
/// same facts with their reasons.
pub const COLLECTORS: &[(&str, &str, Collector)] = &[
    ("backup", "backup verify", backups::backups),
    ("checklist", "checklist daily", backups::checklists),
    ("deploy", "releases ENV", deploys::deploys),
    ("audit", "audit", deps::audit),
    ("outdated", "outdated --offline", deps::outdated),
    ("secrets", "secrets check", secrets::secrets),
    ("ci", "ci stats", ci::ci),
    ("dora", "ci dora", ci::dora),
];

/// How one collector ran.
#[derive(Debug)]
pub struct Run {
    pub collector: &'static str,
    /// The command that shows the same facts (after `cargo xtask`).
    pub command: &'static str,
    pub error: Option<String>,
    pub took: Duration,
}

/// One computation: every family, how each collector ran, and when.
#[derive(Debug)]
pub struct Collected {
    pub families: Vec<Family>,
    pub runs: Vec<Run>,
    pub at: DateTime<Utc>,
}

/// Run every collector, side by side.
pub fn collect(cx: &Context, memo: &Mutex<Memo>) -> Collected {
    let at = Utc::now();
    let results: Vec<(Result<Vec<Family>>, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = COLLECTORS
            .iter()
            .map(|(_, _, f)| {
                s.spawn(move || {
                    let t = Instant::now();
                    (f(cx, at, memo), t.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    let e = anyhow::anyhow!("the collector panicked (a defect: please report it)");
                    (Err(e), Duration::ZERO)
                })
            })
            .collect()
    });
    let mut families = Vec::new();
    let mut runs = Vec::new();
    for ((collector, command, _), (result, took)) in COLLECTORS.iter().zip(results) {
        let error = match result {
            Ok(f) => {
                families.extend(f);
                None
            }
            Err(e) => Some(format!("{e:#}")),
        };
        runs.push(Run {
            collector,
            command,
            error,
            took,
        });
    }
    Collected { families, runs, at }
}

impl Collected {
    pub fn failed(&self) -> impl Iterator<Item = &Run> {
        self.runs.iter().filter(|r| r.error.is_some())
    }

    /// The metrics of the exposition itself: collector health, when, which version; and
    /// with `cache_age` (`metrics serve`) how old the computation is.
    fn own(&self, cache_age: Option<Duration>) -> Vec<Family> {
        let mut success = Family::new(&catalog::COLLECTOR_SUCCESS);
        let mut took = Family::new(&catalog::COLLECTOR_DURATION);
        for r in &self.runs {
            success.push(&[r.collector], f64::from(u8::from(r.error.is_none())));
            took.push(&[r.collector], r.took.as_secs_f64());
        }
        let at = self.at.timestamp_millis() as f64 / 1000.0;
        let mut own = vec![success, took, Family::single(&catalog::GENERATED, at)];
        if let Some(age) = cache_age {
            own.push(Family::single(&catalog::CACHE_AGE, age.as_secs_f64()));
        }
        let mut build = Family::new(&catalog::BUILD_INFO);
        build.push(&[env!("CARGO_PKG_VERSION")], 1.0);
        own.push(build);
        own
    }

    /// The whole exposition in `format`.
    pub fn render(&self, format: Format, cache_age: Option<Duration>) -> String {
        let own = self.own(cache_age);
        render(self.families.iter().chain(&own), format)
    }

    /// How many samples the exposition has.
    pub fn series(&self) -> usize {
        let own = self.own(None);
        self.families
            .iter()
            .chain(&own)
            .map(|f| f.samples.len())
            .sum()
    }
}
