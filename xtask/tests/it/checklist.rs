//! `checklist`: a cadence's items run in-process into one report file.

use std::fs;

use crate::support::*;

fn checklist(root: &std::path::Path, cadence: &str, env: &[(&str, &str)]) -> Run {
    let mut c = bin();
    c.arg("--root")
        .arg(root)
        .args(["--format", "json", "checklist", cadence]);
    // Nothing here may leave the machine: enrichment services point at a closed local port.
    c.env("XTASK_EOL_API", "http://127.0.0.1:9")
        .env("XTASK_GITHUB_API", "http://127.0.0.1:9");
    let outside = std::env::temp_dir().join(format!("xtask-checklist-{}", std::process::id()));
    c.env("XTASK_ADVISORY_CACHE", outside.join("advisories"))
        .env("XTASK_HTTP_CACHE", outside.join("http"));
    c.env_remove("XTASK_ADVISORY_DB");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap().into()
}

#[test]
fn monthly_runs_a_restore_drill_and_writes_one_report() {
    let t = sample_tree();
    let db = t.path().join("ai_knowledge_hub/knowledge_hub.db");
    fs::create_dir_all(db.parent().unwrap()).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    assert_eq!(xtask(t.path(), &["backup"]).code, 0);
    let before = snapshot(t.path());

    let run = checklist(t.path(), "monthly", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let items: Vec<(String, String)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["command"].as_str().unwrap().to_string(),
                i["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items.iter().all(|(_, r)| r == "ok"), "{items:?}");
    let report = v["report"].as_str().unwrap();
    let md = fs::read_to_string(report).unwrap();
    assert!(md.starts_with("## cargo xtask checklist monthly"), "{md}");
    assert!(md.contains("restore drill"), "{md}");
    // The drill wrote only its report (and the audit trail); the scratch folder is gone.
    let after: Vec<String> = snapshot(t.path())
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert!(
        after.iter().all(|p| p.starts_with("backups/reports")),
        "{after:?}"
    );
}

#[test]
fn an_item_that_cannot_run_fails_the_checklist_but_not_the_others() {
    let t = sample_tree();
    // No advisory database anywhere: the audit item fails, outdated still runs.
    let run = checklist(t.path(), "weekly", &[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let f = finding_with_code(&v, "checklist-item-failed");
    assert!(
        f["message"].as_str().unwrap().contains("advisories update"),
        "{f:#}"
    );
    let results: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["result"].as_str().unwrap())
        .collect();
    assert_eq!(results[0], "FAILED to run");
    assert_ne!(results[1], "FAILED to run", "{results:?}");
    assert!(
        fs::read_to_string(v["report"].as_str().unwrap())
            .unwrap()
            .contains("checklist-item-failed")
    );
}

#[test]
fn daily_checks_backups_and_every_environment() {
    let t = sample_tree();
    write(
        t.path(),
        "maintenance.toml",
        "[deploy.environments.staging]\n[deploy.environments.production]\n",
    );
    let run = checklist(t.path(), "daily", &[]);
    assert_eq!(run.code, 1, "no backup yet: verify fails");
    assert_eq!(xtask(t.path(), &["backup", "config"]).code, 0);
    let run = checklist(t.path(), "daily", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        3,
        "verify + two environments: {v:#}"
    );
}
