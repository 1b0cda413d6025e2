//! `restore config` ([`config`]) and `restore db` ([`db`]): a backup is verified in full
//! before anything is written, and nothing is written outside the target.

pub mod config;
pub mod db;

use std::path::{Path, PathBuf};

use anyhow::Result;

/// A `--to` path: relative ones are taken from the current directory.
fn absolute(to: &Path) -> Result<PathBuf> {
    Ok(if to.is_absolute() {
        to.to_path_buf()
    } else {
        std::env::current_dir()?.join(to)
    })
}
