//! `cargo xtask`: the CI/CD maintenance runbook as commands.
//!
//! The CLI is declared in `cli.rs`; this file parses, builds the [`Context`], dispatches with
//! one flat `match`, renders the report and turns it into the exit code.

mod alerts;
mod audit;
mod audit_log;
mod backup;
mod bench;
mod checklist;
mod ci;
mod cli;
mod config;
mod context;
mod coverage;
mod deploy;
mod deps;
mod deps_lock;
#[cfg(test)]
mod fuzz_tests;
mod metrics;
mod outdated;
mod report;
mod scan_config;
mod secrets;
mod test_report;
mod util;
mod workflows;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Parser;

use cli::{AdvisoriesCmd, Cli, Command, ConfigCmd};
use context::{Context, workspace_root};
use report::{Report, Style};
use util::files;

/// Exit code when the tool itself failed (bad input, I/O error, a command that broke).
pub const TOOL_FAILURE_EXIT: u8 = 2;

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
            if let Some(busy) = e.downcast_ref::<files::LockBusy>() {
                eprintln!("error: {busy}");
                return ExitCode::from(files::LOCK_BUSY_EXIT as u8);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(TOOL_FAILURE_EXIT)
        }
    }
}

/// `completions SHELL`: the script for the installed binary, `xtask`.
fn completions(shell: clap_complete::Shell) {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics on a write error, and a closed pipe
    // (`| head`) is not a failure of the command.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "xtask", &mut script);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&script).and_then(|()| out.flush());
}

fn run(cli: Cli) -> Result<u8> {
    // Needs no tree: it works wherever the binary is installed.
    if let Command::Completions { shell } = cli.command {
        completions(shell);
        return Ok(0);
    }
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
    let audited = cli.command.audited();
    let result = dispatch(&cx, cli.command);
    if audited {
        audit_log::append(&cx, &command_line(), &outcome(&result));
    }
    let Some(report) = result? else { return Ok(0) };

    let rendered = report.render(cx.format, cx.style);
    match &cli.output {
        Some(path) => files::write_output(path, rendered.as_bytes())?,
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

/// The command line as the audit log records it, every URL password hidden.
fn command_line() -> String {
    let words: Vec<String> = std::env::args()
        .skip(1)
        .map(|a| util::redact::redact(&a))
        .collect();
    words.join(" ")
}

/// How a command ended, in one line for the audit log.
fn outcome(result: &Result<Option<Report>>) -> String {
    match result {
        Ok(Some(r)) if r.exit_code() != 0 => format!("findings (exit {})", r.exit_code()),
        Ok(_) => "ok".to_string(),
        Err(e) => format!(
            "failed: {}",
            format!("{e:#}").lines().next().unwrap_or_default()
        ),
    }
}

/// One flat match: every command computes its report. `None`: it printed its own output.
fn dispatch(cx: &Context, command: Command) -> Result<Option<Report>> {
    let report: Report = match command {
        Command::Backup {
            command,
            if_changed,
        } => backup::dispatch(cx, command, if_changed)?,
        Command::Restore { command } => backup::restore::dispatch(cx, command)?,
        Command::Config { command } => match command {
            ConfigCmd::Show => config::show(&cx.root, &cx.config_path, &cx.config)?,
            ConfigCmd::Init { stdout, force } => {
                let r = config::init(&cx.config_path, stdout, force)?;
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
        Command::Ci { command } => ci::run(cx, command, alerts::for_report)?,
        Command::Alerts { notify, now } => alerts::run(cx, notify, now.as_deref())?,
        Command::Workflows { command } => workflows::dispatch(cx, command)?,
        Command::Secrets { command } => secrets::dispatch(cx, command)?,
        Command::ScanConfig { command } => scan_config::dispatch(cx, command)?,
        Command::Advisories { command } => match command {
            AdvisoriesCmd::Update { allow_shrink } => audit::sources::update(cx, allow_shrink)?,
            AdvisoriesCmd::Status => audit::sources::status(cx)?,
        },
        Command::Coverage { command } => coverage::run(cx, command)?,
        Command::Tests { command } => test_report::run(cx, command)?,
        Command::Deps { command } => deps_lock::run(cx, command)?,
        Command::Metrics { command } => return metrics::run(cx, command),
        Command::Completions { shell } => {
            completions(shell);
            return Ok(None);
        }
    };

    Ok(Some(report))
}
