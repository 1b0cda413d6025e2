//! `bench build`: the cold build a newcomer pays before the first `cargo xtask` runs. Each variant is a clean snapshot of a git revision (`git archive`, so nothing
//! uncommitted and no build output leaks in), built with `cargo build -p xtask --timings`
//! into an empty target directory; cargo's `--config` options on top of a revision measure
//! one lever at a time. Crates are fetched before the clock starts; `RUSTC_WRAPPER` (sccache)
//! is removed, or the build would not be cold.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use xshell::cmd;

use crate::report::{Report, Table};
use crate::util::sh;

/// What to build: a revision, and cargo `--config` values (or cargo flags such as
/// `--no-default-features`) on top of it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Variant {
    pub(super) label: String,
    pub(super) rev: String,
    pub(super) config: Vec<String>,
}

impl Variant {
    /// The arguments cargo gets for this variant: `--config KEY=VALUE` or the flag itself.
    fn cargo_args(&self) -> Vec<String> {
        self.config
            .iter()
            .flat_map(|c| {
                if c.starts_with("--") {
                    vec![c.clone()]
                } else {
                    vec!["--config".to_string(), c.clone()]
                }
            })
            .collect()
    }
}

/// The variants named on the command line: each `--rev` as is, then each `--variant
/// LABEL=KEY=VALUE[;KEY=VALUE]` on top of the first revision.
pub(super) fn variants(revs: &[String], specs: &[String]) -> Result<Vec<Variant>> {
    let revs = if revs.is_empty() {
        vec!["HEAD".to_string()]
    } else {
        revs.to_vec()
    };
    let mut out: Vec<Variant> = revs
        .iter()
        .map(|rev| Variant {
            label: rev.clone(),
            rev: rev.clone(),
            config: Vec::new(),
        })
        .collect();
    for spec in specs {
        let Some((label, config)) = spec.split_once('=') else {
            bail!(
                "--variant {spec:?}: expected LABEL=KEY=VALUE (e.g. o1=profile.dev.package.xtask.opt-level=1)"
            );
        };
        let config: Vec<String> = config
            .split(';')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let well_formed = |c: &String| c.contains('=') || c.starts_with("--");
        if label.is_empty() || config.is_empty() || !config.iter().all(well_formed) {
            bail!(
                "--variant {spec:?}: expected LABEL=KEY=VALUE[;KEY=VALUE…], each KEY=VALUE a cargo --config value (or a cargo flag such as --no-default-features)"
            );
        }
        out.push(Variant {
            label: label.to_string(),
            rev: revs[0].clone(),
            config,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = out.iter().find(|v| !seen.insert(v.label.as_str())) {
        bail!(
            "two variants are labelled {:?}: give each a distinct label",
            dup.label
        );
    }
    Ok(out)
}

/// One unit of the build as cargo's `--timings` page records it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(super) struct Unit {
    pub(super) name: String,
    /// `lib`, `bin`, `build script` (compiling it) or `build script run`.
    pub(super) kind: String,
    pub(super) start: f64,
    pub(super) duration: f64,
}

/// One cold build of one variant.
#[derive(Debug)]
struct Measured {
    wall: Duration,
    cpu: f64,
    units: Vec<Unit>,
}

/// A variant's runs, summarised by the median wall time.
#[derive(Debug, Serialize)]
struct Outcome {
    label: String,
    rev: String,
    commit: String,
    config: Vec<String>,
    wall_seconds: Vec<f64>,
    median_wall: f64,
    cpu_seconds: f64,
    units: Vec<Unit>,
}

pub(super) fn build(
    root: &Path,
    dir: &Path,
    variants: &[Variant],
    runs: usize,
    top: usize,
) -> Result<Report> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let load = loadavg();
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for v in variants {
        // A variant that does not build is reported; the others are still measured.
        match measure_variant(root, dir, v, runs) {
            Ok(o) => outcomes.push(o),
            Err(e) => failed.push(Failed {
                label: v.label.clone(),
                error: format!("{e:#}"),
            }),
        }
    }
    Ok(report(&outcomes, &failed, load, runs, top))
}

/// A variant that could not be measured, and why.
#[derive(Debug, Serialize)]
struct Failed {
    label: String,
    error: String,
}

/// `runs` cold builds of one variant from its revision's snapshot.
fn measure_variant(root: &Path, dir: &Path, v: &Variant, runs: usize) -> Result<Outcome> {
    let (commit, src) = snapshot(root, dir, &v.rev)?;
    fetch(&src)?;
    let mut measured = Vec::new();
    for run in 0..runs {
        eprintln!("bench build: {} (run {}/{runs})…", v.label, run + 1);
        let target = dir.join(format!("target-{}", slug(&v.label)));
        measured.push(cold_build(&src, &target, v)?);
    }
    Ok(summarise(v, commit, measured))
}

/// `git archive REV` unpacked into a fresh folder: the revision's tracked files only.
fn snapshot(root: &Path, dir: &Path, rev: &str) -> Result<(String, PathBuf)> {
    let sh = sh::shell(root)?;
    let spec = format!("{rev}^{{commit}}");
    let commit = sh::stdout(cmd!(sh, "git rev-parse --verify --quiet {spec}"))
        .with_context(|| {
            format!(
                "{rev:?} is not a commit of the git repository at {}",
                root.display()
            )
        })?
        .trim()
        .to_string();
    let src = dir.join(format!("src-{}", &commit[..12.min(commit.len())]));
    if src.exists() {
        fs::remove_dir_all(&src).with_context(|| format!("removing {}", src.display()))?;
    }
    let tarball = cmd!(sh, "git archive --format=tar {commit}")
        .quiet()
        .output()
        .with_context(|| format!("git archive {commit}"))?
        .stdout;
    tar::Archive::new(tarball.as_slice())
        .unpack(&src)
        .with_context(|| format!("unpacking {rev} into {}", src.display()))?;
    if !src.join("Cargo.lock").is_file() {
        bail!("{rev} has no Cargo.lock at the root: a cold build is measured with --locked");
    }
    Ok((commit, src))
}

/// Download what the build needs before the clock starts (nothing when cargo's cache has it).
fn fetch(src: &Path) -> Result<()> {
    let sh = sh::shell(src)?;
    let cargo = sh::cargo();
    sh::stdout(cmd!(sh, "{cargo} fetch --locked")).map(drop)
}

/// `cargo build -p xtask --timings` into an emptied target directory: wall and CPU time
/// (user + system of cargo and everything it ran), and the units from the timings page.
fn cold_build(src: &Path, target: &Path, v: &Variant) -> Result<Measured> {
    if target.exists() {
        fs::remove_dir_all(target).with_context(|| format!("removing {}", target.display()))?;
    }
    let sh = sh::shell(src)?;
    let cargo = sh::cargo();
    let config = v.cargo_args();
    let cpu_before = children_cpu();
    let started = Instant::now();
    let out = cmd!(
        sh,
        "{cargo} build -p xtask --locked --offline --timings {config...}"
    )
    .env("CARGO_TARGET_DIR", target)
    .env("CARGO_TERM_COLOR", "never")
    .env_remove("RUSTC_WRAPPER")
    .env_remove("CARGO_BUILD_RUSTC_WRAPPER")
    .quiet()
    .ignore_status()
    .output()
    .context("running cargo build")?;
    let wall = started.elapsed();
    let cpu = (children_cpu() - cpu_before).as_secs_f64();
    let log = target.join("bench-build.log");
    let _ = fs::write(&log, &out.stderr);
    if !out.status.success() {
        bail!(
            "variant {:?}: cargo build failed ({}); cargo's output is in {}; the first error:\n{}",
            v.label,
            out.status,
            log.display(),
            first_error(&String::from_utf8_lossy(&out.stderr))
        );
    }
    let page = target.join("cargo-timings/cargo-timing.html");
    let html = fs::read_to_string(&page).with_context(|| format!("reading {}", page.display()))?;
    let units =
        parse_timings(&html).with_context(|| format!("reading the units of {}", page.display()))?;
    Ok(Measured { wall, cpu, units })
}

/// The first `error` block of cargo's output (warnings before it skipped), else its end.
fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let from = lines
        .iter()
        .position(|l| l.starts_with("error"))
        .unwrap_or(lines.len().saturating_sub(15));
    lines[from..]
        .iter()
        .take(15)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// User plus system time of the children this process has waited for.
fn children_cpu() -> Duration {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The units of cargo's `--timings` page: the JSON array it embeds as `UNIT_DATA`.
pub(super) fn parse_timings(html: &str) -> Result<Vec<Unit>> {
    #[derive(serde::Deserialize)]
    struct Raw {
        name: String,
        #[serde(default)]
        mode: String,
        #[serde(default)]
        target: String,
        start: f64,
        duration: f64,
    }
    const MARK: &str = "const UNIT_DATA = ";
    let at = html
        .find(MARK)
        .context("no UNIT_DATA in the page: has cargo's --timings format changed?")?
        + MARK.len();
    // The array is one JSON value: let the parser find where it ends.
    let mut stream = serde_json::Deserializer::from_str(&html[at..]).into_iter::<Vec<Raw>>();
    let raw = stream.next().context("UNIT_DATA is empty")??;
    Ok(raw
        .into_iter()
        .map(|r| {
            let target = r.target.trim();
            let kind = if r.mode == "run-custom-build" {
                "build script run".to_string()
            } else if target.contains("build-script") {
                "build script".to_string()
            } else if let Some((_, quoted)) = target.split_once('"') {
                // `xtask "bin"`: the target's kind, quoted after its name.
                quoted.trim_end_matches('"').to_string()
            } else {
                "lib".to_string()
            };
            Unit {
                name: r.name,
                kind,
                start: r.start,
                duration: r.duration,
            }
        })
        .collect())
}

fn summarise(v: &Variant, commit: String, measured: Vec<Measured>) -> Outcome {
    let median = super::median(measured.iter().map(|m| m.wall).collect());
    let mut walls: Vec<f64> = measured.iter().map(|m| m.wall.as_secs_f64()).collect();
    walls.sort_by(f64::total_cmp);
    // The run whose wall time is the median supplies the CPU time and the units.
    let m = measured
        .into_iter()
        .find(|m| m.wall == median)
        .expect("the median is one of the runs");
    Outcome {
        label: v.label.clone(),
        rev: v.rev.clone(),
        commit,
        config: v.config.clone(),
        wall_seconds: walls,
        median_wall: median.as_secs_f64(),
        cpu_seconds: m.cpu,
        units: m.units,
    }
}

fn report(
    outcomes: &[Outcome],
    failed: &[Failed],
    load: Option<f64>,
    runs: usize,
    top: usize,
) -> Report {
    let mut report = Report::new("bench build");
    for f in failed {
        report.summary(&format!("failed: {}", f.label), f.error.clone());
    }
    // Exit code 2: part of what was asked could not be measured.
    report.incomplete = !failed.is_empty();
    report.summary(
        "what",
        format!("cold `cargo build -p xtask --locked --timings`, empty target directory, crates fetched first; {runs} run(s) per variant (median wall)"),
    );
    if let Some(load) = load {
        let note = if load > 0.5 {
            " (not idle: timings are inflated)"
        } else {
            ""
        };
        report.summary("load average before", format!("{load:.2}{note}"));
    }
    let mut t = Table::new(
        "cold build",
        &[
            "variant",
            "wall",
            "CPU",
            "units",
            "xtask crate starts",
            "xtask crate takes",
            "config",
        ],
    );
    for o in outcomes {
        let own = o
            .units
            .iter()
            .find(|u| u.name == "xtask" && u.kind == "bin");
        t.row(vec![
            o.label.clone(),
            format!("{:.1} s", o.median_wall),
            format!("{:.0} s", o.cpu_seconds),
            o.units.len().to_string(),
            own.map_or("–".into(), |u| format!("{:.1} s", u.start)),
            own.map_or("–".into(), |u| format!("{:.1} s", u.duration)),
            if o.config.is_empty() {
                format!("as committed ({})", &o.commit[..12.min(o.commit.len())])
            } else {
                o.config.join("; ")
            },
        ]);
    }
    report.tables.push(t);
    for o in outcomes {
        let mut units: Vec<&Unit> = o.units.iter().collect();
        units.sort_by(|a, b| b.duration.total_cmp(&a.duration));
        let mut t = Table::new(
            format!("longest units: {}", o.label),
            &["unit", "kind", "starts", "takes"],
        );
        for u in units.into_iter().take(top) {
            t.row(vec![
                u.name.clone(),
                u.kind.clone(),
                format!("{:.1} s", u.start),
                format!("{:.1} s", u.duration),
            ]);
        }
        report.tables.push(t);
    }
    report.set("variants", outcomes);
    report.set("failed", failed);
    report
}

/// The 1-minute load average, to tell a quiet machine from a busy one.
fn loadavg() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A label as a folder name.
fn slug(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_revisions_then_configs_on_the_first() {
        let v = variants(
            &["abc".into(), "HEAD".into()],
            &["o1=profile.dev.package.xtask.opt-level=1;profile.dev.debug=0".into()],
        )
        .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].label.as_str(), v[0].rev.as_str()), ("abc", "abc"));
        assert_eq!(v[2].rev, "abc");
        assert_eq!(
            v[2].config,
            [
                "profile.dev.package.xtask.opt-level=1",
                "profile.dev.debug=0"
            ]
        );
        assert_eq!(variants(&[], &[]).unwrap()[0].rev, "HEAD");
        for bad in ["o1", "=a=b", "o1=nokey", "o1="] {
            let e = variants(&[], &[bad.into()]).unwrap_err().to_string();
            assert!(e.contains("--variant"), "{bad}: {e}");
        }
        let e = variants(&[], &["HEAD=a=b".into()]).unwrap_err().to_string();
        assert!(e.contains("two variants"), "{e}");
    }

    #[test]
    fn units_come_from_the_timings_page() {
        let html = r#"<script>
const UNIT_DATA = [{"i": 1, "name": "syn", "version": "2.0.1", "mode": "todo", "target": "", "start": 1.5, "duration": 20.25, "unblocked_units": [], "sections": null},
{"i": 2, "name": "libsqlite3-sys", "version": "0.40.0", "mode": "run-custom-build", "target": " build-script (run)", "start": 60.0, "duration": 41.7},
{"i": 3, "name": "quote", "version": "1", "mode": "todo", "target": " build-script", "start": 0.2, "duration": 0.6},
{"i": 4, "name": "xtask", "version": "0.1.0", "mode": "todo", "target": " xtask \"bin\"", "start": 121.6, "duration": 61.9}];
const CONCURRENCY_DATA = [];
</script>"#;
        let units = parse_timings(html).unwrap();
        let kinds: Vec<(&str, &str)> = units
            .iter()
            .map(|u| (u.name.as_str(), u.kind.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("syn", "lib"),
                ("libsqlite3-sys", "build script run"),
                ("quote", "build script"),
                ("xtask", "bin")
            ]
        );
        assert_eq!(units[3].duration, 61.9);
        assert!(
            parse_timings("<html></html>")
                .unwrap_err()
                .to_string()
                .contains("UNIT_DATA")
        );
    }
}
