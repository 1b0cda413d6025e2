//! Where breaches go: a Slack incoming webhook, a generic JSON webhook, PagerDuty's Events
//! API v2. URLs and the routing key are read from the environment variables the config
//! names, at the moment of sending; they never reach output, argv, logs or the state file.
//! Each POST is retried (`alerts.retries`) on no answer, 429 and 5xx, after
//! `retry_backoff_ms`, then twice as long each time (or what `Retry-After` asks, up to 30 s).

use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::state::Tracked;
use crate::config::{AlertTarget, AlertsConfig, TargetKind};
use crate::report::Severity;
use crate::util::http::{self, Method, Request};

/// PagerDuty's endpoint, when the target names no `url_env`.
pub const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Slack's mrkdwn needs `&`, `<` and `>` escaped.
fn mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// `{"text": ..., "blocks": [header, section, context]}`.
pub fn slack(project: &str, t: &Tracked) -> Value {
    let sev = t.severity.as_str().to_uppercase();
    json!({
        "text": cut(&format!("[{sev}] {}: {}", t.code, t.message), 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": cut(&format!("{sev} · {} · {project}", t.code), 150)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": cut(&mrkdwn(&t.message), 3000)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(&format!(
                "rule {} · action {} · first seen {} · cargo xtask alerts",
                t.rule, t.action.as_str(), t.first_seen
            ))}]},
        ],
    })
}

/// The generic webhook's JSON: every fact of the breach.
pub fn webhook(project: &str, key: &str, t: &Tracked) -> Value {
    json!({
        "source": "cargo-xtask",
        "project": project,
        "key": key,
        "rule": t.rule,
        "code": t.code,
        "severity": t.severity.as_str(),
        "action": t.action.as_str(),
        "message": t.message,
        "first_seen": t.first_seen,
        "firing": t.firing,
        "details": t.details,
    })
}

/// PagerDuty's severities: critical, error, warning, info.
fn pd_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "info",
    }
}

/// An Events API v2 `trigger`, deduplicated by the breach's key.
pub fn pagerduty(routing_key: &str, project: &str, key: &str, t: &Tracked) -> Value {
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": cut(&format!("xtask:{project}:{key}"), 255),
        "payload": {
            "summary": cut(&t.message, 1024),
            "source": project,
            "severity": pd_severity(t.severity),
            "timestamp": t.first_seen,
            "component": "ci-cd",
            "group": t.rule,
            "class": t.code,
            "custom_details": {"rule": t.rule, "action": t.action.as_str(), "key": key, "details": t.details},
        },
    })
}

/// A variable's value, or why the target cannot be reached (the value is never shown).
fn env_value(target: &AlertTarget, var: &str) -> Result<String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => bail!(
            "target `{}`: the environment variable {var} is not set (it holds the {})",
            target.name,
            if var == target.routing_key_env.as_deref().unwrap_or_default() {
                "routing key"
            } else {
                "URL"
            }
        ),
    }
}

/// POST the breach to the target; the number of attempts it took.
pub fn deliver(
    cfg: &AlertsConfig,
    target: &AlertTarget,
    project: &str,
    key: &str,
    t: &Tracked,
) -> Result<u32> {
    let url = match &target.url_env {
        Some(var) => env_value(target, var)?,
        None => PAGERDUTY_URL.to_string(),
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        bail!(
            "target `{}`: the URL in {} is not http(s)",
            target.name,
            target.url_env.as_deref().unwrap_or_default()
        );
    }
    let mut secrets = vec![url.clone()];
    let body = match target.kind {
        TargetKind::Slack => slack(project, t),
        TargetKind::Webhook => webhook(project, key, t),
        TargetKind::Pagerduty => {
            let var = target.routing_key_env.as_deref().unwrap_or_default();
            let rk = env_value(target, var)?;
            secrets.push(rk.clone());
            pagerduty(&rk, project, key, t)
        }
    };
    let body = serde_json::to_string(&body)?;
    let scrub = |s: &str| {
        secrets
            .iter()
            .fold(s.to_string(), |acc, v| acc.replace(v.as_str(), "<secret>"))
    };
    let headers = vec!["Content-Type: application/json".to_string()];
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let req = Request {
            method: Method::Post,
            url: &url,
            headers: &headers,
            body: Some(&body),
            timeout_secs: cfg.timeout_secs,
        };
        let mut wait_ms = cfg
            .retry_backoff_ms
            .saturating_mul(1 << (attempt - 1).min(16));
        let last = match http::send(&req) {
            Ok(r) if (200..300).contains(&r.status) => return Ok(attempt),
            Ok(r) if r.status == 429 || r.status >= 500 => {
                if let Some(s) = r
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                {
                    wait_ms = (s * 1000).min(30_000);
                }
                format!("HTTP {}", r.status)
            }
            Ok(r) => {
                let text = String::from_utf8_lossy(&r.body);
                bail!(
                    "target `{}`: HTTP {}: {} (not retried: fix the target or the payload)",
                    target.name,
                    r.status,
                    scrub(&cut(text.trim(), 200))
                );
            }
            Err(e) => scrub(&format!("{e:#}")),
        };
        if attempt > cfg.retries {
            bail!(
                "target `{}`: {last} after {attempt} attempt(s)",
                target.name
            );
        }
        std::thread::sleep(Duration::from_millis(wait_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AlertAction;

    fn tracked() -> Tracked {
        Tracked {
            rule: "build_failure_rate".into(),
            code: "build-failure-rate".into(),
            severity: Severity::High,
            action: AlertAction::Notify,
            message: "40% of 5 CI runs failed in the hour to 12:00 UTC on 2026-01-08 (threshold 10%) <@here>".into(),
            details: json!({"failed": 2}),
            first_seen: "2026-01-08T12:00:00Z".into(),
            firing: true,
            delivered: vec![],
        }
    }

    #[test]
    fn payloads_have_the_shapes_their_services_take() {
        let t = tracked();
        let s = slack("hub", &t);
        assert!(
            s["text"]
                .as_str()
                .unwrap()
                .starts_with("[HIGH] build-failure-rate: 40%")
        );
        assert_eq!(s["blocks"][0]["type"], "header");
        assert_eq!(s["blocks"][1]["text"]["type"], "mrkdwn");
        assert!(
            s["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .ends_with("&lt;@here&gt;"),
            "no mention from a message"
        );
        let p = pagerduty("R0UTING", "hub", "build_failure_rate", &t);
        assert_eq!(p["event_action"], "trigger");
        assert_eq!(p["routing_key"], "R0UTING");
        assert_eq!(p["dedup_key"], "xtask:hub:build_failure_rate");
        assert_eq!(p["payload"]["severity"], "error");
        assert_eq!(p["payload"]["source"], "hub");
        let w = webhook("hub", "k", &t);
        assert_eq!(w["severity"], "high");
        assert_eq!(w["details"]["failed"], 2);
    }
}
