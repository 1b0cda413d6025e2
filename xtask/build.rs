//! Records the git commit the binary is built from, for `--version`: `git rev-parse --short
//! HEAD` when git and a repository are there, else `unknown` (a source tarball, no git
//! installed). Never fails the build.

use std::path::Path;
use std::process::Command;

/// Git's answer to `args`, trimmed; `None` when git is missing or says no.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // Build again when HEAD moves: a checkout or a commit changes HEAD or the branch's ref.
    // Only files that exist (cargo reruns the script on every build for a missing one).
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name])
            && Path::new(&path).exists()
        {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rustc-env=XTASK_GIT_COMMIT={commit}");
}
