//! Which kind a secret is and which rotation policy applies: the `[secrets.inventory]`
//! entry of its name, else the first glob entry that matches it (the longest pattern
//! wins), else the default classification of names.

use crate::config::{SecretEntry, SecretKind, SecretsConfig};
use crate::util::glob;

/// How a name was classified.
pub struct Class<'a> {
    pub kind: Option<SecretKind>,
    /// The exact inventory entry of the name, if any.
    pub exact: Option<&'a SecretEntry>,
    /// The glob entry that matched, if any.
    pub pattern: Option<&'a SecretEntry>,
}

impl Class<'_> {
    pub fn owner(&self) -> Option<&str> {
        self.exact
            .and_then(|e| e.owner.as_deref())
            .or_else(|| self.pattern.and_then(|e| e.owner.as_deref()))
    }

    /// Days allowed between rotations: the name's own, its pattern's, or its kind's.
    pub fn policy(&self, cfg: &SecretsConfig) -> Option<u32> {
        let own = self.exact.and_then(|e| e.max_age_days);
        let m = &cfg.max_age_days;
        own.or_else(|| self.pattern.and_then(|e| e.max_age_days))
            .or(match self.kind? {
                SecretKind::ApiKey => Some(m.api_key),
                SecretKind::DbPassword => Some(m.db_password),
                SecretKind::SshKey => Some(m.ssh_key),
                SecretKind::TlsCert => m.tls_cert,
                SecretKind::Other => m.other,
            })
    }
}

pub fn classify<'a>(name: &str, cfg: &'a SecretsConfig) -> Class<'a> {
    let exact = cfg.inventory.get(name);
    let pattern = cfg
        .inventory
        .iter()
        .filter(|(p, _)| {
            glob::has_wildcard(p)
                && glob::matches(&p.to_ascii_uppercase(), &name.to_ascii_uppercase())
        })
        .max_by_key(|(p, _)| p.len())
        .map(|(_, e)| e);
    let kind = exact
        .and_then(|e| e.kind)
        .or_else(|| pattern.and_then(|e| e.kind))
        .or_else(|| default_kind(name));
    Class {
        kind,
        exact,
        pattern,
    }
}

/// The defaults: `*SSH*`, `*DEPLOY_KEY*` → ssh-key; `*PASSWORD*`, `*_PASS` →
/// db-password; `*_API_KEY`, `*_TOKEN`, `*_KEY` → api-key.
pub fn default_kind(name: &str) -> Option<SecretKind> {
    let n = name.to_ascii_uppercase();
    let any = |pats: &[&str]| pats.iter().any(|p| glob::matches(p, &n));
    if any(&["*SSH*", "*DEPLOY_KEY*"]) {
        Some(SecretKind::SshKey)
    } else if any(&["*PASSWORD*", "*_PASS", "*_PASSWD"]) {
        Some(SecretKind::DbPassword)
    } else if any(&["*_API_KEY", "*_TOKEN", "*_KEY", "API_KEY", "TOKEN"]) {
        Some(SecretKind::ApiKey)
    } else {
        None
    }
}

pub fn kind_name(kind: Option<SecretKind>) -> &'static str {
    match kind {
        Some(SecretKind::ApiKey) => "api-key",
        Some(SecretKind::DbPassword) => "db-password",
        Some(SecretKind::SshKey) => "ssh-key",
        Some(SecretKind::TlsCert) => "tls-cert",
        Some(SecretKind::Other) => "other",
        None => "unclassified",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_classification() {
        assert_eq!(default_kind("OPENAI_API_KEY"), Some(SecretKind::ApiKey));
        assert_eq!(default_kind("PYPI_TOKEN"), Some(SecretKind::ApiKey));
        assert_eq!(
            default_kind("DATABASE_PASSWORD"),
            Some(SecretKind::DbPassword)
        );
        assert_eq!(default_kind("REDIS_PASS"), Some(SecretKind::DbPassword));
        assert_eq!(
            default_kind("DEPLOY_SSH_KEY"),
            Some(SecretKind::SshKey),
            "SSH before *_KEY"
        );
        assert_eq!(default_kind("PROD_DEPLOY_KEY"), Some(SecretKind::SshKey));
        assert_eq!(default_kind("SLACK_WEBHOOK_URL"), None);
    }

    #[test]
    fn inventory_wins_and_longest_pattern_first() {
        let cfg: SecretsConfig = toml::from_str(
            "[inventory]\n\"*_KEY\" = { kind = \"other\" }\n\"STRIPE_*_KEY\" = { kind = \"api-key\", max_age_days = 30 }\nWEIRD = { kind = \"db-password\", owner = \"dba\" }\n",
        )
        .unwrap();
        assert_eq!(classify("WEIRD", &cfg).kind, Some(SecretKind::DbPassword));
        assert_eq!(classify("WEIRD", &cfg).owner(), Some("dba"));
        assert_eq!(classify("WEIRD", &cfg).policy(&cfg), Some(180));
        let stripe = classify("STRIPE_LIVE_KEY", &cfg);
        assert_eq!(
            (stripe.kind, stripe.policy(&cfg)),
            (Some(SecretKind::ApiKey), Some(30))
        );
        assert_eq!(classify("OTHER_KEY", &cfg).policy(&cfg), None);
    }
}
