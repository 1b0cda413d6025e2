//! `bench build` on a tiny workspace of its own (a real git repository, a real cold cargo
//! build): the variants, the units from cargo's timings page, and a failing variant.

use crate::support::*;

/// A one-crate workspace whose package is called `xtask`, committed; returns the commit.
fn tiny_workspace(root: &std::path::Path) -> String {
    write(
        root,
        "Cargo.toml",
        "[workspace]\nmembers = [\"xtask\"]\nresolver = \"2\"\n",
    );
    write(
        root,
        "xtask/Cargo.toml",
        "[package]\nname = \"xtask\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    // A variant that sets `--cfg bench_probe` cannot build: proof that --config reaches cargo.
    write(
        root,
        "xtask/src/main.rs",
        "#[cfg(bench_probe)]\ncompile_error!(\"the variant's rustflags arrived\");\nfn main() {}\n",
    );
    write(
        root,
        "scratch.txt",
        "uncommitted files stay out of the snapshot\n",
    );
    git(root, &["init", "-q"]);
    git(root, &["add", "Cargo.toml", "xtask"]);
    git(root, &["commit", "-q", "-m", "tiny"]);
    // Cargo.lock is committed like the project's own.
    run_ok(
        std::process::Command::new("cargo")
            .args(["generate-lockfile", "--offline"])
            .current_dir(root),
        "cargo generate-lockfile",
    );
    git(root, &["add", "Cargo.lock"]);
    git(root, &["commit", "-q", "-m", "lock"]);
    git(root, &["rev-parse", "HEAD"])
}

#[test]
fn bench_build_times_each_revision_and_variant_cold() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let head = tiny_workspace(root);
    let first = git(root, &["rev-parse", "HEAD~1"]);
    // HEAD~1 has no Cargo.lock: refused, since the bench measures --locked builds.
    let r = xtask(root, &["bench", "build", "--rev", "HEAD~1"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.contains("no Cargo.lock"), "{}", r.stdout);
    assert!(!first.is_empty());

    let r = xtask_json(
        root,
        &[
            "bench",
            "build",
            "--rev",
            "HEAD",
            "--variant",
            "o1=profile.dev.opt-level=1",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = r.json();
    let variants = v["variants"].as_array().unwrap();
    let labels: Vec<&str> = variants
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["HEAD", "o1"]);
    for o in variants {
        assert_eq!(o["commit"], head.as_str());
        assert!(o["median_wall"].as_f64().unwrap() > 0.0);
        assert!(o["cpu_seconds"].as_f64().unwrap() > 0.0, "{o}");
        let units = o["units"].as_array().unwrap();
        let own: Vec<_> = units.iter().filter(|u| u["name"] == "xtask").collect();
        assert_eq!(own.len(), 1, "{units:?}");
        assert_eq!(own[0]["kind"], "bin");
        assert!(own[0]["duration"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(variants[1]["config"][0], "profile.dev.opt-level=1");
    // Each variant built from a clean snapshot into its own, emptied target directory.
    let dir = root.join("target/bench/build");
    let src = dir.join(format!("src-{}", &head[..12]));
    assert!(src.join("xtask/src/main.rs").is_file());
    assert!(
        !src.join("scratch.txt").exists(),
        "uncommitted files leaked into the snapshot"
    );
    assert!(
        dir.join("target-o1/cargo-timings/cargo-timing.html")
            .is_file()
    );

    // The table names both variants and the crate's own unit.
    let r = xtask(root, &["bench", "build", "--top", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("longest units: HEAD"), "{}", r.stdout);
    assert!(r.stdout.contains("as committed"), "{}", r.stdout);

    // A variant that cannot build is reported (which, why, where cargo's output is), the
    // others are still measured, and the exit code says the run is incomplete.
    let probe = r#"probe=build.rustflags=["--cfg","bench_probe"]"#;
    let r = xtask_json(root, &["bench", "build", "--variant", probe]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["variants"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["variants"][0]["label"], "HEAD");
    let failed = &v["failed"][0];
    assert_eq!(failed["label"], "probe");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("variant \"probe\""), "{error}");
    assert!(error.contains("the variant's rustflags arrived"), "{error}");
    assert!(error.contains("bench-build.log"), "{error}");

    // Not a revision: named.
    let r = xtask(root, &["bench", "build", "--rev", "no-such-branch"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stdout.contains("\"no-such-branch\" is not a commit"),
        "{}",
        r.stdout
    );
}
