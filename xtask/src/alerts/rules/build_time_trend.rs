//! Warning: build time increasing trend. A workflow's median duration in the last
//! `window` rose more than `threshold_percent` against the window before (both with at
//! least `min_runs` finished runs).

use serde_json::json;

use super::{Breach, Inputs, Rule, Verdict};
use crate::ci::stats::{self, Flag};
use crate::report::codes;

pub const RULE: Rule = Rule {
    name: "build_time_trend",
    check,
};

fn check(i: &Inputs) -> Verdict {
    let cfg = &i.cx.config.alerts;
    let rule = &cfg.build_time_trend;
    let (x, window) = match i.ci_window(rule.enabled, rule.window.secs()) {
        Ok(v) => v,
        Err(verdict) => return verdict,
    };
    let s = stats::compute(
        x,
        &stats::Options {
            window,
            slowest: 0,
            failure: &cfg.build_failure_rate,
            trend: rule,
        },
    );
    let mut breaches = Vec::new();
    for w in &s.workflows {
        let Some(
            flag @ Flag::Trend {
                percent,
                p50,
                previous_p50,
                ..
            },
        ) = stats::trend_flag(w, rule)
        else {
            continue;
        };
        breaches.push(Breach {
            rule: RULE.name,
            code: codes::BUILD_TIME_TREND,
            severity: rule.severity,
            action: rule.action,
            key: format!("{}:{}", RULE.name, w.name),
            message: flag.message(&window),
            details: json!({
                "workflow": w.name,
                "duration_p50_secs": p50,
                "previous_duration_p50_secs": previous_p50,
                "change_percent": percent,
                "threshold_percent": rule.threshold_percent,
                "window_secs": rule.window.secs(),
            }),
        });
    }
    let detail = if breaches.is_empty() {
        format!(
            "no workflow's median rose more than {}% in {} ({} workflow(s) compared)",
            rule.threshold_percent,
            window.describe(),
            s.workflows.len()
        )
    } else {
        format!("{} workflow(s) slower", breaches.len())
    };
    Verdict::Checked { breaches, detail }
}
