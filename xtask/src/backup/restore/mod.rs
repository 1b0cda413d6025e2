//! `restore config` ([`config`]) and `restore db` ([`db`]): a backup is verified in full
//! before anything is written, and nothing is written outside the target.

pub mod config;
pub mod db;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::cli::RestoreCmd;
use crate::context::Context;
use crate::report::Report;

/// A `--to` path: relative ones are taken from the current directory.
fn absolute(to: &Path) -> Result<PathBuf> {
    Ok(if to.is_absolute() {
        to.to_path_buf()
    } else {
        std::env::current_dir()?.join(to)
    })
}

/// `restore config` / `restore db`.
pub fn dispatch(cx: &Context, command: RestoreCmd) -> Result<Report> {
    match command {
        RestoreCmd::Config {
            archive,
            to,
            dry_run,
            force,
        } => config::run(cx, &archive, to.as_deref(), dry_run, force),
        RestoreCmd::Db {
            backup,
            to,
            database,
            dry_run,
            yes,
        } => db::run(
            cx,
            &backup,
            to.as_deref(),
            database.as_deref(),
            dry_run,
            yes,
        ),
    }
}
