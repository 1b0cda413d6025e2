//! The commands a checklist item runs: what each stands for on the command line, whether it
//! has anything to look at, how it runs (in-process, read-only), and its key figure.

use anyhow::Result;

use crate::audit;
use crate::backup;
use crate::cli::{CoverageCmd, DepsCmd, TestsCmd};
use crate::config::{ChecklistItem, ChecklistTask as Task, InformationalKind};
use crate::context::Context;
use crate::deploy;
use crate::outdated;
use crate::report::{Report, Severity};

/// One command of an item, with the options the item gives it. Two equal steps of a run
/// are run once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub task: Task,
    /// The environment of `releases`; None when there is none (not configured).
    env: Option<String>,
    fail_on: Option<Severity>,
    deny: Vec<InformationalKind>,
}

/// The steps of an item: its commands in order, `releases` once per environment.
pub fn steps(cx: &Context, item: &ChecklistItem) -> Vec<Step> {
    let mut out = Vec::new();
    for &task in &item.run {
        let step = |env: Option<String>| Step {
            task,
            env,
            fail_on: item.fail_on.filter(|_| task.takes_fail_on()),
            deny: if task == Task::Audit {
                item.deny.clone()
            } else {
                Vec::new()
            },
        };
        let envs = &cx.config.deploy.environments;
        if task == Task::Releases && !envs.is_empty() {
            out.extend(envs.keys().map(|e| step(Some(e.clone()))));
        } else {
            out.push(step(None));
        }
    }
    out
}

impl Step {
    /// The command line it stands for.
    pub fn command(&self) -> String {
        let base = match self.task {
            Task::BackupVerify => "backup verify",
            Task::BackupVerifyAll => "backup verify --all",
            Task::RestoreDrill => "restore config|db latest --to (a scratch folder, removed after)",
            Task::Releases => "releases",
            Task::Audit => "audit",
            Task::Outdated => "outdated",
            Task::OutdatedAll => "outdated --all",
            Task::WorkflowsLint => "workflows lint",
            Task::SecretsCheck => "secrets check",
            Task::ScanConfigCheck => "scan-config check",
            Task::TestsReport => "tests report",
            Task::DepsLockCheck => "deps lock --check",
            Task::CoverageCheck => "coverage check",
            Task::Alerts => "alerts",
            Task::CiStats => "ci stats",
        };
        let mut s = format!("cargo xtask {base}");
        if self.task == Task::Releases {
            s.push(' ');
            s.push_str(self.env.as_deref().unwrap_or("ENV"));
        }
        if let Some(f) = self.fail_on {
            s.push_str(" --fail-on ");
            s.push_str(f.as_str());
        }
        if !self.deny.is_empty() {
            let kinds: Vec<String> = self
                .deny
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .map(|v| v.get_name().to_string())
                .collect();
            s.push_str(" --deny ");
            s.push_str(&kinds.join(","));
        }
        s
    }

    /// Why the command has nothing to look at here, or None: it runs.
    pub fn nothing_to_check(&self, cx: &Context) -> Result<Option<String>> {
        Ok(match self.task {
            Task::Releases if self.env.is_none() => {
                Some("no [deploy.environments.ENV] in maintenance.toml".into())
            }
            Task::TestsReport => crate::test_report::nothing_to_check(cx)?,
            Task::CoverageCheck => crate::coverage::nothing_to_check(cx)?,
            Task::DepsLockCheck => crate::deps_lock::nothing_to_check(cx)?,
            Task::WorkflowsLint => crate::workflows::nothing_to_check(cx)?,
            Task::SecretsCheck => crate::secrets::nothing_to_check(cx)?,
            Task::ScanConfigCheck => crate::scan_config::nothing_to_check(cx),
            Task::Alerts | Task::CiStats => crate::ci::nothing_to_check(cx)?,
            _ => None,
        })
    }

    /// Run it in-process, into its report.
    pub fn run(&self, cx: &Context) -> Result<Report> {
        let fail_on = self.fail_on;
        match self.task {
            Task::BackupVerify => backup::verify(cx, None, false),
            Task::BackupVerifyAll => backup::verify(cx, None, true),
            Task::RestoreDrill => super::drill::run(cx),
            Task::Releases => deploy::releases(cx, self.env.as_deref().unwrap_or_default()),
            Task::Audit => audit::run(
                cx,
                audit::Options {
                    paths: vec![],
                    db: vec![],
                    fail_on,
                    deny: self.deny.clone(),
                    allow_stale: false,
                },
            ),
            Task::Outdated | Task::OutdatedAll => outdated::run(
                cx,
                outdated::Options {
                    paths: vec![],
                    all: self.task == Task::OutdatedAll,
                    offline: false,
                    exit_code: None,
                },
            ),
            Task::WorkflowsLint => crate::workflows::run(
                cx,
                crate::workflows::Options {
                    paths: vec![],
                    fail_on,
                },
            ),
            Task::SecretsCheck => crate::secrets::check(
                cx,
                crate::secrets::Options {
                    github_secrets: None,
                    certs: vec![],
                    fail_on,
                },
            ),
            Task::ScanConfigCheck => crate::scan_config::run(cx, fail_on),
            Task::TestsReport => crate::test_report::run(cx, TestsCmd::Report { files: vec![] }),
            Task::DepsLockCheck => crate::deps_lock::run(
                cx,
                DepsCmd::Lock {
                    check: true,
                    upgrade: None,
                },
            ),
            Task::Alerts => crate::alerts::run(cx, false, None),
            Task::CiStats => crate::ci::run(
                cx,
                crate::cli::CiCmd::Stats {
                    inputs: crate::cli::CiInputs {
                        runs: vec![],
                        jobs: vec![],
                    },
                    window: crate::cli::CiWindow {
                        since: None,
                        now: None,
                    },
                },
                crate::alerts::for_report,
            ),
            Task::CoverageCheck => crate::coverage::run(
                cx,
                CoverageCmd::Check {
                    files: vec![],
                    min: None,
                    diff: None,
                },
            ),
        }
    }

    /// The key figure of its report: the line the command itself shows for it (only ever
    /// displayed, never decided on), and how many findings need attention.
    pub fn figure(&self, r: &Report) -> String {
        let line = |key: &str| {
            r.summary
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let joined = |skip: &[&str]| {
            let parts: Vec<String> = r
                .summary
                .iter()
                .filter(|(k, _)| !skip.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        };
        let rows = |title: &str| {
            r.tables
                .iter()
                .find(|t| t.title == title)
                .map(|t| t.rows.len())
        };
        let figure = match self.task {
            Task::BackupVerify | Task::BackupVerifyAll => {
                rows("Verification").map(|n| format!("{n} backup(s) verified"))
            }
            Task::RestoreDrill => joined(&[]),
            Task::Releases => line("current").map(|v| format!("current version {v}")),
            Task::Audit => line("result"),
            Task::Outdated | Task::OutdatedAll => line("packages").map(|v| format!("packages {v}")),
            Task::WorkflowsLint => line("files").map(|n| format!("{n} workflow file(s)")),
            Task::SecretsCheck => match (line("secrets"), line("certificates")) {
                (Some(s), Some(c)) => Some(format!("{s} secret(s), {c} certificate(s)")),
                _ => None,
            },
            Task::ScanConfigCheck => line("files").map(|n| format!("{n} file(s) of exceptions")),
            Task::TestsReport => line("tests").map(|v| format!("tests {v}")),
            Task::DepsLockCheck => line("compiler").map(|c| format!("compiler: {c}")),
            Task::CoverageCheck => joined(&["min"]),
            Task::Alerts => line("breaches").or_else(|| line("rules")),
            Task::CiStats => line("inputs"),
        };
        let failing = r.failing().count();
        let below = r.findings.len() - failing;
        let mut s = figure.unwrap_or_else(|| format!("{} finding(s)", r.findings.len()));
        if failing > 0 {
            s.push_str(&format!("; {failing} need attention"));
        }
        if below > 0 {
            s.push_str(&format!("; {below} more below the threshold"));
        }
        s
    }
}
