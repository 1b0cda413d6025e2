//! `deps lock [--check] [--upgrade [PKG]...]`: the runbook's weekly
//! `pip-compile requirements.in` / `pip-compile requirements-dev.in`.
//!
//! Each input (`deps.inputs`, default every `requirements*.in`) is compiled into a temporary
//! file beside its `.txt` (seeded with the committed pins, which the compiler keeps where the
//! input allows), by uv or pip-compile ([`compiler`]). The pins are compared with the committed
//! ones; without `--check` every changed `.txt` is replaced atomically, after all inputs
//! compiled. `--check` writes nothing: it reports each pin that is missing, extra or different,
//! and checks offline, with no compiler needed, that every `.in` requirement has a pin inside
//! its range ([`pins`]).

mod compiler;
mod order;
mod pins;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use crate::cli::DepsCmd;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::{files, glob, walk};
use compiler::{Compiler, Upgrade};
use pins::{Change, PinChange, Pins};

struct Options {
    check: bool,
    /// `--upgrade` alone: `Some(vec![])`; with packages: those.
    upgrade: Option<Vec<String>>,
}

/// One input compiled, not yet written.
struct Compiled {
    input: PathBuf,
    output: PathBuf,
    old: Option<Vec<u8>>,
    new: Vec<u8>,
    changes: Vec<PinChange>,
}

#[derive(Serialize)]
struct Locked {
    input: String,
    output: String,
    written: bool,
    changes: Vec<PinChange>,
}

pub fn run(cx: &Context, cmd: DepsCmd) -> Result<Report> {
    let DepsCmd::Lock { check, upgrade } = cmd;
    lock(cx, Options { check, upgrade })
}

fn lock(cx: &Context, opts: Options) -> Result<Report> {
    let inputs = inputs(cx)?;
    let compiler = Compiler::detect();
    if !opts.check && compiler.is_none() {
        return Err(compiler::missing());
    }
    let upgrade = match &opts.upgrade {
        None => Upgrade::None,
        Some(p) if p.is_empty() => Upgrade::All,
        Some(p) => Upgrade::Packages(p.clone()),
    };
    let mut report = Report::new(if opts.check {
        "deps lock --check"
    } else {
        "deps lock"
    });
    report.fail_on = Severity::High;
    report.summary("compiler", compiler.map_or("none", Compiler::name));
    if opts.check {
        for input in &inputs {
            offline(cx, input, &mut report)?;
        }
    }
    let mut locked: Vec<Locked> = Vec::new();
    let Some(c) = compiler else {
        report.push(Finding::new(
            codes::LOCK_COMPILER_MISSING,
            Severity::Low,
            "neither uv nor pip-compile is on PATH: the pins were checked against the .in ranges only; install uv (`pip install uv`) for the full check",
        ));
        return Ok(finish(report, &locked, None, opts.check));
    };
    let outputs: Vec<PathBuf> = inputs.iter().map(|i| i.with_extension("txt")).collect();
    for input in &inputs {
        let absent = order::includes(input, &outputs)
            .into_iter()
            .find(|t| !t.exists());
        if let (true, Some(t)) = (opts.check, absent) {
            report.summary(
                &format!("{} not compiled", cx.rel(input)),
                format!("it includes {}, which does not exist", cx.rel(&t)),
            );
            continue;
        }
        let done = compile(cx, c, input, &upgrade).map_err(|e| {
            let written: Vec<&str> = locked
                .iter()
                .filter(|l| l.written)
                .map(|l| l.output.as_str())
                .collect();
            if written.is_empty() {
                e
            } else {
                e.context(format!("{} already written", written.join(", ")))
            }
        })?;
        let written = if opts.check {
            out_of_date(cx, &done, c, &mut report);
            false
        } else {
            write(&done)?
        };
        locked.push(Locked {
            input: cx.rel(&done.input),
            output: cx.rel(&done.output),
            written,
            changes: done.changes,
        });
    }
    Ok(finish(report, &locked, Some(c), opts.check))
}

fn finish(
    mut report: Report,
    locked: &[Locked],
    compiler: Option<Compiler>,
    check: bool,
) -> Report {
    present(&mut report, locked, check);
    report.set("compiler", compiler);
    report.set("inputs", locked);
    report
}

/// The pip-compile inputs under the root that `deps.inputs` matches.
fn inputs(cx: &Context) -> Result<Vec<PathBuf>> {
    let globs = &cx.config.deps.inputs;
    let found = found(cx)?;
    if found.is_empty() {
        bail!(
            "no pip-compile input under {} matches deps.inputs ({}): create requirements.in, or set [deps] inputs in maintenance.toml",
            cx.root.display(),
            globs.join(", ")
        );
    }
    Ok(order::ordered(found))
}

/// The `.in` files under the root that `deps.inputs` matches, in no particular order.
fn found(cx: &Context) -> Result<Vec<PathBuf>> {
    let globs = &cx.config.deps.inputs;
    let mut found = walk::files_under(&cx.root, crate::deps::SKIP_DIRS, &[cx.store().dir])?;
    found.retain(|f| {
        f.extension().is_some_and(|e| e == "in")
            && globs.iter().any(|g| glob::matches(g, &cx.rel(f)))
    });
    Ok(found)
}

/// Why `deps lock` has nothing to lock (for `checklist`), or None.
pub fn nothing_to_check(cx: &Context) -> Result<Option<String>> {
    Ok(found(cx)?.is_empty().then(|| {
        format!(
            "no pip-compile input matches deps.inputs (`{}`)",
            cx.config.deps.inputs.join("`, `")
        )
    }))
}

/// A temporary file that is removed however the compile ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn compile(cx: &Context, c: Compiler, input: &Path, upgrade: &Upgrade) -> Result<Compiled> {
    let output = input.with_extension("txt");
    let dir = input.parent().unwrap_or(Path::new("."));
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let (Some(in_name), Some(out_name)) = (name(input), name(&output)) else {
        bail!("{}: no file name", input.display());
    };
    let old = match std::fs::read(&output) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", cx.rel(&output))),
    };
    let tmp_name = format!(
        "{}{out_name}.{}.compile",
        files::TMP_PREFIX,
        std::process::id()
    );
    let scratch = Scratch(dir.join(&tmp_name));
    if let Some(b) = &old {
        files::write_atomic(&scratch.0, b, 0o600)?;
    }
    let hashes = old
        .as_ref()
        .is_some_and(|b| memchr::memmem::find(b, b"--hash=").is_some());
    c.run(dir, &in_name, &tmp_name, hashes, upgrade)?;
    let new = std::fs::read(&scratch.0)
        .with_context(|| format!("{} wrote no {}", c.name(), scratch.0.display()))?;
    let new_pins = pins::read(&scratch.0)
        .with_context(|| format!("reading what {} wrote for {}", c.name(), cx.rel(input)))?;
    let old_pins = match &old {
        Some(_) => pins::read(&output)?,
        None => Pins::new(),
    };
    Ok(Compiled {
        changes: pins::diff(&old_pins, &new_pins),
        input: input.to_path_buf(),
        output,
        old,
        new,
    })
}

/// Replace the `.txt` when the compiler's output differs (its mode kept).
fn write(c: &Compiled) -> Result<bool> {
    if c.old.as_deref() == Some(c.new.as_slice()) {
        return Ok(false);
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&c.output).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    files::write_atomic(&c.output, &c.new, mode)?;
    Ok(true)
}

/// `--check`: every pin that differs from the compiler's is a finding.
fn out_of_date(cx: &Context, c: &Compiled, compiler: Compiler, report: &mut Report) {
    if c.old.is_none() {
        return; // the offline check already said that the .txt does not exist
    }
    let txt = cx.rel(&c.output);
    let tool = compiler.name();
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    for ch in &c.changes {
        let what = match ch.change {
            Change::Added => format!("{}=={} is missing from {txt}", ch.package, v(&ch.to)),
            Change::Removed => format!(
                "{}=={} in {txt} is not required by {} any more",
                ch.package,
                v(&ch.from),
                cx.rel(&c.input)
            ),
            _ => format!(
                "{}: {txt} pins {}, {tool} gives {}",
                ch.package,
                v(&ch.from),
                v(&ch.to)
            ),
        };
        let f = Finding::new(
            codes::LOCK_OUT_OF_DATE,
            Severity::High,
            format!("{what}: run `cargo xtask deps lock`"),
        );
        report.push(match ch.line {
            Some(l) => f.at_line(txt.clone(), l),
            None => f.at(txt.clone()),
        });
    }
}

/// The offline check of one input against its committed `.txt`.
fn offline(cx: &Context, input: &Path, report: &mut Report) -> Result<()> {
    let output = input.with_extension("txt");
    let (inp, txt) = (cx.rel(input), cx.rel(&output));
    if !output.exists() {
        report.push(
            Finding::new(
                codes::PIN_MISSING,
                Severity::High,
                format!("{txt} does not exist: run `cargo xtask deps lock`"),
            )
            .at(inp),
        );
        return Ok(());
    }
    let pins = pins::read(&output)?;
    let o = pins::offline_check(input, &pins)?;
    for (file, line, req, pin) in &o.outside {
        report.push(
            Finding::new(
                codes::PIN_OUTSIDE_RANGE,
                Severity::High,
                format!(
                    "{}=={} does not satisfy `{}{}` ({}:{line}): run `cargo xtask deps lock`",
                    pin.name,
                    pin.version,
                    req.name,
                    req.spec,
                    cx.rel(file)
                ),
            )
            .at_line(txt.clone(), pin.line),
        );
    }
    for (file, line, req) in &o.missing {
        report.push(
            Finding::new(
                codes::PIN_MISSING,
                Severity::High,
                format!(
                    "`{}{}` has no pin in {txt}: run `cargo xtask deps lock`",
                    req.name, req.spec
                ),
            )
            .at_line(cx.rel(file), *line),
        );
    }
    if o.skipped_markers > 0 {
        report.summary(
            &format!("{inp} not checked offline"),
            format!(
                "{} requirement(s) with environment markers and no pin (the compiler decided they do not apply)",
                o.skipped_markers
            ),
        );
    }
    Ok(())
}

fn present(report: &mut Report, locked: &[Locked], check: bool) {
    let title = if check {
        "Pins that differ from the compiler's"
    } else {
        "Pin changes"
    };
    let mut table = Table::new(title, &["file", "package", "change", "from", "to"]);
    for l in locked {
        let state = match (check, l.changes.len(), l.written) {
            (_, 0, false) => "up to date".to_string(),
            (true, n, _) => format!("{n} pin(s) differ from the compiler's"),
            (false, 0, true) => "pins unchanged, header or annotations rewritten".to_string(),
            (false, n, true) => format!("{n} pin change(s), written"),
            (false, n, false) => format!("{n} pin change(s)"),
        };
        report.summary(&format!("{} -> {}", l.input, l.output), state);
        for c in &l.changes {
            table.row(vec![
                l.output.clone(),
                c.package.clone(),
                c.change.as_str().to_string(),
                c.from.clone().unwrap_or_default(),
                c.to.clone().unwrap_or_default(),
            ]);
        }
    }
    report.tables.push(table);
}
