//! `build_failure_rate`: more than 10% of the CI runs that finished in the last hour failed
//! (at least `min_runs` of them) → immediate notification.

use serde_json::json;

use super::{Breach, Inputs, Rule, Verdict};
use crate::ci::stats::{self, percent};
use crate::report::codes;

pub const RULE: Rule = Rule {
    name: "build_failure_rate",
    check,
};

fn check(i: &Inputs) -> Verdict {
    let rule = &i.cx.config.alerts.build_failure_rate;
    let (x, window) = match i.ci_window(rule.enabled, rule.window.secs()) {
        Ok(v) => v,
        Err(verdict) => return verdict,
    };
    let f = stats::finished_in(x, &window);
    let counted = f.counted();
    let Some(flag) = stats::failure_flag(None, &f, rule) else {
        let detail = if counted < rule.min_runs as u64 {
            format!(
                "{counted} counted run(s) finished in {}: fewer than min_runs ({}), no verdict",
                window.describe(),
                rule.min_runs
            )
        } else {
            format!(
                "{} of {counted} CI runs failed in {} ({}; threshold {}%)",
                f.failed,
                window.describe(),
                percent(f.failed as f64 / counted as f64),
                rule.threshold_percent
            )
        };
        return Verdict::Checked {
            breaches: Vec::new(),
            detail,
        };
    };
    let message = flag.message(&window);
    Verdict::Checked {
        detail: message.clone(),
        breaches: vec![Breach {
            rule: RULE.name,
            code: codes::BUILD_FAILURE_RATE,
            severity: rule.severity,
            action: rule.action,
            key: RULE.name.to_string(),
            message,
            details: json!({
                "failed": f.failed,
                "runs": counted,
                "failure_rate": f.failed as f64 / counted as f64,
                "threshold": rule.threshold_percent / 100.0,
                "window_secs": rule.window.secs(),
                "window_end": crate::ci::model::rfc3339(i.now),
            }),
        }],
    }
}
