//! The whole command line, declared in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

/// `--help`'s list of the commands by the runbook's cadence (docs/runbook.md has every item).
const BY_CADENCE: &str = "\
Commands by the runbook's cadence (docs/runbook.md maps every item):
  daily      backup --if-changed (cron), backup verify, releases ENV, tests report,
             metrics --textfile DIR (cron) or metrics serve, checklist daily
  weekly     advisories update, audit, outdated, deps lock, workflows lint,
             scan-config check, secrets check, checklist weekly
  monthly    outdated, workflows lint, bench, checklist monthly (restore drill)
  quarterly  audit --fail-on low, coverage check, secrets check --fail-on low,
             checklist quarterly
  deploys    deploy ENV VERSION [--dry-run], rollback ENV, releases ENV
  DR         backup list, backup verify --all, restore config, restore db,
             rollback ENV --restore-db
  setup      config init, config show, completions SHELL, metrics rules, metrics dashboard";

/// Exit codes and the example, after `-h` and `--help`.
const EXIT_CODES: &str = "Exit codes: 0 clean, 1 findings at or above the threshold, 2 the tool \
                          failed, 3 another run holds the lock.\n\nExample:\n  cargo xtask backup --if-changed";

/// The version and the commit it was built from (`build.rs`; `unknown` without git).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("XTASK_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The CI/CD maintenance runbook as commands",
    after_help = EXIT_CODES,
    after_long_help = format!("{BY_CADENCE}\n\n{EXIT_CODES}"),
    version = VERSION
)]
pub struct Cli {
    /// Project tree to maintain [default: this workspace]
    #[arg(
        long,
        global = true,
        value_name = "DIR",
        env = "XTASK_ROOT",
        hide_env_values = true
    )]
    pub root: Option<PathBuf>,

    /// Configuration file [default: <root>/maintenance.toml, optional]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: Format,

    /// Write the report to FILE (atomically) instead of standard output
    #[arg(long, global = true, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print only findings that fail the run (table format)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Back up every configured kind, then prune (the cron entry point)
    #[command(
        after_help = "Examples:\n  cargo xtask backup --if-changed\n  cargo xtask backup config\n  cargo xtask backup verify --all"
    )]
    Backup {
        #[command(subcommand)]
        command: Option<BackupCmd>,
        /// Skip a kind whose newest backup already holds the same content
        #[arg(long)]
        if_changed: bool,
    },
    /// Restore from a verified backup
    #[command(after_help = "Example:\n  cargo xtask restore config latest --to /tmp/restored")]
    Restore {
        #[command(subcommand)]
        command: RestoreCmd,
    },
    /// Offline vulnerability audit of Cargo.lock and Python requirements/lockfiles
    #[command(
        after_help = "Examples:\n  cargo xtask audit\n  cargo xtask audit --format json --output security-audit.json\n  cargo xtask audit requirements.txt --db ../advisory-db/pypa --fail-on medium\n  cargo xtask audit --format sarif --output audit.sarif"
    )]
    Audit {
        /// Lockfiles or directories to search [default: the root]
        paths: Vec<PathBuf>,
        /// Advisory database: directory or OSV .zip (repeatable) [default: XTASK_ADVISORY_DB, config, cache]
        #[arg(long, value_name = "PATH")]
        db: Vec<PathBuf>,
        /// Lowest severity that fails the run [default: audit.fail_on, high]
        #[arg(long, value_enum, value_name = "LEVEL")]
        fail_on: Option<crate::report::Severity>,
        /// Informational kinds that also fail the run (unmaintained,unsound,notice)
        #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
        deny: Vec<crate::config::InformationalKind>,
        /// Use a database older than audit.max_age_days (a warning instead of an error)
        #[arg(long)]
        allow_stale: bool,
    },
    /// What is behind: crates, Python pins, GitHub Actions, Docker images
    #[command(
        after_help = "Examples:\n  cargo xtask outdated\n  cargo xtask outdated --all --format json\n  cargo xtask outdated --offline --exit-code 3"
    )]
    Outdated {
        /// Python requirement files/lockfiles or directories [default: the root]
        paths: Vec<PathBuf>,
        /// Transitive crates too, not only direct dependencies
        #[arg(long)]
        all: bool,
        /// Use the HTTP cache only
        #[arg(long)]
        offline: bool,
        /// Exit with N when anything is outdated (for CI)
        #[arg(long, value_name = "N")]
        exit_code: Option<u8>,
    },
    /// Fetch or inspect the advisory databases `audit` uses
    #[command(
        after_help = "Examples:\n  cargo xtask advisories update\n  cargo xtask advisories status"
    )]
    Advisories {
        #[command(subcommand)]
        command: AdvisoriesCmd,
    },
    /// Deploy VERSION to ENV with docker compose: health gate, smoke checks, automatic rollback
    #[command(
        after_help = "Examples:\n  cargo xtask deploy staging v1.4.2 --dry-run\n  cargo xtask deploy production v1.4.2"
    )]
    Deploy {
        /// Environment (selects docker-compose.ENV.yml and its smoke checks)
        env: String,
        /// Version: the image tag passed through deploy.variable (APP_TAG)
        version: String,
        /// Print the exact plan (commands, environment, checks) and change nothing
        #[arg(long)]
        dry_run: bool,
        /// Leave a failed version running instead of rolling back
        #[arg(long)]
        no_auto_rollback: bool,
    },
    /// Roll ENV back to the previous good version (or --to VERSION)
    #[command(
        after_help = "Examples:\n  cargo xtask rollback production --dry-run\n  cargo xtask rollback production --to v1.4.1\n  cargo xtask rollback production --restore-db --yes"
    )]
    Rollback {
        env: String,
        /// Version to return to [default: newest successful deploy before the current one]
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Show the plan, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Also restore the database backup taken before the deploy being undone
        #[arg(long)]
        restore_db: bool,
        /// Confirm --restore-db (writes made since that backup are lost)
        #[arg(long)]
        yes: bool,
    },
    /// Deployment history of ENV from its ledger
    #[command(after_help = "Example:\n  cargo xtask releases production --format json")]
    Releases { env: String },
    /// Run a cadence's runbook items and write one report (backups/reports/)
    #[command(
        after_help = "Examples:\n  cargo xtask checklist weekly\n  cargo xtask checklist daily --format markdown"
    )]
    Checklist {
        #[arg(value_enum)]
        cadence: Cadence,
    },
    /// Show or create maintenance.toml
    #[command(after_help = "Example:\n  cargo xtask config show --format json")]
    Config {
        #[command(subcommand)]
        command: ConfigCmd,
    },
    /// Lint GitHub Actions workflows offline: pinning, permissions, injection, triggers, …
    #[command(
        after_help = "Examples:\n  cargo xtask workflows lint\n  cargo xtask workflows lint .github/workflows/ci.yml --fail-on low\n  cargo xtask workflows lint --format sarif --output workflows.sarif"
    )]
    Workflows {
        #[command(subcommand)]
        command: WorkflowsCmd,
    },
    /// Secret rotation schedule and certificate expiry (the runbook's Security Review)
    #[command(
        after_help = "Examples:\n  gh secret list --json name,updatedAt > secrets.json\n  cargo xtask secrets check --github-secrets secrets.json --certs deploy/tls\n  cargo xtask secrets rotated VAULT_DB_PASSWORD --at 2026-01-15"
    )]
    Secrets {
        #[command(subcommand)]
        command: SecretsCmd,
    },
    /// Scanner exceptions need a reason: .trivyignore, bandit, [audit] ignore
    #[command(after_help = "Example:\n  cargo xtask scan-config check --format markdown")]
    ScanConfig {
        #[command(subcommand)]
        command: ScanConfigCmd,
    },
    /// Benchmarks against the anchor tools, side by side on the same input
    #[command(
        after_help = "Example:\n  cargo xtask bench backup-config --files 10000 --size-mb 200"
    )]
    Bench {
        #[command(subcommand)]
        command: BenchCmd,
    },
    /// Test coverage against the runbook's 80%: Cobertura XML, lcov, coverage.py JSON
    #[command(
        after_help = "Examples:\n  cargo xtask coverage check\n  cargo xtask coverage check coverage.xml --min 85\n  cargo xtask coverage check lcov.info --diff origin/main --format json"
    )]
    Coverage {
        #[command(subcommand)]
        command: CoverageCmd,
    },
    /// Test results from JUnit XML: failures, slowest and flaky tests
    #[command(
        after_help = "Examples:\n  cargo xtask tests report junit.xml\n  cargo xtask tests report artifacts/ --format markdown"
    )]
    Tests {
        #[command(subcommand)]
        command: TestsCmd,
    },
    /// Prometheus metrics of backups, audit, outdated, deploys, secrets, checklists; alert rules; a Grafana dashboard
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  cargo xtask metrics | promtool check metrics\n  cargo xtask metrics --textfile /var/lib/prometheus/node-exporter\n  cargo xtask metrics push http://pushgateway.example:9091\n  cargo xtask metrics serve --listen 127.0.0.1:9184\n  cargo xtask metrics rules /etc/prometheus/rules/xtask.yml"
    )]
    Metrics {
        #[command(flatten)]
        command: MetricsArgs,
    },
    /// Pipeline and delivery metrics: GitHub Actions exports, DORA, an HTML report with plots
    #[command(
        after_help = "Examples:\n  GITHUB_TOKEN=... cargo xtask ci fetch --repo octo-org/knowledge-hub\n  cargo xtask ci stats --since 7d\n  cargo xtask ci stats --runs runs.json --jobs jobs.json --format json\n  cargo xtask ci dora --env production\n  cargo xtask ci report --html ci-report.html"
    )]
    Ci {
        #[command(subcommand)]
        command: CiCmd,
    },
    /// Evaluate the runbook's alert rules; with --notify, post each new breach to the targets
    #[command(
        after_help = "Examples:\n  cargo xtask alerts\n  SLACK_WEBHOOK_URL=https://hooks.slack.com/... cargo xtask alerts --notify\n  cargo xtask alerts --now 2026-01-08T12:00:00Z --format json"
    )]
    Alerts {
        /// Post new breaches to `[[alerts.targets]]` (Slack, webhook, PagerDuty) and record
        /// them in <backup.dir>/alerts/state.json, so that none is sent twice
        #[arg(long)]
        notify: bool,
        /// The time the windows end at: RFC 3339 or YYYY-MM-DD [default: now]
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// Python requirements: pin requirements*.in into .txt files (the runbook's pip-compile)
    #[command(
        after_help = "Examples:\n  cargo xtask deps lock\n  cargo xtask deps lock --check\n  cargo xtask deps lock --upgrade requests"
    )]
    Deps {
        #[command(subcommand)]
        command: DepsCmd,
    },
    /// Shell completions for the installed `xtask` (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples (after `cargo install --path xtask`):\n  xtask completions bash > ~/.local/share/bash-completion/completions/xtask\n  xtask completions zsh > ~/.zfunc/_xtask\n  cargo xtask completions fish > ~/.config/fish/completions/xtask.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// A checklist cadence of the runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cadence {
    Daily,
    Weekly,
    Monthly,
    Quarterly,
}

impl Cadence {
    pub fn name(self) -> &'static str {
        match self {
            Cadence::Daily => "daily",
            Cadence::Weekly => "weekly",
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
        }
    }
}

impl Command {
    /// Whether the audit log records this command: backups, restores, deploys and rollbacks
    /// that change something (not their dry runs, listings or verifications).
    pub fn audited(&self) -> bool {
        match self {
            Command::Backup { command, .. } => match command {
                None | Some(BackupCmd::Config { .. }) | Some(BackupCmd::Db { .. }) => true,
                Some(BackupCmd::List) | Some(BackupCmd::Verify { .. }) => false,
                Some(BackupCmd::Prune { dry_run }) => !dry_run,
            },
            Command::Restore { command } => match command {
                RestoreCmd::Config { dry_run, .. } | RestoreCmd::Db { dry_run, .. } => !dry_run,
            },
            Command::Deploy { dry_run, .. } | Command::Rollback { dry_run, .. } => !dry_run,
            Command::Deps {
                command: DepsCmd::Lock { check, .. },
            } => !check,
            // Notifications leave the machine: the audit log says when and what ran.
            Command::Alerts { notify, .. } => *notify,
            // Not a mistyped `NAME=value`: the audit log records the command line.
            Command::Secrets { command } => match command {
                SecretsCmd::Rotated { name, .. } => crate::util::redact::is_secret_name(name),
                SecretsCmd::Check { .. } => false,
            },
            _ => false,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BackupCmd {
    /// Archive the pipeline configuration into backups/pipeline/
    #[command(after_help = "Example:\n  cargo xtask backup config --format json")]
    Config {
        /// Do not write a new archive when the newest one holds the same content
        #[arg(long)]
        if_changed: bool,
    },
    /// Back up the database: SQLite (online backup API) or PostgreSQL (pg_dump -Fc)
    #[command(
        after_help = "Examples:\n  cargo xtask backup db\n  cargo xtask backup db --database data/app.db --format json\n  PGPASSWORD=... cargo xtask backup db --database postgres://app@127.0.0.1/hub"
    )]
    Db {
        /// SQLite path (relative to the root) or postgres:// URL [default: database.path / database.url]
        #[arg(long, value_name = "PATH|URL")]
        database: Option<String>,
        /// Copy the backup off-site with rclone and verify it there (e.g. s3:bucket/db)
        #[arg(long, value_name = "REMOTE")]
        upload: Option<String>,
    },
    /// List backups, newest first, with their checksum state
    #[command(after_help = "Example:\n  cargo xtask backup list")]
    List,
    /// Check backups fully: checksums, every member or page, integrity
    #[command(
        after_help = "Examples:\n  cargo xtask backup verify\n  cargo xtask backup verify --all\n  cargo xtask backup verify backups/pipeline/pipeline-backup-20261129_020000.tar.gz"
    )]
    Verify {
        /// Backup path, name in the store, or `latest` [default: newest of each kind]
        #[arg(conflicts_with = "all")]
        archive: Option<String>,
        /// Verify every backup
        #[arg(long)]
        all: bool,
    },
    /// Delete backups outside the retention policy (never the newest verified one)
    #[command(after_help = "Example:\n  cargo xtask backup prune --dry-run")]
    Prune {
        /// Show what would be deleted, delete nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum RestoreCmd {
    /// Restore pipeline configuration from an archive (verified first)
    #[command(
        after_help = "Examples:\n  cargo xtask restore config latest --dry-run\n  cargo xtask restore config latest --to /tmp/restored\n  cargo xtask restore config pipeline-backup-20261129_020000.tar.gz --force"
    )]
    Config {
        /// Archive path, name in the store, or `latest`
        archive: String,
        /// Target directory [default: the root]; must be new or empty unless --force
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        /// Show what would change against the target, write nothing
        #[arg(long)]
        dry_run: bool,
        /// Restore into a non-empty directory, overwriting files the archive holds
        #[arg(long)]
        force: bool,
    },
    /// Restore a database backup (verified first; the live database needs --yes)
    #[command(
        after_help = "Examples:\n  cargo xtask restore db latest --to /tmp/check.db\n  cargo xtask restore db latest --dry-run\n  cargo xtask restore db db_backup_20261129_021500.sqlite.gz --yes"
    )]
    Db {
        /// Backup path, name in the store, or `latest`
        backup: String,
        /// Write a new database file here instead of the live database
        #[arg(long, value_name = "PATH", conflicts_with = "database")]
        to: Option<PathBuf>,
        /// Live database to restore into: SQLite path or postgres:// URL [default: config]
        #[arg(long, value_name = "PATH|URL")]
        database: Option<String>,
        /// Verify and show the plan, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Confirm replacing the live database (a safety backup is taken first)
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdvisoriesCmd {
    /// Fetch or refresh every configured source into the cache (atomically)
    #[command(after_help = "Example:\n  cargo xtask advisories update")]
    Update {
        /// Take an update even if it holds fewer advisories than audit.min_update_fraction of
        /// the current copy's, or only older ones
        #[arg(long)]
        allow_shrink: bool,
    },
    /// Per source: advisory count, newest modification, fetch time, commit
    #[command(after_help = "Example:\n  cargo xtask advisories status --format json")]
    Status,
}

#[derive(Debug, Subcommand)]
pub enum WorkflowsCmd {
    /// Lint .github/workflows (and local actions): every finding with line, column and fix
    #[command(
        after_help = "Examples:\n  cargo xtask workflows lint\n  cargo xtask workflows lint .github/workflows/release.yml --format json\n  cargo xtask workflows lint --fail-on low --format sarif --output workflows.sarif"
    )]
    Lint {
        /// Workflow files or folders [default: workflows.paths: .github/workflows, .github/actions]
        paths: Vec<PathBuf>,
        /// Lowest severity that fails the run [default: workflows.fail_on, medium]
        #[arg(long, value_enum, value_name = "LEVEL")]
        fail_on: Option<crate::report::Severity>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Rotation ages against the policy (90/180/365 days) and certificate expiry
    #[command(
        after_help = "Examples:\n  cargo xtask secrets check\n  cargo xtask secrets check --github-secrets secrets.json --format json\n  cargo xtask secrets check --certs deploy/tls/fullchain.pem --certs certs/"
    )]
    Check {
        /// `gh secret list --json name,updatedAt` output (or the REST API's `{"secrets": [...]}`)
        #[arg(long, value_name = "FILE")]
        github_secrets: Option<PathBuf>,
        /// PEM certificate files or folders (repeatable) [default: secrets.certs]
        #[arg(long, value_name = "PATH")]
        certs: Vec<PathBuf>,
        /// Lowest severity that fails the run [default: secrets.fail_on, high]
        #[arg(long, value_enum, value_name = "LEVEL")]
        fail_on: Option<crate::report::Severity>,
    },
    /// Record a rotation done outside GitHub (vault, database): appended to backups/secrets/
    #[command(
        after_help = "Examples:\n  cargo xtask secrets rotated VAULT_DB_PASSWORD\n  cargo xtask secrets rotated DEPLOY_SSH_KEY --at 2026-01-15"
    )]
    Rotated {
        /// The secret's name (never its value)
        name: String,
        /// Day of the rotation, YYYY-MM-DD [default: today, UTC]
        #[arg(long, value_name = "DATE")]
        at: Option<chrono::NaiveDate>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScanConfigCmd {
    /// Every .trivyignore entry, bandit skip and [audit] ignore has a reason and is not expired
    #[command(
        after_help = "Examples:\n  cargo xtask scan-config check\n  cargo xtask scan-config check --fail-on low --format json"
    )]
    Check {
        /// Lowest severity that fails the run [default: scan_config.fail_on, medium]
        #[arg(long, value_enum, value_name = "LEVEL")]
        fail_on: Option<crate::report::Severity>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Print the effective configuration
    #[command(after_help = "Example:\n  cargo xtask config show")]
    Show,
    /// Write a commented example maintenance.toml
    #[command(after_help = "Example:\n  cargo xtask config init --stdout > maintenance.toml")]
    Init {
        /// Print the example instead of writing it
        #[arg(long)]
        stdout: bool,
        /// Replace an existing file
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// `backup config` against GNU `tar czf` on a generated tree
    #[command(
        after_help = "Example:\n  cargo xtask bench backup-config --files 10000 --size-mb 200 --runs 3"
    )]
    BackupConfig {
        /// Number of files in the generated tree
        #[arg(long, default_value_t = 10_000)]
        files: usize,
        /// Total size of the generated tree in MiB
        #[arg(long, default_value_t = 200)]
        size_mb: u64,
        /// Runs of each tool (the median is reported)
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Working directory [default: target/bench]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// `audit` against cargo-audit on the same lockfiles: timing, memory, identical answers
    #[command(
        after_help = "Example:\n  cargo xtask bench audit --advisory-db ../shared/advisory-db --runs 10"
    )]
    Audit {
        /// Folder with rustsec/, rustsec-osv/ and pypa/ snapshots [default: <root>/../shared/advisory-db]
        #[arg(long, value_name = "DIR")]
        advisory_db: Option<PathBuf>,
        /// Runs of each tool (the median is reported)
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Working directory [default: target/bench]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// `outdated --all` against cargo-outdated on a real ~700-package workspace, cold and warm
    #[command(after_help = "Example:\n  cargo xtask bench outdated --runs 3")]
    Outdated {
        /// Runs of `cargo xtask outdated` per case (cargo-outdated runs once: it takes minutes)
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Skip cargo-outdated (only time our cold and warm runs)
        #[arg(long)]
        no_anchor: bool,
        /// Working directory [default: target/bench]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// `ci stats` on 100,000 generated runs with jobs and steps: time and peak memory
    #[command(after_help = "Example:\n  cargo xtask bench ci-stats --runs 100000")]
    CiStats {
        /// Generated workflow runs
        #[arg(long, default_value_t = 100_000)]
        runs: usize,
        /// Jobs per run
        #[arg(long, default_value_t = 3)]
        jobs: usize,
        /// Steps per job
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// Timed runs (the median is reported)
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        /// Working directory [default: target/bench]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// A cold `cargo build -p xtask` per git revision or cargo `--config` variant: wall, CPU, longest units
    #[command(
        after_help = "Examples:\n  cargo xtask bench build\n  cargo xtask bench build --rev bc92246 --rev HEAD\n  cargo xtask bench build --variant 'xtask-o1=profile.dev.package.xtask.opt-level=1'"
    )]
    Build {
        /// Git revision to build from a clean `git archive` snapshot (repeatable) [default: HEAD]
        #[arg(long = "rev", value_name = "REV")]
        revs: Vec<String>,
        /// The first revision with cargo `--config` values (or flags like --no-default-features) on top: LABEL=KEY=VALUE[;KEY=VALUE…] (repeatable)
        #[arg(long = "variant", value_name = "LABEL=CONFIG")]
        variants: Vec<String>,
        /// Cold builds of each variant (the median wall time is reported)
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Longest units listed per variant
        #[arg(long, default_value_t = 12)]
        top: usize,
        /// Working directory [default: target/bench]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// `backup db` against `sqlite3 .backup && gzip` on a generated SQLite database
    #[command(after_help = "Example:\n  cargo xtask bench backup-db --size-mb 1024 --writer")]
    BackupDb {
        /// Size of the generated database in MiB
        #[arg(long, default_value_t = 1024)]
        size_mb: u64,
        /// Runs of each tool (the median is reported)
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Also run both with a concurrent writer committing to the database
        #[arg(long)]
        writer: bool,
        /// Working directory [default: target/bench]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CoverageCmd {
    /// Total coverage as coverage.py computes it, the least-covered files, changed lines
    #[command(
        after_help = "Examples:\n  cargo xtask coverage check\n  cargo xtask coverage check coverage.xml lcov.info --min 80\n  cargo xtask coverage check coverage.json --diff origin/main"
    )]
    Check {
        /// Coverage reports [default: coverage.xml, lcov.info, coverage.json under the root]
        files: Vec<PathBuf>,
        /// Lowest total in percent [default: coverage.min, 80]
        #[arg(long, value_name = "PCT")]
        min: Option<f64>,
        /// Also the coverage of lines changed since this git revision
        #[arg(long, value_name = "BASE")]
        diff: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TestsCmd {
    /// Totals, failing tests, slowest tests; flaky tests and duration trend across runs
    #[command(
        after_help = "Examples:\n  cargo xtask tests report junit.xml\n  cargo xtask tests report ci-artifacts/ --format json"
    )]
    Report {
        /// JUnit XML files or folders of them, one file per run [default: tests.reports]
        files: Vec<PathBuf>,
    },
}

/// `metrics` without a subcommand: the exposition (standard output or --textfile).
#[derive(Debug, clap::Args)]
pub struct MetricsArgs {
    #[command(subcommand)]
    pub command: Option<MetricsCmd>,
    /// OpenMetrics 1.0 instead of the Prometheus text format (standard output only: the
    /// textfile collector and the Pushgateway read the text format)
    #[arg(long, conflicts_with = "textfile")]
    pub openmetrics: bool,
    /// Write DIR/xtask.prom atomically, for node_exporter's textfile collector
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCmd {
    /// Push the metrics to a Prometheus Pushgateway (PUT: replaces the job/instance group)
    #[command(
        after_help = "Examples:\n  cargo xtask metrics push http://pushgateway.example:9091\n  XTASK_PUSHGATEWAY_URL=https://user:pw@pg.example cargo xtask metrics push --instance ci-1"
    )]
    Push {
        /// The Pushgateway's base URL (a password in it never reaches curl's argv or output)
        #[arg(env = "XTASK_PUSHGATEWAY_URL", hide_env_values = true)]
        url: String,
        /// The job label [default: metrics.job, xtask]
        #[arg(long)]
        job: Option<String>,
        /// The instance label [default: this host's name]
        #[arg(long)]
        instance: Option<String>,
    },
    /// Serve /metrics over HTTP for Prometheus, computed on scrape (reused for metrics.cache_secs)
    #[command(
        after_help = "Examples:\n  cargo xtask metrics serve --listen 127.0.0.1:9184\n  cargo xtask metrics serve --listen 0.0.0.0:9184 --cache-secs 300"
    )]
    Serve {
        /// Address and port to listen on (port 0: any free port, printed on standard error)
        #[arg(long, value_name = "ADDR")]
        listen: String,
        /// Reuse a computation for this many seconds [default: metrics.cache_secs, 60]
        #[arg(long, value_name = "SECS")]
        cache_secs: Option<u64>,
    },
    /// Prometheus alerting rules for the runbook's alerts and the toolkit's duties
    #[command(
        after_help = "Examples:\n  cargo xtask metrics rules /etc/prometheus/rules/xtask.yml\n  cargo xtask metrics rules | promtool check rules /dev/stdin"
    )]
    Rules {
        /// Write the rules here (atomically) instead of standard output
        file: Option<PathBuf>,
    },
    /// A Grafana dashboard (JSON model) with a panel for each metric
    #[command(after_help = "Example:\n  cargo xtask metrics dashboard xtask-dashboard.json")]
    Dashboard {
        /// Write the dashboard here (atomically) instead of standard output
        file: Option<PathBuf>,
    },
}

/// The exports `ci stats` and `ci report` read.
#[derive(Debug, Args)]
pub struct CiInputs {
    /// Runs: REST /actions/runs pages or `gh run list --json ...` (file or folder,
    /// repeatable) [default: every export in ci.exports, <backup.dir>/ci]
    #[arg(long, value_name = "FILE")]
    pub runs: Vec<PathBuf>,
    /// Jobs: REST /actions/runs/ID/jobs pages or `gh run view ID --json databaseId,attempt,jobs`
    /// (file or folder, repeatable)
    #[arg(long, value_name = "FILE")]
    pub jobs: Vec<PathBuf>,
}

/// The window of a `ci` command: `[since, now)`.
#[derive(Debug, Args)]
pub struct CiWindow {
    /// Start of the window: RFC 3339, YYYY-MM-DD, or a length before --now (7d, 12h)
    /// [default: ci.window before --now; dora: ci.dora_window]
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// End of the window, fixed for a reproducible run [default: the current time]
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CiCmd {
    /// Download workflow runs and their jobs through the GitHub API into the export folder
    #[command(
        after_help = "Examples:\n  GITHUB_TOKEN=... cargo xtask ci fetch --repo octo-org/knowledge-hub\n  cargo xtask ci fetch --repo octo-org/knowledge-hub --since 2026-01-01 --no-jobs"
    )]
    Fetch {
        /// OWNER/NAME [default: ci.repo]
        #[arg(long, value_name = "OWNER/NAME")]
        repo: Option<String>,
        /// Runs created from this time on: RFC 3339, YYYY-MM-DD or a length before now (30d)
        /// [default: where the last fetch ended, else ci.fetch_since]
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Runs only: do not fetch each run's jobs and steps
        #[arg(long)]
        no_jobs: bool,
    },
    /// Success rate, duration p50/p95, queue time, failure rate by stage, slowest steps, re-runs
    #[command(
        after_help = "Examples:\n  cargo xtask ci stats\n  cargo xtask ci stats --since 24h --format json\n  cargo xtask ci stats --runs runs.json --jobs jobs/ --since 2026-01-01 --now 2026-01-08"
    )]
    Stats {
        #[command(flatten)]
        inputs: CiInputs,
        #[command(flatten)]
        window: CiWindow,
    },
    /// Deployment frequency, lead time, change failure rate and time to restore, with tiers
    #[command(
        after_help = "Examples:\n  cargo xtask ci dora\n  cargo xtask ci dora --env staging --since 90d --format json"
    )]
    Dora {
        /// Environment whose ledger is read [default: ci.environment, production]
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
        #[command(flatten)]
        window: CiWindow,
    },
    /// One self-contained HTML page: duration, success rate, slowest steps, queue, DORA, alerts
    #[command(
        after_help = "Examples:\n  cargo xtask ci report --html ci-report.html\n  cargo xtask ci report --html /srv/www/ci.html --since 30d"
    )]
    Report {
        /// The page to write (replaced atomically)
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
        #[command(flatten)]
        inputs: CiInputs,
        #[command(flatten)]
        window: CiWindow,
        /// Environment of the DORA section [default: ci.environment]
        #[arg(long, value_name = "ENV")]
        env: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DepsCmd {
    /// Compile each requirements*.in into its pinned .txt with uv or pip-compile
    #[command(
        after_help = "Examples:\n  cargo xtask deps lock\n  cargo xtask deps lock --check\n  cargo xtask deps lock --upgrade\n  cargo xtask deps lock --upgrade requests idna"
    )]
    Lock {
        /// Write nothing: exit 1 naming each pin that is missing, extra, different or outside its range
        #[arg(long)]
        check: bool,
        /// Upgrade every pin, or only these packages
        #[arg(long, num_args = 0.., value_name = "PKG", conflicts_with = "check")]
        upgrade: Option<Vec<String>>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audited(args: &[&str]) -> bool {
        let mut argv = vec!["xtask"];
        argv.extend(args);
        Cli::try_parse_from(argv).unwrap().command.audited()
    }

    #[test]
    fn audit_log_is_decided_from_the_parsed_command() {
        assert!(audited(&["backup"]));
        assert!(audited(&["backup", "db"]));
        assert!(audited(&["backup", "prune"]));
        assert!(!audited(&["backup", "prune", "--dry-run"]));
        assert!(!audited(&["backup", "list"]));
        assert!(!audited(&["backup", "verify", "--all"]));
        assert!(audited(&["restore", "config", "latest", "--to", "x"]));
        assert!(!audited(&["restore", "db", "latest", "--dry-run"]));
        // A version or environment that happens to be a word the old argv scan skipped.
        assert!(audited(&["deploy", "list", "verify"]));
        assert!(!audited(&["deploy", "staging", "v1", "--dry-run"]));
        assert!(audited(&["rollback", "production"]));
        assert!(!audited(&["audit"]));
        assert!(!audited(&["releases", "production"]));
        assert!(audited(&["deps", "lock", "--upgrade", "requests"]));
        assert!(!audited(&["deps", "lock", "--check"]));
        assert!(!audited(&["coverage", "check"]));
        assert!(audited(&["secrets", "rotated", "DB_PASSWORD"]));
        assert!(!audited(&["secrets", "check"]));
        assert!(
            !audited(&["secrets", "rotated", "DB_PASSWORD=hunter2"]),
            "never logs a value"
        );
        assert!(!audited(&["workflows", "lint"]));
        assert!(audited(&["alerts", "--notify"]));
        assert!(!audited(&["alerts"]));
        assert!(!audited(&["ci", "stats"]));
    }

    use clap::CommandFactory;

    /// The `--help` of every command, in one document: docs/cli.md. A change to any
    /// command line shows up here; `XTASK_BLESS=1 cargo test --bin xtask help_of_every`
    /// rewrites the page after a deliberate change.
    #[test]
    fn help_of_every_command_matches_docs_cli_md() {
        fn walk(cmd: &clap::Command, out: &mut String) {
            let name = cmd.get_bin_name().unwrap_or(cmd.get_name()).to_string();
            let help = cmd.clone().render_long_help().to_string();
            let help: Vec<&str> = help.lines().map(str::trim_end).collect();
            out.push_str(&format!(
                "## `{name}`\n\n```text\n{}\n```\n\n",
                help.join("\n").trim_end()
            ));
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, out);
            }
        }
        let mut root = Cli::command().term_width(100);
        root.build();
        let mut page = String::from(
            "# Command reference\n\nThe `--help` of every command (generated: a test keeps this page equal to the\nbinary's help; `XTASK_BLESS=1 cargo test --bin xtask help_of_every` rewrites it).\n\n",
        );
        walk(&root, &mut page);
        let page = format!("{}\n", page.trim_end());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
        if std::env::var_os("XTASK_BLESS").is_some() {
            std::fs::write(&path, &page).unwrap();
        }
        let doc = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            doc == page,
            "docs/cli.md differs from --help: run `XTASK_BLESS=1 cargo test --bin xtask help_of_every` and review the diff"
        );
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every subcommand's --help carries an example.
    #[test]
    fn every_subcommand_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(
                    help.contains("cargo xtask"),
                    "`{name}` --help has no example"
                );
                walk(sub, &name);
            }
        }
        walk(&Cli::command(), "cargo xtask");
    }
}
