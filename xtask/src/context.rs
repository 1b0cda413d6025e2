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
    pub fn store(&self) -> crate::backup::store::Store {
        crate::backup::store::Store {
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
