//! `bench audit`: `audit` against cargo-audit on the same lockfiles: timing, memory, and
//! identical answers.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use super::{
    LARGE_DEPS_LABEL, LARGE_EXTRA_DEPS, REAL_DEPS_LABEL, median, owned, packages_in, real_lockfile,
};
use crate::report::{Report, Table, human_bytes};
use crate::util::sh;

/// (package, version, advisory id) triples of an `audit --format json` run.
fn our_triples(json: &str) -> Result<Triples> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    Ok(v["findings"]
        .as_array()
        .context("no findings array")?
        .iter()
        .filter(|f| f.get("id").is_some())
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("package"), s("version"), s("id"))
        })
        .collect())
}

/// The same triples from cargo-audit's JSON: vulnerabilities and every warning with an
/// advisory (yanked checks need the network and are off on both sides).
fn cargo_audit_triples(json: &str) -> Result<Triples> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let mut out = std::collections::BTreeSet::new();
    let mut add = |e: &serde_json::Value| {
        if let Some(id) = e["advisory"]["id"].as_str() {
            let p = &e["package"];
            out.insert((
                p["name"].as_str().unwrap_or_default().to_string(),
                p["version"].as_str().unwrap_or_default().to_string(),
                id.to_string(),
            ));
        }
    };
    for e in v["vulnerabilities"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        add(e);
    }
    for list in v["warnings"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        for e in list.as_array().into_iter().flatten() {
            add(e);
        }
    }
    Ok(out)
}

/// A Cargo.lock naming every crate of the RustSec database at old versions: every advisory
/// gets a chance to match.
fn every_crate_lockfile(rustsec: &Path, dest: &Path) -> Result<usize> {
    let mut names: Vec<String> = fs::read_dir(rustsec.join("crates"))
        .with_context(|| format!("reading {}", rustsec.join("crates").display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let versions = ["0.1.0", "0.3.2", "1.0.0"];
    let mut s = String::from(
        "version = 3\n\n[[package]]\nname = \"bench-root\"\nversion = \"0.1.0\"\ndependencies = [\n",
    );
    for n in &names {
        s.push_str(&format!(" \"{n}\",\n"));
    }
    s.push_str("]\n");
    for (i, n) in names.iter().enumerate() {
        s.push_str(&format!(
            "\n[[package]]\nname = \"{n}\"\nversion = \"{}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n",
            versions[i % versions.len()]
        ));
    }
    fs::create_dir_all(dest.parent().unwrap())?;
    fs::write(dest, s)?;
    Ok(names.len() + 1)
}

/// Our audit of `input` against `db`, as the bench runs it.
fn audit_args(exe: &str, root: &Path, input: &Path, db: &Path) -> Vec<String> {
    owned(&[
        exe,
        "--root",
        &root.display().to_string(),
        "--format",
        "json",
        "audit",
        &input.display().to_string(),
        "--allow-stale",
        "--db",
        &db.display().to_string(),
    ])
}

/// One command of a side-by-side measurement.
struct Probe {
    args: Vec<String>,
    /// `XTASK_ADVISORY_CACHE` for this command alone.
    cache: Option<PathBuf>,
    /// Remove the cache's index before every run (the cost of a first audit).
    cold: bool,
}

/// Several commands measured together, interleaved run by run so that every command
/// sees the same machine (a shared 2-core machine drifts by ±20% over a minute): median wall
/// time, last stdout and peak RSS (KiB) of one extra run, per command.
fn measure_side_by_side(
    sh: &xshell::Shell,
    probes: &[Probe],
    runs: usize,
) -> Result<Vec<(Duration, String, u64)>> {
    let once = |p: &Probe, timed: bool| -> Result<(Duration, String)> {
        if let (Some(c), true) = (&p.cache, p.cold) {
            let _ = fs::remove_dir_all(c.join("index"));
        }
        let (prog, rest) = p.args.split_first().context("empty command")?;
        let mut full: Vec<&str> = Vec::new();
        let prog = if timed {
            prog.as_str()
        } else {
            full.extend(["-f", "%M", "-o", ".rss", prog.as_str()]);
            "/usr/bin/time"
        };
        full.extend(rest.iter().map(String::as_str));
        let mut c = cmd!(sh, "{prog} {full...}")
            .quiet()
            .ignore_status()
            .ignore_stderr();
        if let Some(cache) = &p.cache {
            c = c.env("XTASK_ADVISORY_CACHE", cache);
        }
        let t = Instant::now();
        let o = c.output()?;
        Ok((t.elapsed(), String::from_utf8_lossy(&o.stdout).into_owned()))
    };
    // Warm commands run once first, so that their index exists.
    for p in probes.iter().filter(|p| !p.cold) {
        once(p, true)?;
    }
    let mut times = vec![Vec::new(); probes.len()];
    let mut outs = vec![String::new(); probes.len()];
    for _ in 0..runs {
        for (i, p) in probes.iter().enumerate() {
            let (t, out) = once(p, true)?;
            times[i].push(t);
            outs[i] = out;
        }
    }
    let mut result = Vec::new();
    for ((p, t), out) in probes.iter().zip(times).zip(outs) {
        once(p, false)?;
        let rss = fs::read_to_string(sh.current_dir().join(".rss"))?
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        result.push((median(t), out, rss));
    }
    Ok(result)
}

/// (package, version, advisory id) triples.
type Triples = std::collections::BTreeSet<(String, String, String)>;

/// One run of `bench audit`: where it works, what it compares, and what it found so far.
struct Bench<'a> {
    dir: &'a Path,
    exe: String,
    sh: xshell::Shell,
    runs: usize,
    rustsec: PathBuf,
    rustsec_osv: PathBuf,
    /// The cargo-audit binary itself, like our binary: both without a cargo front-end.
    cargo_audit: Option<PathBuf>,
    /// Our advisory indexes go to caches of the bench's own: "index reused" rows keep theirs,
    /// "rebuilt" rows remove it before every run (the cost of the first audit after a
    /// database change).
    warm_cache: PathBuf,
    cold_cache: PathBuf,
    report: Report,
    table: Table,
    results: Vec<serde_json::Value>,
}

pub(super) fn audit(dir: &Path, db: &Path, runs: usize) -> Result<Report> {
    let (rustsec, rustsec_osv, pypa) =
        (db.join("rustsec"), db.join("rustsec-osv"), db.join("pypa"));
    for p in [&rustsec, &rustsec_osv, &pypa] {
        if !p.is_dir() {
            bail!(
                "{} not found: pass --advisory-db DIR holding rustsec/, rustsec-osv/ and pypa/",
                p.display()
            );
        }
    }
    fs::create_dir_all(dir)?;
    let mut b = Bench {
        dir,
        exe: std::env::current_exe()?.display().to_string(),
        sh: sh::shell(dir)?,
        runs,
        cargo_audit: find_cargo_audit(),
        warm_cache: dir.join("advisory-cache"),
        cold_cache: dir.join("advisory-cache-cold"),
        report: Report::new("bench audit"),
        table: Table::new(
            "audit vs cargo-audit",
            &[
                "lockfile",
                "packages",
                "tool",
                "median wall",
                "peak RSS",
                "findings",
            ],
        ),
        results: Vec::new(),
        rustsec,
        rustsec_osv,
    };
    for (label, lock) in b.lockfiles()? {
        b.rust_lockfile(&label, &lock)?;
    }
    b.python(&pypa)?;
    if b.cargo_audit.is_none() {
        b.report.summary(
            "cargo-audit",
            "not installed: `cargo install cargo-audit --locked` for the side-by-side run",
        );
    }
    let mut report = b.report;
    report.tables.push(b.table);
    report.set("results", b.results);
    Ok(report)
}

/// `cargo-audit` on PATH or in ~/.cargo/bin.
fn find_cargo_audit() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")))
        .map(|d| d.join("cargo-audit"))
        .find(|p| p.is_file())
}

impl Bench<'_> {
    /// The Cargo.lock files to audit, with their labels: a real project (when crates.io
    /// answers) and every RustSec crate at old versions.
    fn lockfiles(&self) -> Result<Vec<(String, PathBuf)>> {
        let mut lockfiles = Vec::new();
        match real_lockfile(&self.dir.join("real-large"), LARGE_EXTRA_DEPS) {
            Ok(l) => lockfiles.push((
                format!("a real project ({REAL_DEPS_LABEL}, {LARGE_DEPS_LABEL})"),
                l,
            )),
            Err(e) => eprintln!("bench: skipping the real-project lockfile: {e:#}"),
        }
        let every = self.dir.join("every-crate/Cargo.lock");
        every_crate_lockfile(&self.rustsec, &every)?;
        lockfiles.push((
            "every RustSec crate at old versions (worst case)".into(),
            every,
        ));
        Ok(lockfiles)
    }

    fn ours(&self, input: &Path, db: &Path, cold: bool) -> Probe {
        Probe {
            args: audit_args(&self.exe, self.dir, input, db),
            cache: Some(if cold {
                self.cold_cache.clone()
            } else {
                self.warm_cache.clone()
            }),
            cold,
        }
    }

    /// One lockfile: our three cases (index reused, rebuilt, OSV layout) and cargo-audit.
    fn rust_lockfile(&mut self, label: &str, lock: &Path) -> Result<()> {
        let n = packages_in(lock);
        let cases = [
            ("rustsec, index reused", "xtask"),
            ("rustsec, index rebuilt every run", "xtask_cold"),
            ("rustsec-osv, index reused", "xtask_osv"),
        ];
        let mut probes = vec![
            self.ours(lock, &self.rustsec, false),
            self.ours(lock, &self.rustsec, true),
            self.ours(lock, &self.rustsec_osv, false),
        ];
        if let Some(bin) = &self.cargo_audit {
            probes.push(Probe {
                args: owned(&[
                    &bin.display().to_string(),
                    "audit",
                    "--db",
                    &self.rustsec.display().to_string(),
                    "--no-fetch",
                    "--no-yanked",
                    "--stale",
                    "--file",
                    &lock.display().to_string(),
                    "--json",
                ]),
                cache: None,
                cold: false,
            });
        }
        let measured = measure_side_by_side(&self.sh, &probes, self.runs)?;
        let mut row = serde_json::json!({"lockfile": label, "packages": n});
        let mut sets = Vec::new();
        for ((case, key), (t_, out, rss)) in cases.iter().zip(&measured) {
            let set = our_triples(out)?;
            self.table.row(vec![
                label.to_string(),
                n.to_string(),
                format!("xtask audit ({case})"),
                format!("{:.1} ms", t_.as_secs_f64() * 1e3),
                human_bytes(rss * 1024),
                set.len().to_string(),
            ]);
            row[format!("{key}_ms")] = (t_.as_secs_f64() * 1e3).into();
            row[format!("{key}_peak_rss_kib")] = (*rss).into();
            row[format!("{key}_findings")] = set.len().into();
            sets.push(set);
        }
        if sets[0] != sets[1] {
            bail!("{label}: the rebuilt index answered differently from the reused one");
        }
        self.report.summary(
            &format!("{label}: native vs OSV layout"),
            if sets[0] == sets[2] {
                "identical answers".to_string()
            } else {
                format!(
                    "DIFFER: only native {:?} / only OSV {:?}",
                    sets[0].difference(&sets[2]).take(5).collect::<Vec<_>>(),
                    sets[2].difference(&sets[0]).take(5).collect::<Vec<_>>()
                )
            },
        );
        row["rustsec_and_rustsec_osv_agree"] = (sets[0] == sets[2]).into();
        if let Some(m) = measured.get(3) {
            self.versus_cargo_audit(label, n, m, &sets[0], &mut row)?;
        }
        self.results.push(row);
        Ok(())
    }

    /// cargo-audit's row, and how it compares with ours (speed, identical triples).
    fn versus_cargo_audit(
        &mut self,
        label: &str,
        n: usize,
        (c_t, c_out, c_rss): &(Duration, String, u64),
        ours: &Triples,
        row: &mut serde_json::Value,
    ) -> Result<()> {
        let ca_set = cargo_audit_triples(c_out)?;
        self.table.row(vec![
            label.to_string(),
            n.to_string(),
            "cargo-audit audit (0.22)".into(),
            format!("{:.1} ms", c_t.as_secs_f64() * 1e3),
            human_bytes(c_rss * 1024),
            ca_set.len().to_string(),
        ]);
        let same = ca_set == *ours;
        let ratio = |k: &str| c_t.as_secs_f64() * 1e3 / row[k].as_f64().unwrap_or(f64::NAN);
        let answers = if same {
            format!(
                "identical {} (package, version, advisory) triples",
                ours.len()
            )
        } else {
            format!(
                "DIFFER: only cargo-audit {:?}; only ours {:?}",
                ca_set.difference(ours).take(5).collect::<Vec<_>>(),
                ours.difference(&ca_set).take(5).collect::<Vec<_>>()
            )
        };
        self.report.summary(
            &format!("{label}: vs cargo-audit"),
            format!(
                "{:.1}x faster (index reused), {:.1}x (index rebuilt), {:.1}x (OSV layout); {answers}",
                ratio("xtask_ms"),
                ratio("xtask_cold_ms"),
                ratio("xtask_osv_ms"),
            ),
        );
        row["cargo_audit_ms"] = (c_t.as_secs_f64() * 1e3).into();
        row["cargo_audit_peak_rss_kib"] = (*c_rss).into();
        row["identical_to_cargo_audit"] = same.into();
        Ok(())
    }

    /// Python: 200 pins of PyPA packages at old versions against the PyPA snapshot.
    fn python(&mut self, pypa: &Path) -> Result<()> {
        let mut names: Vec<String> = fs::read_dir(pypa.join("vulns"))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let req: String = names
            .iter()
            .take(200)
            .enumerate()
            .map(|(i, n)| format!("{n}=={}\n", ["0.1", "1.0", "2.0.1"][i % 3]))
            .collect();
        let req_path = self.dir.join("requirements.txt");
        fs::write(&req_path, req)?;
        let probes = [
            self.ours(&req_path, pypa, false),
            self.ours(&req_path, pypa, true),
        ];
        let m = measure_side_by_side(&self.sh, &probes, self.runs)?;
        let p_set = our_triples(&m[0].1)?;
        if our_triples(&m[1].1)? != p_set {
            bail!("requirements.txt: the rebuilt index answered differently from the reused one");
        }
        for (case, (t_, _, rss)) in ["index reused", "index rebuilt every run"].iter().zip(&m) {
            self.table.row(vec![
                "requirements.txt, 200 pins".into(),
                "200".into(),
                format!("xtask audit (pypa, {case})"),
                format!("{:.1} ms", t_.as_secs_f64() * 1e3),
                human_bytes(rss * 1024),
                p_set.len().to_string(),
            ]);
        }
        self.results.push(serde_json::json!({"lockfile": "requirements.txt (200 pins)", "xtask_ms": m[0].0.as_secs_f64() * 1e3, "xtask_peak_rss_kib": m[0].2, "xtask_cold_ms": m[1].0.as_secs_f64() * 1e3, "xtask_findings": p_set.len()}));
        Ok(())
    }
}
