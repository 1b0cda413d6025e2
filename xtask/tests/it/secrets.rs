//! `secrets check` and `secrets rotated`: ages on both sides of every policy (from a
//! `gh secret list` export, the inventory and the rotation log), and certificates made by
//! openssl in the test (expired, 10 days, 25 days, a year, a chain). Every expectation is
//! computed from today's date.

use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::Value;

use crate::support::*;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn ago(days: i64) -> NaiveDate {
    today() - Duration::days(days)
}

/// A self-signed certificate valid from `start` to `end` (days from today), written by
/// `openssl ca -selfsign` (which, unlike `req -x509`, takes explicit dates).
fn cert(dir: &Path, name: &str, start: i64, end: i64) -> String {
    let stamp = |d: i64| {
        (Utc::now() + Duration::days(d))
            .format("%Y%m%d%H%M%SZ")
            .to_string()
    };
    let work = dir.join(format!("ca-{name}"));
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("index.txt"), "").unwrap();
    std::fs::write(work.join("serial"), "01\n").unwrap();
    let conf = format!(
        "[ca]\ndefault_ca = d\n[d]\ndatabase = {w}/index.txt\nnew_certs_dir = {w}\nserial = {w}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {name}.example.test\n",
        w = work.display()
    );
    std::fs::write(work.join("ca.cnf"), conf).unwrap();
    let sh = |args: &[&str]| {
        run_ok(
            std::process::Command::new("openssl")
                .args(args)
                .current_dir(&work),
            &format!("openssl {args:?}"),
        );
    };
    sh(&[
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "req.csr",
        "-config", "ca.cnf",
    ]);
    sh(&[
        "ca",
        "-batch",
        "-selfsign",
        "-config",
        "ca.cnf",
        "-keyfile",
        "key.pem",
        "-in",
        "req.csr",
        "-out",
        "cert.pem",
        "-notext",
        "-startdate",
        &stamp(start),
        "-enddate",
        &stamp(end),
    ]);
    std::fs::read_to_string(work.join("cert.pem")).unwrap()
}

fn check(root: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--format", "json", "secrets", "check"];
    all.extend(args);
    xtask(root, &all)
}

/// The inventory's entry of the secret `name`.
fn secret<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no secret {name} in {v:#}"))
}

fn by_name<'a>(v: &'a Value, code: &str, name: &str) -> Option<&'a Value> {
    findings(v)
        .iter()
        .find(|f| f["code"] == code && f["name"] == name)
}

#[test]
fn github_export_ages_against_every_policy() {
    let t = tempfile::tempdir().unwrap();
    // Each kind's policy (90 / 180 / 365): one day over, exactly at it (due now), and well inside.
    let mut secrets = Vec::new();
    for (prefix, kind, policy) in [
        ("OPENAI", "_API_KEY", 90),
        ("DB", "_PASSWORD", 180),
        ("DEPLOY", "_SSH_KEY", 365),
    ] {
        for (suffix, age) in [("OLD", policy + 1), ("DUE", policy - 3), ("NEW", 10)] {
            let at = Utc::now() - Duration::days(age);
            secrets.push(serde_json::json!({"name": format!("{prefix}_{suffix}{kind}"), "updatedAt": at.to_rfc3339()}));
        }
    }
    secrets.push(
        serde_json::json!({"name": "SLACK_WEBHOOK_URL", "updatedAt": Utc::now().to_rfc3339()}),
    );
    write(
        t.path(),
        "secrets.json",
        &serde_json::to_string(&secrets).unwrap(),
    );
    let run = check(t.path(), &["--github-secrets", "secrets.json"]);
    assert_eq!(run.code, 1, "overdue fails the run: {}", run.stderr);
    let v = run.json();
    for (name, kind, policy) in [
        ("OPENAI_OLD_API_KEY", "api-key", 90),
        ("DB_OLD_PASSWORD", "db-password", 180),
        ("DEPLOY_OLD_SSH_KEY", "ssh-key", 365),
    ] {
        let f =
            by_name(&v, "secret-rotation-overdue", name).unwrap_or_else(|| panic!("{name}: {v:#}"));
        assert_eq!(
            (
                f["kind"].as_str(),
                f["policy_days"].as_i64(),
                f["days_overdue"].as_i64()
            ),
            (Some(kind), Some(policy), Some(1))
        );
        assert_eq!(f["age_days"], policy + 1);
        assert_eq!(f["severity"], "high");
    }
    for name in [
        "OPENAI_DUE_API_KEY",
        "DB_DUE_PASSWORD",
        "DEPLOY_DUE_SSH_KEY",
    ] {
        let f = by_name(&v, "secret-rotation-due-soon", name)
            .unwrap_or_else(|| panic!("{name}: {v:#}"));
        assert_eq!(f["severity"], "medium");
        assert!(message_of(f).contains("in 3 days"), "{f}");
    }
    for name in [
        "OPENAI_NEW_API_KEY",
        "DB_NEW_PASSWORD",
        "DEPLOY_NEW_SSH_KEY",
    ] {
        assert!(
            findings(&v).iter().all(|f| f["name"] != name),
            "{name}: {v:#}"
        );
    }
    assert_eq!(
        by_name(&v, "secret-unclassified", "SLACK_WEBHOOK_URL").unwrap()["severity"],
        "info"
    );
}

#[test]
fn rest_api_export_inventory_and_rotation_log() {
    let t = tempfile::tempdir().unwrap();
    let old = (Utc::now() - Duration::days(200)).to_rfc3339();
    write(
        t.path(),
        "rest.json",
        &format!(
            r#"{{"total_count": 2, "secrets": [{{"name": "VAULT_DB_PASSWORD", "created_at": "{old}", "updated_at": "{old}"}}, {{"name": "STRIPE_LIVE_KEY", "created_at": "{old}", "updated_at": "{old}"}}]}}"#
        ),
    );
    write(
        t.path(),
        "maintenance.toml",
        &format!(
            "[secrets.inventory]\n\"STRIPE_*\" = {{ kind = \"api-key\", owner = \"payments\", max_age_days = 365 }}\nLEGACY_PASSWORD = {{ owner = \"dba\", rotated = \"{}\" }}\nNEVER_RECORDED_TOKEN = {{ owner = \"ops\" }}\n",
            ago(181)
        ),
    );
    let v = check(t.path(), &["--github-secrets", "rest.json"]).json();
    assert!(
        by_name(&v, "secret-rotation-overdue", "VAULT_DB_PASSWORD").is_some(),
        "{v:#}"
    );
    assert!(
        by_name(&v, "secret-rotation-overdue", "STRIPE_LIVE_KEY").is_none(),
        "its pattern allows 365 days: {v:#}"
    );
    let legacy = by_name(&v, "secret-rotation-overdue", "LEGACY_PASSWORD").unwrap();
    assert_eq!(legacy["days_overdue"], 1);
    assert_eq!(
        by_name(&v, "secret-rotation-unknown", "NEVER_RECORDED_TOKEN").unwrap()["severity"],
        "medium"
    );
    let stripe = secret(&v, "STRIPE_LIVE_KEY");
    assert_eq!(
        (stripe["owner"].as_str(), stripe["policy_days"].as_i64()),
        (Some("payments"), Some(365))
    );

    // A rotation recorded outside GitHub clears the overdue one and is in the audit log.
    let rec = xtask(
        t.path(),
        &[
            "secrets",
            "rotated",
            "VAULT_DB_PASSWORD",
            "--at",
            &ago(2).to_string(),
        ],
    );
    assert_eq!(rec.code, 0, "{}", rec.stderr);
    let rec = xtask(t.path(), &["secrets", "rotated", "LEGACY_PASSWORD"]);
    assert_eq!(rec.code, 0, "{}", rec.stderr);
    let v = check(t.path(), &["--github-secrets", "rest.json"]).json();
    assert!(
        by_name(&v, "secret-rotation-overdue", "VAULT_DB_PASSWORD").is_none(),
        "{v:#}"
    );
    assert!(
        by_name(&v, "secret-rotation-overdue", "LEGACY_PASSWORD").is_none(),
        "{v:#}"
    );
    let vault = secret(&v, "VAULT_DB_PASSWORD");
    assert_eq!(
        (vault["source"].as_str(), vault["age_days"].as_i64()),
        (Some("rotation-log"), Some(2))
    );
    let log = std::fs::read_to_string(t.path().join("backups/secrets/rotations.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    let audit = std::fs::read_to_string(t.path().join("backups/audit.log")).unwrap();
    assert!(
        audit.contains("secrets rotated VAULT_DB_PASSWORD"),
        "{audit}"
    );
}

#[test]
fn rotated_refuses_values_and_future_days() {
    let t = tempfile::tempdir().unwrap();
    let bad = xtask(t.path(), &["secrets", "rotated", "DB_PASSWORD=hunter2"]);
    assert_eq!(bad.code, 2);
    assert!(
        !bad.stderr.contains("hunter2") || bad.stderr.contains("not a secret name"),
        "{}",
        bad.stderr
    );
    let future = (today() + Duration::days(3)).to_string();
    let bad = xtask(
        t.path(),
        &["secrets", "rotated", "DB_PASSWORD", "--at", &future],
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("future"), "{}", bad.stderr);
    assert!(!t.path().join("backups/secrets/rotations.jsonl").exists());
}

#[test]
fn certificates_expired_expiring_and_chains() {
    let t = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let expired = cert(work.path(), "expired", -40, -5);
    let ten = cert(work.path(), "ten", -1, 10);
    let quarter = cert(work.path(), "twentyfive", -1, 25);
    let year = cert(work.path(), "year", -1, 365);
    write(t.path(), "tls/expired.pem", &expired);
    write(t.path(), "tls/ten.crt", &ten);
    write(t.path(), "tls/year.pem", &year);
    // A chain: leaf, then intermediate; a private key in the same file is skipped unread.
    let key = std::fs::read_to_string(work.path().join("ca-year/key.pem")).unwrap();
    write(
        t.path(),
        "chain/fullchain.pem",
        &format!("{year}{key}{quarter}"),
    );
    let run = check(
        t.path(),
        &["--certs", "tls", "--certs", "chain/fullchain.pem"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = run.json();
    let certs = v["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 5, "every certificate of the chain: {v:#}");
    let find = |code: &str, path: &str| {
        findings(&v)
            .iter()
            .find(|f| f["code"] == code && f["path"] == path)
            .unwrap_or_else(|| panic!("{code} {path}: {v:#}"))
    };
    let e = find("cert-expired", "tls/expired.pem");
    assert_eq!(
        (e["severity"].as_str(), e["line"].as_u64()),
        (Some("critical"), Some(1))
    );
    assert!(
        e["subject"]
            .as_str()
            .unwrap()
            .contains("expired.example.test"),
        "{e}"
    );
    let soon = find("cert-expiring", "tls/ten.crt");
    assert_eq!(
        (soon["severity"].as_str(), soon["days_left"].as_i64()),
        (Some("high"), Some(10))
    );
    let chain = find("cert-expiring", "chain/fullchain.pem");
    assert_eq!(
        (
            chain["severity"].as_str(),
            chain["days_left"].as_i64(),
            chain["index"].as_u64()
        ),
        (Some("medium"), Some(25), Some(2))
    );
    let chain_line = year.lines().count() + key.lines().count() + 1;
    assert_eq!(
        chain["line"].as_u64(),
        Some(chain_line as u64),
        "the line of the second BEGIN"
    );
    let year_days = (today() + Duration::days(365) - today()).num_days();
    assert!(
        certs
            .iter()
            .any(|c| c["days_left"] == year_days && c["path"] == "tls/year.pem"),
        "{v:#}"
    );
    assert_eq!(findings(&v).len(), 3, "a year is fine: {v:#}");
    for format in ["json", "table", "markdown"] {
        let out = xtask(
            t.path(),
            &["--format", format, "secrets", "check", "--certs", "chain"],
        )
        .stdout;
        assert!(
            !out.contains("PRIVATE KEY") && !out.contains(key.lines().nth(1).unwrap()),
            "{out}"
        );
    }
}

#[test]
fn a_file_that_is_not_a_certificate_is_an_input_error() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "bad.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    );
    write(t.path(), "empty.pem", "nothing here\n");
    let run = check(t.path(), &["--certs", "bad.pem", "--certs", "empty.pem"]);
    assert_eq!(run.code, 2);
    let v = run.json();
    let errors: Vec<&str> = findings_with_code(&v, "input-error")
        .into_iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(errors, vec!["bad.pem", "empty.pem"]);
}
