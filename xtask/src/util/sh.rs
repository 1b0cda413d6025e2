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

/// The cargo to run: `CARGO` (set when running under `cargo xtask`), else `cargo` on PATH.
pub fn cargo() -> std::path::PathBuf {
    std::env::var_os("CARGO").map_or_else(|| "cargo".into(), Into::into)
}

/// Run `cmd` without echoing it and return its standard output. A failure names the command
/// and carries what it printed on standard error.
pub fn stdout(cmd: xshell::Cmd<'_>) -> Result<String> {
    let shown = cmd.to_string();
    let out = cmd
        .quiet()
        .ignore_status()
        .output()
        .with_context(|| format!("running `{shown}`"))?;
    if !out.status.success() {
        anyhow::bail!(
            "`{shown}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{shown}` printed non-UTF-8 output"))
}
