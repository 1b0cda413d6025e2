//! `maintenance.toml`: a strict schema whose defaults mirror the runbook, and the
//! `config show` / `config init` commands.
//!
//! Everything is optional. Unknown keys are an error that names the key and the line
//! (`deny_unknown_fields` everywhere), and values are validated before any work starts.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};

use crate::report::{Report, Table};
use crate::util::files;
use crate::util::redact;

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub backup: BackupConfig,
    pub pipeline: PipelineConfig,
    pub database: DatabaseConfig,
    pub audit: AuditConfig,
    pub deploy: DeployConfig,
    pub outdated: OutdatedConfig,
    pub coverage: CoverageConfig,
    pub tests: TestsConfig,
    pub deps: DepsConfig,
    pub workflows: WorkflowsConfig,
    pub secrets: SecretsConfig,
    pub scan_config: ScanConfigConfig,
    pub checklist: ChecklistConfig,
    pub ci: CiConfig,
    pub alerts: AlertsConfig,
    pub metrics: MetricsConfig,
    /// True when `pipeline.paths` was set in the file (missing paths then matter more).
    #[serde(skip)]
    pub pipeline_paths_explicit: bool,
    /// True when `database.path` was set in the file (a missing database is then a failure).
    #[serde(skip)]
    pub database_path_explicit: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Backup store, relative to the root unless absolute. Runbook: `backups/`.
    pub dir: PathBuf,
    pub retention: Retention,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: PathBuf::from("backups"),
            retention: Retention::default(),
        }
    }
}

/// A backup is kept when any rule keeps it; the newest verified backup is always kept.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Keep everything younger than this many days (the runbook's `-mtime +7`).
    pub keep_days: u32,
    /// Keep the newest N backups whatever their age.
    pub keep_last: u32,
    /// Keep the newest backup of each of the last N days / ISO weeks / months.
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_days: 7,
            keep_last: 3,
            daily: 0,
            weekly: 0,
            monthly: 0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Files, directories or globs (`*`, `?`) relative to the root. Missing ones are skipped.
    pub paths: Vec<String>,
    /// Extra glob patterns to leave out (matched against the relative path, or the file
    /// name when the pattern has no `/`).
    pub exclude: Vec<String>,
    /// Paths or globs that look like secrets but must be archived anyway.
    pub include_secrets: Vec<String>,
}

/// The runbook's pipeline configuration: workflows, config, scripts and friends.
pub const DEFAULT_PIPELINE_PATHS: &[&str] = &[
    ".github/workflows",
    "config",
    "scripts",
    "azure-pipelines.yml",
    "Dockerfile*",
    "docker-compose*.yml",
    ".trivyignore",
    "bandit.yaml",
];

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            paths: DEFAULT_PIPELINE_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            exclude: Vec::new(),
            include_secrets: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// The service's SQLite database, relative to the root. Runbook default.
    pub path: String,
    /// A PostgreSQL URL (`postgres://user@host:port/db`) to back up instead of `path`.
    /// Put the password in PGPASSWORD or ~/.pgpass, not here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `integrity_check` (thorough, default) or `quick_check` (faster on large databases).
    pub check: IntegrityCheck,
    /// Pages copied per step of SQLite's online backup (rollback-journal databases; a WAL
    /// database is copied in one step, which never blocks its writers).
    pub step_pages: u32,
    /// Restarts tolerated when writers keep changing pages; then `VACUUM INTO` takes over.
    pub max_restarts: u32,
    /// gzip level of database backups, 1 (fastest) to 9 (smallest).
    pub compression_level: u32,
    /// rclone remote for an off-site copy after each backup (e.g. `s3:bucket/database`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IntegrityCheck {
    IntegrityCheck,
    QuickCheck,
}

impl IntegrityCheck {
    pub fn pragma(self) -> &'static str {
        match self {
            IntegrityCheck::IntegrityCheck => "integrity_check",
            IntegrityCheck::QuickCheck => "quick_check",
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            path: "ai_knowledge_hub/knowledge_hub.db".into(),
            url: None,
            check: IntegrityCheck::IntegrityCheck,
            step_pages: 16384,
            max_restarts: 3,
            compression_level: 5,
            upload: None,
        }
    }
}

/// `coverage check`: the runbook's "Maintain 80%+ test coverage".
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CoverageConfig {
    /// Lowest total coverage in percent, compared like coverage.py's `fail_under`.
    pub min: f64,
    /// Decimals the total is shown with (coverage.py's `[report] precision`); the comparison
    /// with `min` is exact.
    pub precision: u32,
    /// How many of the least-covered files the report lists (0: none).
    pub least_covered: usize,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            min: 80.0,
            precision: 3,
            least_covered: 10,
        }
    }
}

/// `tests report`: JUnit XML results.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TestsConfig {
    /// Globs (relative to the root) of the JUnit files read when no FILE is given.
    pub reports: Vec<String>,
    /// How many of the slowest tests the report lists (0: none).
    pub slowest: usize,
    /// A test that both failed and passed within the newest N runs is flaky.
    pub flaky_runs: usize,
}

impl Default for TestsConfig {
    fn default() -> Self {
        TestsConfig {
            reports: ["**/junit*.xml", "**/TEST-*.xml", "**/test-results/**/*.xml"]
                .map(String::from)
                .to_vec(),
            slowest: 10,
            flaky_runs: 10,
        }
    }
}

/// `deps lock`: the runbook's `pip-compile requirements.in`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DepsConfig {
    /// Globs (relative to the root) of the pip-compile inputs; each `X.in` is locked to `X.txt`.
    pub inputs: Vec<String>,
}

impl Default for DepsConfig {
    fn default() -> Self {
        DepsConfig {
            inputs: vec!["**/requirements*.in".into()],
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Advisory databases (directories or OSV .zip files), relative to the root unless
    /// absolute. `--db` and XTASK_ADVISORY_DB take precedence; empty: the default cache.
    pub db: Vec<PathBuf>,
    /// Lowest severity that fails the run. A vulnerability without severity data counts as high.
    pub fail_on: crate::report::Severity,
    /// Informational kinds that count as failures: unmaintained, unsound, notice.
    pub deny: Vec<InformationalKind>,
    /// Warn when a database is older than this many days...
    pub stale_after_days: u32,
    /// ...and refuse (unless --allow-stale) past this many.
    pub max_age_days: u32,
    /// Advisories to ignore: `{ id = "RUSTSEC-…", reason = "…", until = "2026-12-31" }`.
    pub ignore: Vec<AuditIgnore>,
    /// What `advisories update` fetches into the cache. Empty: RustSec (osv branch) and PyPA.
    pub sources: Vec<AdvisorySource>,
    /// `advisories update` refuses a fetched copy holding fewer than this fraction of the
    /// advisories of the copy it would replace (`--allow-shrink` takes it anyway).
    pub min_update_fraction: f64,
}

/// The informational advisory kinds `audit.deny` and `--deny` can make count as failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum InformationalKind {
    Unmaintained,
    Unsound,
    Notice,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdvisorySource {
    /// Folder name in the cache: `[a-z0-9_-]+`, unique, not `index`.
    pub name: String,
    /// A git repository: an https://, http:// or file:// URL, or a path (relative to the
    /// root) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// ... or an OSV zip export: an https://, http:// or file:// URL, or a path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// How an advisory source's `git` or `url` is reached: each value is one of these, so that
/// it can never be read as an option by git or curl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceLocation {
    Https,
    /// Plain http: allowed, with a warning (anyone on the way can change the advisories).
    Http,
    /// A `file://` URL.
    FileUrl,
    /// A path (relative to the root unless absolute).
    Path,
}

impl SourceLocation {
    /// What `value` is, or why it is none of them. The error shows the value redacted.
    pub fn of(value: &str) -> Result<SourceLocation> {
        let shown = redact::redact(value);
        if value.is_empty() {
            bail!("is empty");
        }
        if value.chars().any(char::is_control) {
            bail!("holds a control character");
        }
        if value.starts_with('-') {
            bail!("`{shown}` starts with `-` (it would be read as an option)");
        }
        if let Some((scheme, _)) = value.split_once("://") {
            let loc = match scheme {
                "https" => SourceLocation::Https,
                "http" => SourceLocation::Http,
                "file" => SourceLocation::FileUrl,
                _ => bail!(
                    "`{shown}`: the scheme `{scheme}` is not allowed (https://, http://, file:// or a path)"
                ),
            };
            let url =
                url::Url::parse(value).with_context(|| format!("`{shown}` is not a valid URL"))?;
            if loc != SourceLocation::FileUrl && url.host_str().is_none_or(str::is_empty) {
                bail!("`{shown}` names no host");
            }
            return Ok(loc);
        }
        // git reads `host:path` as ssh and `helper::address` as a remote helper: a path has
        // no `:` before its first `/`.
        if let Some(colon) = value.find(':')
            && !value[..colon].contains('/')
        {
            bail!(
                "`{shown}` is neither a URL (https://, http://, file://) nor a path (git would read the part before `:` as a host or a helper)"
            );
        }
        Ok(SourceLocation::Path)
    }
}

impl AdvisorySource {
    /// The checks of `audit.sources`, each error naming the key: the name (a folder of the
    /// cache), the location and the branch.
    pub fn check(&self) -> Result<()> {
        let name = &self.name;
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
        if !valid {
            bail!(
                "audit.sources: `{}` is not a valid source name (lowercase letters, digits, `-` and `_`; it names the folder in the cache)",
                name.escape_debug()
            );
        }
        if name == "index" {
            bail!("audit.sources: `index` is the cache's index folder: name the source otherwise");
        }
        match (&self.git, &self.url) {
            (Some(git), None) => {
                SourceLocation::of(git).with_context(|| format!("audit.sources `{name}`: git"))?
            }
            (None, Some(url)) => {
                SourceLocation::of(url).with_context(|| format!("audit.sources `{name}`: url"))?
            }
            _ => bail!("audit.sources `{name}`: give exactly one of git or url"),
        };
        if self.url.is_some() && self.branch.is_some() {
            bail!("audit.sources `{name}`: branch: only a git source has a branch");
        }
        if let Some(b) = &self.branch
            && (b.is_empty()
                || b.starts_with('-')
                || b.chars().any(|c| c.is_control() || c.is_whitespace()))
        {
            bail!(
                "audit.sources `{name}`: branch `{}` is not a branch name (empty, starting with `-`, or holding a space or control character)",
                b.escape_debug()
            );
        }
        Ok(())
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            db: Vec::new(),
            fail_on: crate::report::Severity::High,
            deny: Vec::new(),
            stale_after_days: 7,
            max_age_days: 90,
            ignore: Vec::new(),
            sources: Vec::new(),
            min_update_fraction: 0.5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditIgnore {
    /// Advisory id or any alias (CVE, GHSA).
    pub id: String,
    /// Why it is safe to ignore: required.
    pub reason: String,
    /// The ignore stops applying after this day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::NaiveDate>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutdatedConfig {
    /// Concurrent registry requests.
    pub parallel: usize,
    /// Per-request timeout.
    pub timeout_secs: u64,
    /// Registry answers younger than this are reused without a request (0: always revalidate).
    pub cache_max_age_secs: u64,
    /// Package, action or image names not to report.
    pub ignore: Vec<String>,
}

impl Default for OutdatedConfig {
    fn default() -> Self {
        OutdatedConfig {
            parallel: 16,
            timeout_secs: 20,
            cache_max_age_secs: 600,
            ignore: Vec::new(),
        }
    }
}

/// `workflows lint`: what to lint, what fails the run, which findings are accepted.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WorkflowsConfig {
    /// Workflow folders or files, relative to the root (`action.yml` of local actions under
    /// `.github/` are linted too).
    pub paths: Vec<String>,
    /// Lowest severity that fails the run.
    pub fail_on: crate::report::Severity,
    /// `uses:` owners or actions allowed on a tag instead of a commit SHA, e.g. `actions/*`.
    pub allow_tags: Vec<String>,
    /// Accepted findings: `{ code, path, reason, until }` (path a glob, reason required).
    pub ignore: Vec<LintIgnore>,
}

impl Default for WorkflowsConfig {
    fn default() -> Self {
        WorkflowsConfig {
            paths: vec![".github/workflows".into(), ".github/actions".into()],
            fail_on: crate::report::Severity::Medium,
            allow_tags: Vec::new(),
            ignore: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LintIgnore {
    /// The finding code, e.g. `missing-timeout`.
    pub code: String,
    /// File (glob, relative to the root) it applies to; none: every file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why the finding is accepted: required.
    pub reason: String,
    /// The ignore stops applying after this day (and is then reported itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<chrono::NaiveDate>,
}

/// Kinds of secret, each with its rotation policy (`[secrets.max_age_days]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretKind {
    ApiKey,
    DbPassword,
    SshKey,
    TlsCert,
    Other,
}

/// `secrets check`: the inventory and the runbook's rotation schedule.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Lowest severity that fails the run (high: overdue, or a certificate within 14 days).
    pub fail_on: crate::report::Severity,
    /// A rotation due within this many days is reported (`secret-rotation-due-soon`).
    pub due_soon_days: u32,
    /// Certificates (PEM files or folders) checked for expiry, relative to the root.
    pub certs: Vec<String>,
    /// Rotation policy per kind, in days (the runbook: 90 / 180 / 365).
    pub max_age_days: MaxAge,
    /// Secrets by name (a glob classifies many): kind, owner, date last rotated.
    pub inventory: std::collections::BTreeMap<String, SecretEntry>,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        SecretsConfig {
            fail_on: crate::report::Severity::High,
            due_soon_days: 14,
            certs: Vec::new(),
            max_age_days: MaxAge::default(),
            inventory: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct MaxAge {
    pub api_key: u32,
    pub db_password: u32,
    pub ssh_key: u32,
    /// `tls-cert` and `other` have no age limit unless set (certificates: by expiry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<u32>,
}

impl Default for MaxAge {
    fn default() -> Self {
        MaxAge {
            api_key: 90,
            db_password: 180,
            ssh_key: 365,
            tls_cert: None,
            other: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecretEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SecretKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Last rotation of a secret not in GitHub (`secrets rotated` records later ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<chrono::NaiveDate>,
    /// This name's own policy, overriding its kind's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
}

/// `scan-config check`: scanner exception files and which excluded folders are fine.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfigConfig {
    pub fail_on: crate::report::Severity,
    /// Trivy ignore files, relative to the root.
    pub trivyignore: Vec<String>,
    /// Bandit configuration files (YAML `bandit.yaml`, or INI `.bandit`).
    pub bandit: Vec<String>,
    /// Folders bandit may exclude: tests, virtual environments, build output (globs on
    /// each path component).
    pub exclude_ok: Vec<String>,
}

impl Default for ScanConfigConfig {
    fn default() -> Self {
        ScanConfigConfig {
            fail_on: crate::report::Severity::Medium,
            trivyignore: vec![".trivyignore".into()],
            bandit: vec!["bandit.yaml".into(), ".bandit".into()],
            exclude_ok: DEFAULT_EXCLUDE_OK.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The runbook's `exclude_dirs: ['tests', 'venv']` and their usual relatives.
pub const DEFAULT_EXCLUDE_OK: &[&str] = &[
    "test",
    "tests",
    "test_*",
    "*_test",
    "*_tests",
    "testing",
    "venv",
    ".venv",
    "env",
    ".env",
    ".tox",
    ".nox",
    "node_modules",
    "build",
    "dist",
    ".git",
    "__pycache__",
    "site-packages",
    "docs",
];

/// `metrics`: the Prometheus exposition, its alert rules, `serve` and `push`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Alert when the newest database backup is older than this many hours (a daily
    /// backup, with slack), or when the pipeline configuration has differed from its newest
    /// archive for that long.
    pub backup_max_age_hours: u32,
    /// Alert when the exposition (textfile, Pushgateway) was computed longer ago than this.
    pub stale_after_minutes: u32,
    /// `metrics serve`: a computation is reused for this many seconds.
    pub cache_secs: u64,
    /// `metrics push`: the `job` label of the Pushgateway group.
    pub job: String,
    /// A `gh secret list --json name,updatedAt` export (relative to the root) for the ages of
    /// GitHub secrets; none: the inventory and the rotation log only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_secrets: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            backup_max_age_hours: 26,
            stale_after_minutes: 120,
            cache_secs: 60,
            job: "xtask".into(),
            github_secrets: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {
    /// Compose file per environment; `{env}` is replaced (the runbook's docker-compose.ENV.yml).
    pub compose_file: String,
    /// The service that is deployed (`up -d --no-deps SERVICE`).
    pub service: String,
    /// Environment variable the compose file interpolates with the version.
    pub variable: String,
    /// Registry to pull `<image>:<version>` from before deploying; none: local images only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Take a database backup before every deploy (its id goes into the ledger).
    pub backup_db: bool,
    /// Migration command (argv), run after the backup and before `up`, with the version in
    /// the environment variable. Empty: no migration step.
    pub migrate: Vec<String>,
    /// How long to wait for the container's health status.
    pub health_timeout_secs: u64,
    /// Smoke checks per environment.
    pub environments: std::collections::BTreeMap<String, EnvironmentConfig>,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            compose_file: "docker-compose.{env}.yml".into(),
            service: "app".into(),
            variable: "APP_TAG".into(),
            registry: None,
            backup_db: false,
            migrate: Vec::new(),
            health_timeout_secs: 60,
            environments: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentConfig {
    /// HTTP checks after the health gate.
    pub smoke: Vec<HttpCheck>,
    /// A script run with the environment name as its argument (the runbook's
    /// `scripts/smoke-tests.sh ENV`), relative to the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke_script: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default = "default_status")]
    pub status: u16,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Attempts after the first, with doubling backoff from 1 s.
    #[serde(default = "default_retries")]
    pub retries: u32,
}

fn default_status() -> u16 {
    200
}
fn default_timeout() -> u64 {
    5
}
fn default_retries() -> u32 {
    3
}

/// `checklist CADENCE`: the runbook's checklists, item by item, in its wording. A list
/// given in maintenance.toml replaces that cadence's whole list.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChecklistConfig {
    pub daily: Vec<ChecklistItem>,
    pub weekly: Vec<ChecklistItem>,
    pub monthly: Vec<ChecklistItem>,
    pub quarterly: Vec<ChecklistItem>,
}

/// One item of a checklist: done by its commands (`run`), by hand (no `run`), or partly
/// (`run` and `by_hand`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    /// The runbook's wording.
    pub item: String,
    /// The runbook heading it is under.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub section: String,
    /// The commands that do it, in order; none: a box to tick by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<ChecklistTask>,
    /// What a person still does (shown as a box); with `run`, the item is partly automated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_hand: Option<String>,
    /// Threshold of audit, workflows-lint, secrets-check and scan-config-check (their
    /// `--fail-on`); default: each command's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<crate::report::Severity>,
    /// Informational advisory kinds that fail `audit` (its `--deny`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<InformationalKind>,
}

/// A command a checklist item runs (in-process, read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecklistTask {
    /// `backup verify`: the newest backup of each kind.
    BackupVerify,
    /// `backup verify --all`.
    BackupVerifyAll,
    /// The newest backups restored into a scratch folder, then removed.
    RestoreDrill,
    /// `releases ENV` for every `[deploy.environments.ENV]`.
    Releases,
    Audit,
    Outdated,
    /// `outdated --all`.
    OutdatedAll,
    WorkflowsLint,
    SecretsCheck,
    ScanConfigCheck,
    TestsReport,
    /// `deps lock --check`.
    DepsLockCheck,
    CoverageCheck,
    /// `alerts` (evaluated, not notified).
    Alerts,
    /// `ci stats` over its default window.
    CiStats,
}

impl ChecklistTask {
    /// Its name in maintenance.toml.
    pub fn id(self) -> &'static str {
        match self {
            ChecklistTask::BackupVerify => "backup-verify",
            ChecklistTask::BackupVerifyAll => "backup-verify-all",
            ChecklistTask::RestoreDrill => "restore-drill",
            ChecklistTask::Releases => "releases",
            ChecklistTask::Audit => "audit",
            ChecklistTask::Outdated => "outdated",
            ChecklistTask::OutdatedAll => "outdated-all",
            ChecklistTask::WorkflowsLint => "workflows-lint",
            ChecklistTask::SecretsCheck => "secrets-check",
            ChecklistTask::ScanConfigCheck => "scan-config-check",
            ChecklistTask::TestsReport => "tests-report",
            ChecklistTask::DepsLockCheck => "deps-lock-check",
            ChecklistTask::CoverageCheck => "coverage-check",
            ChecklistTask::Alerts => "alerts",
            ChecklistTask::CiStats => "ci-stats",
        }
    }

    /// Whether the command takes `--fail-on` (an item's `fail_on`).
    pub fn takes_fail_on(self) -> bool {
        matches!(
            self,
            ChecklistTask::Audit
                | ChecklistTask::WorkflowsLint
                | ChecklistTask::SecretsCheck
                | ChecklistTask::ScanConfigCheck
        )
    }
}

/// The runbook's checklists as `[checklist]` items: the defaults, and the end of [`EXAMPLE`]
/// (one text, so that the two cannot differ).
macro_rules! checklist_defaults {
    () => {
        r#"daily = [
  { item = "Pipeline execution monitoring", section = "Automated Tasks", run = ["alerts"], by_hand = "queued runs in the Actions tab" },
  { item = "Test result verification", section = "Automated Tasks", run = ["tests-report"] },
  { item = "Deployment status checks", section = "Automated Tasks", run = ["releases"] },
  { item = "Security scan reviews", section = "Automated Tasks", run = ["scan-config-check", "workflows-lint"], by_hand = "read the scanners' new results in code scanning" },
  { item = "Review failed builds", section = "Manual Tasks", run = ["ci-stats"], by_hand = "read the logs of the failed runs it lists" },
  { item = "Check resource utilization", section = "Manual Tasks" },
  { item = "Monitor pipeline performance metrics", section = "Manual Tasks", run = ["ci-stats"] },
  { item = "Verify the newest backups", section = "Backup Strategies", run = ["backup-verify"] },
]
weekly = [
  { item = "Update Python dependencies", section = "Dependency Management", run = ["audit"] },
  { item = "Check for outdated packages", section = "Dependency Management", run = ["outdated"] },
  { item = "Update requirements files", section = "Dependency Management", run = ["deps-lock-check"] },
  { item = "Analyze build times", section = "Pipeline Performance Review", run = ["ci-stats"] },
  { item = "Review test execution duration", section = "Pipeline Performance Review", run = ["tests-report"], by_hand = "compare the duration trend and the slowest tests with last week's" },
  { item = "Check cache hit rates", section = "Pipeline Performance Review" },
  { item = "Optimize slow stages", section = "Pipeline Performance Review", run = ["ci-stats"], by_hand = "act on the slowest steps and the queue times it lists" },
  { item = "Review security scan results", section = "Security Review", run = ["workflows-lint", "scan-config-check"], by_hand = "read the scanners' own results (Trivy, Bandit, code scanning)" },
  { item = "Update base Docker images", section = "Security Review", run = ["outdated"] },
  { item = "Check for new security advisories", section = "Security Review", run = ["audit"] },
  { item = "Validate secret rotation schedule", section = "Security Review", run = ["secrets-check"] },
]
monthly = [
  { item = "Update GitHub Actions runners", section = "Infrastructure Updates", run = ["workflows-lint"] },
  { item = "Review and update Docker base images", section = "Infrastructure Updates", run = ["outdated-all"] },
  { item = "Update CI/CD tools and actions", section = "Infrastructure Updates", run = ["outdated-all"] },
  { item = "Performance benchmarking", section = "Infrastructure Updates" },
  { item = "Update maintenance procedures", section = "Documentation Updates" },
  { item = "Review and update runbooks", section = "Documentation Updates" },
  { item = "Update deployment documentation", section = "Documentation Updates" },
  { item = "Review disaster recovery procedures", section = "Documentation Updates", run = ["backup-verify-all", "restore-drill"], by_hand = "read the recovery procedures against what the drill did" },
]
quarterly = [
  { item = "Full pipeline architecture review", section = "Comprehensive Review" },
  { item = "Security posture assessment", section = "Comprehensive Review", run = ["audit", "workflows-lint", "secrets-check", "scan-config-check"], by_hand = "weigh the findings together: what changed since last quarter", fail_on = "low", deny = ["unmaintained", "unsound"] },
  { item = "Performance optimization analysis", section = "Comprehensive Review" },
  { item = "Cost optimization review", section = "Comprehensive Review" },
  { item = "Test coverage analysis", section = "Testing Strategy Review", run = ["coverage-check"] },
  { item = "Performance test thresholds review", section = "Testing Strategy Review" },
  { item = "Integration test effectiveness", section = "Testing Strategy Review" },
  { item = "Security test enhancement", section = "Testing Strategy Review" },
]
"#
    };
}

impl Default for ChecklistConfig {
    /// The runbook's four lists: the `[checklist]` section of [`EXAMPLE`].
    fn default() -> Self {
        // Every list is required here (a `default` would come back to this function).
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Shipped {
            daily: Vec<ChecklistItem>,
            weekly: Vec<ChecklistItem>,
            monthly: Vec<ChecklistItem>,
            quarterly: Vec<ChecklistItem>,
        }
        let s: Shipped = toml::from_str(checklist_defaults!())
            .expect("the shipped [checklist] parses (a test checks it)");
        ChecklistConfig {
            daily: s.daily,
            weekly: s.weekly,
            monthly: s.monthly,
            quarterly: s.quarterly,
        }
    }
}

/// A length of time as the runbook writes it (`window: 1h`): a whole number and a unit,
/// `m` (minutes), `h` (hours), `d` (days) or `w` (weeks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    secs: u64,
}

impl Span {
    pub const fn hours(n: u64) -> Span {
        Span { secs: n * 3600 }
    }
    pub const fn days(n: u64) -> Span {
        Span { secs: n * 86_400 }
    }

    pub fn secs(self) -> i64 {
        self.secs as i64
    }

    /// `30m`, `1h`, `7d`, `2w`; zero and anything else is an error saying how to write one.
    pub fn parse(text: &str) -> Result<Span> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit_secs = match unit {
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => 0,
        };
        let n: u64 = num.parse().unwrap_or(0);
        match n.checked_mul(unit_secs) {
            Some(secs) if secs > 0 && n <= 100_000 => Ok(Span { secs }),
            _ => bail!(
                "`{}` is not a length of time: write a positive whole number and a unit, e.g. 30m, 1h, 7d, 2w",
                text.escape_debug()
            ),
        }
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.secs;
        for (unit, n) in [("w", 604_800), ("d", 86_400), ("h", 3600)] {
            if s.is_multiple_of(n) {
                return write!(f, "{}{unit}", s / n);
            }
        }
        write!(f, "{}m", s / 60)
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        Span::parse(&text).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

/// `ci fetch|stats|dora|report`: the GitHub Actions exports and the metrics' windows.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CiConfig {
    /// Folder of GitHub Actions exports (REST pages, `gh` JSON) that `ci stats` reads and
    /// `ci fetch` writes, relative to the root unless absolute. None: `<backup.dir>/ci`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exports: Option<PathBuf>,
    /// The repository `ci fetch` reads when `--repo` is not given (`OWNER/NAME`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// How far back the first `ci fetch` goes (later ones continue where the last stopped).
    pub fetch_since: Span,
    /// Longest wait for a rate limit to reset; beyond it `ci fetch` stops (progress kept).
    pub max_wait_secs: u64,
    /// Window of `ci stats` and `ci report` (and the previous window it is compared with).
    pub window: Span,
    /// Window of `ci dora`.
    pub dora_window: Span,
    /// The environment whose ledger `ci dora` reads.
    pub environment: String,
    /// How many of the slowest steps are listed.
    pub slowest: usize,
}

impl Default for CiConfig {
    fn default() -> Self {
        CiConfig {
            exports: None,
            repo: None,
            fetch_since: Span::days(30),
            max_wait_secs: 900,
            window: Span::days(7),
            dora_window: Span::days(30),
            environment: "production".into(),
            slowest: 10,
        }
    }
}

/// What a breach asks for, as the runbook's alert configuration says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// `immediate_notification`
    Notify,
    /// `page_on_call_engineer`
    Page,
    /// `create_incident`
    Incident,
}

impl AlertAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Notify => "notify",
            AlertAction::Page => "page",
            AlertAction::Incident => "incident",
        }
    }
}

/// `[alerts]`: the runbook's alert configuration, and where breaches are sent.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    pub build_failure_rate: FailureRateRule,
    pub deployment_failure: DeploymentFailureRule,
    pub security_vulnerability: VulnerabilityRule,
    pub build_time_trend: TrendRule,
    pub test_flakiness: FlakinessRule,
    /// Where `alerts --notify` posts new breaches.
    pub targets: Vec<AlertTarget>,
    /// Attempts after the first when a target does not answer, answers 429 or 5xx...
    pub retries: u32,
    /// ...waiting this long before the first retry, then twice as long each time.
    pub retry_backoff_ms: u64,
    /// Deadline of one request to a target.
    pub timeout_secs: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            build_failure_rate: FailureRateRule::default(),
            deployment_failure: DeploymentFailureRule::default(),
            security_vulnerability: VulnerabilityRule::default(),
            build_time_trend: TrendRule::default(),
            test_flakiness: FlakinessRule::default(),
            targets: Vec::new(),
            retries: 3,
            retry_backoff_ms: 1000,
            timeout_secs: 10,
        }
    }
}

/// `build_failure_rate`: threshold 10%, window 1h, immediate notification.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FailureRateRule {
    pub enabled: bool,
    /// Failed share of the CI runs that finished in the window, in percent, above which
    /// the rule fires.
    pub threshold_percent: f64,
    pub window: Span,
    /// Fewer finished runs than this in the window: no verdict.
    pub min_runs: usize,
    pub severity: crate::report::Severity,
    pub action: AlertAction,
}

impl Default for FailureRateRule {
    fn default() -> Self {
        FailureRateRule {
            enabled: true,
            threshold_percent: 10.0,
            window: Span::hours(1),
            min_runs: 3,
            severity: crate::report::Severity::High,
            action: AlertAction::Notify,
        }
    }
}

/// `deployment_failure`: any deployment fails → page the on-call engineer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeploymentFailureRule {
    pub enabled: bool,
    /// Deploys that started within this window count.
    pub window: Span,
    /// Environments whose ledgers are read; empty: every ledger.
    pub environments: Vec<String>,
    pub severity: crate::report::Severity,
    pub action: AlertAction,
}

impl Default for DeploymentFailureRule {
    fn default() -> Self {
        DeploymentFailureRule {
            enabled: true,
            window: Span::hours(24),
            environments: Vec::new(),
            severity: crate::report::Severity::Critical,
            action: AlertAction::Page,
        }
    }
}

/// `security_vulnerability`: severity HIGH,CRITICAL → create an incident.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VulnerabilityRule {
    pub enabled: bool,
    /// Lowest severity of an `audit` vulnerability that fires the rule.
    pub min_severity: crate::report::Severity,
    pub action: AlertAction,
}

impl Default for VulnerabilityRule {
    fn default() -> Self {
        VulnerabilityRule {
            enabled: true,
            min_severity: crate::report::Severity::High,
            action: AlertAction::Incident,
        }
    }
}

/// Warning: build time increasing trend.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrendRule {
    pub enabled: bool,
    /// Rise of a workflow's median duration against the previous window, in percent.
    pub threshold_percent: f64,
    pub window: Span,
    /// Finished runs needed in each of the two windows.
    pub min_runs: usize,
    pub severity: crate::report::Severity,
    pub action: AlertAction,
}

impl Default for TrendRule {
    fn default() -> Self {
        TrendRule {
            enabled: true,
            threshold_percent: 20.0,
            window: Span::days(7),
            min_runs: 5,
            severity: crate::report::Severity::Medium,
            action: AlertAction::Notify,
        }
    }
}

/// Warning: test flakiness detection (from `tests report`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlakinessRule {
    pub enabled: bool,
    pub severity: crate::report::Severity,
    pub action: AlertAction,
}

impl Default for FlakinessRule {
    fn default() -> Self {
        FlakinessRule {
            enabled: true,
            severity: crate::report::Severity::Medium,
            action: AlertAction::Notify,
        }
    }
}

/// Where breaches go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A Slack incoming webhook (`{"text": …, "blocks": […]}`).
    Slack,
    /// Any endpoint taking a JSON POST.
    Webhook,
    /// PagerDuty Events API v2 (`/v2/enqueue`).
    Pagerduty,
}

/// One notification target. Its URL and key come from environment variables named here,
/// never from this file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertTarget {
    /// Unique name (the state file records which targets got a breach).
    pub name: String,
    pub kind: TargetKind,
    /// Environment variable holding the webhook URL (PagerDuty: optional, default
    /// https://events.pagerduty.com/v2/enqueue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// PagerDuty: environment variable holding the integration's routing key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key_env: Option<String>,
    /// Actions sent here; empty: every action (PagerDuty: `page`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<AlertAction>,
}

impl AlertTarget {
    pub fn accepts(&self, action: AlertAction) -> bool {
        if self.actions.is_empty() {
            return self.kind != TargetKind::Pagerduty || action == AlertAction::Page;
        }
        self.actions.contains(&action)
    }
}

/// An environment variable name as a shell writes it: `[A-Za-z_][A-Za-z0-9_]*`.
fn check_env_name(name: &str, key: &str) -> Result<()> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        // The value is not repeated: it may be the secret itself.
        bail!(
            "{key} is not an environment variable name: name the variable that holds the value (e.g. SLACK_WEBHOOK_URL), never the value itself"
        );
    }
    Ok(())
}

impl Config {
    /// Load `path`; a missing file gives the defaults only when `required` is false.
    pub fn load(path: &Path, required: bool) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("reading config {}", path.display()));
            }
        };
        Config::parse(&text).with_context(|| {
            format!(
                "invalid config {}: fix it, or compare with `cargo xtask config init --stdout`",
                path.display()
            )
        })
    }

    pub fn parse(text: &str) -> Result<Config> {
        // toml's errors name the line, column and key (e.g. "unknown field `kep_days`").
        let mut config: Config = toml::from_str(text)?;
        let raw: toml::Table = toml::from_str(text)?;
        config.pipeline_paths_explicit = raw.get("pipeline").and_then(|p| p.get("paths")).is_some();
        config.database_path_explicit = raw.get("database").and_then(|d| d.get("path")).is_some();
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        for p in self
            .pipeline
            .paths
            .iter()
            .chain(&self.pipeline.include_secrets)
        {
            files::check_relative(p).with_context(|| format!("pipeline path `{p}`"))?;
        }
        if self.pipeline.paths.is_empty() {
            bail!(
                "pipeline.paths is empty: list at least one path, or remove the key for the defaults"
            );
        }
        if self.outdated.timeout_secs == 0 {
            bail!("outdated.timeout_secs = 0: every request needs a deadline; use at least 1");
        }
        files::check_relative(&self.database.path)
            .with_context(|| format!("database.path `{}`", self.database.path))?;
        if let Some(url) = &self.database.url {
            if redact::has_password(url) {
                bail!(
                    "database.url holds a password: remove it and set PGPASSWORD or use ~/.pgpass"
                );
            }
            redact::PgUrl::parse(url).context("database.url")?;
        }
        for ig in &self.audit.ignore {
            if ig.reason.trim().is_empty() {
                bail!(
                    "audit.ignore `{}`: reason must say why it is safe to ignore",
                    ig.id
                );
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for src in &self.audit.sources {
            src.check()?;
            if !names.insert(src.name.as_str()) {
                bail!(
                    "audit.sources: two sources are named `{}`: each needs a folder of its own",
                    src.name
                );
            }
        }
        let f = self.audit.min_update_fraction;
        if !(0.0..=1.0).contains(&f) {
            bail!("audit.min_update_fraction must be between 0 and 1 (0.5: half), not {f}");
        }
        self.validate_ci()?;
        self.validate_security()?;
        self.validate_checklist()?;
        if self.audit.stale_after_days > self.audit.max_age_days {
            bail!("audit.stale_after_days must not exceed audit.max_age_days");
        }
        if !(1..=9).contains(&self.database.compression_level) {
            bail!("database.compression_level must be 1 to 9");
        }
        if self.database.step_pages == 0 {
            bail!("database.step_pages must be at least 1");
        }
        if self.backup.dir.as_os_str().is_empty() {
            bail!("backup.dir is empty: remove the key for the default `backups`");
        }
        // The one exception to "paths stay inside the root": backups may live on another
        // disk, named by an absolute path. A relative one follows the rule of every path.
        if self.backup.dir.is_relative() {
            files::check_relative(&self.backup.dir.to_string_lossy()).with_context(|| {
                format!(
                    "backup.dir `{}`: use a folder inside the root, or an absolute path for another disk",
                    self.backup.dir.display()
                )
            })?;
        }
        let c = &self.coverage;
        if !(0.0..=100.0).contains(&c.min) {
            bail!("coverage.min = {}: use a percentage from 0 to 100", c.min);
        }
        if c.precision > 10 {
            bail!("coverage.precision = {}: use 0 to 10 decimals", c.precision);
        }
        for p in &self.tests.reports {
            files::check_relative(p).with_context(|| format!("tests.reports `{p}`"))?;
        }
        if self.tests.flaky_runs < 2 {
            bail!("tests.flaky_runs must be at least 2: flakiness needs two runs to compare");
        }
        for p in &self.deps.inputs {
            files::check_relative(p).with_context(|| format!("deps.inputs `{p}`"))?;
        }
        let r = &self.backup.retention;
        if r.keep_days == 0 && r.keep_last == 0 && r.daily == 0 && r.weekly == 0 && r.monthly == 0 {
            bail!(
                "backup.retention keeps nothing but the newest backup: set keep_days or keep_last"
            );
        }
        Ok(())
    }

    /// `[ci]` and `[alerts]`.
    fn validate_ci(&self) -> Result<()> {
        if let Some(repo) = &self.ci.repo {
            check_repo(repo).context("ci.repo")?;
        }
        if self.ci.environment.is_empty()
            || !self
                .ci
                .environment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("ci.environment: use letters, digits, `-` and `_` only");
        }
        let a = &self.alerts;
        for env in &a.deployment_failure.environments {
            if env.is_empty()
                || !env
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!(
                    "alerts.deployment_failure.environments: `{}`: use letters, digits, `-` and `_` only",
                    env.escape_debug()
                );
            }
        }
        for (key, pct) in [
            ("build_failure_rate", a.build_failure_rate.threshold_percent),
            ("build_time_trend", a.build_time_trend.threshold_percent),
        ] {
            if !(0.0..=1000.0).contains(&pct) || (key == "build_failure_rate" && pct > 100.0) {
                bail!("alerts.{key}.threshold_percent = {pct}: use a percentage (10 means 10%)");
            }
        }
        if a.build_failure_rate.min_runs == 0 || a.build_time_trend.min_runs == 0 {
            bail!("alerts: min_runs must be at least 1");
        }
        if a.timeout_secs == 0 {
            bail!("alerts.timeout_secs = 0: every request needs a deadline; use at least 1");
        }
        let mut names = std::collections::BTreeSet::new();
        for t in &a.targets {
            if t.name.is_empty() || !names.insert(t.name.as_str()) {
                bail!(
                    "alerts.targets: `{}`: every target needs a name of its own",
                    t.name
                );
            }
            let key = |k: &str| format!("alerts.targets `{}` {k}", t.name);
            match (t.kind, &t.url_env, &t.routing_key_env) {
                (TargetKind::Pagerduty, _, None) => {
                    bail!(
                        "{}: a PagerDuty target needs routing_key_env",
                        key("routing_key_env")
                    )
                }
                (TargetKind::Slack | TargetKind::Webhook, None, _) => {
                    bail!(
                        "{}: name the environment variable holding the URL",
                        key("url_env")
                    )
                }
                (TargetKind::Slack | TargetKind::Webhook, _, Some(_)) => {
                    bail!(
                        "{}: only a PagerDuty target has a routing key",
                        key("routing_key_env")
                    )
                }
                _ => {}
            }
            if let Some(v) = &t.url_env {
                check_env_name(v, &key("url_env"))?;
            }
            if let Some(v) = &t.routing_key_env {
                check_env_name(v, &key("routing_key_env"))?;
            }
        }
        Ok(())
    }

    /// `[workflows]`, `[secrets]`, `[scan_config]`.
    fn validate_security(&self) -> Result<()> {
        for p in self.workflows.paths.iter().chain(&self.secrets.certs) {
            files::check_relative(p).with_context(|| format!("path `{p}`"))?;
        }
        for p in self
            .scan_config
            .trivyignore
            .iter()
            .chain(&self.scan_config.bandit)
        {
            files::check_relative(p).with_context(|| format!("scan_config path `{p}`"))?;
        }
        for ig in &self.workflows.ignore {
            if ig.reason.trim().is_empty() {
                bail!(
                    "workflows.ignore `{}`: reason must say why the finding is accepted",
                    ig.code
                );
            }
        }
        for (name, e) in &self.secrets.inventory {
            if e.max_age_days == Some(0) {
                bail!("secrets.inventory `{name}`: max_age_days = 0 would always be overdue");
            }
        }
        let m = &self.secrets.max_age_days;
        if [m.api_key, m.db_password, m.ssh_key].contains(&0) {
            bail!("secrets.max_age_days: 0 days would always be overdue; use at least 1");
        }
        self.validate_metrics()
    }

    /// `[metrics]`.
    fn validate_metrics(&self) -> Result<()> {
        let m = &self.metrics;
        if m.backup_max_age_hours == 0 || m.stale_after_minutes == 0 {
            bail!(
                "metrics.backup_max_age_hours and metrics.stale_after_minutes must be at least 1 (0 would always alert)"
            );
        }
        let label_value = |v: &str| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        if !label_value(&m.job) {
            bail!(
                "metrics.job `{}`: use letters, digits, `_`, `-` and `.` (it is the Pushgateway's job label)",
                m.job.escape_debug()
            );
        }
        if let Some(p) = &m.github_secrets {
            files::check_relative(p).with_context(|| format!("metrics.github_secrets `{p}`"))?;
        }
        Ok(())
    }
}

impl Config {
    /// `[checklist]`: every item named, once per cadence; options only where a command takes them.
    fn validate_checklist(&self) -> Result<()> {
        let c = &self.checklist;
        let lists = [
            ("daily", &c.daily),
            ("weekly", &c.weekly),
            ("monthly", &c.monthly),
            ("quarterly", &c.quarterly),
        ];
        for (cadence, items) in lists {
            let mut seen = std::collections::BTreeSet::new();
            for it in items {
                let key = format!("checklist.{cadence} item `{}`", it.item);
                if it.item.trim().is_empty() {
                    bail!(
                        "checklist.{cadence}: an item has no text: give `item` the runbook's wording"
                    );
                }
                if !seen.insert(it.item.as_str()) {
                    bail!("{key} is listed twice: merge the two");
                }
                if it.by_hand.as_deref().is_some_and(|b| b.trim().is_empty()) {
                    bail!("{key}: by_hand is empty: say what a person does, or remove the key");
                }
                let mut tasks = std::collections::BTreeSet::new();
                if let Some(t) = it.run.iter().find(|t| !tasks.insert(**t)) {
                    bail!("{key}: `{}` is in run twice", t.id());
                }
                if it.fail_on.is_some() && !it.run.iter().any(|t| t.takes_fail_on()) {
                    bail!(
                        "{key}: fail_on applies to audit, workflows-lint, secrets-check and scan-config-check only, and run has none of them"
                    );
                }
                if !it.deny.is_empty() && !it.run.contains(&ChecklistTask::Audit) {
                    bail!("{key}: deny applies to audit only, and run has no audit");
                }
            }
        }
        Ok(())
    }
}

/// `OWNER/NAME` as GitHub spells them: letters, digits, `-`, `_`, `.`; not `.` or `..`.
pub fn check_repo(repo: &str) -> Result<()> {
    let parts: Vec<&str> = repo.split('/').collect();
    let ok = parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "."
                && *p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !ok {
        bail!(
            "`{}` is not a repository: write OWNER/NAME, e.g. octo-org/knowledge-hub",
            repo.escape_debug()
        );
    }
    Ok(())
}

/// The commented example written by `config init`; a test parses it.
pub const EXAMPLE: &str = concat!(
    r#"# maintenance.toml: configuration of `cargo xtask`.
# Every key is optional; the values below are the defaults, which follow the runbook.
# Unknown keys are an error. Show the effective config with `cargo xtask config show`.

[backup]
# Where backups are stored, relative to the project root unless absolute.
dir = "backups"

[backup.retention]
# A backup is kept if any rule keeps it; the newest verified backup is never deleted.
keep_days = 7   # the runbook deletes backups older than 7 days
keep_last = 3   # always keep the newest 3
daily = 0       # newest backup of each of the last N days
weekly = 0      # newest backup of each of the last N ISO weeks
monthly = 0     # newest backup of each of the last N months

[pipeline]
# What `cargo xtask backup config` archives: files, directories or globs, relative to the
# root. Paths that do not exist are skipped.
paths = [
  ".github/workflows",
  "config",
  "scripts",
  "azure-pipelines.yml",
  "Dockerfile*",
  "docker-compose*.yml",
  ".trivyignore",
  "bandit.yaml",
]
# Extra patterns to leave out, e.g. ["*.log", "config/local/**"].
exclude = []
# Files that look like secrets (.env, *.pem, *.key, id_rsa*, ...) are never archived
# unless listed here, e.g. ["config/ca-bundle.pem"].
include_secrets = []

[database]
# The service's SQLite database, relative to the root.
path = "ai_knowledge_hub/knowledge_hub.db"
# Back up a PostgreSQL database instead (password from PGPASSWORD or ~/.pgpass):
# url = "postgres://app@127.0.0.1:5432/knowledge_hub"
# integrity_check (thorough) or quick_check (faster on large databases).
check = "integrity_check"
# Pages per step of SQLite's online backup, and how many restarts (writers changing
# pages under the copy) are tolerated before falling back to VACUUM INTO.
step_pages = 16384
max_restarts = 3
# gzip level, 1 (fastest) to 9 (smallest). 5 is about 3x faster than `gzip -6` on two
# cores for a few percent more bytes (docs/benchmarks.md); 6 matches gzip's size.
compression_level = 5
# Off-site copy through rclone after each backup, verified by size and sha256:
# upload = "s3:my-bucket/knowledge-hub/db"

[audit]
# Advisory databases: directories (OSV JSON/YAML, RustSec) or osv.dev .zip exports.
# --db and XTASK_ADVISORY_DB take precedence; empty means the default cache, filled by
# `cargo xtask advisories update`.
db = []
# Lowest severity that fails the run: low, medium, high or critical.
fail_on = "high"
# Informational RustSec kinds that also fail the run: unmaintained, unsound, notice.
deny = []
# Warn when a database is older than this many days, refuse past max_age_days.
stale_after_days = 7
max_age_days = 90
# Ignored advisories (the id may be an alias such as a CVE); reason is required.
# ignore = [{ id = "RUSTSEC-2023-0071", reason = "no RSA decryption in our use", until = "2026-12-31" }]
ignore = []
# What `cargo xtask advisories update` fetches (default: RustSec's osv branch and PyPA's
# advisory-database, by git). A source has a git URL (and branch) or an OSV zip URL:
# Names are folders of the cache: lowercase letters, digits, `-`, `_`; unique; not `index`.
# Locations are https:// (http:// warns), file:// or a path relative to the root:
# sources = [
#   { name = "rustsec", git = "https://github.com/rustsec/advisory-db", branch = "osv" },
#   { name = "pypi", url = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip" },
# ]
sources = []
# An update holding fewer than this fraction of the advisories of the copy it replaces is
# refused, and so is one whose newest advisory is older (`advisories update --allow-shrink`
# takes it anyway).
min_update_fraction = 0.5

[outdated]
parallel = 16        # concurrent registry requests
timeout_secs = 20    # per request
cache_max_age_secs = 600   # reuse registry answers younger than this without a request
ignore = []          # package, action or image names not to report

[deploy]
# `cargo xtask deploy ENV VERSION` runs
#   <VARIABLE>=VERSION docker compose -f <compose_file> up -d --no-deps <service>
compose_file = "docker-compose.{env}.yml"
service = "app"
variable = "APP_TAG"
# registry = "registry.example.com/knowledge-hub"   # pull before deploying
backup_db = false          # database backup before every deploy
migrate = []               # e.g. ["docker-compose", "-f", "docker-compose.production.yml", "run", "--rm", "app", "alembic", "upgrade", "head"]
health_timeout_secs = 60

# Smoke checks per environment:
# [deploy.environments.staging]
# smoke = [{ url = "http://127.0.0.1:8080/health", status = 200, body = "ok", timeout_secs = 5, retries = 3 }]
# smoke_script = "scripts/smoke-tests.sh"

[workflows]
# What `cargo xtask workflows lint` reads: workflow folders or files (action.yml of local
# actions too), relative to the root.
paths = [".github/workflows", ".github/actions"]
fail_on = "medium"   # lowest severity that fails the run
# Actions allowed on a tag instead of a full commit SHA, e.g. ["actions/*"].
allow_tags = []
# Accepted findings; reason is required, and an ignore past `until` is reported itself:
# ignore = [{ code = "missing-timeout", path = ".github/workflows/docs.yml", reason = "a 2-minute job", until = "2026-12-31" }]
ignore = []

[secrets]
# `cargo xtask secrets check`: the runbook's rotation schedule.
fail_on = "high"     # overdue rotations, certificates expiring within 14 days
due_soon_days = 14   # report rotations due within this many days
certs = []           # PEM certificates or folders to check for expiry, e.g. ["deploy/tls"]

[secrets.max_age_days]
api-key = 90         # the runbook: API keys every 90 days
db-password = 180    # database passwords every 180 days
ssh-key = 365        # SSH keys every 365 days
# tls-cert and other: no age limit unless set (certificates are checked by expiry)

[secrets.inventory]
# Per name (a glob classifies many): kind (api-key, db-password, ssh-key, tls-cert, other),
# owner, and for secrets kept outside GitHub the day last rotated (`cargo xtask secrets
# rotated NAME` records later rotations); max_age_days overrides the kind's policy.
# "*_API_KEY" = { kind = "api-key", owner = "platform" }
# VAULT_DB_PASSWORD = { kind = "db-password", owner = "dba", rotated = "2026-01-15" }

[scan_config]
# `cargo xtask scan-config check`: every scanner exception needs a reason.
fail_on = "medium"
trivyignore = [".trivyignore"]
bandit = ["bandit.yaml", ".bandit"]
# Folders bandit may exclude (tests, virtual environments, build output); excluding any
# other folder hides application code from the scan.
exclude_ok = ["test", "tests", "test_*", "*_test", "*_tests", "testing", "venv", ".venv",
              "env", ".env", ".tox", ".nox", "node_modules", "build", "dist", ".git",
              "__pycache__", "site-packages", "docs"]

[coverage]
# `cargo xtask coverage check`: the runbook's "Maintain 80%+ test coverage". The total is
# computed as coverage.py does; a true total below `min` always fails (coverage.py's
# fail_under compares the rounded total: it passes 79.995 against 80 at precision 2).
min = 80
precision = 3        # decimals shown (more when needed to show a failing total is below)
least_covered = 10   # least-covered files listed with their missing lines

[tests]
# `cargo xtask tests report`: JUnit files read when none is given (globs under the root).
reports = ["**/junit*.xml", "**/TEST-*.xml", "**/test-results/**/*.xml"]
slowest = 10         # slowest tests listed
flaky_runs = 10      # a test failing and passing within the newest N runs is flaky

[deps]
# `cargo xtask deps lock`: pip-compile inputs; each X.in is locked to X.txt beside it.
inputs = ["**/requirements*.in"]

[ci]
# `cargo xtask ci fetch|stats|dora|report`: GitHub Actions exports (REST API pages of
# /actions/runs and /actions/runs/{id}/jobs, `gh run list --json`, `gh run view --json jobs`)
# live in this folder, relative to the root (default: <backup.dir>/ci).
# exports = "backups/ci"
# repo = "octo-org/knowledge-hub"   # `ci fetch` default for --repo; token from GITHUB_TOKEN
fetch_since = "30d"    # how far back the first `ci fetch` goes
max_wait_secs = 900    # longest wait for GitHub's rate limit to reset (then: run again later)
window = "7d"          # `ci stats` window, compared with the window before it
dora_window = "30d"    # `ci dora` window
environment = "production"   # whose deployment ledger `ci dora` reads
slowest = 10           # slowest steps listed

[alerts]
# `cargo xtask alerts [--notify]`: the runbook's alert configuration. Windows are a number
# and a unit: 30m, 1h, 7d, 2w. Actions: notify (immediate notification), page (the on-call
# engineer), incident (create an incident).
retries = 3              # per target, on no answer, 429 or 5xx...
retry_backoff_ms = 1000  # ...after 1 s, then 2 s, 4 s
timeout_secs = 10
# Targets of `alerts --notify` (examples at the end of this section).
targets = []

[alerts.build_failure_rate]
enabled = true
threshold_percent = 10   # more than 10% of the CI runs that finished in the window failed
window = "1h"
min_runs = 3             # fewer finished runs: no verdict
severity = "high"
action = "notify"

[alerts.deployment_failure]
enabled = true
window = "24h"           # a deploy started in the window failed, was rolled back or cut off
environments = []        # empty: every ledger in <backup.dir>/deployments
severity = "critical"
action = "page"

[alerts.security_vulnerability]
enabled = true
min_severity = "high"    # HIGH,CRITICAL findings of `cargo xtask audit`
action = "incident"

[alerts.build_time_trend]
enabled = true
threshold_percent = 20   # a workflow's median duration rose more than 20%...
window = "7d"            # ...against the 7 days before
min_runs = 5             # finished runs needed in each window
severity = "medium"
action = "notify"

[alerts.test_flakiness]
enabled = true           # flaky tests in `cargo xtask tests report`
severity = "medium"
action = "notify"

# Targets of `alerts --notify`. URLs and keys come from the environment variables named
# here, never from this file. `actions` limits what a target gets (default: everything;
# PagerDuty: page).
# [[alerts.targets]]
# name = "slack"
# kind = "slack"                       # Slack incoming webhook
# url_env = "SLACK_WEBHOOK_URL"
# [[alerts.targets]]
# name = "incidents"
# kind = "webhook"                     # any JSON endpoint
# url_env = "INCIDENT_WEBHOOK_URL"
# actions = ["incident", "page"]
# [[alerts.targets]]
# name = "pagerduty"
# kind = "pagerduty"                   # Events API v2
# routing_key_env = "PAGERDUTY_ROUTING_KEY"

[metrics]
# `cargo xtask metrics`: Prometheus metrics, alert rules (`metrics rules`), a Grafana
# dashboard (`metrics dashboard`).
backup_max_age_hours = 26   # alert: newest database backup older (a daily backup, with slack)
stale_after_minutes = 120   # alert: textfile/Pushgateway metrics not refreshed for this long
cache_secs = 60             # `metrics serve`: reuse a computation for this many seconds
job = "xtask"               # `metrics push`: the Pushgateway job label (instance: the host name)
# A `gh secret list --json name,updatedAt` export, for the ages of GitHub secrets:
# github_secrets = "backups/secrets/github.json"

[checklist]
# `cargo xtask checklist CADENCE`: the runbook's checklists, item by item, in its wording
# (`section`: its heading). An item with `run` is done by those commands, each reported as
# ok, findings, failed or not configured (nothing to look at); an item without is a box to
# tick by hand; `by_hand` is what a person still does (a box too: the item is then partly
# automated). Commands: backup-verify, backup-verify-all, restore-drill, releases (every
# [deploy.environments]), audit, outdated, outdated-all, workflows-lint, secrets-check,
# scan-config-check, tests-report, deps-lock-check, coverage-check. `fail_on` is the
# threshold of audit, workflows-lint, secrets-check and scan-config-check; `deny` the
# informational advisory kinds that fail audit. A list given here replaces the cadence's list.
"#,
    checklist_defaults!()
);

/// `config show`: the effective configuration (`config_path` may not exist: defaults).
pub fn show(root: &Path, config_path: &Path, config: &Config) -> Result<Report> {
    let mut report = Report::new("config show");
    report.summary("root", root.display().to_string());
    let source = if config_path.exists() {
        config_path.display().to_string()
    } else {
        format!("{} (not present: defaults)", config_path.display())
    };
    report.summary("config", source);
    let text = toml::to_string(config).context("rendering config")?;
    let mut t = Table::new("Effective configuration", &["key", "value"]);
    flatten("", &toml::from_str::<toml::Table>(&text)?, &mut t);
    report.tables.push(t);
    report.set("config", config);
    report.set("config_path", config_path.display().to_string());
    Ok(report)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Table) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            other => out.row(vec![key, other.to_string()]),
        }
    }
}

/// `config init`: write the commented example (never over an existing file unless `force`).
pub fn init(config_path: &Path, stdout: bool, force: bool) -> Result<Report> {
    let mut report = Report::new("config init");
    if stdout {
        print!("{EXAMPLE}");
        return Ok(report);
    }
    if config_path.exists() && !force {
        bail!(
            "{} already exists: pass --force to replace it, or --stdout to print the example",
            config_path.display()
        );
    }
    files::write_atomic(config_path, EXAMPLE.as_bytes(), 0o644)?;
    report.summary("wrote", config_path.display().to_string());
    report.set("path", config_path.display().to_string());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_to_the_defaults() {
        let parsed = Config::parse(EXAMPLE).unwrap();
        let defaults = Config {
            pipeline_paths_explicit: true,
            database_path_explicit: true,
            ..Config::default()
        };
        assert_eq!(parsed, defaults);
    }

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = Config::parse("[backup]\ndir = \"b\"\n[backup.retention]\nkep_days = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("kep_days"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn rejects_paths_outside_root() {
        let err = format!(
            "{:#}",
            Config::parse("[pipeline]\npaths = [\"../etc\"]\n").unwrap_err()
        );
        assert!(err.contains("no `..`"), "{err}");
        let err = format!(
            "{:#}",
            Config::parse("[pipeline]\npaths = [\"/etc\"]\n").unwrap_err()
        );
        assert!(err.contains("absolute"), "{err}");
    }

    #[test]
    fn urls_with_passwords_are_refused_and_redacted() {
        let err = Config::parse("[database]\nurl = \"postgres://u:pw@h/db\"\n").unwrap_err();
        assert!(err.to_string().contains("PGPASSWORD"), "{err}");
        assert!(!err.to_string().contains("pw@"), "{err}");
        for pw in ["p/ss", "p?ss", "p#ss", "p%40ss"] {
            let text = format!("[database]\nurl = \"postgres://u:{pw}@h/db\"\n");
            let err = format!("{:#}", Config::parse(&text).unwrap_err());
            assert!(err.contains("PGPASSWORD"), "{pw}: {err}");
            assert!(!err.contains(pw), "{pw}: {err}");
        }
    }

    #[test]
    fn a_relative_backup_dir_stays_inside_the_root() {
        let err = format!(
            "{:#}",
            Config::parse("[backup]\ndir = \"../elsewhere\"\n").unwrap_err()
        );
        assert!(
            err.contains("backup.dir") && err.contains("inside the root"),
            "{err}"
        );
        Config::parse("[backup]\ndir = \"/var/backups/hub\"\n").unwrap();
        Config::parse("[backup]\ndir = \"state/backups\"\n").unwrap();
    }

    #[test]
    fn a_request_without_deadline_is_refused() {
        let err = Config::parse("[outdated]\ntimeout_secs = 0\n").unwrap_err();
        assert!(err.to_string().contains("deadline"), "{err}");
    }

    #[test]
    fn advisory_sources_are_names_and_locations_nothing_else() {
        let src = |body: &str| Config::parse(&format!("[audit]\nsources = [{body}]\n"));
        for ok in [
            r#"{ name = "rust-sec_2", git = "https://github.com/rustsec/advisory-db", branch = "osv" }"#,
            r#"{ name = "a", git = "/srv/mirror/advisory-db" }"#,
            r#"{ name = "a", git = "mirrors/db:2024" }"#,
            r#"{ name = "a", url = "file:///srv/all.zip" }"#,
            r#"{ name = "a", url = "http://127.0.0.1:8080/all.zip" }"#,
        ] {
            src(ok).unwrap_or_else(|e| panic!("{ok}: {e:#}"));
        }
        for (bad, says) in [
            (r#"{ name = "a", url = "-K/tmp/evil.cfg" }"#, "url"),
            (
                r#"{ name = "a", git = "--upload-pack=touch /tmp/x" }"#,
                "git",
            ),
            (r#"{ name = "a", git = "ext::sh -c touch% /tmp/x" }"#, "git"),
            (r#"{ name = "a", git = "git@github.com:org/db" }"#, "git"),
            (r#"{ name = "a", url = "ftp://h/all.zip" }"#, "url"),
            (r#"{ name = "a", url = "https://" }"#, "url"),
            (r#"{ name = "a", url = "https://h/a\nb" }"#, "url"),
            (
                r#"{ name = "a", git = "https://h/db", branch = "--upload-pack=x" }"#,
                "branch",
            ),
            (
                r#"{ name = "a", url = "https://h/x.zip", branch = "main" }"#,
                "branch",
            ),
            (r#"{ name = "index", git = "https://h/db" }"#, "index"),
            (
                r#"{ name = "RustSec", git = "https://h/db" }"#,
                "source name",
            ),
            (r#"{ name = "../x", git = "https://h/db" }"#, "source name"),
            (
                r#"{ name = "a", git = "https://h/db" }, { name = "a", url = "https://h/x.zip" }"#,
                "two sources",
            ),
            (
                r#"{ name = "a", git = "https://u:hunter2@h/db", branch = "-x" }"#,
                "branch",
            ),
            (r#"{ name = "a", url = "ftp://u:hunter2@h/x.zip" }"#, "url"),
        ] {
            let err = format!("{:#}", src(bad).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
            assert!(!err.contains("hunter2"), "{bad}: {err}");
        }
        let err = format!(
            "{:#}",
            Config::parse("[audit]\nmin_update_fraction = 1.5\n").unwrap_err()
        );
        assert!(err.contains("min_update_fraction"), "{err}");
    }

    #[test]
    fn coverage_min_is_a_percentage() {
        assert_eq!(
            Config::parse("[coverage]\nmin = 85\n")
                .unwrap()
                .coverage
                .min,
            85.0
        );
        let err = Config::parse("[coverage]\nmin = 180\n").unwrap_err();
        assert!(err.to_string().contains("0 to 100"), "{err}");
    }

    #[test]
    fn checklist_options_only_where_a_command_takes_them() {
        let c = Config::parse(
            "[checklist]\nweekly = [{ item = \"Audit hard\", run = [\"audit\", \"tests-report\"], fail_on = \"low\", deny = [\"notice\"] }]\n",
        )
        .unwrap();
        assert_eq!(c.checklist.weekly.len(), 1);
        assert_eq!(c.checklist.daily, ChecklistConfig::default().daily);
        for (body, says) in [
            (
                r#"{ item = "x", run = ["workflows-lint"], deny = ["unsound"] }"#,
                "deny applies to audit only",
            ),
            (r#"{ item = "x", fail_on = "low" }"#, "fail_on applies to"),
            (r#"{ item = " " }"#, "has no text"),
            (r#"{ item = "x", by_hand = "" }"#, "by_hand is empty"),
            (
                r#"{ item = "x", run = ["audit", "audit"] }"#,
                "`audit` is in run twice",
            ),
        ] {
            let err = format!(
                "{:#}",
                Config::parse(&format!("[checklist]\ndaily = [{body}]\n")).unwrap_err()
            );
            assert!(err.contains(says), "{body}: {err}");
        }
    }

    #[test]
    fn windows_are_a_number_and_a_unit() {
        let c =
            Config::parse("[alerts.build_failure_rate]\nwindow = \"90m\"\n[ci]\nwindow = \"2w\"\n")
                .unwrap();
        assert_eq!(c.alerts.build_failure_rate.window.secs(), 5400);
        assert_eq!(c.ci.window.secs(), 14 * 86_400);
        assert_eq!(c.ci.window.to_string(), "2w");
        assert_eq!(Span::hours(36).to_string(), "36h");
        for bad in ["0h", "1y", "h", "-1d", "1.5h", ""] {
            let err = format!(
                "{:#}",
                Config::parse(&format!("[ci]\nwindow = \"{bad}\"\n")).unwrap_err()
            );
            assert!(err.contains("30m, 1h, 7d, 2w"), "{bad}: {err}");
        }
    }

    #[test]
    fn alert_targets_name_variables_never_values() {
        let ok = "[[alerts.targets]]\nname = \"s\"\nkind = \"slack\"\nurl_env = \"SLACK_URL\"\n\
                  [[alerts.targets]]\nname = \"pd\"\nkind = \"pagerduty\"\nrouting_key_env = \"PD_KEY\"\n";
        let c = Config::parse(ok).unwrap();
        let pd = &c.alerts.targets[1];
        assert!(pd.accepts(AlertAction::Page) && !pd.accepts(AlertAction::Notify));
        assert!(c.alerts.targets[0].accepts(AlertAction::Incident));
        for (bad, says) in [
            (
                "[[alerts.targets]]\nname = \"s\"\nkind = \"slack\"\nurl_env = \"https://hooks.slack.com/services/T/B/s3cret\"\n",
                "not an environment variable name",
            ),
            (
                "[[alerts.targets]]\nname = \"s\"\nkind = \"slack\"\n",
                "url_env",
            ),
            (
                "[[alerts.targets]]\nname = \"p\"\nkind = \"pagerduty\"\n",
                "routing_key_env",
            ),
            (
                "[[alerts.targets]]\nname = \"w\"\nkind = \"webhook\"\nurl_env = \"U\"\nrouting_key_env = \"K\"\n",
                "only a PagerDuty target",
            ),
            (
                "[[alerts.targets]]\nname = \"s\"\nkind = \"slack\"\nurl_env = \"A\"\n[[alerts.targets]]\nname = \"s\"\nkind = \"webhook\"\nurl_env = \"B\"\n",
                "a name of its own",
            ),
            (
                "[[alerts.targets]]\nname = \"s\"\nkind = \"email\"\nurl_env = \"A\"\n",
                "unknown variant",
            ),
            (
                "[alerts.build_failure_rate]\nthreshold_percent = 0.1\nmin_runs = 0\n",
                "min_runs",
            ),
            (
                "[alerts.build_failure_rate]\nthreshold_percent = 150\n",
                "percentage",
            ),
            (
                "[alerts.deployment_failure]\nenvironments = [\"../etc\"]\n",
                "letters, digits",
            ),
            ("[ci]\nrepo = \"octo-org\"\n", "OWNER/NAME"),
            ("[ci]\nrepo = \"../x\"\n", "OWNER/NAME"),
        ] {
            let err = format!("{:#}", Config::parse(bad).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
            assert!(
                !err.contains("s3cret"),
                "the value is never repeated: {err}"
            );
        }
    }

    #[test]
    fn wrong_type_is_an_error() {
        let err = Config::parse("[backup.retention]\nkeep_days = \"seven\"\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
