//! `metrics rules`: Prometheus alerting rules for the runbook's critical alerts
//! (`deployment_failure` → page, `security_vulnerability` HIGH/CRITICAL → incident) and the
//! toolkit's duties (backups fresh and verified, certificates, secret rotation, advisory
//! databases, the exposition itself). Each rule has a `severity` label and a `command`
//! annotation: the `cargo xtask` command that shows why and what to do.
//!
//! Thresholds come from the configuration (`[metrics]`, `[audit]`, and `[alerts]` for the
//! runbook's `build_failure_rate`: 10% of a workflow's runs over 1 h → immediate
//! notification).

use std::fmt::Write as _;

use crate::context::Context;

/// One alerting rule.
pub struct Rule {
    pub alert: &'static str,
    pub expr: String,
    /// How long the condition must hold (`None`: fire at once).
    pub for_: Option<String>,
    /// `critical` (the runbook's critical alerts, lost backups) or `warning`.
    pub severity: &'static str,
    /// The runbook's action for its critical alerts (`page_on_call_engineer`, …).
    pub runbook_action: Option<&'static str>,
    pub summary: &'static str,
    pub description: String,
    /// The command to run (after `cargo xtask`).
    pub command: &'static str,
}

pub struct Group {
    pub name: &'static str,
    pub rules: Vec<Rule>,
}

/// A rule with no `for`, no runbook action, and the description given.
fn rule(
    alert: &'static str,
    severity: &'static str,
    expr: String,
    summary: &'static str,
    description: String,
    command: &'static str,
) -> Rule {
    Rule {
        alert,
        expr,
        for_: None,
        severity,
        runbook_action: None,
        summary,
        description,
        command,
    }
}

fn backups(cx: &Context) -> Group {
    let hours = cx.config.metrics.backup_max_age_hours;
    let mut behind = rule(
        "XtaskConfigBackupBehind",
        "warning",
        r#"xtask_backup_up_to_date{kind="config"} == 0"#.into(),
        "The pipeline configuration changed and has not been backed up",
        format!(
            "The newest pipeline archive has not held the current configuration for {hours} h: the scheduled backup is not running or failing."
        ),
        "backup config",
    );
    behind.for_ = Some(format!("{hours}h"));
    Group {
        name: "xtask-backups",
        rules: vec![
            rule(
                "XtaskBackupMissing",
                "critical",
                "xtask_backups == 0".into(),
                "No {{ $labels.kind }} backup in the store",
                "There is no {{ $labels.kind }} backup at all: nothing to restore from.".into(),
                "backup",
            ),
            rule(
                "XtaskBackupStale",
                "critical",
                format!(r#"time() - xtask_backup_last_success_timestamp_seconds{{kind!="config"}} > {hours} * 3600"#),
                "The newest {{ $labels.kind }} backup is older than its schedule",
                format!("The newest {{{{ $labels.kind }}}} backup is {{{{ $value | humanizeDuration }}}} old (more than {hours} h): the scheduled backup is not running or failing."),
                "backup",
            ),
            behind,
            rule(
                "XtaskBackupNotVerified",
                "critical",
                "xtask_backup_verified == 0".into(),
                "The newest {{ $labels.kind }} backup fails verification",
                "The newest {{ $labels.kind }} backup does not pass its checksum, member or integrity check: do not restore from it.".into(),
                "backup verify",
            ),
        ],
    }
}

fn security(cx: &Context) -> Group {
    let stale_days = cx.config.audit.stale_after_days;
    let mut vulns = rule(
        "XtaskVulnerabilityHighOrCritical",
        "critical",
        // Summed over the two severities: the alert's own `severity` label is the rule's.
        r#"sum without (severity) (xtask_vulnerabilities{severity=~"high|critical"}) > 0"#
            .into(),
        "{{ $value }} high or critical vulnerabilities in {{ $labels.ecosystem }} dependencies",
        "The audit reports {{ $value }} high or critical vulnerabilities in {{ $labels.ecosystem }} packages (the runbook: create an incident).".into(),
        "audit",
    );
    vulns.runbook_action = Some("create_incident");
    Group {
        name: "xtask-security",
        rules: vec![
            vulns,
            rule(
                "XtaskAdvisoryDatabaseStale",
                "warning",
                format!("xtask_advisory_db_age_seconds > {stale_days} * 86400"),
                "The advisory database {{ $labels.source }} is stale",
                format!("The advisory database {{{{ $labels.source }}}} was last updated {{{{ $value | humanizeDuration }}}} ago (more than {stale_days} days): the audit misses newer advisories."),
                "advisories update",
            ),
            rule(
                "XtaskCertificateExpiringSoon",
                "warning",
                format!("(xtask_certificate_expiry_timestamp_seconds - time() < {CERT_DAYS} * 86400) and (xtask_certificate_expiry_timestamp_seconds - time() > 0)"),
                "Certificate {{ $labels.index }} of {{ $labels.path }} expires soon",
                format!("Certificate {{{{ $labels.index }}}} of {{{{ $labels.path }}}} expires in {{{{ $value | humanizeDuration }}}} (within {CERT_DAYS} days): renew it."),
                "secrets check",
            ),
            rule(
                "XtaskCertificateExpired",
                "critical",
                "xtask_certificate_expiry_timestamp_seconds - time() <= 0".into(),
                "Certificate {{ $labels.index }} of {{ $labels.path }} has expired",
                "Certificate {{ $labels.index }} of {{ $labels.path }} has expired: renew it now.".into(),
                "secrets check",
            ),
            rule(
                "XtaskSecretRotationOverdue",
                "warning",
                "xtask_secret_rotation_overdue == 1".into(),
                "Secret {{ $labels.name }} is overdue for rotation",
                "Secret {{ $labels.name }} ({{ $labels.kind }}) is older than its rotation policy: rotate it, then record it (`cargo xtask secrets rotated NAME` outside GitHub).".into(),
                "secrets check",
            ),
        ],
    }
}

/// Certificates expiring within this many days alert (as `secrets check` makes them high).
const CERT_DAYS: u32 = 14;

fn deploys() -> Group {
    let mut failed = rule(
        "XtaskDeploymentFailed",
        "critical",
        concat!(
            r#"xtask_deploy_last_outcome{outcome=~"failed|rolled-back|aborted|interrupted"} == 1"#,
            r#" or increase(xtask_deploys_total{outcome=~"failed|rolled-back"}[1h]) > 0"#
        )
        .into(),
        "A deployment to {{ $labels.env }} failed ({{ $labels.outcome }})",
        "A deploy or rollback of {{ $labels.env }} ended {{ $labels.outcome }} (the runbook: page the on-call engineer). See the ledger with `cargo xtask releases {{ $labels.env }}`; `cargo xtask rollback {{ $labels.env }} --dry-run` shows the way back.".into(),
        "releases {{ $labels.env }}",
    );
    failed.runbook_action = Some("page_on_call_engineer");
    Group {
        name: "xtask-deploys",
        rules: vec![failed],
    }
}

fn maintenance(cx: &Context) -> Group {
    let minutes = cx.config.metrics.stale_after_minutes;
    let mut collector = rule(
        "XtaskMetricsCollectorFailing",
        "warning",
        "xtask_collector_success == 0".into(),
        "The {{ $labels.collector }} metrics of cargo xtask are missing",
        "The {{ $labels.collector }} collector failed: its metrics are missing. `cargo xtask metrics` prints why on standard error.".into(),
        "metrics",
    );
    collector.for_ = Some("15m".into());
    Group {
        name: "xtask-maintenance",
        rules: vec![
            rule(
                "XtaskEolRuntimeInUse",
                "warning",
                "xtask_eol_runtimes > 0".into(),
                "{{ $value }} end-of-life runtimes or base images in use",
                "Runtimes or base images past their end of life are in use: they get no security fixes.".into(),
                "outdated",
            ),
            rule(
                "XtaskChecklistNeedsAttention",
                "warning",
                r#"xtask_checklist_items{result=~"findings|failed"} > 0"#.into(),
                "The {{ $labels.cadence }} checklist has {{ $value }} commands with status {{ $labels.result }}",
                "The newest {{ $labels.cadence }} checklist report (backups/reports/) has {{ $value }} commands whose status is {{ $labels.result }}.".into(),
                "checklist {{ $labels.cadence }}",
            ),
            collector,
            rule(
                "XtaskMetricsStale",
                "warning",
                format!("time() - xtask_metrics_generated_timestamp_seconds > {minutes} * 60"),
                "The cargo xtask metrics are not being refreshed",
                format!("The metrics were computed {{{{ $value | humanizeDuration }}}} ago (more than {minutes} min): the cron job writing them (`--textfile` or `push`) is not running."),
                "metrics --textfile DIR",
            ),
        ],
    }
}

fn ci(cx: &Context) -> Group {
    let r = &cx.config.alerts.build_failure_rate;
    let (ratio, window) = (r.threshold_percent / 100.0, r.window);
    let mut failing = rule(
        "XtaskBuildFailureRate",
        "critical",
        format!("xtask_ci_build_failure_ratio > {ratio}"),
        "{{ $value | humanizePercentage }} of the CI runs failed",
        format!(
            "{{{{ $value | humanizePercentage }}}} of the CI runs that finished in the last {window} failed (the runbook's build_failure_rate: above {}%, notify). Fetch the newest runs with `cargo xtask ci fetch`.",
            r.threshold_percent
        ),
        "ci stats",
    );
    failing.runbook_action = Some(r.action.as_str());
    Group {
        name: "xtask-ci",
        rules: vec![failing],
    }
}

/// Every group of rules.
pub fn groups(cx: &Context) -> Vec<Group> {
    vec![
        deploys(),
        ci(cx),
        security(cx),
        backups(cx),
        maintenance(cx),
    ]
}

/// A YAML double-quoted scalar.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The rules file (Prometheus `rule_files` format).
pub fn yaml(cx: &Context) -> String {
    let mut y = String::from(
        "# Prometheus alerting rules for cargo xtask: the runbook's critical alerts and the\n\
         # toolkit's duties. Written by `cargo xtask metrics rules`; thresholds from\n\
         # maintenance.toml ([metrics], [audit], [alerts]). Check: promtool check rules FILE.\n\
         groups:\n",
    );
    for g in groups(cx) {
        let _ = writeln!(y, "  - name: {}\n    rules:", g.name);
        for r in g.rules {
            let _ = writeln!(y, "      - alert: {}", r.alert);
            let _ = writeln!(y, "        expr: {}", quoted(&r.expr));
            if let Some(f) = &r.for_ {
                let _ = writeln!(y, "        for: {f}");
            }
            let _ = writeln!(y, "        labels:\n          severity: {}", r.severity);
            if let Some(a) = r.runbook_action {
                let _ = writeln!(y, "          runbook_action: {a}");
            }
            let _ = writeln!(y, "        annotations:");
            let _ = writeln!(y, "          summary: {}", quoted(r.summary));
            let _ = writeln!(y, "          description: {}", quoted(&r.description));
            let command = format!("cargo xtask {}", r.command);
            let _ = writeln!(y, "          command: {}", quoted(&command));
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_names_known_metrics_a_severity_and_a_command() {
        let known: Vec<&str> = super::super::catalog::ALL.iter().map(|d| d.name).collect();
        for g in groups(&Context::nowhere()) {
            for r in g.rules {
                assert!(["critical", "warning"].contains(&r.severity), "{}", r.alert);
                assert!(!r.command.is_empty(), "{}", r.alert);
                let names: Vec<&str> = r
                    .expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("xtask_"))
                    .collect();
                assert!(!names.is_empty(), "{}", r.alert);
                for n in names {
                    assert!(known.contains(&n), "{}: unknown metric {n}", r.alert);
                }
            }
        }
    }

    #[test]
    fn the_rules_file_is_yaml_with_every_rule() {
        let text = yaml(&Context::nowhere());
        let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
        let groups = docs[0]["groups"].as_vec().unwrap();
        let rules: Vec<&yaml_rust2::Yaml> = groups
            .iter()
            .flat_map(|g| g["rules"].as_vec().unwrap())
            .collect();
        assert_eq!(
            rules.len(),
            super::groups(&Context::nowhere())
                .iter()
                .map(|g| g.rules.len())
                .sum::<usize>()
        );
        let stale = rules
            .iter()
            .find(|r| r["alert"].as_str() == Some("XtaskBackupStale"))
            .unwrap();
        assert_eq!(
            stale["expr"].as_str().unwrap(),
            r#"time() - xtask_backup_last_success_timestamp_seconds{kind!="config"} > 26 * 3600"#
        );
        assert_eq!(
            stale["annotations"]["command"].as_str(),
            Some("cargo xtask backup")
        );
        let ci = rules
            .iter()
            .find(|r| r["alert"].as_str() == Some("XtaskBuildFailureRate"))
            .unwrap();
        assert_eq!(
            ci["expr"].as_str().unwrap(),
            "xtask_ci_build_failure_ratio > 0.1"
        );
        assert_eq!(ci["labels"]["severity"].as_str(), Some("critical"));
        assert_eq!(ci["labels"]["runbook_action"].as_str(), Some("notify"));
        assert_eq!(
            ci["annotations"]["command"].as_str(),
            Some("cargo xtask ci stats")
        );
    }
}
