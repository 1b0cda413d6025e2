//! `metrics push URL`: the exposition to a Prometheus Pushgateway, with PUT semantics: the
//! group `job/<job>/instance/<instance>` is replaced as a whole, so a metric that is gone
//! (a pruned backup kind, a removed environment) does not linger from an older push.

use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};

use super::collect::{Memo, collect};
use super::exposition::Format;
use crate::context::Context;
use crate::report::Report;
use crate::util::{http, redact};

/// Deadline of the push.
const TIMEOUT_SECS: u64 = 30;

/// The Pushgateway's base URL: http(s), with a host, no query or fragment.
fn base(url: &str) -> Result<String> {
    let shown = redact::redact(url);
    let parsed =
        url::Url::parse(url).with_context(|| format!("`{shown}` is not a Pushgateway URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        bail!("`{shown}`: give the Pushgateway as http://HOST:PORT (or https://)");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("`{shown}`: give the Pushgateway's base URL, without `?` or `#`");
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// `/NAME/VALUE` of a grouping key: the value as it is when it is plain (letters, digits,
/// `-`, `_`, `.`), else base64url-encoded with the Pushgateway's `@base64` suffix (a value
/// with `/`, a space, or an empty one).
fn key(name: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if plain {
        format!("/{name}/{value}")
    } else {
        format!("/{name}@base64/{}", base64url(value.as_bytes()))
    }
}

/// RFC 4648 §5 base64url with padding (an empty value is `=`, as the Pushgateway wants).
fn base64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if bytes.is_empty() {
        return "=".into();
    }
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// This machine's name: the default `instance`.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

pub fn run(
    cx: &Context,
    url: &str,
    job: Option<String>,
    instance: Option<String>,
) -> Result<Report> {
    let base = base(url)?;
    let job = job.unwrap_or_else(|| cx.config.metrics.job.clone());
    let instance = instance.unwrap_or_else(hostname);
    let group = format!("{}{}", key("job", &job), key("instance", &instance));
    let collected = collect(cx, &Mutex::new(Memo::default()));
    let body = collected.render(Format::Text, None);
    let target = format!("{base}/metrics{group}");
    let (status, answer) = http::put(
        &target,
        body.as_bytes(),
        Format::Text.content_type(),
        TIMEOUT_SECS,
    )?;
    let shown = crate::util::redact::without_credentials(&target);
    if !(200..300).contains(&status) {
        bail!(
            "the Pushgateway refused the metrics at {shown} (HTTP {status}): {}",
            answer.trim()
        );
    }
    let mut report = super::report_of(&collected, "metrics push");
    report.summary("pushed to", &shown);
    report.set("url", &shown);
    report.set("job", &job);
    report.set("instance", &instance);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_keys_encode_what_is_not_plain() {
        assert_eq!(key("job", "xtask"), "/job/xtask");
        assert_eq!(key("instance", "ci-1.example"), "/instance/ci-1.example");
        // The Pushgateway's own examples: "/var/tmp" and the empty value.
        assert_eq!(key("path", "/var/tmp"), "/path@base64/L3Zhci90bXA=");
        assert_eq!(key("instance", ""), "/instance@base64/=");
        assert_eq!(base64url(b"\xfb\xff"), "-_8=");
        assert_eq!(base64url(b"abc"), "YWJj");
        assert_eq!(base64url(b"ab"), "YWI=");
    }

    #[test]
    fn base_urls_are_http_without_query() {
        assert_eq!(base("http://pg:9091/").unwrap(), "http://pg:9091");
        for bad in ["ftp://pg/", "pg:9091", "http://pg:9091/?x=1", "http://"] {
            assert!(base(bad).is_err(), "{bad}");
        }
        let e = base("file://u:hunter2@h/x").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
