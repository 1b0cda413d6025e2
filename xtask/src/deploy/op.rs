//! One deploy or rollback as the ledger records it: a `started` line first, a line before
//! and after each `compose up`, and the outcome last, so that a run cut off at any point
//! leaves a trace; and what the next run does with an entry left `started`.

use anyhow::Result;
use xshell::cmd;

use super::compose::Target;
use super::ledger::{self, Action, Check, Entry, Ledger, Outcome};
use crate::context::Context;
use crate::report::{Finding, Report, Severity, codes};
use crate::util::sh;

/// A deploy or rollback in progress, and its ledger entry.
pub struct Op<'a> {
    ledger: &'a Ledger,
    pub e: Entry,
    finished: bool,
}

fn git_commit(cx: &Context) -> Option<String> {
    let sh = sh::shell(&cx.root).ok()?;
    cmd!(sh, "git rev-parse HEAD")
        .quiet()
        .ignore_stderr()
        .read()
        .ok()
        .map(|s| s.trim().to_string())
}

impl<'a> Op<'a> {
    /// Write the `started` line: from here on, however the run ends, the ledger shows it.
    pub fn start(
        cx: &Context,
        env: &str,
        ledger: &'a Ledger,
        action: Action,
        version: &str,
        previous: Option<&str>,
    ) -> Result<Op<'a>> {
        let now = chrono::Utc::now();
        let e = Entry {
            id: Some(format!(
                "{}-{}",
                now.format("%Y%m%dT%H%M%S%.3fZ"),
                std::process::id()
            )),
            time: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            actor: crate::context::actor(),
            environment: env.into(),
            action,
            version: version.into(),
            previous: previous.map(Into::into),
            commit: git_commit(cx),
            outcome: Outcome::Started,
            rolled_back_to: None,
            checks: Vec::new(),
            db_backup: None,
            brought_up: None,
            finished: None,
        };
        ledger.append(&e)?;
        Ok(Op {
            ledger,
            e,
            finished: false,
        })
    }

    /// `compose up` of `version` (the ledger says so before and after), then the health
    /// gate and the smoke checks; their results go into the entry, names after `prefix`.
    pub fn bring_up(&mut self, t: &Target<'_>, version: &str, prefix: &str) -> Result<bool> {
        self.e.brought_up = Some(version.into());
        self.ledger.append(&self.e)?;
        let up = t.up(version);
        let ok = up.ok;
        self.push(prefix, vec![up]);
        self.ledger.append(&self.e)?;
        if !ok {
            return Ok(false);
        }
        let mut checks = Vec::new();
        let ok = t.gate(version, &mut checks);
        self.push(prefix, checks);
        Ok(ok)
    }

    /// The ledger the entry is written to (as read before the run started).
    pub fn ledger(&self) -> &'a Ledger {
        self.ledger
    }

    fn push(&mut self, prefix: &str, checks: Vec<Check>) {
        self.e.checks.extend(checks.into_iter().map(|c| Check {
            name: format!("{prefix}{}", c.name),
            ..c
        }));
    }

    /// Write the outcome line.
    pub fn finish(&mut self, outcome: Outcome) -> Result<()> {
        self.e.outcome = outcome;
        self.e.finished =
            Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        if outcome != Outcome::Interrupted {
            self.e.brought_up = None;
        }
        self.finished = true;
        self.ledger.append(&self.e)
    }

    /// Stopped by `signal`: the outcome line, and a finding saying what may be running.
    pub fn interrupted(&mut self, report: &mut Report, signal: &str) -> Result<()> {
        let during = self
            .e
            .checks
            .last()
            .map_or("its preparation".to_string(), |c| format!("`{}`", c.name));
        self.e.checks.push(Check {
            name: "interrupted".into(),
            ok: false,
            detail: format!("by {signal}"),
        });
        self.finish(Outcome::Interrupted)?;
        report.push(Finding::new(
            codes::DEPLOY_INTERRUPTED,
            Severity::High,
            format!(
                "the {} of {} on {} was interrupted by {signal} after {during}: {}",
                self.e.action.as_str(),
                self.e.version,
                self.e.environment,
                what_runs(&self.e)
            ),
        ));
        report.incomplete = true;
        Ok(())
    }

    /// An error ended the run: the entry still gets an outcome (nothing brought up: aborted;
    /// else interrupted, what it brought up may run), then the error goes on.
    pub fn close(&mut self, result: Result<()>) -> Result<()> {
        let Err(error) = result else { return Ok(()) };
        if !self.finished {
            self.e.checks.push(Check {
                name: "error".into(),
                ok: false,
                detail: format!("{error:#}"),
            });
            let outcome = match self.e.brought_up {
                None => Outcome::Aborted,
                Some(_) => Outcome::Interrupted,
            };
            if let Err(e) = self.finish(outcome) {
                eprintln!("warning: the ledger entry could not be completed: {e:#}");
            }
        }
        Err(error)
    }
}

/// What an entry that did not finish may have left running, and what to do about it.
fn what_runs(e: &Entry) -> String {
    match (&e.brought_up, &e.previous) {
        (Some(v), _) => format!(
            "{v} was brought up and may be running unverified: check it, then `cargo xtask rollback {}` or deploy again",
            e.environment
        ),
        (None, Some(p)) => format!("nothing was brought up; {p} still runs"),
        (None, None) => "nothing was brought up".to_string(),
    }
}

/// Entries a run that was cut off left `started`: each is reported. With the environment's
/// lock held (`close`), each is also completed as `interrupted`, in the ledger and in the
/// audit log. Without it, the newest may belong to a run in progress: that one is shown.
pub fn unfinished(
    cx: &Context,
    env: &str,
    ledger: &Ledger,
    report: &mut Report,
    close: bool,
) -> Result<()> {
    let newest = ledger.lines.last().copied();
    for (line, e) in ledger.unfinished() {
        if !close && Some(line) == newest && ledger::in_progress(cx, env) {
            report.summary(
                "in progress",
                format!(
                    "{} of {} since {} by {}",
                    e.action.as_str(),
                    e.version,
                    e.time,
                    e.actor
                ),
            );
            continue;
        }
        let what = format!(
            "the {} of {} started {} by {}",
            e.action.as_str(),
            e.version,
            e.time,
            e.actor
        );
        let recorded = if close {
            let mut done = e.clone();
            done.outcome = Outcome::Interrupted;
            done.checks.push(Check {
                name: "interrupted".into(),
                ok: false,
                detail: "the run ended before it wrote its outcome (killed or crashed); found by the next run".into(),
            });
            ledger.append(&done)?;
            crate::audit_log::append(
                cx,
                &format!(
                    "{} {env} {} (started {} by {}, ledger line {line})",
                    e.action.as_str(),
                    e.version,
                    e.time,
                    e.actor
                ),
                "interrupted: it ended before writing its outcome (found by the next run)",
            );
            ", now recorded as interrupted"
        } else {
            ""
        };
        report.push(
            Finding::new(
                codes::DEPLOY_INTERRUPTED,
                Severity::Medium,
                format!(
                    "{what} never finished (killed or crashed){recorded}: {}",
                    what_runs(e)
                ),
            )
            .at_line(ledger.path.display().to_string(), line),
        );
    }
    Ok(())
}
