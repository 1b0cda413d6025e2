//! Hostile and damaged advisory sources: zip exports that lie or bomb, links inside a source,
//! advisories that echo their content, a cache that must never get stuck, and advisories
//! that cannot be read for a package being audited.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{audit_args, cargo_lock_v3, cargo_lock_v3_fixed, foo_advisory, lockfile_tree};
use crate::support::*;

/// Virtual memory the binary may use in these tests (KiB): far above what an audit needs,
/// far below the 4 GiB a lying or bombing zip would make it take.
const MEMORY_LIMIT_KIB: u64 = 2 << 20;

/// `xtask --root ROOT ARGS...` under [`MEMORY_LIMIT_KIB`], with its own advisory cache.
fn limited(root: &Path, args: &[&str]) -> Run {
    let cache = root.join("cache");
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("ulimit -v {MEMORY_LIMIT_KIB} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("XTASK_ROOT")
        .env_remove("XTASK_ADVISORY_DB")
        .env("NO_COLOR", "1")
        .env("XTASK_ADVISORY_CACHE", &cache)
        .env("NO_PROXY", "127.0.0.1");
    c.output().expect("running xtask").into()
}

/// A clean refusal: the tool failed (2), said so, and neither panicked nor was killed.
fn assert_refused(run: &Run, what: &str) {
    assert_eq!(
        run.code, 2,
        "{what}: expected a clean failure (2), got {}\nstdout: {}\nstderr: {}",
        run.code, run.stdout, run.stderr
    );
    assert!(
        !run.stderr.contains("panicked") && !run.stderr.contains("memory allocation"),
        "{what}: {}",
        run.stderr
    );
}

// --- a zip writer for fixtures that lie -------------------------------------------------

/// One member as the central directory describes it (the local header says the same).
#[derive(Clone)]
struct Member {
    name: String,
    method: u16,
    crc: u32,
    /// The deflated (or stored) bytes.
    data: Vec<u8>,
    /// The uncompressed size the headers declare.
    size: u32,
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn crc(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

fn member(name: &str, content: &[u8]) -> Member {
    Member {
        name: name.into(),
        method: 8,
        crc: crc(content),
        data: deflate(content),
        size: content.len() as u32,
    }
}

fn local_header(m: &Member) -> Vec<u8> {
    let mut h = vec![0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0];
    h.extend(m.method.to_le_bytes());
    h.extend([0, 0, 0x21, 0]); // time, date
    h.extend(m.crc.to_le_bytes());
    h.extend((m.data.len() as u32).to_le_bytes());
    h.extend(m.size.to_le_bytes());
    h.extend((m.name.len() as u16).to_le_bytes());
    h.extend(0u16.to_le_bytes());
    h.extend(m.name.as_bytes());
    h
}

fn central_header(m: &Member, offset: u32, name_len: u16) -> Vec<u8> {
    let mut h = vec![0x50, 0x4b, 0x01, 0x02, 20, 3, 20, 0, 0, 0];
    h.extend(m.method.to_le_bytes());
    h.extend([0, 0, 0x21, 0]);
    h.extend(m.crc.to_le_bytes());
    h.extend((m.data.len() as u32).to_le_bytes());
    h.extend(m.size.to_le_bytes());
    h.extend(name_len.to_le_bytes());
    h.extend([0; 8]); // extra and comment lengths, disk, internal attributes
    h.extend([0, 0, 0xa4, 0x81]); // external attributes: a regular file, rw-r--r--
    h.extend(offset.to_le_bytes());
    h.extend(m.name.as_bytes());
    h
}

fn end_of_central_directory(count: usize, cd_len: usize, cd_at: usize) -> Vec<u8> {
    let mut e = vec![0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0];
    e.extend((count as u16).to_le_bytes());
    e.extend((count as u16).to_le_bytes());
    e.extend((cd_len as u32).to_le_bytes());
    e.extend((cd_at as u32).to_le_bytes());
    e.extend([0, 0]);
    e
}

/// A zip of `members`, each stored once, then listed by `listing` (indexes into `members`,
/// repeats allowed: several directory entries for one member's bytes).
fn zip_of(members: &[Member], listing: &[(usize, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for m in members {
        offsets.push(out.len() as u32);
        out.extend(local_header(m));
        out.extend(&m.data);
    }
    let cd_at = out.len();
    for (i, name) in listing {
        let m = Member {
            name: name.clone(),
            ..members[*i].clone()
        };
        out.extend(central_header(&m, offsets[*i], name.len() as u16));
    }
    let cd_len = out.len() - cd_at;
    out.extend(end_of_central_directory(listing.len(), cd_len, cd_at));
    out
}

fn simple_zip(members: &[Member]) -> Vec<u8> {
    let listing: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, m)| (i, m.name.clone()))
        .collect();
    zip_of(members, &listing)
}

/// A raw deflate stream of `chunks` MiB of zeros, built from one compressed MiB repeated:
/// each copy ends in a full flush (byte-aligned, no reference to what came before), so the
/// copies concatenate into one valid stream. 4500 copies: 4.4 GiB from 4.7 MB.
fn zero_bomb(chunks: usize) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut one = Vec::with_capacity(1 << 16);
    c.compress_vec(&vec![0u8; 1 << 20], &mut one, flate2::FlushCompress::Full)
        .unwrap();
    let mut last = Vec::with_capacity(64);
    c.compress_vec(&[], &mut last, flate2::FlushCompress::Finish)
        .unwrap();
    let mut out = Vec::with_capacity(one.len() * chunks + last.len());
    for _ in 0..chunks {
        out.extend(&one);
    }
    out.extend(last);
    out
}

fn zip_fixture(root: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = root.join(name);
    fs::write(&p, bytes).unwrap();
    p
}

fn audit_zip(root: &Path, zip: &Path) -> Run {
    limited(root, &audit_args(zip.to_str().unwrap()))
}

/// The `advisory-malformed` findings of a JSON report, as "path: message".
fn malformed(v: &serde_json::Value) -> Vec<String> {
    findings_with_code(v, "advisory-malformed")
        .iter()
        .map(|f| format!("{}: {} ({})", f["path"], f["message"], f["severity"]))
        .collect()
}

/// [`assert_refused`], and the first `advisory-malformed` finding names `needle`.
fn assert_refused_as_malformed(run: &Run, what: &str, needle: &str) {
    assert_refused(run, what);
    assert!(malformed(&run.json())[0].contains(needle), "{}", run.stdout);
}

const ADVISORY: &str = r#"{"id":"RUSTSEC-2099-0001","modified":"2099-01-01T00:00:00Z","summary":"bug",
  "affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
  "ranges":[{"type":"SEMVER","events":[{"introduced":"0.5.0"},{"fixed":"1.2.3"}]}]}]}"#;

#[test]
fn zip_exports_that_lie_about_sizes_are_refused_without_reserving_memory() {
    let t = lockfile_tree(&cargo_lock_v3());
    let r = t.path();
    // The real thing still works: one advisory, found.
    let good = zip_fixture(
        r,
        "good.zip",
        &simple_zip(&[member("a.json", ADVISORY.as_bytes())]),
    );
    let run = audit_zip(r, &good);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(advisory_hits(&run.json()).len(), 1);

    // 114 bytes claiming a 4 GiB member.
    let mut lie = member("a.json", b"{}");
    lie.size = 0xFFFF_FFF0;
    let bytes = simple_zip(&[lie]);
    assert_eq!(bytes.len(), 114);
    let run = audit_zip(r, &zip_fixture(r, "lie.zip", &bytes));
    assert_refused(&run, "size lie");
    let m = malformed(&run.json());
    assert!(
        m.len() == 1 && m[0].contains("lie.zip") && m[0].contains("limit"),
        "{m:?}"
    );

    // A name running past the end of the file.
    let mut cut = simple_zip(&[member("a.json", ADVISORY.as_bytes())]);
    let cd = cut.len() - 22 - (46 + 6);
    cut[cd + 28..cd + 30].copy_from_slice(&0xFFFFu16.to_le_bytes());
    let run = audit_zip(r, &zip_fixture(r, "cut.zip", &cut));
    assert_refused_as_malformed(&run, "name past the end", "cut.zip");
}

#[test]
fn zip_bombs_are_stopped_while_inflating() {
    let t = lockfile_tree(&cargo_lock_v3());
    let r = t.path();

    // 200 directory entries for the bytes of one 20 MiB member: 4 GB from 20 KB.
    let zeros = vec![0u8; 20 << 20];
    let one = member("a.json", &zeros);
    let listing: Vec<_> = (0..200).map(|i| (0, format!("a{i:03}.json"))).collect();
    let run = audit_zip(r, &zip_fixture(r, "overlap.zip", &zip_of(&[one], &listing)));
    assert_refused_as_malformed(&run, "overlapping entries", "overlap");

    // A 4.7 MB member inflating to 4.4 GiB, declaring its real size (which u32 cuts to
    // nearly 4 GiB), then declaring a small one.
    let bomb = zero_bomb(4500);
    assert!(
        bomb.len() > 4_000_000 && bomb.len() < 5_000_000,
        "{}",
        bomb.len()
    );
    for (name, size) in [("declared", 0xFFFF_FFFEu32), ("understated", 1000)] {
        let m = Member {
            name: "a.json".into(),
            method: 8,
            crc: 0,
            data: bomb.clone(),
            size,
        };
        let file = format!("bomb-{name}.zip");
        let run = audit_zip(r, &zip_fixture(r, &file, &simple_zip(&[m])));
        assert_refused_as_malformed(&run, &file, &file);
    }

    // Honest members that together inflate past the total limit (17 × 63 MiB > 1 GiB).
    let big = member("x.json", &vec![b' '; 63 << 20]);
    let members: Vec<_> = (0..17)
        .map(|i| Member {
            name: format!("m{i:02}.json"),
            ..big.clone()
        })
        .collect();
    let run = audit_zip(r, &zip_fixture(r, "total.zip", &simple_zip(&members)));
    assert_refused_as_malformed(&run, "total", "limit");
}

#[test]
fn advisories_update_refuses_a_zip_bomb_and_leaves_no_temporary_folder() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let good = simple_zip(&[member("a.json", ADVISORY.as_bytes())]);
    let bomb = simple_zip(&[Member {
        name: "a.json".into(),
        method: 8,
        crc: 0,
        data: zero_bomb(4500),
        size: 1000,
    }]);
    let server = TestServer::start(std::sync::Arc::new(move |path: &str, _: &str| match path {
        "/good.zip" => (200, vec![], good.clone()),
        "/bomb.zip" => (200, vec![], bomb.clone()),
        _ => (404, vec![], vec![]),
    }));
    let config = |file: &str| {
        format!(
            "[audit]\nsources = [{{ name = \"zipped\", url = \"{}/{file}\" }}]\n",
            server.url()
        )
    };
    write(r, "maintenance.toml", &config("good.zip"));
    let run = limited(r, &["advisories", "update"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    write(r, "maintenance.toml", &config("bomb.zip"));
    let run = limited(r, &["advisories", "update"]);
    assert_eq!(
        run.code, 2,
        "a failed update is a tool failure: {}{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("FAILED (old copy kept)"),
        "{}",
        run.stdout
    );
    assert_eq!(tmp_leftovers(&r.join("cache")), Vec::<String>::new());
    assert_eq!(
        fs::read(r.join("cache/zipped/all.zip")).unwrap().len(),
        simple_zip(&[member("a.json", ADVISORY.as_bytes())]).len(),
        "the old copy is kept"
    );
}

// --- links ------------------------------------------------------------------------------

const SECRET: &str = "hunter2-SECRET-TOKEN";

/// Run with a guard: a walk that never ends fails the test instead of hanging it.
fn audit_guarded(root: &Path, db: &str) -> Run {
    let mut c = bin();
    c.env("XTASK_ADVISORY_CACHE", root.join("cache"))
        .arg("--root")
        .arg(root)
        .args(audit_args(db));
    guarded(c, &format!("the audit of {db}"))
}

/// Run `c`, failing the test (instead of hanging it) when `what` walks on for two minutes.
fn guarded(mut c: Command, what: &str) -> Run {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("{what} walked on for two minutes: links were followed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap().into()
}

#[test]
fn broken_advisories_are_named_never_quoted() {
    let t = lockfile_tree(&cargo_lock_v3());
    let r = t.path();
    write(r, "secret.txt", SECRET);
    write(
        r,
        "db/crates/foo/RUSTSEC-2099-0001.md",
        &foo_advisory("RUSTSEC-2099-0001", ">= 1.2.3"),
    );
    // A link to a file outside the source, named like an advisory.
    std::os::unix::fs::symlink(
        r.join("secret.txt"),
        r.join("db/crates/foo/RUSTSEC-2099-0002.yaml"),
    )
    .unwrap();
    // Plain files whose content a parser's error would quote.
    write(r, "db/crates/quux/RUSTSEC-2099-0003.yaml", SECRET);
    write(
        r,
        "db/crates/quux/RUSTSEC-2099-0004.json",
        &format!("\"{SECRET}\""),
    );
    write(
        r,
        "db/crates/quux/RUSTSEC-2099-0005.md",
        &format!("```toml\n[advisory]\nid = {SECRET}\n```\n"),
    );
    let run = audit_guarded(r, "db");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(!all.contains(SECRET), "content echoed: {all}");
    let v = run.json();
    assert_eq!(
        advisory_hits(&v).len(),
        2,
        "the real advisory still counts: {v:#}"
    );
    let m = malformed(&v);
    assert_eq!(m.len(), 4, "{m:?}");
    let of = |name: &str| {
        m.iter()
            .find(|f| f.contains(name))
            .unwrap_or_else(|| panic!("{name}: {m:?}"))
    };
    assert!(of("RUSTSEC-2099-0002.yaml").contains("a link"), "{m:?}");
    assert!(
        of("RUSTSEC-2099-0003.yaml").contains("not an OSV advisory"),
        "{m:?}"
    );
    assert!(
        of("RUSTSEC-2099-0004.json").contains("at line 1, column 22"),
        "{m:?}"
    );
    assert!(
        of("RUSTSEC-2099-0005.md").contains("at line 3, column 6"),
        "{m:?}"
    );
    // The link sits in foo's folder and foo is audited: that audit is incomplete.
    assert_eq!(run.code, 2, "{all}");
}

#[test]
fn links_inside_a_source_are_not_followed() {
    let t = lockfile_tree(&cargo_lock_v3());
    let r = t.path();
    write(
        r,
        "db/crates/foo/RUSTSEC-2099-0001.md",
        &foo_advisory("RUSTSEC-2099-0001", ">= 1.2.3"),
    );
    // Links that, followed, make the walk endless (each leads back to the source twice),
    // and one into the system.
    std::os::unix::fs::symlink(".", r.join("db/a")).unwrap();
    std::os::unix::fs::symlink(".", r.join("db/b")).unwrap();
    std::os::unix::fs::symlink("/usr", r.join("db/usr")).unwrap();
    let run = audit_guarded(r, "db");
    let v = run.json();
    assert_eq!(advisory_hits(&v).len(), 2, "{v:#}");
    let m = malformed(&v);
    assert_eq!(m.len(), 3, "{m:?}");
    for name in ["db/a", "db/b", "db/usr"] {
        assert!(
            m.iter()
                .any(|f| f.contains(&format!("{name}\"")) && f.contains("a link")),
            "{name}: {m:?}"
        );
    }
    // Links that may hold any package's advisories: the audit says it is incomplete.
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

#[test]
fn advisories_update_of_a_repository_with_links_finishes() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let repo = r.join("upstream");
    fs::create_dir_all(&repo).unwrap();
    fs::write(repo.join("RUSTSEC-2099-0001.json"), ADVISORY).unwrap();
    std::os::unix::fs::symlink(".", repo.join("a")).unwrap();
    std::os::unix::fs::symlink(".", repo.join("b")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "links"]);
    write(
        r,
        "maintenance.toml",
        &format!(
            "[audit]\nsources = [{{ name = \"linked\", git = \"{}\", branch = \"main\" }}]\n",
            repo.display()
        ),
    );
    let mut c = bin();
    c.env("XTASK_ADVISORY_CACHE", r.join("cache"))
        .env_remove("XTASK_ADVISORY_DB")
        .args(["--root", r.to_str().unwrap(), "--format", "json"])
        .args(["advisories", "update"]);
    let run = guarded(c, "advisories update");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.json()["updated"][0]["indexed"], 1, "{}", run.stdout);
}

// --- the cache never gets stuck ---------------------------------------------------------

#[test]
fn a_change_inside_a_package_folder_rebuilds_the_index_instead_of_failing_forever() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    write(r, "requirements.txt", "requests==2.30.0\n");
    write(
        r,
        "plain/vulns/requests/PYSEC-2099-1.yaml",
        "id: PYSEC-2099-1\nsummary: leak\nmodified: \"2099-01-04T00:00:00Z\"\naffected:\n- package:\n    name: requests\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 2.31.0\n",
    );
    let cache = r.join("cache");
    let env = [("XTASK_ADVISORY_CACHE", cache.to_str().unwrap())];
    let args = [
        "--format",
        "json",
        "audit",
        "requirements.txt",
        "--db",
        "plain",
        "--allow-stale",
    ];
    let run = || xtask_env(r, &env, &args);
    let first = run();
    assert_eq!(first.code, 1, "{}{}", first.stdout, first.stderr);
    let want = advisory_hits(&first.json());
    assert_eq!(want.len(), 1);
    // A file added to the package's folder, then removed: the folder's times changed.
    let extra = write(r, "plain/vulns/requests/notes.txt", "x");
    fs::remove_file(extra).unwrap();
    for n in 0..2 {
        let again = run();
        assert_eq!(again.code, 1, "run {n}: {}{}", again.stdout, again.stderr);
        assert_eq!(advisory_hits(&again.json()), want);
    }
    let last = run().json();
    assert_eq!(last["databases"][0]["index"], "reused", "{last:#}");
}

// --- unreadable advisories of audited packages -------------------------------------------

#[test]
fn an_unreadable_advisory_of_an_audited_package_makes_the_audit_incomplete() {
    let t = lockfile_tree(&cargo_lock_v3_fixed());
    let r = t.path();
    let audit = |db: &str| xtask(r, &audit_args(db));
    // A package not audited: a low warning, the audit passes.
    write(
        r,
        "other/crates/quux/RUSTSEC-2099-0301.md",
        "no front matter\n",
    );
    let run = audit("other");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let m = malformed(&run.json());
    assert!(m.len() == 1 && m[0].contains("\"low\""), "{m:?}");

    // foo is audited: its advisory could say anything, so the audit is incomplete.
    for (db, file, content) in [
        (
            "native",
            "crates/foo/RUSTSEC-2099-0302.md",
            "no front matter\n",
        ),
        (
            "flat",
            "crates/RUSTSEC-2099-0303.json",
            r#"{"id":"RUSTSEC-2099-0303","affected":[{"package":{"ecosystem":"crates.io","name":"foo"},"ranges":"not a list"}]}"#,
        ),
        ("unknown", "crates/RUSTSEC-2099-0304.json", "{ not json"),
    ] {
        write(r, &format!("{db}/{file}"), content);
        let run = audit(db);
        assert_eq!(run.code, 2, "{db}: {}{}", run.stdout, run.stderr);
        let m = malformed(&run.json());
        assert!(m.len() == 1 && m[0].contains("\"high\""), "{db}: {m:?}");
    }
}
