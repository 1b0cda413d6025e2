//! Secrets and certificates, as `secrets check` assesses them: names, dates and expiry,
//! never a value (a secret's name is a label; nothing else of it is read).

use std::sync::Mutex;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::catalog as m;
use super::collect::Memo;
use super::exposition::Family;
use crate::context::Context;
use crate::secrets::{self, Status};

const DAY: f64 = 86_400.0;

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::DueSoon => "due-soon",
        Status::Overdue => "overdue",
        Status::Unknown => "unknown",
        Status::NoPolicy => "no-policy",
    }
}

pub fn secrets(cx: &Context, now: DateTime<Utc>, _: &Mutex<Memo>) -> Result<Vec<Family>> {
    let github = cx
        .config
        .metrics
        .github_secrets
        .as_ref()
        .map(|p| cx.root.join(p));
    let state = secrets::state(cx, github.as_deref())?;
    let mut by_status = Family::new(&m::SECRETS);
    for status in [
        Status::Ok,
        Status::DueSoon,
        Status::Overdue,
        Status::Unknown,
        Status::NoPolicy,
    ] {
        let n = state.secrets.iter().filter(|s| s.status == status).count();
        by_status.push(&[status_name(status)], n as f64);
    }
    let mut age = Family::new(&m::SECRET_AGE);
    let mut max_age = Family::new(&m::SECRET_MAX_AGE);
    let mut overdue = Family::new(&m::SECRET_OVERDUE);
    for s in &state.secrets {
        let labels = [s.name.as_str(), s.kind];
        if let Some(day) = s.last_rotated {
            let since = now - day.and_time(chrono::NaiveTime::MIN).and_utc();
            age.push(&labels, since.num_seconds().max(0) as f64);
        }
        if let Some(days) = s.policy_days {
            max_age.push(&labels, f64::from(days) * DAY);
        }
        if matches!(s.status, Status::Ok | Status::DueSoon | Status::Overdue) {
            overdue.push(&labels, f64::from(u8::from(s.status == Status::Overdue)));
        }
    }
    let mut expiry = Family::new(&m::CERT_EXPIRY);
    for c in &state.certs {
        let index = c.index.to_string();
        expiry.push(&[&cx.rel(&c.path), &index], c.not_after.timestamp() as f64);
    }
    Ok(vec![by_status, age, max_age, overdue, expiry])
}
