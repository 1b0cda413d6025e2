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

#[test]
fn findings_that_need_attention_fail_the_checklist_and_rows_name_their_environment() {
    let t = sample_tree();
    write(
        t.path(),
        "maintenance.toml",
        "[deploy.environments.staging]\n[deploy.environments.production]\n",
    );
    assert_eq!(xtask(t.path(), &["backup", "config"]).code, 0);
    // A torn ledger line: a medium finding, which `releases` itself fails on.
    write(
        t.path(),
        "backups/deployments/production.jsonl",
        "{\"time\":\"2026-01-0",
    );
    assert_eq!(xtask(t.path(), &["releases", "production"]).code, 1);
    let run = checklist(t.path(), "daily", &[]);
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
    assert_eq!(
        items[1..],
        [
            (
                "releases production".to_string(),
                "1 finding(s) need attention".to_string()
            ),
            ("releases staging".to_string(), "ok".to_string()),
        ],
        "{v:#}"
    );
    assert_eq!(run.code, 1, "an item needs attention: {v:#}");
    finding_with_code(&v, "ledger-torn-line");
}

#[test]
fn two_runs_in_the_same_second_keep_both_reports() {
    let t = sample_tree();
    assert_eq!(xtask(t.path(), &["backup", "config"]).code, 0);
    // Reports of other runs already hold the names of this second and the next ones.
    let reports = t.path().join("backups/reports");
    let now = chrono::Utc::now();
    let taken: Vec<std::path::PathBuf> = (0..30)
        .map(|s| {
            let stamp = (now + chrono::Duration::seconds(s)).format("%Y%m%d_%H%M%S");
            write(
                &reports,
                &format!("checklist-daily-{stamp}.md"),
                &format!("another run {s}\n"),
            )
        })
        .collect();
    let run = checklist(t.path(), "daily", &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    let report = std::path::PathBuf::from(v["report"].as_str().unwrap());
    assert!(!taken.contains(&report), "{}", report.display());
    assert!(
        report.display().to_string().ends_with("-2.md"),
        "{}",
        report.display()
    );
    assert!(
        fs::read_to_string(&report)
            .unwrap()
            .contains("checklist daily")
    );
    for (s, p) in taken.iter().enumerate() {
        assert_eq!(fs::read_to_string(p).unwrap(), format!("another run {s}\n"));
    }
    assert!(tmp_leftovers(&reports).is_empty());
    let again = checklist(t.path(), "daily", &[]).json();
    assert_ne!(again["report"], v["report"]);
}

#[test]
fn an_unwritable_reports_folder_still_prints_the_results_then_fails() {
    let t = sample_tree();
    assert_eq!(xtask(t.path(), &["backup", "config"]).code, 0);
    write(
        t.path(),
        "backups/reports",
        "a file where the folder should be\n",
    );
    let run = checklist(t.path(), "daily", &[]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(
        v["items"][0]["result"], "ok",
        "the results are printed: {v:#}"
    );
    let f = finding_with_code(&v, "checklist-report-unwritten");
    assert!(
        f["message"].as_str().unwrap().contains("backups/reports"),
        "{f:#}"
    );
    assert!(v.get("report").is_none(), "{v:#}");
}
