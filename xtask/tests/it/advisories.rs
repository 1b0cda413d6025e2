//! `advisories update` end to end, against real git repositories and HTTP servers made
//! here: where a source may come from, when a fetched copy may replace the current one, and
//! what a failure says.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::*;

/// A git repository of OSV advisories for the crate `foo`.
struct Repo {
    dir: PathBuf,
}

impl Repo {
    fn new(dir: &Path) -> Repo {
        fs::create_dir_all(dir).unwrap();
        let r = Repo { dir: dir.into() };
        git(&r.dir, &["init", "-q", "-b", "main"]);
        r
    }

    /// Replace the whole content by `files` and commit.
    fn commit(&self, files: &[(String, String)]) {
        for e in fs::read_dir(&self.dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().unwrap() != ".git" {
                fs::remove_file(p).unwrap();
            }
        }
        for (name, body) in files {
            fs::write(self.dir.join(name), body).unwrap();
        }
        git(&self.dir, &["add", "-A"]);
        git(&self.dir, &["commit", "-q", "--allow-empty", "-m", "c"]);
    }
}

/// `n` advisories for `foo`, modified in `year`.
fn advisories(n: usize, year: u32) -> Vec<(String, String)> {
    numbered(1..=n, year)
}

/// The advisories numbered `range` (each modified on its number's day of January).
fn numbered(range: std::ops::RangeInclusive<usize>, year: u32) -> Vec<(String, String)> {
    range
        .map(|i| {
            let id = format!("RUSTSEC-{year}-{i:04}");
            let body = format!(
                r#"{{"id":"{id}","modified":"{year}-01-{i:02}T00:00:00Z","summary":"bug {i}",
                "affected":[{{"package":{{"ecosystem":"crates.io","name":"foo"}},
                "ranges":[{{"type":"SEMVER","events":[{{"introduced":"0.0.0-0"}},{{"fixed":"9.0.0"}}]}}]}}]}}"#
            );
            (format!("{id}.json"), body)
        })
        .collect()
}

fn config(root: &Path, sources: &str, extra: &str) {
    write(
        root,
        "maintenance.toml",
        &format!("[audit]\n{extra}sources = [\n{sources}\n]\n"),
    );
}

fn update_as(root: &Path, cache: &Path, format: &str, args: &[&str]) -> Run {
    let mut all = vec!["--format", format, "advisories", "update"];
    all.extend_from_slice(args);
    let env = [
        ("XTASK_ADVISORY_CACHE", cache.to_str().unwrap()),
        ("XTASK_ADVISORY_DB", ""),
        ("NO_PROXY", "127.0.0.1"),
        ("http_proxy", ""),
        ("HTTP_PROXY", ""),
    ];
    xtask_env(root, &env, &all)
}

fn update(root: &Path, cache: &Path, args: &[&str]) -> Run {
    update_as(root, cache, "json", args)
}

/// The text report (its table says what became of each source).
fn update_text(root: &Path, cache: &Path, args: &[&str]) -> Run {
    update_as(root, cache, "table", args)
}

fn failure(run: &Run) -> String {
    finding_with_code(&run.json(), "advisory-update-failed")["message"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Advisory files in a cached copy (not its fetch record).
fn cached(cache: &Path, name: &str) -> usize {
    fs::read_dir(cache.join(name))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("RUSTSEC-")
            })
            .count()
        })
        .unwrap_or(0)
}

/// An OSV zip of `advisories(n, year)`.
fn zip_of(dir: &Path, n: usize, year: u32) -> Vec<u8> {
    let src = dir.join(format!("zip-src-{n}-{year}"));
    fs::create_dir_all(&src).unwrap();
    for (name, body) in advisories(n, year) {
        fs::write(src.join(name), body).unwrap();
    }
    let zip = dir.join(format!("adv-{n}-{year}.zip"));
    let ok = std::process::Command::new("python3")
        .args(["-c", "import sys,zipfile,glob,os\nz=zipfile.ZipFile(sys.argv[1],'w')\nfor f in sorted(glob.glob(os.path.join(sys.argv[2],'*.json'))): z.write(f, os.path.basename(f))\nz.close()"])
        .arg(&zip)
        .arg(&src)
        .status()
        .unwrap();
    assert!(ok.success());
    fs::read(zip).unwrap()
}

#[test]
fn locations_that_git_or_curl_would_read_as_options_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    let pwned = root.join("pwned");
    write(root, "payload", "attacker data\n");
    write(
        root,
        "evil.cfg",
        &format!(
            "output = \"{}\"\nurl = \"file://{}\"\n",
            pwned.display(),
            root.join("payload").display()
        ),
    );
    let cases = [
        (
            format!(
                "{{ name = \"a\", url = \"-K{}\" }}",
                root.join("evil.cfg").display()
            ),
            "url",
        ),
        (
            format!(
                "{{ name = \"a\", git = \"--upload-pack=touch {}\" }}",
                pwned.display()
            ),
            "git",
        ),
        (
            format!(
                "{{ name = \"a\", git = \"ext::sh -c touch% {}\" }}",
                pwned.display()
            ),
            "git",
        ),
        (
            format!(
                "{{ name = \"a\", git = \"{}\", branch = \"--upload-pack=touch {}\" }}",
                root.display(),
                pwned.display()
            ),
            "branch",
        ),
    ];
    for (source, key) in cases {
        config(root, &source, "");
        let run = update(root, &cache, &[]);
        assert_eq!(run.code, 2, "{source}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("audit.sources") && run.stderr.contains(key),
            "{source}: the error names the key: {}",
            run.stderr
        );
        assert!(!pwned.exists(), "{source}: the injected option ran");
        assert!(!cache.join("a").exists());
    }
}

#[test]
fn sources_come_from_https_http_file_urls_and_paths_inside_the_root() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    Repo::new(&root.join("mirror/db")).commit(&advisories(2, 2099));
    let body = zip_of(root, 3, 2099);
    fs::write(root.join("all.zip"), &body).unwrap();
    let server = TestServer::start(std::sync::Arc::new(move |path: &str, _: &str| match path {
        "/all.zip" => (200, vec![], body.clone()),
        _ => (404, vec![], Vec::new()),
    }));
    let sources = format!(
        "{{ name = \"by-path\", git = \"mirror/db\", branch = \"main\" }},\n{{ name = \"by-file-url\", url = \"file://{}\" }},\n{{ name = \"zip-path\", url = \"all.zip\" }},\n{{ name = \"over-http\", url = \"{}/all.zip\" }},",
        root.join("all.zip").display(),
        server.url()
    );
    config(root, &sources, "");
    let run = update(root, &cache, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let indexed: Vec<_> = v["updated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["source"].as_str().unwrap(), u["indexed"].as_u64()))
        .collect();
    assert_eq!(
        indexed,
        [
            ("by-path", Some(2)),
            ("by-file-url", Some(3)),
            ("zip-path", Some(3)),
            ("over-http", Some(3)),
        ]
    );
    let insecure = finding_with_code(&v, "advisory-source-insecure");
    assert_eq!(insecure["severity"], "low");
    assert!(message_of(insecure).contains("over-http"), "{insecure:#}");
    assert_eq!(findings(&v).len(), 1, "only the http warning: {v:#}");
}

#[test]
fn an_update_that_loses_or_ages_advisories_is_refused_and_the_old_copy_kept() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    let repo = Repo::new(&root.join("upstream"));
    repo.commit(&advisories(4, 2099));
    let source = format!("{{ name = \"db\", git = \"{}\" }}", repo.dir.display());
    config(root, &source, "");
    let first = update(root, &cache, &[]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(first.json()["updated"][0]["indexed"], 4);

    // Three advisories gone (the newest kept): fewer than half remain.
    repo.commit(&numbered(4..=4, 2099));
    let shrunk = update_text(root, &cache, &[]);
    assert_eq!(shrunk.code, 2, "{}{}", shrunk.stdout, shrunk.stderr);
    let out = &shrunk.stdout;
    assert!(out.contains("FAILED (old copy kept)"), "{out}");
    assert!(
        out.contains("1 advisories") && out.contains("--allow-shrink"),
        "{out}"
    );
    assert_eq!(cached(&cache, "db"), 4, "the old copy is kept");
    assert!(tmp_leftovers(&cache).is_empty(), "{:?}", snapshot(&cache));
    // The user can take it anyway.
    let taken = update(root, &cache, &["--allow-shrink"]);
    assert_eq!(taken.code, 0, "{}{}", taken.stdout, taken.stderr);
    assert_eq!(cached(&cache, "db"), 1);

    // The fraction is configurable: 4 → 1 is a quarter.
    repo.commit(&advisories(4, 2099));
    assert_eq!(update(root, &cache, &[]).code, 0);
    repo.commit(&numbered(4..=4, 2099));
    config(root, &source, "min_update_fraction = 0.25\n");
    let quarter = update(root, &cache, &[]);
    assert_eq!(quarter.code, 0, "{}{}", quarter.stdout, quarter.stderr);
    assert_eq!(cached(&cache, "db"), 1);

    // As many advisories, but all older than the current copy's newest: a stale mirror.
    repo.commit(&advisories(3, 2001));
    let stale = update(root, &cache, &[]);
    assert_eq!(stale.code, 2, "{}{}", stale.stdout, stale.stderr);
    let why = failure(&stale);
    assert!(why.contains("older"), "{why}");
    assert_eq!(cached(&cache, "db"), 1);

    // Only garbage, or nothing at all: never taken, even with --allow-shrink.
    repo.commit(&[("RUSTSEC-2099-9999.json".into(), "{ not json".into())]);
    for args in [&[][..], &["--allow-shrink"][..]] {
        let garbage = update(root, &cache, args);
        assert_eq!(garbage.code, 2, "{}{}", garbage.stdout, garbage.stderr);
        let why = failure(&garbage);
        assert!(why.contains("no advisories"), "{why}");
        assert_eq!(cached(&cache, "db"), 1);
    }
    let empty = Repo::new(&root.join("empty"));
    empty.commit(&[("README".into(), "nothing here\n".into())]);
    config(
        root,
        &format!("{{ name = \"fresh\", git = \"{}\" }}", empty.dir.display()),
        "",
    );
    let none = update_text(root, &cache, &[]);
    assert_eq!(none.code, 2, "{}{}", none.stdout, none.stderr);
    assert!(none.stdout.contains("FAILED (no copy)"), "{}", none.stdout);
    assert!(none.stdout.contains("no advisories"), "{}", none.stdout);
    assert!(!cache.join("fresh").exists());
}

#[test]
fn a_failed_fetch_exits_2_with_gits_reason_and_never_a_password() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    let server = TestServer::start(std::sync::Arc::new(|_: &str, _: &str| {
        (404, vec![], b"no such repository".to_vec())
    }));
    let url = server.url().replace("http://", "http://someone:s3cret-pw@");
    config(
        root,
        &format!("{{ name = \"private\", git = \"{url}/db.git\" }},"),
        "",
    );
    let run = update(root, &cache, &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let why = failure(&run);
    assert!(
        why.contains("fatal:"),
        "git's own reason is in the finding: {why}"
    );
    assert!(!server.requests().is_empty(), "git asked the server: {why}");
    let table = update_text(root, &cache, &[]);
    assert_eq!(table.code, 2);
    assert!(
        table.stdout.contains("FAILED (no copy)"),
        "{}",
        table.stdout
    );
    for out in [&run.stdout, &run.stderr, &table.stdout, &table.stderr] {
        assert!(!out.contains("s3cret-pw"), "password leaked: {out}");
    }
}

#[test]
fn source_names_are_distinct_folders_and_never_the_index() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    let repo = Repo::new(&root.join("upstream"));
    repo.commit(&advisories(2, 2099));
    let git = repo.dir.display().to_string();
    for (sources, says) in [
        (
            format!("{{ name = \"index\", git = \"{git}\" }}"),
            "`index`",
        ),
        (
            format!("{{ name = \"db\", git = \"{git}\" }}, {{ name = \"db\", git = \"{git}\" }}"),
            "two sources are named `db`",
        ),
        (
            format!("{{ name = \"Db\", git = \"{git}\" }}"),
            "not a valid source name",
        ),
    ] {
        config(root, &sources, "");
        let run = update(root, &cache, &[]);
        assert_eq!(run.code, 2, "{sources}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(says), "{sources}: {}", run.stderr);
        assert!(
            !cache.join("index").exists() && !cache.join("db").exists(),
            "{sources}: nothing fetched"
        );
    }
}

/// A fetch folder left by a killed update (`.tmp-<source>-<pid>`, possibly huge) is removed
/// by the next update, which holds the update lock.
#[test]
fn folders_left_by_a_killed_update_are_swept() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    Repo::new(&root.join("mirror/db")).commit(&advisories(2, 2099));
    let left = cache.join(".tmp-local-999999");
    fs::create_dir_all(left.join("crates")).unwrap();
    fs::write(left.join("crates/partial.json"), "{").unwrap();
    config(
        root,
        "{ name = \"local\", git = \"mirror/db\", branch = \"main\" },",
        "",
    );
    let run = update(root, &cache, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!left.exists(), "the aborted fetch folder is gone");
    assert_eq!(cached(&cache, "local"), 2);
}

/// Offline (a host that does not resolve): the table says what happened and what the cache
/// holds now, for a source never fetched and for one with a copy; the finding has git's
/// reason and the same state in words. Exit 2 either way.
#[test]
fn an_offline_update_says_what_happened_and_what_the_cache_holds() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let cache = root.join("cache");
    let run = |format: &str| -> Run {
        let env = [
            ("XTASK_ADVISORY_CACHE", cache.to_str().unwrap()),
            ("XTASK_ADVISORY_DB", ""),
            ("http_proxy", ""),
            ("HTTP_PROXY", ""),
            ("all_proxy", ""),
            ("ALL_PROXY", ""),
        ];
        xtask_env(root, &env, &["--format", format, "advisories", "update"])
    };
    let unreachable = "http://no-such-host.invalid/db.git";
    let row = |run: &Run, source: &str| -> String {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{source} ")) && l.contains(unreachable))
            .unwrap_or_else(|| panic!("no row for {source}: {}", run.stdout))
            .split_whitespace()
            .skip(2)
            .collect::<Vec<_>>()
            .join(" ")
    };

    // Never fetched: no copy.
    config(
        root,
        &format!("{{ name = \"fresh\", git = \"{unreachable}\" }}"),
        "",
    );
    let table = run("table");
    assert_eq!(table.code, 2, "{}{}", table.stdout, table.stderr);
    assert_eq!(row(&table, "fresh"), "FAILED (no copy): could not fetch");
    let json = run("json");
    assert_eq!(json.code, 2);
    let why = failure(&json);
    assert!(
        why.starts_with(&format!(
            "fresh: could not fetch: git clone {unreachable} (branch main) failed: "
        )) && why.ends_with(
            "; there is no copy of fresh in the cache: audits cannot use it until an update succeeds"
        ),
        "{why}"
    );
    if why.contains("Could not resolve host") {
        assert!(
            why.contains(" (no network: is this machine offline?); "),
            "{why}"
        );
    }

    // Fetched once, then offline: the old copy is kept and audits go on using it.
    let repo = Repo::new(&root.join("upstream"));
    repo.commit(&advisories(2, 2099));
    config(
        root,
        &format!("{{ name = \"db\", git = \"{}\" }}", repo.dir.display()),
        "",
    );
    assert_eq!(run("json").code, 0);
    config(
        root,
        &format!("{{ name = \"db\", git = \"{unreachable}\" }}"),
        "",
    );
    let table = run("table");
    assert_eq!(table.code, 2, "{}{}", table.stdout, table.stderr);
    assert_eq!(row(&table, "db"), "FAILED (old copy kept): could not fetch");
    let why = failure(&run("json"));
    assert!(
        why.contains("; the copy fetched 20")
            && why.ends_with(" UTC is kept; audits go on using it"),
        "{why}"
    );
    assert_eq!(cached(&cache, "db"), 2, "the old copy is still there");
}
