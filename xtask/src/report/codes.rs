//! The registry of finding codes: every code a finding can carry, with its default severity
//! and what it means. A finding can only be made from a [`Code`] defined here; a test fails
//! when a code is registered but never used, or missing from `docs/codes.md`.
//!
//! Codes are stable kebab-case identifiers: ignore lists, CI filters and dashboards name them.
//! Never rename one; add a new code and retire the old one.

use serde::Serialize;

use super::Severity;

/// A registered finding code. Only this module can make one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    id: &'static str,
    severity: Severity,
    meaning: &'static str,
}

impl Code {
    pub fn id(self) -> &'static str {
        self.id
    }

    /// The severity a finding of this code usually has (a command may raise or lower it,
    /// e.g. a vulnerability's from its CVSS score).
    pub fn default_severity(self) -> Severity {
        self.severity
    }

    pub fn meaning(self) -> &'static str {
        self.meaning
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.id == *other
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $id:literal, $sev:ident, $meaning:literal;)*) => {
        $($(#[$doc])* pub const $name: Code = Code {
            id: $id,
            severity: Severity::$sev,
            meaning: $meaning,
        };)*
        /// Every registered code, in registry order (read by the registry's tests).
        #[cfg_attr(not(test), allow(dead_code))]
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    // backup config, backup db, verify, prune, restore
    PIPELINE_EMPTY = "pipeline-empty", High,
        "no pipeline configuration was found under the root: nothing was backed up";
    PIPELINE_PATH_MISSING = "pipeline-path-missing", Medium,
        "a pipeline path the config names matched nothing (default paths that do not exist are not reported)";
    SECRET_EXCLUDED = "secret-excluded", Info,
        "a file that looks like a secret was left out of the archive";
    SYMLINK_OUTSIDE_TREE = "symlink-outside-tree", Low,
        "a link pointing outside the root was left out of the archive";
    UNSUPPORTED_FILE_TYPE = "unsupported-file-type", Low,
        "a socket, FIFO or device was left out of the archive";
    DATABASE_MISSING = "database-missing", Info,
        "there is no database at the database path: no database backup was made (high when database.path is set in the config)";
    BACKUP_FELL_BACK_TO_VACUUM = "backup-fell-back-to-vacuum", Info,
        "writers kept restarting the online backup, so VACUUM INTO made the copy";
    UPLOAD_FAILED = "upload-failed", High,
        "the off-site copy failed or did not verify (the local backup is intact)";
    BACKUP_CHECKSUM_MISSING = "backup-checksum-missing", High,
        "a backup has no .sha256 sidecar: it was never completely published";
    BACKUP_CHECKSUM_MISMATCH = "backup-checksum-mismatch", High,
        "a backup's content does not match its .sha256 sidecar";
    BACKUP_CORRUPT = "backup-corrupt", High,
        "a backup cannot be read to its end (damaged compression or tar stream)";
    BACKUP_MANIFEST_MISSING = "backup-manifest-missing", High,
        "the archive does not start with an xtask manifest: not an xtask backup";
    BACKUP_MEMBER_MISMATCH = "backup-member-mismatch", High,
        "an archive member differs from what its manifest records";
    BACKUP_MEMBER_MISSING = "backup-member-missing", High,
        "a file the manifest lists is not in the archive";
    BACKUP_MEMBER_DUPLICATE = "backup-member-duplicate", High,
        "an archive member appears twice";
    BACKUP_MEMBER_UNEXPECTED = "backup-member-unexpected", High,
        "an archive member is not in the manifest";
    BACKUP_UNSAFE_ENTRY = "backup-unsafe-entry", High,
        "an archive member would escape the target (.., absolute path, link, device)";
    BACKUP_CONTENT_MISMATCH = "backup-content-mismatch", High,
        "the database inside a backup does not match its manifest";
    BACKUP_INTEGRITY_FAILED = "backup-integrity-failed", High,
        "the database inside a backup fails SQLite's integrity check or pg_restore --list";
    NO_VERIFIED_BACKUP = "no-verified-backup", High,
        "no backup of a kind verifies: prune deleted nothing";
    RESTORE_CONFLICT = "restore-conflict", High,
        "restoring would overwrite something it must not (a link, a directory, a changed file)";
    RESTORE_TARGET_UNWRITABLE = "restore-target-unwritable", High,
        "a folder of the restore target cannot be written or is on another file system: nothing was written";
    BACKUP_EMPTY = "backup-empty", High,
        "a database backup holds no tables (an empty or zero-byte file was backed up): it does not count as verified";

    // audit, advisories
    VULNERABILITY = "vulnerability", High,
        "a package version is affected by a security advisory (severity from CVSS)";
    UNMAINTAINED = "unmaintained", Low,
        "an advisory says the package is unmaintained";
    UNSOUND = "unsound", Low,
        "an advisory says the package has unsound code";
    NOTICE = "notice", Low,
        "an informational advisory applies to the package";
    UNPINNED_REQUIREMENT = "unpinned-requirement", Medium,
        "a requirement pins no exact version, so it cannot be audited";
    UNPARSABLE_VERSION = "unparsable-version", Low,
        "a package version cannot be compared, so its advisories were not checked";
    ADVISORY_MALFORMED = "advisory-malformed", Low,
        "an advisory file could not be parsed and was skipped";
    ADVISORY_DB_STALE = "advisory-db-stale", Low,
        "the advisory database is older than audit.stale_after_days";
    ADVISORY_DB_MISSING = "advisory-db-missing", High,
        "no advisory database is configured or cached";
    ADVISORY_UPDATE_FAILED = "advisory-update-failed", High,
        "fetching an advisory source failed";
    ADVISORY_INDEX_FAILED = "advisory-index-failed", Low,
        "the pre-parsed index of an advisory source could not be written";
    IGNORE_EXPIRED = "ignore-expired", Low,
        "an audit ignore passed its `until` date and is reported again";
    IGNORE_UNUSED = "ignore-unused", Low,
        "an audit ignore matched nothing";
    INPUT_ERROR = "input-error", High,
        "an input file could not be read or parsed: it was not checked";
    INPUT_NOTE = "input-note", Info,
        "something in an input file was understood with a caveat";
    ADVISORY_SOURCE_INSECURE = "advisory-source-insecure", Low,
        "an advisory source is fetched over plain http://: anyone on the way can change it";

    // outdated
    OUTDATED_MAJOR = "outdated-major", Low,
        "a newer version exists outside the allowed range";
    OUTDATED_COMPATIBLE = "outdated-compatible", Info,
        "a newer version exists inside the allowed range";
    YANKED_VERSION = "yanked-version", Medium,
        "the locked version was yanked from its registry";
    REGISTRY_UNREACHABLE = "registry-unreachable", Medium,
        "a registry or API could not be asked: those packages were not checked";
    HTTP_CACHE_UNUSABLE = "http-cache-unusable", Medium,
        "the HTTP cache cannot be written: the run went on without caching answers";
    UNPINNED_ACTION = "unpinned-action", Low,
        "a GitHub Action is referenced by tag, not by full commit SHA";
    MUTABLE_ACTION_REF = "mutable-action-ref", Medium,
        "a GitHub Action is referenced by branch or no ref at all";
    UNPINNED_IMAGE = "unpinned-image", Low,
        "a Docker image is not pinned by digest";
    LATEST_TAG = "latest-tag", Medium,
        "a Docker image uses the `latest` tag (or no tag)";
    EOL_RUNTIME = "eol-runtime", Medium,
        "a runtime or base image release is past its end of life";
    PACKAGE_NOT_FOUND = "package-not-found", Medium,
        "the registry has no package of that name (a typo, a private package, a removed one)";

    // deploy, rollback, releases
    DEPLOY_FAILED = "deploy-failed", High,
        "a deploy failed its checks and was not rolled back";
    DEPLOY_ROLLED_BACK = "deploy-rolled-back", High,
        "a deploy failed its checks and was rolled back automatically";
    ROLLBACK_FAILED = "rollback-failed", Critical,
        "a rollback did not bring back a healthy version";
    MIGRATION_FAILED = "migration-failed", High,
        "the migration failed: nothing was deployed";
    LEDGER_TORN_LINE = "ledger-torn-line", Medium,
        "a deployment ledger line is incomplete (an interrupted write)";
    LEDGER_INVALID_LINE = "ledger-invalid-line", Medium,
        "a deployment ledger line is not a valid entry (not UTF-8, or not an entry): it is ignored";
    DEPLOY_INTERRUPTED = "deploy-interrupted", High,
        "a deploy or rollback did not finish (a signal, or the process was killed): what it brought up may run unverified";
    NO_SMOKE_CHECKS = "no-smoke-checks", Medium,
        "the environment has no smoke checks: only the container's health decides whether a deploy worked";

    // checklist
    CHECKLIST_ITEM_FAILED = "checklist-item-failed", High,
        "a checklist item could not run";
    NO_BACKUPS = "no-backups", High,
        "there is no backup to run the restore drill with";
    CHECKLIST_REPORT_UNWRITTEN = "checklist-report-unwritten", High,
        "the checklist's report file could not be written: the printed results are the only copy";
    CHECKLIST_SUMMARY_UNWRITTEN = "checklist-summary-unwritten", High,
        "the checklist's report could not be appended to the job summary ($GITHUB_STEP_SUMMARY)";

    // workflows lint
    UNPINNED_USES = "unpinned-uses", Medium,
        "a `uses:` is not pinned to a full commit SHA (high for a branch or no ref)";
    EXCESSIVE_PERMISSIONS = "excessive-permissions", Medium,
        "a job gets the repository's default token permissions (high for `write-all`)";
    TEMPLATE_INJECTION = "template-injection", High,
        "an attacker-controlled `${{ }}` expression is expanded inside a script";
    DANGEROUS_TRIGGERS = "dangerous-triggers", Medium,
        "`pull_request_target` or `workflow_run` (high when the job checks out the PR head)";
    HARDCODED_CREDENTIALS = "hardcoded-credentials", High,
        "a password or token is a literal instead of `${{ secrets.* }}`";
    SECRETS_INHERIT = "secrets-inherit", Medium,
        "a reusable-workflow call passes every secret with `secrets: inherit`";
    INSECURE_COMMANDS = "insecure-commands", High,
        "`ACTIONS_ALLOW_UNSECURE_COMMANDS`, `::set-env` or `::add-path` lets output set the environment";
    DEPRECATED_COMMANDS = "deprecated-commands", Medium,
        "`::set-output` or `::save-state`: use $GITHUB_OUTPUT or $GITHUB_STATE";
    MISSING_TIMEOUT = "missing-timeout", Low,
        "a job has no `timeout-minutes` (the runner default is 6 hours)";
    ARTIPACKED = "artipacked", Medium,
        "`actions/checkout` persists the token where artifacts or third-party code reach it (low otherwise)";
    RETIRED_RUNNER = "retired-runner", High,
        "`runs-on` names a runner image GitHub has retired (medium: retirement announced)";
    UNPINNED_IMAGES = "unpinned-images", Medium,
        "a job's container or service image is not pinned by digest (high on `latest` or no tag)";
    EXCEPTION_EXPIRED = "exception-expired", Medium,
        "an ignore or scanner exception is past its expiry date: what it hid is reported again";

    // secrets check, secrets rotated
    SECRET_ROTATION_OVERDUE = "secret-rotation-overdue", High,
        "a secret is older than its rotation policy";
    SECRET_ROTATION_DUE_SOON = "secret-rotation-due-soon", Medium,
        "a secret's rotation falls due within secrets.due_soon_days";
    SECRET_ROTATION_UNKNOWN = "secret-rotation-unknown", Medium,
        "an inventory secret has no known rotation date (not in GitHub, none recorded)";
    SECRET_UNCLASSIFIED = "secret-unclassified", Info,
        "a secret's kind is unknown, so no rotation policy applies";
    CERT_EXPIRED = "cert-expired", Critical,
        "a certificate is past its not-after date";
    CERT_EXPIRING = "cert-expiring", High,
        "a certificate expires within 14 days (medium: within 30)";

    // scan-config check
    EXCEPTION_UNJUSTIFIED = "exception-unjustified", Medium,
        "a scanner exception (.trivyignore entry, bandit skip) has no reason beside it";
    SCAN_EXCLUDES_CODE = "scan-excludes-code", Medium,
        "bandit's `exclude_dirs` leaves application code (not tests or a virtualenv) unscanned";

    // coverage check
    COVERAGE_BELOW_THRESHOLD = "coverage-below-threshold", High,
        "a coverage report's total is below coverage.min (--min), compared like coverage.py's fail_under";
    DIFF_COVERAGE_BELOW_THRESHOLD = "diff-coverage-below-threshold", High,
        "the coverage of the lines changed since --diff BASE is below the minimum";

    // tests report
    TEST_FAILED = "test-failed", High,
        "a test failed in its newest run";
    TEST_ERROR = "test-error", High,
        "a test errored in its newest run (setup, teardown or collection failed)";
    TEST_FLAKY = "test-flaky", Medium,
        "a test both failed and passed on the same commit or within the newest tests.flaky_runs runs";

    // deps lock
    LOCK_OUT_OF_DATE = "lock-out-of-date", High,
        "a pin of the committed .txt is missing, extra or different from what the compiler gives";

    // ci stats, ci dora, alerts
    BUILD_FAILURE_RATE = "build-failure-rate", High,
        "more of the CI runs in the window failed than alerts.build_failure_rate allows (the runbook: 10% in 1 h)";
    BUILD_TIME_TREND = "build-time-trend", Medium,
        "a workflow's median duration rose more than alerts.build_time_trend allows against the window before";
    DEPLOYMENT_FAILURE = "deployment-failure", Critical,
        "a deploy or rollback in the window failed, was rolled back or was interrupted (the runbook pages the on-call engineer)";
    SECURITY_VULNERABILITY = "security-vulnerability", High,
        "`audit` found a vulnerability at or above alerts.security_vulnerability.min_severity (the runbook creates an incident)";
    TEST_FLAKINESS = "test-flakiness", Medium,
        "`tests report` found a flaky test (the runbook's warning alert)";
    ALERT_NOT_EVALUATED = "alert-not-evaluated", High,
        "an alert rule could not be evaluated (its input is missing or unreadable): it neither passed nor fired";
    NOTIFICATION_FAILED = "notification-failed", High,
        "a breach could not be delivered to a target after its retries: it is kept and sent by the next `alerts --notify`";
    PIN_OUTSIDE_RANGE = "pin-outside-range", High,
        "a pin of X.txt does not satisfy the range X.in gives it";
    PIN_MISSING = "pin-missing", High,
        "a requirement of X.in has no pin in X.txt (or X.txt does not exist)";
    LOCK_COMPILER_MISSING = "lock-compiler-missing", Low,
        "neither uv nor pip-compile is on PATH: only the offline range check ran";

    // metrics
    METRICS_COLLECTOR_FAILED = "metrics-collector-failed", High,
        "a metrics collector failed: its metrics are missing and xtask_collector_success is 0 for it";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn sources(dir: &Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                sources(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("report/codes.rs") {
                out.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }

    /// The const name of a code as Rust code refers to it (`codes::BACKUP_CORRUPT`).
    fn const_name(c: Code) -> String {
        c.id().replace('-', "_").to_uppercase()
    }

    #[test]
    fn codes_are_unique_kebab_case_and_documented() {
        let mut seen = BTreeSet::new();
        for c in ALL {
            assert!(seen.insert(c.id()), "{} registered twice", c.id());
            assert!(
                c.id().split('-').all(|w| !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())),
                "{} is not kebab-case",
                c.id()
            );
            assert!(!c.meaning().is_empty());
        }
        let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/codes.md");
        let doc = std::fs::read_to_string(&doc_path).unwrap();
        let documented: BTreeSet<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .collect();
        assert_eq!(
            documented, seen,
            "docs/codes.md must list exactly the registered codes"
        );
    }

    #[test]
    fn every_registered_code_is_used() {
        let mut src = String::new();
        sources(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src").as_path(),
            &mut src,
        );
        for c in ALL {
            let name = const_name(*c);
            let used = src.match_indices(&name).any(|(i, _)| {
                let before = src[..i].chars().next_back();
                let after = src[i + name.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            assert!(used, "{} is registered but no command uses {name}", c.id());
        }
    }
}
