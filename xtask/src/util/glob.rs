//! The small glob dialect config paths use: `*` and `?` within one path component, `**`
//! across components. Paths are `/`-separated and relative to the root.

/// Does `pattern` match the whole of `path`?
pub fn matches(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_parts(&pat, &parts)
}

/// Pattern without `/` → matched against the file name; otherwise against the whole path.
/// A pattern also matches everything below a matching directory.
pub fn matches_path_or_name(pattern: &str, rel: &str) -> bool {
    if !pattern.contains('/') {
        return rel
            .split('/')
            .any(|c| component(pattern.as_bytes(), c.as_bytes()));
    }
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    (1..=parts.len()).any(|n| match_parts(&pat, &parts[..n]))
}

pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

fn match_parts(pat: &[&str], parts: &[&str]) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => (0..=parts.len()).any(|i| match_parts(rest, &parts[i..])),
        Some((p, rest)) => match parts.split_first() {
            Some((c, tail)) => component(p.as_bytes(), c.as_bytes()) && match_parts(rest, tail),
            None => false,
        },
    }
}

/// Classic wildcard match of one component, iterative with backtracking on the last `*`.
fn component(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let check = |p: &str, s: &str, want: bool| assert_eq!(matches(p, s), want, "{p} vs {s}");
        check("Dockerfile*", "Dockerfile", true);
        check("Dockerfile*", "Dockerfile.prod", true);
        check("Dockerfile*", "sub/Dockerfile", false);
        check("docker-compose*.yml", "docker-compose.staging.yml", true);
        check("docker-compose*.yml", "docker-compose.yaml", false);
        check("a/**/b.txt", "a/b.txt", true);
        check("a/**/b.txt", "a/x/y/b.txt", true);
        check("a/?.txt", "a/xy.txt", false);
        check("*.k*y", "id.key", true);
    }

    #[test]
    fn name_or_path() {
        assert!(matches_path_or_name("*.pem", "config/tls/server.pem"));
        assert!(matches_path_or_name("id_rsa*", "scripts/id_rsa.pub"));
        assert!(matches_path_or_name("config/local", "config/local/a.yml"));
        assert!(!matches_path_or_name("config/local", "config/locals.yml"));
        assert!(matches_path_or_name(
            "node_modules",
            "scripts/node_modules/x.js"
        ));
    }
}
