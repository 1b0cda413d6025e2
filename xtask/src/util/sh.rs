//! The one place that runs external programs: an `xshell::Shell` rooted where asked.
//!
//! xshell spawns programs without a shell, so arguments are never interpreted by one.
//! Secrets go through `.env()` or `.secret(true)`, never into a printed command line.

use std::path::Path;

use anyhow::{Context as _, Result};
use xshell::Shell;

/// A shell whose working directory is `dir`.
pub fn shell(dir: &Path) -> Result<Shell> {
    let sh = Shell::new().context("starting a shell for external programs")?;
    sh.change_dir(dir);
    Ok(sh)
}

/// Is `program` on PATH?
pub fn has_program(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}
