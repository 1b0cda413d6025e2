//! `bench …`: side-by-side timings against the anchor tool an issue names, on the same
//! generated input in one run. Results go to docs/benchmarks.md by hand; nothing here asserts
//! on time.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use crate::Context;
use crate::cli::BenchCmd;
use crate::report::{Report, Table, human_bytes};
use crate::sh;

pub fn run(cx: &Context, command: BenchCmd) -> Result<Report> {
    match command {
        BenchCmd::BackupConfig {
            files,
            size_mb,
            runs,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| cx.root.join("target/bench/backup-config"));
            backup_config(&dir, files, size_mb, runs.max(1))
        }
    }
}

/// A small deterministic generator (xorshift64*), so every run benchmarks the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

const WORDS: &[&str] = &[
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

/// Text that compresses like configuration (roughly 4-6x with gzip -6), plus a little noise.
fn generate(tree: &Path, files: usize, size_mb: u64) -> Result<()> {
    let marker = tree.join(".bench-params");
    let params = format!("{files} {size_mb} v1");
    if fs::read_to_string(&marker).is_ok_and(|p| p == params) {
        return Ok(());
    }
    if tree.exists() {
        fs::remove_dir_all(tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    let per_file = (size_mb * 1024 * 1024) / files as u64;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let tops = [".github/workflows", "config", "scripts"];
    for i in 0..files {
        let top = tops[i % tops.len()];
        let dir = tree.join(top).join(format!("d{:03}", (i / 3) % 400));
        fs::create_dir_all(&dir)?;
        let mut f = fs::File::create(dir.join(format!("f{i:05}.yml")))?;
        let mut written = 0u64;
        let mut line = String::new();
        while written < per_file {
            line.clear();
            for _ in 0..(4 + rng.next() % 8) {
                line.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
                line.push(' ');
            }
            line.push_str(&format!("{:x}\n", rng.next() % 100_000));
            f.write_all(line.as_bytes())?;
            written += line.len() as u64;
        }
    }
    fs::write(&marker, params)?;
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn backup_config(dir: &Path, files: usize, size_mb: u64, runs: usize) -> Result<Report> {
    if !sh::has_program("tar") {
        bail!(
            "GNU tar is not on PATH: install it (apt-get install tar gzip) to run this benchmark"
        );
    }
    let tree = dir.join("tree");
    generate(&tree, files, size_mb)?;
    let out = dir.join("out");
    fs::create_dir_all(&out)?;
    let config = out.join("bench.toml");
    let store = out.join("store");
    fs::write(
        &config,
        format!(
            "[backup]\ndir = {:?}\n[pipeline]\npaths = [\".github/workflows\", \"config\", \"scripts\"]\n",
            store.display().to_string()
        ),
    )?;
    let exe = std::env::current_exe()?;
    let sh = sh::shell(&tree)?;
    let tar_out = out.join("tar.tar.gz");
    let mut ours_t = Vec::new();
    let mut tar_t = Vec::new();
    let mut ours_size = 0;
    // One untimed run of each warms the page cache; then alternate.
    for i in 0..=runs {
        let _ = fs::remove_dir_all(&store);
        let t = Instant::now();
        cmd!(sh, "tar czf {tar_out} .github config scripts")
            .quiet()
            .run()?;
        let tar_d = t.elapsed();
        let t = Instant::now();
        let json = cmd!(
            sh,
            "{exe} --root {tree} --config {config} --format json backup config"
        )
        .quiet()
        .read()?;
        let ours_d = t.elapsed();
        let v: serde_json::Value = serde_json::from_str(&json)?;
        ours_size = v["archive_bytes"].as_u64().unwrap_or(0);
        if i > 0 {
            tar_t.push(tar_d);
            ours_t.push(ours_d);
        }
    }
    let tar_size = fs::metadata(&tar_out)?.len();
    let (ours_m, tar_m) = (median(ours_t), median(tar_t));
    let ratio = ours_m.as_secs_f64() / tar_m.as_secs_f64();

    let mut report = Report::new("bench backup-config");
    report.summary(
        "input",
        format!("{files} files, {size_mb} MiB, {runs} runs each (median)"),
    );
    report.summary("ratio", format!("{ratio:.2}x tar's time (goal: <= 1.2x)"));
    let mut t = Table::new("backup-config", &["tool", "median", "archive size"]);
    t.row(vec![
        "tar czf (GNU tar + gzip -6)".into(),
        format!("{:.2} s", tar_m.as_secs_f64()),
        human_bytes(tar_size),
    ]);
    t.row(vec![
        "cargo xtask backup config".into(),
        format!("{:.2} s", ours_m.as_secs_f64()),
        human_bytes(ours_size),
    ]);
    report.tables.push(t);
    report.set("files", files);
    report.set("size_mb", size_mb);
    report.set("tar_seconds", tar_m.as_secs_f64());
    report.set("xtask_seconds", ours_m.as_secs_f64());
    report.set("tar_bytes", tar_size);
    report.set("xtask_bytes", ours_size);
    report.set("ratio", ratio);
    let _: PathBuf = out;
    Ok(report)
}
