//! The audit log (the runbook's "Audit Logging"): one JSON line per deploy, rollback, backup
//! and restore, whatever its outcome. Which commands are logged is decided from the parsed
//! command ([`crate::cli::Command::audited`]), never from raw argv.

use crate::context::Context;
use crate::util::files;

/// Append one line (time, actor, command, outcome), O_APPEND and fsynced. A failure to
/// write is a warning: the command's own result stands.
pub fn append(cx: &Context, command: &str, outcome: &str) {
    let path = cx.store().dir.join("audit.log");
    let line = serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "actor": crate::context::actor(),
        "command": command,
        "outcome": outcome,
    });
    let result = files::create_private_dir(&cx.store().dir)
        .and_then(|()| files::append(&path, format!("{line}\n").as_bytes()));
    if let Err(e) = result {
        eprintln!("warning: could not append to {}: {e:#}", path.display());
    }
}
