//! The plan a dry run prints: the exact commands, with their environment, as shell lines
//! that can be pasted (every word quoted where a shell would read it otherwise).

use super::compose::{Availability, Target};
use crate::report::{Report, Table};

/// `word` as a POSIX shell reads it back: unchanged when it is plain, else single-quoted.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `VAR=VERSION prog args...`, quoted.
fn line(var: &str, version: &str, argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|w| quote(w)).collect();
    format!("{var}={} {}", quote(version), words.join(" "))
}

pub fn plan(
    t: &Target<'_>,
    version: &str,
    image: &(String, Availability),
    report: &mut Report,
    with_backup: bool,
) {
    let cfg = &t.cx.config.deploy;
    let mut steps = Table::new("Plan (dry run: nothing was changed)", &["step", "what"]);
    steps.row(vec![
        "image".into(),
        format!("{} ({})", image.0, image.1.describe()),
    ]);
    if with_backup && cfg.backup_db {
        // As the real run: no database at the default path, no backup (a configured path
        // that is missing refused the run before this).
        let what = match crate::backup::db::missing_database(t.cx) {
            Some((path, _)) => format!("none: no database at {}", t.cx.rel(&path)),
            None => "cargo xtask backup db".into(),
        };
        steps.row(vec!["backup".into(), what]);
    }
    if !cfg.migrate.is_empty() && with_backup {
        steps.row(vec![
            "migrate".into(),
            line(&cfg.variable, version, &cfg.migrate),
        ]);
    }
    let mut argv = vec![t.compose[0].clone()];
    argv.extend(t.compose_args(&["up", "-d", "--no-deps", &cfg.service]));
    steps.row(vec!["deploy".into(), line(&cfg.variable, version, &argv)]);
    steps.row(vec![
        "health".into(),
        format!(
            "wait up to {} s for the container's health status",
            cfg.health_timeout_secs
        ),
    ]);
    for c in &t.envcfg.smoke {
        steps.row(vec![
            "smoke".into(),
            format!(
                "GET {} expecting {} (timeout {} s, {} retries)",
                c.url, c.status, c.timeout_secs, c.retries
            ),
        ]);
    }
    if t.envcfg.smoke.is_empty() && t.envcfg.smoke_script.is_none() {
        steps.row(vec![
            "smoke".into(),
            "none configured: only the health gate decides".into(),
        ]);
    }
    if let Some(s) = &t.envcfg.smoke_script {
        steps.row(vec![
            "smoke".into(),
            format!("{} {}", quote(s), quote(&t.env)),
        ]);
    }
    report.tables.push(steps);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_a_shell_would_split_or_expand_are_quoted() {
        assert_eq!(quote("docker-compose"), "docker-compose");
        assert_eq!(quote("v1.2_3"), "v1.2_3");
        assert_eq!(quote("echo $APP_TAG done"), "'echo $APP_TAG done'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(
            line(
                "APP_TAG",
                "v1",
                &["sh".into(), "-c".into(), "a && b".into()]
            ),
            "APP_TAG=v1 sh -c 'a && b'"
        );
    }
}
