//! Warning: test flakiness detection: the flaky tests `tests report` finds in the JUnit
//! reports (`tests.reports`), one breach per test.

use serde_json::json;

use super::{Breach, Inputs, Rule, Verdict, digest};
use crate::cli::TestsCmd;
use crate::report::codes;

pub const RULE: Rule = Rule {
    name: "test_flakiness",
    check,
};

fn check(i: &Inputs) -> Verdict {
    let rule = &i.cx.config.alerts.test_flakiness;
    if !rule.enabled {
        return Verdict::Disabled;
    }
    let report = match crate::test_report::run(i.cx, TestsCmd::Report { files: vec![] }) {
        Ok(r) => r,
        Err(e) => return Verdict::NotEvaluated(format!("tests report: {e:#}")),
    };
    let mut breaches = Vec::new();
    for f in report
        .findings
        .iter()
        .filter(|f| f.code == codes::TEST_FLAKY)
    {
        // The test's name leads the message; the counts after it change run by run.
        let test = f.message.split(" is flaky").next().unwrap_or(&f.message);
        breaches.push(Breach {
            rule: RULE.name,
            code: codes::TEST_FLAKINESS,
            severity: rule.severity,
            action: rule.action,
            key: format!("{}:{}", RULE.name, digest(test)),
            message: f.message.clone(),
            details: json!({"test": test, "file": f.path}),
        });
    }
    let detail = format!("{} flaky test(s) in the JUnit reports", breaches.len());
    Verdict::Checked { breaches, detail }
}
