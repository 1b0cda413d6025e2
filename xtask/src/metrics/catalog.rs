//! Every metric the toolkit exposes, declared once: name (with its base unit), type, help and
//! label names. The rules, the dashboard and the README name only these (a test checks it).
//!
//! Label values are bounded: backup kinds, cadences, environments and their current
//! version, ecosystems and severities, advisory database folders, secret names (names, never
//! values) and certificate files: each grows with the configuration, not with use. CI
//! workflows grow with the repository's workflow files.

use super::exposition::{Def, Type};

macro_rules! defs {
    ($($name:ident = $metric:literal, $kind:ident, [$($label:literal),*], $help:literal;)*) => {
        $(pub static $name: Def = Def {
            name: $metric,
            kind: Type::$kind,
            help: $help,
            labels: &[$($label),*],
        };)*
        /// Every metric, in exposition order (read by the tests).
        #[cfg_attr(not(test), allow(dead_code))]
        pub static ALL: &[&Def] = &[$(&$name),*];
    };
}

defs! {
    // backups (`backup list`, `backup verify`)
    BACKUPS = "xtask_backups", Gauge, ["kind"],
        "Backups of each kind in the store (safety backups taken by restore db not counted).";
    BACKUP_LAST_SUCCESS = "xtask_backup_last_success_timestamp_seconds", Gauge, ["kind"],
        "Time of the newest backup of each kind (UTC, from its name): backups are published only once complete and checked.";
    BACKUP_SIZE = "xtask_backup_size_bytes", Gauge, ["kind"],
        "Size of the newest backup of each kind.";
    BACKUP_VERIFIED = "xtask_backup_verified", Gauge, ["kind"],
        "1 when the newest backup of each kind passes full verification (checksum, every member or page, integrity), else 0.";
    BACKUP_UP_TO_DATE = "xtask_backup_up_to_date", Gauge, ["kind"],
        "1 when the newest pipeline archive holds exactly the current pipeline configuration, else 0 (kind config only).";
    BACKUP_STORE_SIZE = "xtask_backup_store_size_bytes", Gauge, ["kind"],
        "Size of all backups of each kind in the store.";

    // checklists (`checklist CADENCE` reports in backups/reports/)
    CHECKLIST_LAST_RUN = "xtask_checklist_last_run_timestamp_seconds", Gauge, ["cadence"],
        "Time of the newest checklist report of each cadence.";
    CHECKLIST_ITEMS = "xtask_checklist_items", Gauge, ["cadence", "result"],
        "Commands of the newest checklist report of each cadence by status (ok, findings, failed, not_configured).";

    // deploys (the ledger, backups/deployments/ENV.jsonl)
    DEPLOY_INFO = "xtask_deploy_info", Info, ["env", "version"],
        "The version running in each environment according to its ledger.";
    DEPLOY_LAST_OUTCOME = "xtask_deploy_last_outcome", Gauge, ["env", "outcome"],
        "1 for the outcome of the newest deploy or rollback of each environment, 0 for every other outcome.";
    DEPLOY_LAST_TIME = "xtask_deploy_last_timestamp_seconds", Gauge, ["env"],
        "Start time of the newest deploy or rollback of each environment.";
    DEPLOYS = "xtask_deploys_total", Counter, ["env", "outcome"],
        "Finished deploys in the ledger of each environment, by outcome.";
    ROLLBACKS = "xtask_rollbacks_total", Counter, ["env", "outcome"],
        "Finished rollbacks in the ledger of each environment, by outcome.";
    LEDGER_INVALID = "xtask_deploy_ledger_invalid_lines", Gauge, ["env"],
        "Lines of each ledger that are not entries (torn or edited): ignored, see cargo xtask releases ENV.";

    // audit (`audit`, offline, with the cached advisory index)
    VULNERABILITIES = "xtask_vulnerabilities", Gauge, ["ecosystem", "severity"],
        "Vulnerabilities the audit reports (ignored ones not counted), by ecosystem and severity.";
    ADVISORY_DB_AGE = "xtask_advisory_db_age_seconds", Gauge, ["source"],
        "Age of each advisory database: time since its last update (fetch, commit or newest advisory).";
    ADVISORY_DB_UPDATED = "xtask_advisory_db_updated_timestamp_seconds", Gauge, ["source"],
        "Time of the last update of each advisory database.";
    AUDIT_PACKAGES = "xtask_audit_packages", Gauge, [],
        "Packages the audit checked (Cargo.lock and Python requirements and lockfiles).";

    // outdated (`outdated --offline`: the HTTP cache only)
    OUTDATED = "xtask_outdated_packages", Gauge, ["ecosystem", "kind"],
        "Packages behind their latest release: compatible (a newer version within the requirement) or major (only outside it).";
    OUTDATED_UNCHECKED = "xtask_outdated_unchecked_packages", Gauge, [],
        "Packages not checked because the HTTP cache has no answer for them (cargo xtask outdated fills it).";
    EOL_RUNTIMES = "xtask_eol_runtimes", Gauge, [],
        "End-of-life runtimes and base images in use (eol-runtime findings of outdated).";

    // secrets and certificates (`secrets check`)
    SECRETS = "xtask_secrets", Gauge, ["status"],
        "Secrets by rotation status (ok, due-soon, overdue, unknown, no-policy).";
    SECRET_AGE = "xtask_secret_age_seconds", Gauge, ["name", "kind"],
        "Time since each secret was last rotated (day precision).";
    SECRET_MAX_AGE = "xtask_secret_max_age_seconds", Gauge, ["name", "kind"],
        "Rotation policy of each secret (secrets.max_age_days).";
    SECRET_OVERDUE = "xtask_secret_rotation_overdue", Gauge, ["name", "kind"],
        "1 when a secret is older than its rotation policy, else 0 (secrets with a policy and a known rotation date).";
    CERT_EXPIRY = "xtask_certificate_expiry_timestamp_seconds", Gauge, ["path", "index"],
        "Expiry (notAfter) of each certificate of secrets.certs; index is its position in the file.";

    // CI (`ci stats`, from the GitHub Actions exports: none, none of these)
    CI_RUNS = "xtask_ci_runs_total", Counter, ["workflow", "conclusion"],
        "Completed workflow runs of the exports by conclusion (each run counted once, by its latest attempt).";
    CI_BUILD_FAILURE_RATIO = "xtask_ci_build_failure_ratio", Gauge, [],
        "Failed over counted (success or failure) CI runs that finished in the alerts.build_failure_rate window ending now; absent below its min_runs.";
    CI_SUCCESS_RATIO = "xtask_ci_success_ratio", Gauge, ["workflow"],
        "Successful over completed runs created within ci.window, cancelled and skipped ones left out.";
    CI_DURATION = "xtask_ci_duration_seconds", Gauge, ["workflow", "percentile"],
        "Duration percentiles (50, 95) of the counted runs created within ci.window (a gauge: promtool keeps the quantile label to summaries).";

    // DORA (`ci dora`, the ledger of ci.environment over ci.dora_window: a figure without data is left out)
    DORA_DEPLOYMENTS = "xtask_dora_deployments_per_week", Gauge, ["env"],
        "Deployments per week over ci.dora_window (deployment frequency).";
    DORA_LEAD_TIME = "xtask_dora_lead_time_seconds", Gauge, ["env"],
        "Median lead time for changes: from commit to the end of the succeeded deploy that brought it.";
    DORA_CHANGE_FAILURE = "xtask_dora_change_failure_ratio", Gauge, ["env"],
        "Deployments that failed, were rolled back or interrupted, or that a later rollback undid, over deployments.";
    DORA_RESTORE = "xtask_dora_time_to_restore_seconds", Gauge, ["env"],
        "Median time from a failed deploy to the entry that restored service.";

    // the exposition itself
    COLLECTOR_SUCCESS = "xtask_collector_success", Gauge, ["collector"],
        "1 when the collector ran completely, 0 when it failed (its metrics are then missing).";
    COLLECTOR_DURATION = "xtask_collector_duration_seconds", Gauge, ["collector"],
        "How long each collector took.";
    GENERATED = "xtask_metrics_generated_timestamp_seconds", Gauge, [],
        "When these metrics were computed.";
    CACHE_AGE = "xtask_metrics_cache_age_seconds", Gauge, [],
        "metrics serve: age of the computation this scrape was answered with.";
    BUILD_INFO = "xtask_build_info", Info, ["version"],
        "The version of cargo xtask that computed these metrics.";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table of metrics names every metric.
    #[test]
    fn the_readme_lists_every_metric() {
        let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        let text = std::fs::read_to_string(readme).unwrap();
        for d in ALL {
            assert!(
                text.contains(&format!("`{}`", d.name)),
                "README.md does not list {}",
                d.name
            );
        }
    }

    #[test]
    fn names_are_unique_snake_case_with_their_type_suffix() {
        let mut seen = std::collections::BTreeSet::new();
        for d in ALL {
            assert!(seen.insert(d.name), "{} declared twice", d.name);
            assert!(d.name.starts_with("xtask_"), "{}", d.name);
            assert!(
                d.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                d.name
            );
            assert_eq!(
                d.kind == Type::Counter,
                d.name.ends_with("_total"),
                "{}",
                d.name
            );
            assert_eq!(
                d.kind == Type::Info,
                d.name.ends_with("_info"),
                "{}",
                d.name
            );
            for reserved in ["_count", "_sum", "_bucket", "_created"] {
                assert!(!d.name.ends_with(reserved), "{}", d.name);
            }
            assert!(
                !d.help.contains(['\\', '"', '\n']) && d.help.ends_with('.'),
                "{}: {}",
                d.name,
                d.help
            );
            for l in d.labels {
                assert!(
                    l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{}",
                    d.name
                );
                assert!(!["job", "instance"].contains(l), "{}: {l}", d.name);
            }
        }
    }
}
