//! `metrics dashboard`: a Grafana dashboard (the classic JSON model, schema version 41 of
//! Grafana 12, imported by Dashboards → New → Import or by file provisioning) with a panel for
//! every metric of the exposition, grouped as the runbook's "Key Metrics to Monitor". The
//! Prometheus data source is a dashboard variable, so it imports into any Grafana.

use serde_json::{Value, json};

use crate::context::Context;

const SCHEMA_VERSION: u32 = 41;

#[derive(Clone, Copy)]
enum Viz {
    Stat,
    /// A stat showing the series names only (legend): versions, outcomes.
    Names,
    TimeSeries,
    Bars,
    BarGauge,
}

/// How values are colored: by thresholds (the base color, then a color from each value
/// up), or by a value mapping (1 and 0 as words).
enum Colors {
    None,
    Steps(&'static str, Vec<(&'static str, f64)>),
    OkFailed(&'static str, &'static str),
}

struct Panel {
    title: &'static str,
    description: &'static str,
    viz: Viz,
    /// (PromQL, legend)
    targets: Vec<(String, &'static str)>,
    unit: &'static str,
    colors: Colors,
    width: u32,
}

fn panel(
    title: &'static str,
    viz: Viz,
    expr: impl Into<String>,
    legend: &'static str,
    unit: &'static str,
    description: &'static str,
) -> Panel {
    Panel {
        title,
        description,
        viz,
        targets: vec![(expr.into(), legend)],
        unit,
        colors: Colors::None,
        width: 8,
    }
}

impl Panel {
    fn colors(mut self, c: Colors) -> Panel {
        self.colors = c;
        self
    }
    fn width(mut self, w: u32) -> Panel {
        self.width = w;
        self
    }
}

fn backups(cx: &Context) -> Vec<Panel> {
    let max_age = f64::from(cx.config.metrics.backup_max_age_hours) * 3600.0;
    vec![
        panel("Age of the newest backup", Viz::Stat, "time() - xtask_backup_last_success_timestamp_seconds", "{{kind}}", "s",
            "Time since the newest backup of each kind (red past metrics.backup_max_age_hours). With backup --if-changed, an unchanged configuration keeps an old archive: see the next panel.")
            .colors(Colors::Steps("green", vec![("red", max_age)])),
        panel("Pipeline configuration backed up", Viz::Stat, r#"xtask_backup_up_to_date{kind="config"}"#, "{{kind}}", "none",
            "Whether the newest pipeline archive holds the current configuration.")
            .colors(Colors::OkFailed("current", "changed since")),
        panel("Newest backup verified", Viz::Stat, "xtask_backup_verified", "{{kind}}", "none",
            "Full verification of the newest backup of each kind: checksum, every member or page, integrity check.")
            .colors(Colors::OkFailed("verified", "FAILED")),
        panel("Backups in the store", Viz::Stat, "xtask_backups", "{{kind}}", "none",
            "Backups of each kind kept by the retention policy.")
            .colors(Colors::Steps("red", vec![("green", 1.0)])),
        Panel {
            targets: vec![
                ("xtask_backup_size_bytes".into(), "newest {{kind}}"),
                ("xtask_backup_store_size_bytes".into(), "all {{kind}}"),
            ],
            ..panel("Backup size", Viz::TimeSeries, "", "", "bytes",
                "Size of the newest backup and of all backups of each kind.")
        }
        .width(16),
    ]
}

fn security(cx: &Context) -> Vec<Panel> {
    let stale = f64::from(cx.config.audit.stale_after_days) * 86400.0;
    vec![
        panel("HIGH and CRITICAL vulnerabilities", Viz::Stat, r#"sum(xtask_vulnerabilities{severity=~"high|critical"})"#, "", "none",
            "The runbook: no high or critical vulnerabilities (security_vulnerability → create an incident).")
            .colors(Colors::Steps("green", vec![("red", 1.0)])),
        panel("Vulnerabilities by severity", Viz::BarGauge, "sum by (severity) (xtask_vulnerabilities)", "{{severity}}", "none",
            "Vulnerabilities the audit reports (ignored ones not counted)."),
        panel("Advisory database age", Viz::Stat, "xtask_advisory_db_age_seconds", "{{source}}", "s",
            "Time since each advisory database was updated (red past audit.stale_after_days).")
            .colors(Colors::Steps("green", vec![("red", stale)])),
        panel("Certificates: time left", Viz::BarGauge, "xtask_certificate_expiry_timestamp_seconds - time()", "{{path}} #{{index}}", "s",
            "Time until each certificate of secrets.certs expires (orange within 14 days, red when expired).")
            .colors(Colors::Steps("red", vec![("orange", 0.0), ("green", 14.0 * 86400.0)])),
        panel("Secrets rotation compliance", Viz::Stat,
            r#"sum(xtask_secrets{status=~"ok|due-soon"}) / sum(xtask_secrets{status=~"ok|due-soon|overdue|unknown"})"#,
            "", "percentunit",
            "Secrets with a rotation policy that are within it (the runbook's secrets rotation compliance).")
            .colors(Colors::Steps("red", vec![("green", 1.0)])),
        panel("Secrets overdue for rotation", Viz::Stat, "sum(xtask_secret_rotation_overdue)", "", "none",
            "Secrets older than their rotation policy (API keys 90 days, database passwords 180, SSH keys 365).")
            .colors(Colors::Steps("green", vec![("red", 1.0)])),
        panel("Secret age against its policy", Viz::BarGauge, "xtask_secret_age_seconds / xtask_secret_max_age_seconds", "{{name}}", "percentunit",
            "Time since each secret's last rotation as a share of its rotation policy (over 100%: overdue).")
            .colors(Colors::Steps("green", vec![("orange", 0.85), ("red", 1.0)])),
    ]
}

fn dependencies() -> Vec<Panel> {
    vec![
        panel(
            "Outdated packages",
            Viz::BarGauge,
            "xtask_outdated_packages",
            "{{ecosystem}} {{kind}}",
            "none",
            "Packages behind their latest release, from the HTTP cache (cargo xtask outdated refreshes it).",
        ),
        panel(
            "End-of-life runtimes and images",
            Viz::Stat,
            "xtask_eol_runtimes",
            "",
            "none",
            "Runtimes and base images past their end of life.",
        )
        .colors(Colors::Steps("green", vec![("red", 1.0)])),
        Panel {
            targets: vec![
                ("xtask_audit_packages".into(), "audited"),
                (
                    "xtask_outdated_unchecked_packages".into(),
                    "not checked (no cached answer)",
                ),
            ],
            ..panel(
                "Packages",
                Viz::Stat,
                "",
                "",
                "none",
                "Packages the audit checked; packages outdated could not check offline.",
            )
        },
    ]
}

fn deployments() -> Vec<Panel> {
    vec![
        panel("Running versions", Viz::Names, "xtask_deploy_info", "{{env}}: {{version}}", "none",
            "The version each environment runs, from its ledger."),
        panel("Newest outcome", Viz::Names, "xtask_deploy_last_outcome == 1", "{{env}}: {{outcome}}", "none",
            "How the newest deploy or rollback of each environment ended."),
        panel("Rollbacks in 7 days", Viz::Stat, "sum by (env) (increase(xtask_rollbacks_total[7d]))", "{{env}}", "none",
            "Rollbacks recorded in the ledgers over the last week.")
            .width(4),
        panel("Since the last deploy", Viz::Stat, "time() - xtask_deploy_last_timestamp_seconds", "{{env}}", "s",
            "Time since the newest deploy or rollback of each environment started.")
            .width(4),
        panel("Deploys per day", Viz::Bars, "sum by (env, outcome) (increase(xtask_deploys_total[1d]))", "{{env}} {{outcome}}", "none",
            "Deployment frequency by environment and outcome (the runbook's deployment metrics).")
            .width(16),
        panel("Ledger lines ignored", Viz::Stat, "xtask_deploy_ledger_invalid_lines", "{{env}}", "none",
            "Ledger lines that are not entries (torn or edited): cargo xtask releases ENV names them.")
            .colors(Colors::Steps("green", vec![("orange", 1.0)])),
    ]
}

fn upkeep() -> Vec<Panel> {
    vec![
        panel(
            "Since the last checklist",
            Viz::Stat,
            "time() - xtask_checklist_last_run_timestamp_seconds",
            "{{cadence}}",
            "s",
            "Time since the newest report of each checklist cadence.",
        ),
        panel(
            "Checklist items by result",
            Viz::BarGauge,
            "xtask_checklist_items",
            "{{cadence}} {{result}}",
            "none",
            "Items of the newest report of each cadence by result.",
        ),
        panel(
            "Collectors",
            Viz::Stat,
            "xtask_collector_success",
            "{{collector}}",
            "none",
            "Whether each collector ran completely (a failed one's metrics are missing).",
        )
        .colors(Colors::OkFailed("ok", "FAILED")),
        panel(
            "Collector duration",
            Viz::TimeSeries,
            "xtask_collector_duration_seconds",
            "{{collector}}",
            "s",
            "How long each collector takes.",
        )
        .width(16),
        panel(
            "Metrics age",
            Viz::Stat,
            "time() - xtask_metrics_generated_timestamp_seconds",
            "",
            "s",
            "Time since the metrics were computed (textfile or Pushgateway: the cron job's last run).",
        ),
    ]
}

/// CI runs (the runbook's build metrics) and the DORA figures of `ci.environment`.
fn ci() -> Vec<Panel> {
    vec![
        panel("Success ratio", Viz::Stat, "xtask_ci_success_ratio", "{{workflow}}", "percentunit",
            "Successful over completed runs of each workflow within ci.window (cancelled and skipped left out).")
            .colors(Colors::Steps("red", vec![("orange", 0.8), ("green", 0.9)])),
        panel("Runs per hour", Viz::Bars, "sum by (workflow, conclusion) (increase(xtask_ci_runs_total[1h]))", "{{workflow}} {{conclusion}}", "none",
            "Completed runs by workflow and conclusion, from the exports cargo xtask ci fetch keeps up to date.")
            .width(16),
        panel("Run duration", Viz::TimeSeries, "xtask_ci_duration_seconds", "{{workflow}} p{{percentile}}", "s",
            "Median and 95th percentile duration of each workflow's runs within ci.window.")
            .width(12),
        panel("Build failure ratio", Viz::TimeSeries,
            "xtask_ci_build_failure_ratio", "failed share", "percentunit",
            "Failed share of the CI runs that finished in alerts.build_failure_rate's window (1h): what the build_failure_rate alert judges.")
            .width(12),
        panel("Deployments per week", Viz::Stat, "xtask_dora_deployments_per_week", "{{env}}", "none",
            "DORA deployment frequency over ci.dora_window.")
            .width(6),
        panel("Lead time for changes", Viz::Stat, "xtask_dora_lead_time_seconds", "{{env}}", "s",
            "DORA: median time from commit to the end of the deploy that brought it.")
            .width(6),
        panel("Change failure ratio", Viz::Stat, "xtask_dora_change_failure_ratio", "{{env}}", "percentunit",
            "DORA: deployments that failed or were rolled back, over deployments.")
            .width(6)
            .colors(Colors::Steps("green", vec![("orange", 0.1), ("red", 0.15)])),
        panel("Time to restore", Viz::Stat, "xtask_dora_time_to_restore_seconds", "{{env}}", "s",
            "DORA: median time from a failed deploy to the entry that restored service.")
            .width(6),
    ]
}

/// The rows, each with its panels.
fn rows(cx: &Context) -> Vec<(&'static str, Vec<Panel>)> {
    vec![
        ("Backups", backups(cx)),
        ("Security", security(cx)),
        ("Dependencies", dependencies()),
        ("Deployments", deployments()),
        ("CI and delivery (DORA)", ci()),
        ("Checklists and the exposition", upkeep()),
    ]
}

/// Every PromQL expression of the dashboard (for the tests).
#[cfg(test)]
fn expressions(cx: &Context) -> Vec<String> {
    rows(cx)
        .into_iter()
        .flat_map(|(_, panels)| panels)
        .flat_map(|p| p.targets.into_iter().map(|(e, _)| e))
        .collect()
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// A panel's JSON at its place in the grid.
fn panel_json(p: Panel, id: u32, x: u32, y: u32) -> Value {
    let targets: Vec<Value> = p
        .targets
        .iter()
        .zip('A'..)
        .map(|((expr, legend), ref_id)| {
            let range = matches!(p.viz, Viz::TimeSeries | Viz::Bars);
            json!({"refId": ref_id.to_string(), "datasource": datasource(), "expr": expr,
                   "legendFormat": legend, "range": range, "instant": !range})
        })
        .collect();
    let mut defaults = json!({"unit": p.unit, "mappings": []});
    match &p.colors {
        Colors::None => {}
        Colors::Steps(base, steps) => {
            let mut list = vec![json!({"color": base, "value": null})];
            list.extend(steps.iter().map(|(c, v)| json!({"color": c, "value": v})));
            defaults["thresholds"] = json!({"mode": "absolute", "steps": list});
        }
        Colors::OkFailed(ok, failed) => {
            defaults["mappings"] = json!([{"type": "value", "options": {
                "1": {"text": ok, "color": "green", "index": 0},
                "0": {"text": failed, "color": "red", "index": 1}}}]);
            defaults["thresholds"] = json!({"mode": "absolute", "steps": [
                {"color": "red", "value": null}, {"color": "green", "value": 1}]});
        }
    }
    let reduce = json!({"calcs": ["lastNotNull"], "fields": "", "values": false});
    let (kind, options) = match p.viz {
        Viz::Stat | Viz::Names => (
            "stat",
            json!({"reduceOptions": reduce, "colorMode": "background", "graphMode": "none",
                   "justifyMode": "auto", "orientation": "auto",
                   "textMode": if matches!(p.viz, Viz::Names) { "name" } else { "value_and_name" }}),
        ),
        Viz::BarGauge => (
            "bargauge",
            json!({"reduceOptions": reduce, "orientation": "horizontal",
                   "displayMode": "gradient", "showUnfilled": true}),
        ),
        Viz::TimeSeries | Viz::Bars => {
            let draw = if matches!(p.viz, Viz::Bars) {
                "bars"
            } else {
                "line"
            };
            defaults["custom"] = json!({"drawStyle": draw, "fillOpacity": 20});
            (
                "timeseries",
                json!({"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                       "tooltip": {"mode": "multi", "sort": "none"}}),
            )
        }
    };
    json!({
        "id": id, "type": kind, "title": p.title, "description": p.description,
        "datasource": datasource(),
        "gridPos": {"h": 7, "w": p.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
    })
}

/// The dashboard, laid out row by row (panels fill 24 columns, then wrap).
pub fn dashboard(cx: &Context) -> Value {
    let mut panels = Vec::new();
    let (mut id, mut y) = (0, 0);
    for (title, row) in rows(cx) {
        id += 1;
        panels.push(
            json!({"id": id, "type": "row", "title": title, "collapsed": false,
                           "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []}),
        );
        y += 1;
        let mut x = 0;
        for p in row {
            if x + p.width > 24 {
                x = 0;
                y += 7;
            }
            id += 1;
            let w = p.width;
            panels.push(panel_json(p, id, x, y));
            x += w;
        }
        y += 7;
    }
    json!({
        "id": null,
        "uid": "xtask-maintenance",
        "title": "cargo xtask: CI/CD maintenance",
        "description": "Backups, security, dependencies, deployments and checklists of the CI/CD maintenance runbook, from `cargo xtask metrics`.",
        "tags": ["xtask", "runbook"],
        "timezone": "utc",
        "editable": true,
        "graphTooltip": 1,
        "refresh": "5m",
        "time": {"from": "now-7d", "to": "now"},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": true, "hide": true, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
            "query": "prometheus", "current": {}, "hide": 0, "refresh": 1, "regex": "",
            "includeAll": false, "multi": false, "options": []}]},
        "panels": panels,
    })
}

/// The dashboard as a file: pretty JSON.
pub fn json(cx: &Context) -> String {
    let mut s = serde_json::to_string_pretty(&dashboard(cx)).expect("JSON values serialise");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_have_unique_ids_fit_the_grid_and_query_known_metrics() {
        let d = dashboard(&Context::nowhere());
        let panels = d["panels"].as_array().unwrap();
        let mut ids = std::collections::BTreeSet::new();
        let mut cells = std::collections::BTreeSet::new();
        for p in panels {
            assert!(ids.insert(p["id"].as_u64().unwrap()), "{p}");
            let g = &p["gridPos"];
            let (x, y, w, h) = (
                g["x"].as_u64().unwrap(),
                g["y"].as_u64().unwrap(),
                g["w"].as_u64().unwrap(),
                g["h"].as_u64().unwrap(),
            );
            assert!(x + w <= 24, "{}", p["title"]);
            for cx in x..x + w {
                for cy in y..y + h {
                    assert!(
                        cells.insert((cx, cy)),
                        "{} overlaps another panel",
                        p["title"]
                    );
                }
            }
        }
        let known: Vec<&str> = super::super::catalog::ALL.iter().map(|d| d.name).collect();
        let mut used = std::collections::BTreeSet::new();
        for e in expressions(&Context::nowhere()) {
            let names: Vec<&str> = e
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("xtask_"))
                .collect();
            assert!(!names.is_empty(), "{e}");
            for n in names {
                assert!(known.contains(&n), "{e}: unknown metric {n}");
                used.insert(n.to_string());
            }
        }
        // Every metric has a panel, except the serve-only cache age and the build info.
        for d in super::super::catalog::ALL {
            let not_shown = [
                "xtask_metrics_cache_age_seconds",
                "xtask_build_info",
                "xtask_advisory_db_updated_timestamp_seconds",
            ];
            if not_shown.contains(&d.name) {
                continue;
            }
            assert!(used.contains(d.name), "no panel shows {}", d.name);
        }
        assert_eq!(d["schemaVersion"], SCHEMA_VERSION);
    }
}
