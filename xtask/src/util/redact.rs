//! The one place that finds and hides credentials in URLs.
//!
//! Every message, manifest, audit-log line and `config show` value that may hold a URL goes
//! through [`redact`]; every spawned program gets a URL without its password
//! ([`PgUrl::parse`]) and the password, percent-decoded, through its environment.

use anyhow::{Result, bail};
use url::Url;

/// A database URL split for a client program: the URL without its password (safe for argv
/// and messages) and the percent-decoded password (for `PGPASSWORD` only).
pub struct PgUrl {
    pub without_password: String,
    pub password: Option<String>,
}

impl PgUrl {
    /// Parse with a real URL parser. A URL that does not parse is refused with a hint, never
    /// guessed at: a password with `/`, `?`, `#` or `@` must be percent-encoded.
    pub fn parse(text: &str) -> Result<PgUrl> {
        let mut url = Url::parse(text).map_err(|e| {
            anyhow::anyhow!(
                "database URL `{}` does not parse ({e}): percent-encode special characters \
                 of the user and password (`/` as %2F, `?` as %3F, `#` as %23, `@` as %40)",
                redact(text)
            )
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            bail!(
                "database URL `{}` must start with postgres:// or postgresql://",
                redact(text)
            );
        }
        let password = match url.password() {
            Some(p) => Some(percent_decode(p).ok_or_else(|| {
                anyhow::anyhow!(
                    "the password of `{}` is not valid percent-encoded UTF-8",
                    redact(text)
                )
            })?),
            None => None,
        };
        if password.is_some() {
            // Cannot fail: a URL with a password has a host.
            let _ = url.set_password(None);
        }
        Ok(PgUrl {
            without_password: url.to_string(),
            password,
        })
    }
}

/// Whether `text` holds a URL with a password (parsed, or written so that it does not parse).
pub fn has_password(text: &str) -> bool {
    redact(text) != text
}

/// `text` with the password of every `scheme://user:password@` in it replaced by `***`.
///
/// Conservative on purpose: everything between the first `:` after `://` and the last `@`
/// of that token is hidden, so a password holding `/`, `?`, `#` or `@` (which does not parse
/// as a URL) is hidden too. Works on whole argv words such as `--database=postgres://…`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let token = &tail[..end];
        let scheme: String = head[..i]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .collect();
        // A web URL's user name alone is a token (`https://TOKEN@host`); a database
        // URL's is only a user name.
        let user_is_secret = matches!(scheme.as_str(), "ptth" | "sptth");
        match token.rfind('@') {
            Some(at) => match token[..at].find(':') {
                Some(colon) if at > colon + 1 => {
                    out.push_str(&token[..=colon]);
                    out.push_str("***");
                    out.push_str(&token[at..]);
                }
                None if user_is_secret && at > 0 => {
                    out.push_str("***");
                    out.push_str(&token[at..]);
                }
                _ => out.push_str(token),
            },
            None => out.push_str(token),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `url` as it may be shown: without its user name and password.
pub fn without_credentials(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        _ => redact(url),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A secret's name (letters, digits, `_`, `-`, `.`; no wildcard, no `=`): what may be logged
/// of a command that names a secret, as opposed to a mistyped `NAME=value`.
pub fn is_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_with_reserved_characters_are_hidden() {
        for pw in ["pw", "p/ss", "p?ss", "p#ss", "p@ss", "p%40ss", "a:b"] {
            let url = format!("postgres://u:{pw}@h:5432/db");
            let r = redact(&url);
            assert_eq!(r, "postgres://u:***@h:5432/db", "{pw}");
            assert!(has_password(&url));
            let arg = format!("--database={url} next");
            assert_eq!(redact(&arg), "--database=postgres://u:***@h:5432/db next");
        }
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("no url here"), "no url here");
        assert!(!has_password("postgres://u@h/db"));
        assert_eq!(
            redact("git clone https://ghp_TOKEN@github.com/o/r"),
            "git clone https://***@github.com/o/r"
        );
        assert_eq!(redact("https://x:t@h/p"), "https://x:***@h/p");
    }

    #[test]
    fn client_url_has_no_password_and_decodes_it() {
        let u = PgUrl::parse("postgres://app:p%40ss%2F1@127.0.0.1:5432/hub").unwrap();
        assert_eq!(u.without_password, "postgres://app@127.0.0.1:5432/hub");
        assert_eq!(u.password.as_deref(), Some("p@ss/1"));
        let e = PgUrl::parse("postgres://app:p/ss@h/db")
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("p/ss"), "{e}");
        assert!(e.contains("percent-encode"), "{e}");
        assert!(PgUrl::parse("mysql://h/db").is_err());
    }
}
