//! `hardcoded-credentials`: a password or token written into the workflow: a literal
//! `password:` of `container:`/`services.*.credentials`, a secret-named `env:` variable with
//! a literal value, or `--password VALUE` / `-p VALUE` (for login commands) in `run:`.
//! The value itself is never shown.

use super::{Hit, Job, Rule, Wf};
use crate::report::{Severity, codes};
use crate::workflows::yaml::Node;

pub struct HardcodedCredentials;

const FIX: &str = "store it as a secret and use `${{ secrets.NAME }}`";

impl Rule for HardcodedCredentials {
    fn workflow(&self, wf: &Wf, out: &mut Vec<Hit>) {
        env(wf.root, "the workflow's", Severity::High, out);
    }

    fn job(&self, _wf: &Wf, job: &Job, out: &mut Vec<Hit>) {
        env(
            job.node,
            &format!("job `{}`'s", job.id),
            Severity::High,
            out,
        );
        if let Some(c) = job.node.get("container") {
            credentials(c, "the job container", out);
        }
        for (name, svc) in job.services() {
            credentials(svc, &format!("service `{name}`"), out);
            // A throwaway service database's password matters less than a real one.
            env(svc, &format!("service `{name}`'s"), Severity::Low, out);
        }
    }

    fn step(&self, wf: &Wf, _job: Option<&Job>, step: &Node, out: &mut Vec<Hit>) {
        env(step, "the step's", Severity::High, out);
        let Some(run) = step.get("run") else { return };
        let Some(text) = run.str() else { return };
        let mut cursor = run.pos.offset;
        for line in text.lines() {
            let Some(flag) = literal_password_flag(line) else {
                continue;
            };
            let pos = wf.locate_from(run, cursor, line.trim());
            cursor = pos.offset + 1;
            let msg = format!("a literal password follows `{flag}` in `run:`");
            out.push(Hit::new(
                codes::HARDCODED_CREDENTIALS,
                Severity::High,
                pos,
                msg,
                FIX,
            ));
        }
    }
}

fn literal(value: &Node) -> bool {
    value
        .str()
        .is_some_and(|v| !v.trim().is_empty() && !v.contains("${{") && !v.starts_with('$'))
}

fn credentials(node: &Node, whose: &str, out: &mut Vec<Hit>) {
    let Some((key, value)) = node.get("credentials").and_then(|c| c.entry("password")) else {
        return;
    };
    if literal(value) {
        let msg = format!("the registry password of {whose} is a literal");
        out.push(Hit::new(
            codes::HARDCODED_CREDENTIALS,
            Severity::High,
            key.pos,
            msg,
            FIX,
        ));
    }
}

fn env(node: &Node, whose: &str, severity: Severity, out: &mut Vec<Hit>) {
    for (key, value) in node.get("env").map(Node::entries).unwrap_or_default() {
        let name = key.str().unwrap_or_default();
        if secret_name(name) && literal(value) {
            let msg = format!("{whose} `{name}` is a literal value");
            out.push(Hit::new(
                codes::HARDCODED_CREDENTIALS,
                severity,
                key.pos,
                msg,
                FIX,
            ));
        }
    }
}

/// A variable name that holds a credential.
fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "SECRET",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
    ]
    .iter()
    .any(|w| n.contains(w))
        || n.ends_with("_PASS")
        || n.ends_with("_PWD")
}

/// `--password VALUE`, `--password=VALUE`, `--token VALUE`, and `-p VALUE` / `-pVALUE` of
/// login commands, where VALUE is not a variable: the flag, or None.
fn literal_password_flag(line: &str) -> Option<&'static str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let login = line.contains("login")
        || words
            .iter()
            .any(|w| w.starts_with("mysql") || *w == "sshpass");
    let is_value = |v: &str| {
        let v = v.trim_matches(['"', '\'']);
        !v.is_empty() && !v.starts_with('$') && !v.starts_with('-') && !v.starts_with('<')
    };
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).copied().unwrap_or_default();
        for flag in ["--password", "--token", "--api-key"] {
            if *w == flag && is_value(next) {
                return Some(flag);
            }
            if let Some(v) = w.strip_prefix(flag).and_then(|r| r.strip_prefix('='))
                && is_value(v)
            {
                return Some(flag);
            }
        }
        if login && *w == "-p" && is_value(next) {
            return Some("-p");
        }
        if login
            && w.len() > 2
            && w.starts_with("-p")
            && words.iter().any(|w| w.starts_with("mysql"))
            && is_value(&w[2..])
        {
            return Some("-p");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_flags() {
        assert_eq!(
            literal_password_flag("docker login -u me -p hunter2 ghcr.io"),
            Some("-p")
        );
        assert_eq!(
            literal_password_flag("mysql -uroot -phunter2 db"),
            Some("-p")
        );
        assert_eq!(
            literal_password_flag("cli --password=hunter2"),
            Some("--password")
        );
        assert_eq!(
            literal_password_flag("docker login -u me -p \"$TOKEN\" ghcr.io"),
            None
        );
        assert_eq!(literal_password_flag("cli --password-stdin < f"), None);
        assert_eq!(literal_password_flag("mkdir -p build"), None);
        assert_eq!(literal_password_flag("docker run -p 8080:80 app"), None);
        assert!(secret_name("DB_PASSWORD") && secret_name("NPM_TOKEN") && !secret_name("PATH"));
    }
}
