//! `backup …` and `restore …`: the backup store and every kind of backup in it.

pub mod archive;
pub mod pipeline;
pub mod prune;
pub mod restore;
pub mod store;

use anyhow::Result;

use crate::Context;
use crate::report::Report;
use store::PIPELINE;

/// `backup` with no subcommand, the cron entry point: every configured kind, then prune,
/// all under one lock.
pub fn all(cx: &Context, if_changed: bool) -> Result<Report> {
    let store = cx.store();
    let _lock = store.lock("backup")?;
    let mut report = Report::new("backup");
    store.clean_stale(PIPELINE)?;
    report.absorb(pipeline::create(cx, &store, if_changed)?);
    // Only prune when every backup of this run succeeded.
    if report.exit_code() == 0 {
        report.absorb(prune_kinds(cx, &store, false)?);
    }
    Ok(report)
}

/// `backup prune [--dry-run]`.
pub fn prune(cx: &Context, dry_run: bool) -> Result<Report> {
    let store = cx.store();
    let _lock = store.lock("backup prune")?;
    if !dry_run {
        store.clean_stale(PIPELINE)?;
    }
    prune_kinds(cx, &store, dry_run)
}

fn prune_kinds(cx: &Context, store: &store::Store, dry_run: bool) -> Result<Report> {
    let verified = |e: &store::Entry| pipeline::verify_one(&e.path).is_ok_and(|c| c.ok());
    prune::prune(
        store,
        PIPELINE,
        &cx.config.backup.retention,
        dry_run,
        &verified,
    )
}
