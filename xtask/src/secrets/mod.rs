//! `secrets check`: the runbook's rotation schedule (API keys every 90 days, database
//! passwords every 180, SSH keys every 365) against when each secret last changed — from a
//! `gh secret list` export, the `[secrets.inventory]` and the rotation log that
//! `secrets rotated` appends to — and the expiry of PEM certificates.
//!
//! Only names, dates and certificate metadata are read into the report: never a secret's
//! value or key material.

pub(crate) mod certs;
mod inventory;
mod log;

pub use log::valid_name;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::report::{Finding, Report, Severity, Table, codes};
use crate::util::files;

pub struct Options {
    pub github_secrets: Option<PathBuf>,
    pub certs: Vec<PathBuf>,
    pub fail_on: Option<Severity>,
}

/// Certificates within this many days are high (`cert-expiring`), within the second medium.
const CERT_HIGH_DAYS: i64 = 14;
const CERT_MEDIUM_DAYS: i64 = 30;

/// Where a secret's last rotation date comes from.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Source {
    Github,
    Inventory,
    RotationLog,
    Unknown,
}

/// One secret, with what is known about its rotation.
#[derive(Debug, Serialize)]
struct Secret {
    name: String,
    kind: &'static str,
    owner: Option<String>,
    last_rotated: Option<NaiveDate>,
    source: Source,
    age_days: Option<i64>,
    policy_days: Option<u32>,
    status: Status,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Status {
    Ok,
    DueSoon,
    Overdue,
    Unknown,
    NoPolicy,
}

pub fn dispatch(cx: &Context, command: crate::cli::SecretsCmd) -> Result<Report> {
    use crate::cli::SecretsCmd;
    match command {
        SecretsCmd::Check {
            github_secrets,
            certs,
            fail_on,
        } => check(
            cx,
            Options {
                github_secrets,
                certs,
                fail_on,
            },
        ),
        SecretsCmd::Rotated { name, at } => rotated(cx, &name, at),
    }
}

pub fn check(cx: &Context, opts: Options) -> Result<Report> {
    let cfg = &cx.config.secrets;
    let now = Utc::now();
    let today = now.date_naive();
    let github = match &opts.github_secrets {
        Some(p) => github_export(&cx.cli_path(p))?,
        None => BTreeMap::new(),
    };
    let (rotations, bad_lines) = log::read(&log::path(cx))?;
    let secrets = assess(cx, &github, &rotations, today);
    let cert_paths: Vec<PathBuf> = if opts.certs.is_empty() {
        cfg.certs.iter().map(|c| cx.root.join(c)).collect()
    } else {
        opts.certs.iter().map(|c| cx.cli_path(c)).collect()
    };

    let mut report = Report::new("secrets check");
    report.fail_on = opts.fail_on.unwrap_or(cfg.fail_on);
    for line in bad_lines {
        report.incomplete = true;
        let rel = cx.rel(&log::path(cx));
        let msg = format!(
            "{rel}: line {line} is not a rotation record: fix or remove it (`secrets rotated` writes whole lines)"
        );
        report.push(Finding::new(codes::INPUT_ERROR, Severity::High, msg).at_line(rel, line));
    }
    present_secrets(&secrets, cfg.due_soon_days, &mut report);
    let certs = read_certs(cx, &cert_paths, &mut report);
    present_certs(cx, &certs, now, &mut report);
    report.summary("secrets", secrets.len().to_string());
    report.summary("certificates", certs.len().to_string());
    report.summary("fail on", report.fail_on.as_str());
    Ok(report)
}

/// Every known secret (GitHub export, literal inventory names, rotation log) with its
/// kind, policy and age.
fn assess(
    cx: &Context,
    github: &BTreeMap<String, DateTime<Utc>>,
    rotations: &BTreeMap<String, NaiveDate>,
    today: NaiveDate,
) -> Vec<Secret> {
    let cfg = &cx.config.secrets;
    let mut names: Vec<&String> = github.keys().chain(rotations.keys()).collect();
    names.extend(
        cfg.inventory
            .keys()
            .filter(|n| !crate::util::glob::has_wildcard(n)),
    );
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let class = inventory::classify(name, cfg);
            let dates = [
                (github.get(name).map(|d| d.date_naive()), Source::Github),
                (class.exact.and_then(|e| e.rotated), Source::Inventory),
                (rotations.get(name).copied(), Source::RotationLog),
            ];
            let (last, source) = dates
                .into_iter()
                .filter_map(|(d, s)| Some((d?, s)))
                .max_by_key(|(d, _)| *d)
                .map_or((None, Source::Unknown), |(d, s)| (Some(d), s));
            let policy = class.policy(cfg);
            let age = last.map(|d| (today - d).num_days());
            let status = match (policy, age) {
                (None, _) => Status::NoPolicy,
                (Some(_), None) => Status::Unknown,
                (Some(p), Some(a)) if a > i64::from(p) => Status::Overdue,
                (Some(p), Some(a)) if i64::from(p) - a <= i64::from(cfg.due_soon_days) => {
                    Status::DueSoon
                }
                _ => Status::Ok,
            };
            Secret {
                name: name.clone(),
                kind: inventory::kind_name(class.kind),
                owner: class.owner().map(str::to_string),
                last_rotated: last,
                source,
                age_days: age,
                policy_days: policy,
                status,
            }
        })
        .collect()
}

fn present_secrets(secrets: &[Secret], due_soon_days: u32, report: &mut Report) {
    let mut t = Table::new(
        "Secrets",
        &[
            "name",
            "kind",
            "owner",
            "last rotated",
            "source",
            "age",
            "policy",
            "status",
        ],
    );
    for s in secrets {
        let days = |d: Option<i64>| d.map_or("-".to_string(), |d| format!("{d} d"));
        t.row(vec![
            s.name.clone(),
            s.kind.to_string(),
            s.owner.clone().unwrap_or_else(|| "-".into()),
            s.last_rotated.map_or("unknown".into(), |d| d.to_string()),
            serde_json::to_value(s.source)
                .unwrap()
                .as_str()
                .unwrap_or_default()
                .to_string(),
            days(s.age_days),
            days(s.policy_days.map(i64::from)),
            serde_json::to_value(s.status)
                .unwrap()
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ]);
        if let Some(f) = secret_finding(s, due_soon_days) {
            report.push(f);
        }
    }
    report.tables.push(t);
    report.set("secrets", secrets);
}

fn secret_finding(s: &Secret, due_soon_days: u32) -> Option<Finding> {
    let (age, policy) = (
        s.age_days.unwrap_or(0),
        i64::from(s.policy_days.unwrap_or(0)),
    );
    let mut f = match s.status {
        Status::Ok => return None,
        Status::NoPolicy if s.kind == "unclassified" => Finding::new(
            codes::SECRET_UNCLASSIFIED,
            Severity::Info,
            format!(
                "{}: kind unknown, so no rotation policy applies; classify it in [secrets.inventory]",
                s.name
            ),
        ),
        Status::NoPolicy => return None,
        Status::Unknown => Finding::new(
            codes::SECRET_ROTATION_UNKNOWN,
            Severity::Medium,
            format!(
                "{} ({}): no rotation date known; record it with `cargo xtask secrets rotated {}` or pass --github-secrets",
                s.name, s.kind, s.name
            ),
        ),
        Status::Overdue => {
            let mut f = Finding::new(
                codes::SECRET_ROTATION_OVERDUE,
                Severity::High,
                format!(
                    "{} ({}) was last rotated {age} days ago, {} days past its {policy}-day policy: rotate it",
                    s.name,
                    s.kind,
                    age - policy
                ),
            );
            f.extra.insert("days_overdue".into(), json!(age - policy));
            f
        }
        Status::DueSoon => Finding::new(
            codes::SECRET_ROTATION_DUE_SOON,
            Severity::Medium,
            format!(
                "{} ({}) is due for rotation in {} days (within {due_soon_days}): age {age} of {policy} days",
                s.name,
                s.kind,
                policy - age
            ),
        ),
    };
    f.extra.insert("name".into(), json!(s.name));
    f.extra.insert("kind".into(), json!(s.kind));
    if let Some(a) = s.age_days {
        f.extra.insert("age_days".into(), json!(a));
    }
    if let Some(p) = s.policy_days {
        f.extra.insert("policy_days".into(), json!(p));
    }
    Some(f)
}

/// `gh secret list --json name,updatedAt` (`[{"name", "updatedAt"}]`) or the REST API's
/// `{"secrets": [{"name", "created_at", "updated_at"}]}`: name → last update.
fn github_export(path: &Path) -> Result<BTreeMap<String, DateTime<Utc>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --github-secrets {}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "--github-secrets {}: not JSON; write it with `gh secret list --json name,updatedAt`",
            path.display()
        )
    })?;
    let list = match &doc {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("secrets").and_then(|s| s.as_array()) {
            Some(a) => a,
            None => bail!(
                "--github-secrets {}: no `secrets` list (expected `gh secret list --json name,updatedAt` output or the REST API's answer)",
                path.display()
            ),
        },
        _ => bail!(
            "--github-secrets {}: expected a list of secrets",
            path.display()
        ),
    };
    let mut out = BTreeMap::new();
    for (i, s) in list.iter().enumerate() {
        let name = s["name"].as_str();
        let when = s["updatedAt"]
            .as_str()
            .or(s["updated_at"].as_str())
            .or(s["created_at"].as_str());
        let (Some(name), Some(when)) = (name, when) else {
            bail!(
                "--github-secrets {}: entry {} has no name or updatedAt/updated_at",
                path.display(),
                i + 1
            );
        };
        let when = DateTime::parse_from_rfc3339(when).with_context(|| {
            format!(
                "--github-secrets {}: `{name}` has a bad date",
                path.display()
            )
        })?;
        out.insert(name.to_string(), when.with_timezone(&Utc));
    }
    Ok(out)
}

fn read_certs(cx: &Context, paths: &[PathBuf], report: &mut Report) -> Vec<certs::Cert> {
    let mut out = Vec::new();
    for p in paths {
        if !p.exists() {
            report.incomplete = true;
            let msg = format!("{}: no such certificate file or folder", cx.rel(p));
            report.push(Finding::new(codes::INPUT_ERROR, Severity::High, msg).at(cx.rel(p)));
            continue;
        }
        let explicit = !p.is_dir();
        for file in certs::files(p) {
            let rel = cx.rel(&file);
            match certs::read(&file) {
                Ok(c) if c.is_empty() && explicit => {
                    report.incomplete = true;
                    let msg = format!("{rel}: no PEM certificate in it");
                    report.push(Finding::new(codes::INPUT_ERROR, Severity::High, msg).at(rel));
                }
                Ok(c) => out.extend(c),
                Err(why) => {
                    report.incomplete = true;
                    report.push(
                        Finding::new(codes::INPUT_ERROR, Severity::High, format!("{rel}: {why}"))
                            .at(rel),
                    );
                }
            }
        }
    }
    out
}

fn present_certs(cx: &Context, certs: &[certs::Cert], now: DateTime<Utc>, report: &mut Report) {
    let mut t = Table::new(
        "Certificates",
        &["file", "#", "subject", "issuer", "not after", "days left"],
    );
    let mut data = Vec::new();
    for c in certs {
        let rel = cx.rel(&c.path);
        let days_left = (c.not_after.date_naive() - now.date_naive()).num_days();
        let not_after = c.not_after.format("%Y-%m-%d %H:%M:%S UTC").to_string();
        t.row(vec![
            rel.clone(),
            c.index.to_string(),
            c.subject.clone(),
            c.issuer.clone(),
            not_after.clone(),
            days_left.to_string(),
        ]);
        let fields = json!({"path": rel, "index": c.index, "line": c.line, "subject": c.subject, "issuer": c.issuer, "not_after": not_after, "days_left": days_left});
        data.push(fields.clone());
        let (code, severity, what) = if c.not_after <= now {
            (
                codes::CERT_EXPIRED,
                Severity::Critical,
                format!("expired on {not_after}"),
            )
        } else if days_left < CERT_HIGH_DAYS {
            (
                codes::CERT_EXPIRING,
                Severity::High,
                format!("expires in {days_left} days ({not_after})"),
            )
        } else if days_left < CERT_MEDIUM_DAYS {
            (
                codes::CERT_EXPIRING,
                Severity::Medium,
                format!("expires in {days_left} days ({not_after})"),
            )
        } else {
            continue;
        };
        let msg = format!(
            "certificate {} of {rel} ({}) {what}: renew it",
            c.index, c.subject
        );
        let mut f = Finding::new(code, severity, msg).at_line(&rel, c.line);
        for k in ["index", "subject", "issuer", "not_after", "days_left"] {
            f.extra.insert(k.into(), fields[k].clone());
        }
        report.push(f);
    }
    report.tables.push(t);
    report.set("certificates", data);
}

/// `secrets rotated NAME [--at DATE]`: append one record to the rotation log.
pub fn rotated(cx: &Context, name: &str, at: Option<NaiveDate>) -> Result<Report> {
    if !log::valid_name(name) {
        // Not echoed: what was given may hold a value (`NAME=value`).
        bail!(
            "not a secret name (letters, digits, `_`, `-`, `.` only): give the name, never the value"
        );
    }
    let today = Utc::now().date_naive();
    let at = at.unwrap_or(today);
    if at > today {
        bail!("--at {at} is in the future: give the day the rotation was done");
    }
    let path = log::path(cx);
    let line = json!({
        "time": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "name": name,
        "at": at.to_string(),
        "actor": crate::context::actor(),
    });
    files::create_private_dir(&cx.store().dir)?;
    files::create_private_dir(path.parent().expect("the log is in a folder"))?;
    files::append(&path, format!("{line}\n").as_bytes())?;
    let mut report = Report::new("secrets rotated");
    report.summary("recorded", format!("{name} rotated on {at}"));
    report.summary("log", cx.rel(&path));
    report.set("name", name);
    report.set("at", at.to_string());
    report.set("log", cx.rel(&path));
    Ok(report)
}
