//! `bench …`: side-by-side timings against the anchor tool an issue names, on the same
//! generated input in one run. Results go to docs/benchmarks.md by hand; nothing here asserts
//! on time. One file per benchmark: [`backup`] (backup-config, backup-db), [`audit`],
//! [`outdated`], [`ci`] (ci-stats), [`build`] (the cold build of the toolkit itself).

mod audit;
mod backup;
mod build;
mod ci;
mod outdated;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use xshell::cmd;

use crate::cli::BenchCmd;
use crate::context::Context;
use crate::report::Report;
use crate::util::sh;

pub fn run(cx: &Context, command: BenchCmd) -> Result<Report> {
    let dir = work_dir(&cx.root, &command);
    match command {
        BenchCmd::BackupConfig {
            files,
            size_mb,
            runs,
            ..
        } => backup::backup_config(&dir, files, size_mb, runs.max(1)),
        BenchCmd::Audit {
            advisory_db, runs, ..
        } => {
            let db = advisory_db.unwrap_or_else(|| cx.root.join("../shared/advisory-db"));
            // The tools run inside the bench's folder: a relative --advisory-db would miss.
            let db =
                std::path::absolute(&db).with_context(|| format!("resolving {}", db.display()))?;
            audit::audit(&dir, &db, runs.max(1))
        }
        BenchCmd::Outdated {
            runs, no_anchor, ..
        } => outdated::outdated(&dir, runs.max(1), no_anchor),
        BenchCmd::BackupDb {
            size_mb,
            runs,
            writer,
            ..
        } => backup::backup_db(&dir, size_mb, runs.max(1), writer),
        BenchCmd::CiStats {
            runs,
            jobs,
            steps,
            repeat,
            ..
        } => ci::ci_stats(&dir, runs.max(1), jobs, steps, repeat.max(1)),
        BenchCmd::Build {
            revs,
            variants,
            runs,
            top,
            ..
        } => {
            let variants = build::variants(&revs, &variants)?;
            build::build(&cx.root, &dir, &variants, runs.max(1), top)
        }
    }
}

/// The benchmark's working directory: `--dir`, else `target/bench/<benchmark>` under the root.
fn work_dir(root: &Path, command: &BenchCmd) -> PathBuf {
    let (dir, name) = match command {
        BenchCmd::BackupConfig { dir, .. } => (dir, "backup-config"),
        BenchCmd::Audit { dir, .. } => (dir, "audit"),
        BenchCmd::Outdated { dir, .. } => (dir, "outdated"),
        BenchCmd::BackupDb { dir, .. } => (dir, "backup-db"),
        BenchCmd::CiStats { dir, .. } => (dir, "ci-stats"),
        BenchCmd::Build { dir, .. } => (dir, "build"),
    };
    dir.clone()
        .unwrap_or_else(|| root.join("target/bench").join(name))
}

/// A small deterministic generator (xorshift64*), so every run benchmarks the same tree.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

pub(super) const WORDS: &[&str] = &[
    "name:",
    "run:",
    "uses:",
    "with:",
    "steps:",
    "image",
    "python",
    "pytest",
    "docker",
    "compose",
    "deploy",
    "staging",
    "production",
    "cache",
    "key:",
    "${{",
    "}}",
    "matrix",
    "actions/checkout@v4",
    "timeout-minutes:",
    "env:",
    "secrets.TOKEN",
    "if:",
    "needs:",
    "pip",
    "install",
    "-r",
    "requirements.txt",
    "echo",
    "build",
    "push",
    "tag",
    "latest",
    "3.11",
    "ubuntu-latest",
    "on:",
    "pull_request",
    "branches:",
    "main",
    "develop",
    "- ",
];

pub(super) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A real dependency tree: the lockfile cargo resolves for a manifest using the big
/// ecosystem crates (network once; cached afterwards).
/// The real project's direct dependencies, as the bench tables name them.
pub(super) const REAL_DEPS_LABEL: &str =
    "tokio, reqwest, sqlx, axum, wasmtime, polars, aws-sdk-s3, datafusion, tonic, kube";
/// Added for the audit bench's 800+ package lockfile.
pub(super) const LARGE_EXTRA_DEPS: &str = "actix-web = \"4\"\ndiesel = { version = \"2\", features = [\"postgres\", \"sqlite\", \"mysql\"] }\nbevy = \"0.14\"\n";
pub(super) const LARGE_DEPS_LABEL: &str = "actix-web, diesel, bevy";

pub(super) fn real_lockfile(dir: &Path, extra_deps: &str) -> Result<PathBuf> {
    let lock = dir.join("Cargo.lock");
    if lock.exists() {
        return Ok(lock);
    }
    fs::create_dir_all(dir.join("src"))?;
    fs::write(dir.join("src/lib.rs"), "")?;
    fs::write(
        dir.join("Cargo.toml"),
        format!(
            "{}{extra_deps}",
            "[package]\nname = \"bench-real\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n[dependencies]\n\
         tokio = { version = \"1\", features = [\"full\"] }\nreqwest = \"0.12\"\n\
         sqlx = { version = \"0.8\", features = [\"postgres\", \"sqlite\", \"runtime-tokio\"] }\naxum = \"0.7\"\n\
         wasmtime = \"25\"\npolars = \"0.43\"\naws-sdk-s3 = \"1\"\ndatafusion = \"42\"\ntonic = \"0.12\"\n\
         kube = \"0.95\"\n"
        ),
    )?;
    let sh = sh::shell(dir)?;
    cmd!(sh, "cargo generate-lockfile --quiet")
        .quiet()
        .run()
        .context("cargo generate-lockfile (needs crates.io)")?;
    Ok(lock)
}

/// A command line as owned strings (a probe of `bench audit`, a timed run).
pub(super) fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

pub(super) fn packages_in(lock: &Path) -> usize {
    fs::read_to_string(lock).map_or(0, |t| t.matches("[[package]]").count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn dir_of(args: &[&str]) -> PathBuf {
        let mut argv = vec!["xtask", "bench"];
        argv.extend(args);
        let crate::cli::Command::Bench { command } =
            crate::cli::Cli::try_parse_from(argv).unwrap().command
        else {
            panic!("not a bench command");
        };
        work_dir(Path::new("/r"), &command)
    }

    #[test]
    fn each_benchmark_works_in_its_own_folder() {
        assert_eq!(dir_of(&["outdated"]), Path::new("/r/target/bench/outdated"));
        assert_eq!(dir_of(&["audit"]), Path::new("/r/target/bench/audit"));
        assert_eq!(
            dir_of(&["backup-config"]),
            Path::new("/r/target/bench/backup-config")
        );
        assert_eq!(
            dir_of(&["backup-db"]),
            Path::new("/r/target/bench/backup-db")
        );
        assert_eq!(dir_of(&["outdated", "--dir", "/w"]), Path::new("/w"));
        assert_eq!(dir_of(&["ci-stats"]), Path::new("/r/target/bench/ci-stats"));
        assert_eq!(dir_of(&["build"]), Path::new("/r/target/bench/build"));
    }
}
