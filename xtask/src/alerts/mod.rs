//! `alerts [--notify]`: the runbook's alert configuration as rules (`rules/`), evaluated
//! against the CI exports, the deployment ledgers, `audit` and `tests report`. Each breach
//! is a finding stating the figure, the threshold and the window.
//!
//! With `--notify`, every breach not yet sent goes to the targets that take its action
//! (`targets`), and `state.json` records which reached where, so none is sent twice. The
//! state is written before anything is sent and after each delivery: a failed delivery is
//! exit 2 and the breach stays in the state, to be sent by the next `--notify` even if its
//! condition has ended by then.

pub mod rules;
mod state;
mod targets;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::json;

use crate::ci::AlertRow;
use crate::ci::model::{self, Exports, Secs, rfc3339};
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::files;
use rules::{Breach, Inputs, RULES, Verdict};
use state::State;

/// Evaluate every rule. The CI exports are read only when a rule that needs them is on.
fn evaluate(cx: &Context, exports: Option<&Exports>, now: Secs) -> Vec<(&'static str, Verdict)> {
    let a = &cx.config.alerts;
    let needs_ci = a.build_failure_rate.enabled || a.build_time_trend.enabled;
    let loaded = match (exports, needs_ci) {
        (Some(_), _) | (None, false) => None,
        (None, true) => Some(crate::ci::load::load(cx, &[], &[])),
    };
    let why;
    let exports = match (exports, &loaded) {
        (Some(x), _) => Ok(x),
        (None, Some(Ok(x))) => Ok(x),
        (None, Some(Err(e))) => {
            why = format!("{e:#}");
            Err(why.as_str())
        }
        (None, None) => Err("not read: no rule needs them"),
    };
    let inputs = Inputs { cx, exports, now };
    RULES.iter().map(|r| (r.name, (r.check)(&inputs))).collect()
}

/// The alert list of `ci report` (a [`crate::ci::AlertsFn`]).
pub fn for_report(cx: &Context, exports: &Exports, now: Secs) -> Result<Vec<AlertRow>> {
    let mut rows = Vec::new();
    for (name, v) in evaluate(cx, Some(exports), now) {
        match v {
            Verdict::Disabled => {}
            Verdict::NotEvaluated(why) => rows.push(AlertRow {
                code: codes::ALERT_NOT_EVALUATED,
                severity: Severity::High,
                action: "-",
                message: format!("{name} could not be evaluated: {why}"),
            }),
            Verdict::Checked { breaches, .. } => {
                rows.extend(breaches.into_iter().map(|b| AlertRow {
                    code: b.code,
                    severity: b.severity,
                    action: b.action.as_str(),
                    message: b.message,
                }))
            }
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.severity));
    Ok(rows)
}

/// One POST of a breach to a target.
#[derive(Debug, Serialize)]
struct Delivery {
    key: String,
    code: String,
    target: String,
    ok: bool,
    attempts: u32,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct Notified {
    deliveries: Vec<Delivery>,
    /// Breaches whose action no target takes: (key, action).
    unroutable: Vec<(String, &'static str)>,
    /// Breaches kept in the state for a later `--notify`.
    pending: usize,
}

pub fn run(cx: &Context, notify: bool, now: Option<&str>) -> Result<Report> {
    let now = model::clock(now)?;
    let results = evaluate(cx, None, now);
    let breaches: Vec<Breach> = results
        .iter()
        .flat_map(|(_, v)| match v {
            Verdict::Checked { breaches, .. } => breaches.clone(),
            _ => Vec::new(),
        })
        .collect();
    let notified = if notify {
        Some(send_new(cx, &breaches, now)?)
    } else {
        None
    };
    let sent = if notify {
        None
    } else {
        State::load(cx, &state::path(cx)).ok()
    };
    Ok(present(cx, now, &results, notified.as_ref(), sent.as_ref()))
}

/// The project's name in messages: the root folder's.
fn project(cx: &Context) -> String {
    cx.root
        .file_name()
        .map_or_else(|| "project".into(), |n| n.to_string_lossy().into_owned())
}

/// Record the breaches, then send each one's pending deliveries.
fn send_new(cx: &Context, breaches: &[Breach], now: Secs) -> Result<Notified> {
    let targets = &cx.config.alerts.targets;
    if targets.is_empty() {
        bail!(
            "alerts --notify: no [[alerts.targets]] in {}: add a Slack, webhook or PagerDuty target (see `cargo xtask config init --stdout`)",
            cx.config_path.display()
        );
    }
    let _lock = files::Lock::acquire(&state::dir(cx).join(".lock"), "alerts --notify")?;
    let path = state::path(cx);
    let mut st = State::load(cx, &path)?;
    st.observe(breaches, &rfc3339(now));
    st.save(&path)?;
    let project = project(cx);
    let mut n = Notified::default();
    let keys: Vec<String> = st.breaches.keys().cloned().collect();
    for key in keys {
        let t = st.breaches[&key].clone();
        let takers: Vec<_> = targets.iter().filter(|x| x.accepts(t.action)).collect();
        if takers.is_empty() {
            n.unroutable.push((key.clone(), t.action.as_str()));
            continue;
        }
        for target in takers {
            if t.delivered.contains(&target.name) {
                continue;
            }
            let r = targets::deliver(&cx.config.alerts, target, &project, &key, &t);
            if r.is_ok()
                && let Some(e) = st.breaches.get_mut(&key)
            {
                e.delivered.push(target.name.clone());
                st.save(&path)?;
            }
            n.deliveries.push(Delivery {
                key: key.clone(),
                code: t.code.clone(),
                target: target.name.clone(),
                ok: r.is_ok(),
                attempts: *r.as_ref().unwrap_or(&0),
                error: r.err().map(|e| format!("{e:#}")),
            });
        }
    }
    st.prune(|t| {
        targets
            .iter()
            .filter(|x| x.accepts(t.action))
            .all(|x| t.delivered.contains(&x.name))
    });
    n.pending = st
        .breaches
        .values()
        .filter(|t| {
            targets
                .iter()
                .any(|x| x.accepts(t.action) && !t.delivered.contains(&x.name))
        })
        .count();
    st.save(&path)?;
    Ok(n)
}

#[derive(Serialize)]
struct RuleRow<'a> {
    rule: &'a str,
    state: &'static str,
    detail: String,
}

fn present(
    cx: &Context,
    now: Secs,
    results: &[(&'static str, Verdict)],
    notified: Option<&Notified>,
    sent: Option<&State>,
) -> Report {
    let mut report = Report::new(if notified.is_some() {
        "alerts --notify"
    } else {
        "alerts"
    });
    report.summary("evaluated at", rfc3339(now));
    let mut t = Table::new("Rules", &["rule", "state", "detail"]);
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for (name, v) in results {
        let (state, detail) = match v {
            Verdict::Disabled => ("disabled", "enabled = false".to_string()),
            Verdict::NotEvaluated(why) => {
                report.push(Finding::new(
                    codes::ALERT_NOT_EVALUATED,
                    Severity::High,
                    format!("{name} could not be evaluated: {why} (or set alerts.{name}.enabled = false)"),
                ));
                report.incomplete = true;
                ("not evaluated", why.clone())
            }
            Verdict::Checked { breaches, detail } => {
                for b in breaches {
                    let notified = sent
                        .and_then(|s| s.breaches.get(&b.key))
                        .is_some_and(|t| !t.delivered.is_empty());
                    let mut f = Finding::new(b.code, b.severity, b.message.clone());
                    f.extra.insert("rule".into(), json!(b.rule));
                    f.extra.insert("action".into(), json!(b.action.as_str()));
                    f.extra.insert("key".into(), json!(b.key));
                    f.extra.insert("details".into(), b.details.clone());
                    if sent.is_some() {
                        f.extra.insert("notified".into(), json!(notified));
                    }
                    report.push(f);
                    all.push(b.key.clone());
                }
                (
                    if breaches.is_empty() {
                        "ok"
                    } else {
                        "breached"
                    },
                    detail.clone(),
                )
            }
        };
        t.row(vec![name.to_string(), state.into(), detail.clone()]);
        rows.push(RuleRow {
            rule: name,
            state,
            detail,
        });
    }
    report.tables.push(t);
    report.set("rules", &rows);
    report.set("now", rfc3339(now));
    if let Some(n) = notified {
        deliveries(&mut report, n);
    }
    report.summary("breaches", all.len().to_string());
    report.set("state", cx.rel(&state::path(cx)));
    report
}

fn deliveries(report: &mut Report, n: &Notified) {
    let mut t = Table::new("Notifications", &["breach", "target", "result"]);
    for d in &n.deliveries {
        let result = match &d.error {
            None => format!("sent ({} attempt(s))", d.attempts),
            Some(e) => format!("FAILED: {e}"),
        };
        t.row(vec![d.key.clone(), d.target.clone(), result]);
        if let Some(e) = &d.error {
            report.push(Finding::new(
                codes::NOTIFICATION_FAILED,
                Severity::High,
                format!(
                    "{} was not delivered to `{}`: {e}; it is kept in the state and sent by the next `alerts --notify`",
                    d.key, d.target
                ),
            ));
            report.incomplete = true;
        }
    }
    for (key, action) in &n.unroutable {
        report.push(Finding::new(
            codes::NOTIFICATION_FAILED,
            Severity::High,
            format!("{key}: no target takes the action `{action}`: add it to a target's `actions`"),
        ));
        report.incomplete = true;
    }
    report.tables.push(t);
    let sent = n.deliveries.iter().filter(|d| d.ok).count();
    report.summary(
        "notifications",
        format!(
            "{sent} sent, {} failed; {} breach(es) waiting to be sent",
            n.deliveries.len() - sent,
            n.pending
        ),
    );
    report.set("deliveries", &n.deliveries);
}
