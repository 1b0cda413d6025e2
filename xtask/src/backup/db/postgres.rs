//! PostgreSQL: `pg_dump -Fc` into the store, `pg_restore --list` to check a dump, and
//! `pg_restore` in one transaction to restore it. The password goes through the
//! environment (`PGPASSWORD`), never argv.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use xshell::cmd;

use super::{
    Checked, DbBackup, DbManifest, Engine, FORMAT, Method, Reason, bad, now_rfc3339, publish,
};
use crate::backup::Kind;
use crate::backup::store::Store;
use crate::report::{Finding, codes};
use crate::util::files;
use crate::util::hash;
use crate::util::redact::{PgUrl, redact as redact_url};
use crate::util::sh;

fn pg_shell(dir: &Path, password: Option<&str>) -> Result<xshell::Shell> {
    let sh = sh::shell(dir)?;
    if let Some(p) = password {
        // Through the environment, never argv (where `ps` would show it).
        sh.set_var("PGPASSWORD", p);
    }
    Ok(sh)
}

/// `backup db` of a PostgreSQL database; the caller holds the store lock.
pub fn create(store: &Store, url: &str, reason: Option<Reason>) -> Result<DbBackup> {
    let started = now_rfc3339();
    let dest = store.new_path(Kind::Postgres)?;
    let dir = store.kind_dir(Kind::Postgres);
    let PgUrl {
        without_password: dbname,
        password,
    } = PgUrl::parse(url)?;
    let sh = pg_shell(&dir, password.as_deref())?;
    let out = files::AtomicFile::create(&dest, 0o600)?;
    let tmp = out.tmp_path().to_path_buf();
    cmd!(
        sh,
        "pg_dump --format=custom --no-password --file={tmp} --dbname={dbname}"
    )
    .quiet()
    .run()
    .with_context(|| format!("pg_dump of {} failed", redact_url(url)))?;
    let list = cmd!(sh, "pg_restore --list {tmp}")
        .quiet()
        .read()
        .with_context(|| format!("pg_restore --list rejected the dump of {}", redact_url(url)))?;
    let (sha, bytes) = hash::hash_file(&tmp)?;
    let manifest = DbManifest {
        format: FORMAT.into(),
        engine: Engine::Postgres,
        source: redact_url(url),
        reason,
        started,
        finished: now_rfc3339(),
        method: Method::PgDump,
        restarts: 0,
        raw_bytes: bytes,
        raw_sha256: sha.clone(),
        bytes,
        sha256: sha,
        page_size: None,
        page_count: None,
        sqlite_version: None,
        tables: dump_tables(&list),
        check: Checked::PgRestoreList,
    };
    publish(out, &dest, &manifest)?;
    Ok(DbBackup {
        path: dest,
        manifest,
    })
}

/// `TABLE DATA schema name owner` lines of `pg_restore --list`.
fn dump_tables(list: &str) -> BTreeMap<String, Option<u64>> {
    list.lines()
        .filter(|l| !l.starts_with(';'))
        .filter_map(|l| {
            let rest = l.split_once(" TABLE DATA ")?.1;
            let mut it = rest.split_whitespace();
            Some((format!("{}.{}", it.next()?, it.next()?), None))
        })
        .collect()
}

/// Verify a dump: its checksum against the manifest, then `pg_restore --list`.
pub fn verify(path: &Path, manifest: &DbManifest) -> Result<Vec<Finding>> {
    let (sha, bytes) = hash::hash_file(path)?;
    if sha != manifest.sha256 || bytes != manifest.bytes {
        return Ok(vec![bad(
            path,
            codes::BACKUP_CHECKSUM_MISMATCH,
            format!("sha256 {sha} ({bytes} bytes) does not match the manifest"),
        )]);
    }
    // An absolute path: the shell runs in the dump's folder, where a relative one is wrong.
    let path =
        &std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let sh = sh::shell(path.parent().unwrap())?;
    if let Err(e) = cmd!(sh, "pg_restore --list {path}")
        .quiet()
        .ignore_stdout()
        .run()
    {
        return Ok(vec![bad(
            path,
            codes::BACKUP_CORRUPT,
            format!("pg_restore --list rejects it: {e}"),
        )]);
    }
    Ok(Vec::new())
}

/// Restore a dump into the database at `url`, all or nothing.
pub fn restore(backup: &Path, url: &str) -> Result<()> {
    let PgUrl {
        without_password: dbname,
        password,
    } = PgUrl::parse(url)?;
    let backup =
        &std::path::absolute(backup).with_context(|| format!("resolving {}", backup.display()))?;
    let sh = pg_shell(backup.parent().unwrap(), password.as_deref())?;
    cmd!(sh, "pg_restore --single-transaction --exit-on-error --clean --if-exists --no-owner --no-password --dbname={dbname} {backup}")
        .quiet()
        .run()
        .with_context(|| format!("pg_restore into {} failed and was rolled back", redact_url(url)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_from_pg_restore_list() {
        let list = ";\n; Archive created\n215; 1259 16385 TABLE public items app\n3340; 0 16385 TABLE DATA public items app\n3341; 0 16390 TABLE DATA audit log app\n";
        let t = dump_tables(list);
        assert_eq!(
            t.keys().cloned().collect::<Vec<_>>(),
            ["audit.log", "public.items"]
        );
    }
}
