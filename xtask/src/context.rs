//! The [`Context`] every command gets: where it runs, its config, how it reports; and who
//! runs it ([`actor`]).

use std::path::{Path, PathBuf};

use crate::config;
use crate::report::{Format, Style};

/// Everything a command needs to know about where and how it runs.
pub struct Context {
    pub root: PathBuf,
    pub config_path: PathBuf,
    pub config: config::Config,
    pub format: Format,
    pub style: Style,
}

impl Context {
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

#[cfg(test)]
impl Context {
    /// For unit tests that read no file: a root that does not exist, the default
    /// configuration, table output.
    pub fn nowhere() -> Context {
        Context {
            root: PathBuf::from("/nonexistent"),
            config_path: PathBuf::from("/nonexistent/maintenance.toml"),
            config: config::Config::default(),
            format: Format::Table,
            style: Style::default(),
        }
    }
}

pub use crate::util::actor::actor;

/// The workspace this binary was built from: the default `--root`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .into()
}

/// The advisory cache: `$XTASK_ADVISORY_CACHE`, else `$XDG_CACHE_HOME/xtask/advisory-db`,
/// else `~/.cache/xtask/advisory-db`.
pub fn advisory_cache() -> PathBuf {
    if let Some(p) = std::env::var_os("XTASK_ADVISORY_CACHE") {
        return PathBuf::from(p);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("xtask/advisory-db")
}

/// The HTTP cache: `$XTASK_HTTP_CACHE`, else `http` beside the advisory cache.
pub fn http_cache() -> PathBuf {
    std::env::var_os("XTASK_HTTP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| advisory_cache().with_file_name("http"))
}
