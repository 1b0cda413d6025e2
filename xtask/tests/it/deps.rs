//! The dependency inputs `audit` reads, end to end: includes stay inside the root and are
//! never echoed, a bad line or entry is reported by file and line while the rest is still
//! audited, and files that are not regular files are named for what they are.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;

const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// One advisory per ecosystem: `requests` < 2.31.0 (PyPI) and `foo` < 1.2.3 (crates.io).
fn advisories(root: &Path) {
    write(
        root,
        "db/pypa/requests/PYSEC-2099-1.yaml",
        "id: PYSEC-2099-1\nsummary: requests leaks credentials\nmodified: \"2099-01-04T00:00:00Z\"\naffected:\n- package:\n    name: requests\n    ecosystem: PyPI\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: \"0\"\n    - fixed: 2.31.0\n",
    );
    write(
        root,
        "db/pypa/crates/RUSTSEC-2099-0001.json",
        r#"{"id":"RUSTSEC-2099-0001","modified":"2099-01-01T00:00:00Z","summary":"bug in foo",
          "affected":[{"package":{"ecosystem":"crates.io","name":"foo"},
          "ranges":[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"},{"fixed":"1.2.3"}]}]}]}"#,
    );
    let fresh = chrono::Utc::now().to_rfc3339();
    source_updated(root, "db/pypa", &fresh);
}

/// `audit ARGS --db DB` in `format`, killed (and the test failed) if it hangs.
fn audit_as(root: &Path, format: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let db = root.join("db/pypa");
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .args(["--format", format, "audit"]);
    c.args(args).arg("--db").arg(db);
    for (k, v) in env {
        c.env(k, v);
    }
    run_bounded(c)
}

/// Run `c`, failing the test instead of hanging when it does not end within a minute.
fn run_bounded(mut c: Command) -> Run {
    use std::io::Read;
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut stderr = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("xtask hung (killed after a minute)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = err.read_to_string(&mut stderr);
    Run {
        code: status.code().unwrap_or(-1),
        stdout: reader.join().unwrap(),
        stderr,
    }
}

/// Every output format of one audit, concatenated (stdout and stderr).
fn every_format(root: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    ["json", "table", "sarif", "markdown"]
        .iter()
        .map(|f| {
            let r = audit_as(root, f, args, env);
            format!("{}{}", r.stdout, r.stderr)
        })
        .collect()
}

/// (package, version) of every advisory hit.
fn hits(v: &serde_json::Value) -> Vec<(String, String)> {
    advisory_hits(v)
        .into_iter()
        .map(|(package, version, _)| (package, version))
        .collect()
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(ok.success(), "mkfifo {}", p.display());
}

#[test]
fn includes_stay_inside_the_root_and_nothing_included_is_echoed() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("project");
    advisories(&root);
    write(
        t.path(),
        "outside.txt",
        "requests==2.0.0\nOUTSIDE_TOKEN=ghp_outside0000\n",
    );
    write(
        &root,
        "config/.env",
        "DATABASE_PASSWORD=hunter2\nexport API_KEY=sk-live-1234\n",
    );
    std::os::unix::fs::symlink("../outside.txt", root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(t.path(), root.join("up")).unwrap();
    write(
        &root,
        "requirements.txt",
        "requests==2.30.0\n-r /proc/self/environ\n-r ../outside.txt\n-r link.txt\n-c up/outside.txt\n-r config/.env\n--requirement=/etc/passwd\n",
    );
    let env = [("XTASK_TEST_TOKEN", "ci-secret-4711")];
    let run = audit_as(&root, "json", &["requirements.txt"], &env);
    assert_eq!(
        run.code, 2,
        "incomplete input: {}{}",
        run.stdout, run.stderr
    );
    let v = run.json();
    assert_eq!(
        hits(&v),
        [("requests".to_string(), "2.30.0".to_string())],
        "the file's own requirement is audited, nothing from outside: {v:#}"
    );
    let errors = findings_with_code(&v, "input-error");
    let outside: Vec<_> = errors
        .iter()
        .filter(|f| message_of(f).contains("outside"))
        .collect();
    assert_eq!(outside.len(), 5, "{errors:#?}");
    for (f, line) in outside.iter().zip([2, 3, 4, 5, 7]) {
        let m = message_of(f);
        assert!(m.contains(&format!("requirements.txt:{line}:")), "{m}");
        assert_eq!(f["path"], "requirements.txt");
    }
    // The .env inside the root is read, but its lines are no requirements: named by line.
    let env_lines: Vec<&str> = errors
        .iter()
        .filter(|f| f["path"] == "config/.env")
        .map(|f| message_of(f))
        .collect();
    assert_eq!(env_lines.len(), 2, "{errors:#?}");
    assert!(env_lines[0].contains(".env:1:") && env_lines[1].contains(".env:2:"));
    assert!(
        findings_with_code(&v, "unpinned-requirement").is_empty(),
        "{v:#}"
    );
    let all = every_format(&root, &["requirements.txt"], &env);
    for secret in [
        "ci-secret-4711",
        "ghp_outside0000",
        "hunter2",
        "sk-live-1234",
        "root:x:0",
    ] {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
}

#[test]
fn fifos_and_oversized_files_are_not_read_as_includes() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    advisories(root);
    mkfifo(&root.join("pipe.txt"));
    let big = "requests==2.0.0\n".repeat((16 << 20) / 16 + 1);
    write(root, "big.txt", &big);
    write(
        root,
        "requirements.txt",
        "-r pipe.txt\n-c big.txt\nrequests==2.30.0\n",
    );
    let run = audit_as(root, "json", &["requirements.txt"], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let errors: Vec<String> = findings_with_code(&v, "input-error")
        .iter()
        .map(|f| message_of(f).to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("requirements.txt:1:")
            && errors[0].contains("not a regular file")
            && errors[0].contains("FIFO"),
        "{errors:#?}"
    );
    assert!(
        errors[1].contains("requirements.txt:2:") && errors[1].contains("16 MiB"),
        "{errors:#?}"
    );
    assert_eq!(hits(&v), [("requests".to_string(), "2.30.0".to_string())]);
}

#[test]
fn a_bad_requirement_line_is_named_by_number_and_the_rest_is_still_audited() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    advisories(root);
    write(
        root,
        "requirements.txt",
        "flask==0.1\n!!! some-private-words\nAPI_TOKEN=tok-123456\nrequests-==1.0\nfoo==1 ; \\\n  extra\nrequests==2.30.0\nflask>=2.0\n",
    );
    let run = audit_as(root, "json", &[], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["exit_code"], 2, "the report is incomplete: {v:#}");
    let errors: Vec<String> = findings_with_code(&v, "input-error")
        .iter()
        .map(|f| message_of(f).to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    for (e, line) in errors.iter().zip([2, 3, 4]) {
        assert!(e.contains(&format!("requirements.txt:{line}:")), "{e}");
    }
    assert!(
        errors[2].contains("not a valid PyPI package name"),
        "{errors:#?}"
    );
    assert_eq!(hits(&v), [("requests".to_string(), "2.30.0".to_string())]);
    let unpinned = findings_with_code(&v, "unpinned-requirement");
    assert_eq!(unpinned.len(), 1, "{v:#}");
    assert_eq!(unpinned[0]["line"], 8);
    let all = every_format(root, &[], &[]);
    for secret in ["some-private-words", "tok-123456"] {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
}

#[test]
fn a_package_name_that_is_not_a_name_is_refused_for_that_entry_only() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    advisories(root);
    let evil = r#"requests\noutput = /tmp/x\nurl = http://evil.example/\n#"#;
    write(
        root,
        "poetry/poetry.lock",
        &format!(
            "[[package]]\nname = \"{evil}\"\nversion = \"2.0.0\"\n\n[[package]]\nname = \"requests\"\nversion = \"2.30.0\"\n\n[[package]]\nname = \"requests\"\nversion = \"2.29.0\\n\\u001b[2J\"\n"
        ),
    );
    write(
        root,
        "uv/uv.lock",
        &format!(
            "version = 1\n\n[[package]]\nname = \"{evil}\"\nversion = \"2.0.0\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n\n[[package]]\nname = \"requests\"\nversion = \"2.28.0\"\nsource = {{ registry = \"https://pypi.org/simple\" }}\n"
        ),
    );
    write(
        root,
        "pipenv/Pipfile.lock",
        &format!(
            "{{\n  \"default\": {{\n    \"{evil}\": {{\"version\": \"==2.0.0\"}},\n    \"requests\": {{\"version\": \"==2.27.0\"}}\n  }}\n}}\n"
        ),
    );
    let long = "a".repeat(65);
    write(
        root,
        "rust/Cargo.lock",
        &format!(
            "version = 3\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"foo\",\n]\n\n[[package]]\nname = \"foo\"\nversion = \"1.0.0\"\nsource = \"{REG}\"\n\n[[package]]\nname = \"{evil}\"\nversion = \"1.0.0\"\nsource = \"{REG}\"\n\n[[package]]\nname = \"{long}\"\nversion = \"1.0.0\"\nsource = \"{REG}\"\n"
        ),
    );
    let run = audit_as(root, "json", &[], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(
        hits(&v),
        [
            ("foo".to_string(), "1.0.0".to_string()),
            ("requests".to_string(), "2.27.0".to_string()),
            ("requests".to_string(), "2.28.0".to_string()),
            ("requests".to_string(), "2.30.0".to_string()),
        ],
        "every valid entry is audited: {v:#}"
    );
    let mut errors: Vec<String> = findings_with_code(&v, "input-error")
        .iter()
        .map(|f| format!("{} {}", f["path"], f["message"]))
        .collect();
    errors.sort();
    let expect = [
        ("pipenv/Pipfile.lock", ":3:", "PyPI package name"),
        ("poetry/poetry.lock", ":1:", "PyPI package name"),
        ("poetry/poetry.lock", ":9:", "version"),
        ("rust/Cargo.lock", ":15:", "crate name"),
        ("rust/Cargo.lock", ":20:", "crate name"),
        ("uv/uv.lock", ":3:", "PyPI package name"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (e, (file, line, what)) in errors.iter().zip(expect) {
        assert!(
            e.contains(file) && e.contains(line) && e.contains(what),
            "{e} should name {file}{line} and {what}"
        );
    }
    let all = every_format(root, &[], &[]);
    for bad in ["/tmp/x", "evil.example", "\u{1b}[2J"] {
        assert!(!all.contains(bad), "`{bad}` reached the output:\n{all}");
    }
    // Given as a PATH, the Cargo.lock is refused the same way.
    let run = audit_as(root, "json", &["rust/Cargo.lock"], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(findings_with_code(&run.json(), "input-error").len(), 2);
}

#[test]
fn a_fifo_or_device_given_as_path_is_named_for_what_it_is() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    advisories(root);
    mkfifo(&root.join("requirements.txt"));
    let run = audit_as(root, "table", &["requirements.txt"], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("not a regular file") && run.stderr.contains("FIFO"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("no such file"), "{}", run.stderr);
    let run = audit_as(root, "table", &["/dev/null"], &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("not a regular file") && run.stderr.contains("character device"),
        "{}",
        run.stderr
    );
    let run = audit_as(root, "table", &["missing.txt"], &[]);
    assert!(run.stderr.contains("no such file"), "{}", run.stderr);
}
