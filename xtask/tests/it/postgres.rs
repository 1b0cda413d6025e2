//! `backup db` / `restore db` against a real PostgreSQL server (started by scripts/test.sh).

use std::path::Path;
use std::process::Command;

use crate::support::*;

struct Pg {
    /// postgres://user@host:port (no database, no password)
    base: String,
    password: String,
}

fn pg() -> Option<Pg> {
    let base = service("XTASK_TEST_PG_URL", "a PostgreSQL server")?;
    // The server scripts/test.sh starts always has a password (scram-sha-256): a missing
    // one is a broken setup, under the same rule as the server itself.
    let password = service("XTASK_TEST_PGPASSWORD", "the PostgreSQL test password")?;
    Some(Pg {
        base: base.trim_end_matches('/').to_string(),
        password,
    })
}

impl Pg {
    fn url(&self, db: &str) -> String {
        format!("{}/{db}", self.base)
    }

    fn psql(&self, db: &str, sql: &str) -> String {
        run_ok(
            Command::new("psql")
                .env("PGPASSWORD", &self.password)
                .args([
                    "-X",
                    "-q",
                    "-At",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    &self.url(db),
                    "-c",
                    sql,
                ]),
            &format!("psql {sql}"),
        )
        .trim()
        .to_string()
    }

    /// A fresh database with a unique name.
    fn fresh_db(&self, tag: &str) -> String {
        let name = format!("xtask_{tag}_{}", std::process::id());
        self.psql("postgres", &format!("DROP DATABASE IF EXISTS {name}"));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// A fresh database with ten rows in `items`, dumped by `backup db`: the dump's path.
    fn backup_of_ten_items(&self, tag: &str, root: &Path) -> String {
        let src = self.fresh_db(tag);
        self.psql(
            &src,
            "CREATE TABLE items (id int); INSERT INTO items SELECT generate_series(1, 10);",
        );
        let url = self.url(&src);
        let v = self
            .xtask(
                root,
                &["--format", "json", "backup", "db", "--database", &url],
            )
            .json();
        v["backup"].as_str().unwrap().to_string()
    }

    fn xtask(&self, root: &Path, args: &[&str]) -> Run {
        bin()
            .env("PGPASSWORD", &self.password)
            .arg("--root")
            .arg(root)
            .args(args)
            .output()
            .unwrap()
            .into()
    }
}

#[test]
fn dump_verify_and_restore_into_another_database() {
    let Some(pg) = pg() else { return };
    let src = pg.fresh_db("src");
    pg.psql(&src, "CREATE TABLE items (id serial PRIMARY KEY, body text); INSERT INTO items (body) SELECT 'row ' || g FROM generate_series(1, 1000) g;");
    let t = tempfile::tempdir().unwrap();
    let run = pg.xtask(
        t.path(),
        &[
            "--format",
            "json",
            "backup",
            "db",
            "--database",
            &pg.url(&src),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let path = v["backup"].as_str().unwrap().to_string();
    assert!(path.ends_with(".pgdump"), "{path}");
    assert!(
        v["tables"]
            .as_object()
            .unwrap()
            .contains_key("public.items"),
        "{v:#}"
    );
    assert_eq!(v["manifest"]["check"], "pg_restore --list: ok");
    assert_eq!(pg.xtask(t.path(), &["backup", "verify", &path]).code, 0);

    let dst = pg.fresh_db("dst");
    let dry = pg.xtask(
        t.path(),
        &[
            "restore",
            "db",
            &path,
            "--database",
            &pg.url(&dst),
            "--dry-run",
        ],
    );
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        pg.psql(
            &dst,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'items'"
        ),
        "0"
    );
    let no = pg.xtask(
        t.path(),
        &["restore", "db", &path, "--database", &pg.url(&dst)],
    );
    assert_eq!(no.code, 2, "needs --yes");
    let run = pg.xtask(
        t.path(),
        &["restore", "db", &path, "--database", &pg.url(&dst), "--yes"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(pg.psql(&dst, "SELECT count(*) FROM items"), "1000");
}

#[test]
fn password_in_the_url_goes_through_the_environment_and_never_into_files() {
    let Some(pg) = pg() else { return };
    if pg.password.is_empty() {
        return;
    }
    let src = pg.fresh_db("pw");
    pg.psql(&src, "CREATE TABLE t (x int); INSERT INTO t VALUES (1);");
    let with_pw =
        pg.url(&src)
            .replacen("://postgres@", &format!("://postgres:{}@", pg.password), 1);
    assert_ne!(
        with_pw,
        pg.url(&src),
        "test server URL uses the postgres user"
    );
    let t = tempfile::tempdir().unwrap();
    let run: Run = bin()
        .env_remove("PGPASSWORD")
        .arg("--root")
        .arg(t.path())
        .args(["--format", "json", "backup", "db", "--database", &with_pw])
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains(&pg.password), "password printed");
    let manifest =
        std::fs::read_to_string(format!("{}.json", run.json()["backup"].as_str().unwrap()))
            .unwrap();
    assert!(
        !manifest.contains(&pg.password),
        "password stored in the manifest"
    );
    assert!(manifest.contains("postgres:***@"), "{manifest}");
}

#[test]
fn a_failing_restore_leaves_the_target_as_it_was() {
    let Some(pg) = pg() else { return };
    let t = tempfile::tempdir().unwrap();
    let path = pg.backup_of_ten_items("fsrc", t.path());

    // The target has its own `items`, with a view on it: the restore's DROP TABLE fails.
    let dst = pg.fresh_db("fdst");
    pg.psql(&dst, "CREATE TABLE items (id int); INSERT INTO items VALUES (42); CREATE VIEW v AS SELECT * FROM items;");
    let run = pg.xtask(
        t.path(),
        &["restore", "db", &path, "--database", &pg.url(&dst), "--yes"],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(
        pg.psql(&dst, "SELECT string_agg(id::text, ',') FROM items"),
        "42"
    );
}

#[test]
fn a_corrupt_dump_is_refused() {
    let Some(pg) = pg() else { return };
    let t = tempfile::tempdir().unwrap();
    let path = pg.backup_of_ten_items("csrc", t.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(pg.xtask(t.path(), &["backup", "verify", &path]).code, 1);
    let dst = pg.fresh_db("cdst");
    let run = pg.xtask(
        t.path(),
        &["restore", "db", &path, "--database", &pg.url(&dst), "--yes"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}

/// `backup verify` of a dump named by a relative path checks that dump (it once ran
/// `pg_restore --list` from the dump's folder with the relative path: a false corrupt).
#[test]
fn a_dump_named_by_a_relative_path_verifies() {
    let Some(pg) = pg() else { return };
    let t = tempfile::tempdir().unwrap();
    let path = pg.backup_of_ten_items("rel", t.path());
    let rel = Path::new(&path).strip_prefix(t.path()).unwrap();
    let run: Run = bin()
        .env("PGPASSWORD", &pg.password)
        .current_dir(t.path())
        .arg("--root")
        .arg(t.path())
        .args(["--format", "json", "backup", "verify"])
        .arg(rel)
        .output()
        .unwrap()
        .into();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["verified"][0]["ok"], true);
}
