//! `cargo xtask`: the CI/CD maintenance runbook as commands.
//!
//! The CLI is declared in `cli.rs`; this file parses, builds the [`Context`], dispatches with
//! one flat `match`, renders the report and turns it into the exit code.

mod audit;
mod backup;
mod bench;
mod checklist;
mod cli;
mod config;
mod deploy;
mod fsutil;
mod glob;
mod http;
mod outdated;
mod progress;
mod report;
mod sh;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser;

use cli::{AdvisoriesCmd, BackupCmd, Cli, Command, ConfigCmd, RestoreCmd};
use report::{Format, Report, Style};

/// Exit code when the tool itself failed (bad input, I/O error, a command that broke).
pub const TOOL_FAILURE_EXIT: u8 = 2;

/// Everything a command needs to know about where and how it runs.
pub struct Context {
    pub root: PathBuf,
    pub config_path: PathBuf,
    pub config: config::Config,
    pub format: Format,
    pub style: Style,
}

impl Context {
    pub fn store(&self) -> backup::store::Store {
        backup::store::Store {
            dir: self.root.join(&self.config.backup.dir),
        }
    }

    /// A command-line path: as given when absolute or present from the current directory,
    /// else under the root.
    pub fn cli_path(&self, p: &std::path::Path) -> PathBuf {
        if p.is_absolute() || p.exists() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    /// `p` relative to the root when it is under it (for messages, JSON and SARIF).
    pub fn rel(&self, p: &std::path::Path) -> String {
        p.strip_prefix(&self.root)
            .unwrap_or(p)
            .display()
            .to_string()
    }
}

/// Who runs the command, for lock files and audit records.
pub fn actor() -> String {
    ["GITHUB_ACTOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .or_else(login_name)
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }))
}

/// The user name of the real uid from the password database (cron and containers often
/// run without USER).
fn login_name() -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into our buffers only; `out` is null or points at `pwd`.
    let rc = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut out,
        )
    };
    if rc != 0 || out.is_null() || pwd.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The workspace this binary was built from: the default `--root`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .into()
}

fn main() -> ExitCode {
    // A file-size limit must give a clean "File too large" error, not kill the process
    // half-way through a backup.
    // SAFETY: setting a signal's disposition to SIG_IGN at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if let Some(busy) = e.downcast_ref::<fsutil::LockBusy>() {
                eprintln!("error: {busy}");
                return ExitCode::from(fsutil::LOCK_BUSY_EXIT as u8);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(TOOL_FAILURE_EXIT)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let root = cli.root.clone().unwrap_or_else(workspace_root);
    let root = root
        .canonicalize()
        .with_context(|| format!("--root {}: no such directory", root.display()))?;
    let (config_path, required) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => (root.join("maintenance.toml"), false),
    };
    let config = config::Config::load(&config_path, required)?;
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
        && cli.output.is_none();
    let cx = Context {
        root,
        config_path,
        config,
        format: cli.format,
        style: Style {
            color,
            quiet: cli.quiet,
        },
    };

    // Deploys, rollbacks, backups and restores go to the audit log, whatever their outcome.
    let audited = matches!(
        cli.command,
        Command::Backup { .. }
            | Command::Restore { .. }
            | Command::Deploy { .. }
            | Command::Rollback { .. }
    ) && !std::env::args().any(|a| a == "--dry-run" || a == "list" || a == "verify");
    let result = dispatch(&cx, cli.command);
    if audited {
        let line: Vec<String> = std::env::args()
            .skip(1)
            .map(|a| config::redact_url(&a))
            .collect();
        let outcome = match &result {
            Ok(Some(r)) if r.exit_code() != 0 => format!("findings (exit {})", r.exit_code()),
            Ok(_) => "ok".to_string(),
            Err(e) => format!(
                "failed: {}",
                format!("{e:#}").lines().next().unwrap_or_default()
            ),
        };
        deploy::audit_log(&cx, &line.join(" "), &outcome);
    }
    let Some(report) = result? else { return Ok(0) };

    let rendered = report.render(cx.format, cx.style);
    match &cli.output {
        Some(path) => fsutil::write_atomic(path, rendered.as_bytes(), 0o644)?,
        None => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`| head`) is not a failure of the command.
            let _ = out
                .write_all(rendered.as_bytes())
                .and_then(|()| out.flush());
        }
    }
    Ok(report.exit_code() as u8)
}

/// One flat match: every command computes its report. `None`: it printed its own output.
fn dispatch(cx: &Context, command: Command) -> Result<Option<Report>> {
    let report: Report = match command {
        Command::Backup {
            command,
            if_changed,
        } => match command {
            None => backup::all(cx, if_changed)?,
            Some(BackupCmd::Config { if_changed: ic }) => {
                backup::pipeline::run(cx, ic || if_changed)?
            }
            Some(BackupCmd::Db { database, upload }) => {
                backup::db::run(cx, database.as_deref(), upload.as_deref())?
            }
            Some(BackupCmd::List) => backup::list(cx)?,
            Some(BackupCmd::Verify { archive, all }) => {
                backup::verify(cx, archive.as_deref(), all)?
            }
            Some(BackupCmd::Prune { dry_run }) => backup::prune(cx, dry_run)?,
        },
        Command::Restore { command } => match command {
            RestoreCmd::Config {
                archive,
                to,
                dry_run,
                force,
            } => backup::restore::run(cx, &archive, to.as_deref(), dry_run, force)?,
            RestoreCmd::Db {
                backup,
                to,
                database,
                dry_run,
                yes,
            } => {
                let (to, db) = (to.as_deref(), database.as_deref());
                backup::db::restore(cx, &backup, to, db, dry_run, yes)?
            }
        },
        Command::Config { command } => match command {
            ConfigCmd::Show => config::show(cx)?,
            ConfigCmd::Init { stdout, force } => {
                let r = config::init(cx, stdout, force)?;
                if stdout {
                    return Ok(None);
                }
                r
            }
        },
        Command::Bench { command } => bench::run(cx, command)?,
        Command::Audit {
            paths,
            db,
            fail_on,
            deny,
            allow_stale,
        } => {
            let opts = audit::Options {
                paths,
                db,
                fail_on,
                deny,
                allow_stale,
            };
            audit::run(cx, opts)?
        }
        Command::Deploy {
            env,
            version,
            dry_run,
            no_auto_rollback,
        } => deploy::deploy(cx, &env, &version, dry_run, !no_auto_rollback)?,
        Command::Rollback {
            env,
            to,
            dry_run,
            restore_db,
            yes,
        } => deploy::rollback(cx, &env, to.as_deref(), dry_run, restore_db, yes)?,
        Command::Releases { env } => deploy::releases(cx, &env)?,
        Command::Checklist { cadence } => checklist::run(cx, cadence)?,
        Command::Outdated {
            paths,
            all,
            offline,
            exit_code,
        } => outdated::run(
            cx,
            outdated::Options {
                paths,
                all,
                offline,
                exit_code,
            },
        )?,
        Command::Advisories { command } => match command {
            AdvisoriesCmd::Update => audit::sources::update(cx)?,
            AdvisoriesCmd::Status => audit::sources::status(cx)?,
        },
    };

    Ok(Some(report))
}
