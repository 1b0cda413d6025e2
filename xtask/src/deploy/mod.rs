//! `deploy`, `rollback`, `releases`: docker compose deployments with a health gate, smoke
//! checks, automatic rollback, and an append-only ledger per environment.
//!
//! The ledger (`<backup.dir>/deployments/<env>.jsonl`, [`ledger`]) is the memory of what
//! ran: "current" is what the newest entry left running, "previous" is the newest good
//! version before it. A lock per environment keeps two deploys apart. A run writes its entry
//! when it starts and as it goes ([`op`]), so that a run that was killed leaves a trace the
//! next one reports; SIGTERM and SIGINT ([`signal`]) stop it cleanly with an `interrupted`
//! outcome. [`compose`] brings a version up and runs the health gate; [`smoke`] the checks
//! after it; [`plan`] is what a dry run prints.

mod compose;
pub(crate) mod ledger;
mod op;
mod plan;
mod signal;
mod smoke;

use anyhow::{Context as _, Result, bail};
use xshell::cmd;

use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::files;
use compose::Target;
use ledger::{Action, Check, Entry, Ledger, Outcome};
use op::Op;

/// A version is an image tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, nothing else.
fn check_version(version: &str) -> Result<()> {
    let ok = version.len() <= 128
        && version
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !ok {
        bail!(
            "version `{version}` is not an image tag: use letters, digits, `_`, `.` and `-` (not first), at most 128 characters"
        );
    }
    Ok(())
}

fn check_env(env: &str) -> Result<()> {
    if env.is_empty()
        || !env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("environment `{env}`: use letters, digits, `-` and `_` only");
    }
    Ok(())
}

fn checks_table(checks: &[Check], title: &str) -> Table {
    let mut t = Table::new(title, &["check", "result", "detail"]);
    for c in checks {
        t.row(vec![
            c.name.clone(),
            if c.ok { "ok".into() } else { "FAILED".into() },
            c.detail.clone(),
        ]);
    }
    t
}

/// What deploy and rollback start with: the target, a report, the environment's lock (not
/// for a dry run), the ledger and the version running now.
type Begun<'a> = (
    Target<'a>,
    Report,
    Option<files::Lock>,
    Ledger,
    Option<String>,
);

fn begin<'a>(
    cx: &'a Context,
    env: &str,
    command: &str,
    holder: &str,
    dry_run: bool,
) -> Result<Begun<'a>> {
    check_env(env)?;
    let t = compose::target(cx, env)?;
    let mut report = Report::dry(command, dry_run);
    report.fail_on = Severity::High;
    let lock = if dry_run {
        None
    } else {
        Some(files::Lock::acquire(
            &ledger::dir(cx).join(format!("{env}.lock")),
            holder,
        )?)
    };
    let ledger = Ledger::read(cx, env)?;
    ledger.bad_line_findings(&mut report);
    op::unfinished(cx, env, &ledger, &mut report, lock.is_some())?;
    let current = ledger.current().map(str::to_string);
    Ok((t, report, lock, ledger, current))
}

/// The environment and "current → target" lines every deploy and rollback report starts with.
fn summarize(report: &mut Report, env: &str, current: Option<&str>, to: &str) {
    report.summary("environment", env);
    report.summary("version", format!("{} → {to}", current.unwrap_or("(none)")));
}

/// The dry run's report: the plan, nothing changed. The image must be there (locally, or
/// in its registry), which is checked without pulling it.
fn dry_run_report(
    t: &Target<'_>,
    version: &str,
    mut report: Report,
    with_backup: bool,
) -> Result<Report> {
    let image = t.image_available(version)?;
    plan::plan(t, version, &image, &mut report, with_backup);
    report.set("dry_run", true);
    Ok(report)
}

/// The finished operation's checks and entry, for every format.
fn finish(mut report: Report, e: &Entry) -> Report {
    report.tables.push(checks_table(&e.checks, "Checks"));
    report.set("entry", e);
    report
}

/// A signal arrived: the entry is completed as interrupted. True when the run must stop.
fn stopped(op: &mut Op<'_>, report: &mut Report) -> Result<bool> {
    match signal::received() {
        Some(sig) => op.interrupted(report, sig).map(|()| true),
        None => Ok(false),
    }
}

/// `deploy ENV VERSION [--dry-run] [--no-auto-rollback]`.
pub fn deploy(
    cx: &Context,
    env: &str,
    version: &str,
    dry_run: bool,
    auto_rollback: bool,
) -> Result<Report> {
    check_version(version)?;
    let (t, mut report, _lock, ledger, current) = begin(
        cx,
        env,
        "deploy",
        &format!("deploy {env} {version}"),
        dry_run,
    )?;
    summarize(&mut report, env, current.as_deref(), version);
    if dry_run {
        return dry_run_report(&t, version, report, true);
    }
    t.ensure_image(version)?;
    let _signals = signal::install();
    let mut op = Op::start(
        cx,
        env,
        &ledger,
        Action::Deploy,
        version,
        current.as_deref(),
    )?;
    let result = deploy_phases(cx, &t, &mut op, &mut report, auto_rollback);
    op.close(result)?;
    Ok(finish(report, &op.e))
}

/// Backup, migration, roll-out, and the rollback when the new version fails.
fn deploy_phases(
    cx: &Context,
    t: &Target<'_>,
    op: &mut Op<'_>,
    report: &mut Report,
    auto_rollback: bool,
) -> Result<()> {
    if cx.config.deploy.backup_db {
        pre_deploy_backup(cx, report, &mut op.e)?;
    }
    if stopped(op, report)? {
        return Ok(());
    }
    let migrated = migrate(t, &op.e.version.clone(), &mut op.e);
    if stopped(op, report)? {
        return Ok(());
    }
    if !migrated {
        return aborted(report, op);
    }
    let version = op.e.version.clone();
    let ok = op.bring_up(t, &version, "")?;
    if stopped(op, report)? {
        return Ok(());
    }
    if ok {
        op.finish(Outcome::Succeeded)?;
        report.summary("result", format!("{version} is live on {}", t.env));
        return Ok(());
    }
    failed(t, op, report, auto_rollback)
}

/// The database backup before a deploy; its id goes into the entry.
fn pre_deploy_backup(cx: &Context, report: &mut Report, e: &mut Entry) -> Result<()> {
    let store = cx.store();
    let _l = store.lock("deploy: pre-deploy backup")?;
    let b = crate::backup::db::create_configured(cx, &store)?;
    let id = b.backup().map(|b| b.id());
    report.summary(
        "database backup",
        id.clone().unwrap_or_else(|| "none (no database)".into()),
    );
    e.db_backup = id;
    Ok(())
}

/// The migration command, if any, with the version in the environment: false when it failed.
fn migrate(t: &Target<'_>, version: &str, e: &mut Entry) -> bool {
    let cfg = &t.cx.config.deploy;
    let Some((prog, args)) = cfg.migrate.split_first() else {
        return true;
    };
    let ok = cmd!(t.sh, "{prog} {args...}")
        .env(&cfg.variable, version)
        .quiet()
        .run()
        .is_ok();
    e.checks.push(Check {
        name: "migration".into(),
        ok,
        detail: cfg.migrate.join(" "),
    });
    ok
}

/// The migration failed: nothing was deployed, the previous version keeps running.
fn aborted(report: &mut Report, op: &mut Op<'_>) -> Result<()> {
    op.finish(Outcome::Aborted)?;
    let restore = op
        .e
        .db_backup
        .as_deref()
        .map_or("no backup was taken".to_string(), |b| {
            format!("restore with `cargo xtask restore db {b} --yes` if the migration changed data")
        });
    report.push(Finding::new(
        codes::MIGRATION_FAILED,
        Severity::High,
        format!("the migration failed: nothing was deployed; {restore}"),
    ));
    Ok(())
}

/// The new version failed its checks: roll back to the newest good version (unless told
/// not to), and record what was left running.
fn failed(t: &Target<'_>, op: &mut Op<'_>, report: &mut Report, auto_rollback: bool) -> Result<()> {
    let (version, env) = (op.e.version.clone(), t.env.as_str());
    let previous = op.ledger().previous_good(None).map(str::to_string);
    let (outcome, code, severity, msg) = match (auto_rollback, previous) {
        (true, Some(prev)) => {
            let ok_back = op.bring_up(t, &prev, "rollback: ")?;
            if stopped(op, report)? {
                return Ok(());
            }
            op.e.rolled_back_to = ok_back.then(|| prev.clone());
            if ok_back {
                (
                    Outcome::RolledBack,
                    codes::DEPLOY_ROLLED_BACK,
                    Severity::High,
                    format!("{version} failed its checks on {env}: rolled back to {prev}"),
                )
            } else {
                (
                    Outcome::Failed,
                    codes::ROLLBACK_FAILED,
                    Severity::Critical,
                    format!(
                        "{version} failed its checks on {env} and the rollback to {prev} failed too: act now"
                    ),
                )
            }
        }
        (true, None) => (
            Outcome::Failed,
            codes::DEPLOY_FAILED,
            Severity::High,
            format!(
                "{version} failed its checks on {env}; there is no earlier good version to roll back to"
            ),
        ),
        (false, _) => (
            Outcome::Failed,
            codes::DEPLOY_FAILED,
            Severity::High,
            format!(
                "{version} failed its checks on {env}; automatic rollback is off: `cargo xtask rollback {env}`"
            ),
        ),
    };
    op.finish(outcome)?;
    report.push(Finding::new(code, severity, msg));
    Ok(())
}

/// `rollback ENV [--to VERSION] [--dry-run] [--restore-db --yes]`.
pub fn rollback(
    cx: &Context,
    env: &str,
    to: Option<&str>,
    dry_run: bool,
    restore_db: bool,
    yes: bool,
) -> Result<Report> {
    if let Some(v) = to {
        check_version(v)?;
    }
    let (t, mut report, _lock, ledger, current) =
        begin(cx, env, "rollback", &format!("rollback {env}"), dry_run)?;
    let target_version = rollback_target(&ledger, env, to, current.as_deref())?;
    summarize(&mut report, env, current.as_deref(), &target_version);
    let db_backup = db_to_restore(&ledger, current.as_deref(), &mut report, restore_db)?;
    if restore_db && !yes && !dry_run {
        let (b, when) = db_backup.as_ref().unwrap();
        bail!(
            "--restore-db replaces the database with {b} (taken {when}); writes made since are lost: add --yes to confirm"
        );
    }
    if dry_run {
        return dry_run_report(&t, &target_version, report, false);
    }
    t.ensure_image(&target_version)?;
    let _signals = signal::install();
    let mut op = Op::start(
        cx,
        env,
        &ledger,
        Action::Rollback,
        &target_version,
        current.as_deref(),
    )?;
    let result = rollback_phases(cx, &t, &mut op, &mut report, db_backup);
    op.close(result)?;
    Ok(finish(report, &op.e))
}

/// The database restore (with `--restore-db`), then the roll-out of the older version.
fn rollback_phases(
    cx: &Context,
    t: &Target<'_>,
    op: &mut Op<'_>,
    report: &mut Report,
    db_backup: Option<(String, String)>,
) -> Result<()> {
    if let Some((b, _)) = db_backup {
        let r = crate::backup::restore::db::run(cx, &b, None, None, false, true)?;
        let ok = r.exit_code() == 0;
        op.e.checks.push(Check {
            name: "database restore".into(),
            ok,
            detail: b,
        });
        if !ok {
            report.findings.extend(r.findings);
        }
    }
    if stopped(op, report)? {
        return Ok(());
    }
    let version = op.e.version.clone();
    let ok = op.bring_up(t, &version, "")?;
    if stopped(op, report)? {
        return Ok(());
    }
    if ok {
        op.finish(Outcome::Succeeded)?;
        report.summary("result", format!("{version} is live on {}", t.env));
    } else {
        op.finish(Outcome::Failed)?;
        report.push(Finding::new(
            codes::ROLLBACK_FAILED,
            Severity::Critical,
            format!(
                "{version} failed its checks on {} after the rollback: act now",
                t.env
            ),
        ));
    }
    Ok(())
}

/// `--to`, or the newest good version before the current one.
fn rollback_target(
    ledger: &Ledger,
    env: &str,
    to: Option<&str>,
    current: Option<&str>,
) -> Result<String> {
    let v = match to {
        Some(v) => v.to_string(),
        None => match ledger.previous_good(current) {
            Some(v) => v.to_string(),
            None => bail!(
                "no earlier good version of {env} to roll back to in {} (a rollback never goes forward again): pass --to VERSION",
                ledger.path.display()
            ),
        },
    };
    check_version(&v).with_context(|| format!("rolling {env} back"))?;
    Ok(v)
}

/// With `--restore-db`: the database backup taken before the deploy being undone, and when
/// that deploy ran.
fn db_to_restore(
    ledger: &Ledger,
    current: Option<&str>,
    report: &mut Report,
    restore_db: bool,
) -> Result<Option<(String, String)>> {
    if !restore_db {
        return Ok(None);
    }
    let undone = ledger
        .entries
        .iter()
        .rev()
        .find(|e| e.action == Action::Deploy && e.running() == current);
    let Some(b) = undone.and_then(|e| e.db_backup.clone()) else {
        bail!(
            "--restore-db: the deploy being undone took no database backup (deploy.backup_db was off)"
        );
    };
    let when = undone.map(|e| e.time.clone()).unwrap_or_default();
    report.summary(
        "database",
        format!("restore {b}, taken before the deploy of {when}: every write since then is lost"),
    );
    Ok(Some((b, when)))
}

/// `releases ENV`: the ledger.
pub fn releases(cx: &Context, env: &str) -> Result<Report> {
    check_env(env)?;
    let ledger = Ledger::read(cx, env)?;
    let mut report = Report::new("releases");
    ledger.bad_line_findings(&mut report);
    op::unfinished(cx, env, &ledger, &mut report, false)?;
    report.summary("environment", env);
    report.summary("current", ledger.current().unwrap_or("(none)").to_string());
    let mut t = Table::new(
        "Deployments (oldest first)",
        &[
            "time",
            "action",
            "version",
            "previous",
            "outcome",
            "actor",
            "db backup",
        ],
    );
    for e in &ledger.entries {
        let outcome = match &e.rolled_back_to {
            Some(v) => format!("{} (to {v})", e.outcome.as_str()),
            None => e.outcome.as_str().to_string(),
        };
        t.row(vec![
            e.time.clone(),
            e.action.as_str().to_string(),
            e.version.clone(),
            e.previous.clone().unwrap_or_default(),
            outcome,
            e.actor.clone(),
            e.db_backup.clone().unwrap_or_default(),
        ]);
    }
    report.tables.push(t);
    report.set("current", ledger.current());
    report.set("entries", &ledger.entries);
    Ok(report)
}
