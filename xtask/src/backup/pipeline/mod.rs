//! `backup config`: what to archive (a plan built from the config), and writing it.

pub mod archive;

use std::collections::BTreeMap;
use std::fs;
use std::io::BufWriter;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use walkdir::WalkDir;

use super::Kind;
use super::store::{self, Store};
use crate::config::PipelineConfig;
use crate::context::Context;
use crate::report::{Finding, Report, Severity, codes, human_bytes};
use crate::util::files;
use crate::util::glob;
use archive::{EntryKind, FORMAT, LeftOut, LeftOutWhy, MANIFEST_NAME, Manifest, ManifestEntry};

/// File names that hold credentials, matched case-insensitively (`.ENV`, `Server.PEM`);
/// `pipeline.include_secrets` overrides.
pub const SECRET_NAMES: &[&str] = &[
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.ppk",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".htpasswd",
    ".dockercfg",
    ".vault-token",
    "credentials.json",
    "service-account*.json",
    "secrets.yaml",
    "secrets.yml",
    "secrets.json",
    "secrets.toml",
    "kubeconfig",
    "*.kubeconfig",
    "*.tfvars",
    "*.tfvars.json",
    "*.tfstate",
];

/// Credential files known by their folder as well as their name, wherever they are.
pub const SECRET_PATHS: &[&str] = &[".aws/credentials", ".docker/config.json", ".kube/config"];

/// Endings of copies, which hold the same secret as the original (`tls.key.bak`, `.env~`).
const COPY_SUFFIXES: &[&str] = &[
    ".bak", ".backup", ".old", ".orig", ".save", ".swp", ".tmp", ".copy", "~",
];

/// Does the file at `rel` (relative, `/`-separated) look like it holds credentials?
pub fn is_secret(rel: &str) -> bool {
    let rel = rel.to_lowercase();
    let mut path = rel.as_str();
    loop {
        let name = path.rsplit('/').next().unwrap_or(path);
        let by_name = SECRET_NAMES.iter().any(|p| glob::matches(p, name));
        let by_path = SECRET_PATHS
            .iter()
            .any(|p| path == *p || path.ends_with(&format!("/{p}")));
        if by_name || by_path {
            return true;
        }
        match COPY_SUFFIXES.iter().find_map(|s| path.strip_suffix(s)) {
            Some(original) if !original.ends_with('/') && !original.is_empty() => path = original,
            _ => return false,
        }
    }
}

/// What a backup would contain and what it leaves out.
#[derive(Debug, Default)]
pub struct Plan {
    pub manifest: Manifest,
    /// Absolute source path of every manifest entry.
    pub sources: BTreeMap<String, PathBuf>,
    pub secrets: Vec<String>,
    pub excluded: Vec<String>,
    pub findings: Vec<Finding>,
}

/// The backup store must not lie inside a pipeline path: backups would archive the store,
/// so the walk leaves it out, and with it (`backup.dir = "config"`) the whole path.
pub fn check_store_outside(root: &Path, store_dir: &Path, cfg: &PipelineConfig) -> Result<()> {
    let store = real(store_dir);
    for entry in &cfg.paths {
        for p in expand(root, entry)? {
            if store.starts_with(real(&p)) {
                bail!(
                    "backup.dir ({}) lies inside the pipeline path `{entry}` ({}): its backups would leave `{entry}` out; \
                     set backup.dir outside every pipeline path (the default is `backups`) or remove `{entry}` from pipeline.paths",
                    store_dir.display(),
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// `p` with links resolved as far as it exists (the rest as written, without `.`).
fn real(p: &Path) -> PathBuf {
    let mut existing = p;
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for comp in rest.iter().rev() {
                out.push(comp);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return p.components().collect(),
        }
    }
}

pub fn plan(root: &Path, store_dir: &Path, cfg: &PipelineConfig, explicit: bool) -> Result<Plan> {
    check_store_outside(root, store_dir, cfg)?;
    let mut plan = Plan::default();
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let store_dir = real(store_dir);
    let defaults = PipelineConfig::default();
    for entry in &cfg.paths {
        let before = found.len();
        for p in expand(root, entry)? {
            walk(root, &p, &store_dir, &mut found)?;
        }
        // The runbook's default paths are optional (not every tree has azure-pipelines.yml
        // or bandit.yaml); a path the user added to pipeline.paths is expected to exist.
        if found.len() == before && explicit && !defaults.paths.contains(entry) {
            plan.findings.push(Finding::new(
                codes::PIPELINE_PATH_MISSING,
                Severity::Medium,
                format!("`{entry}` (pipeline.paths) matched nothing under the root"),
            ));
        }
    }

    for (rel, abs) in found {
        let excluded_by =
            |patterns: &[String]| patterns.iter().any(|p| glob::matches_path_or_name(p, &rel));
        if excluded_by(&cfg.exclude) {
            plan.excluded.push(rel);
            continue;
        }
        if is_secret(&rel) && !excluded_by(&cfg.include_secrets) {
            plan.findings.push(
                Finding::new(
                    codes::SECRET_EXCLUDED,
                    Severity::Info,
                    "looks like a secret: left out (list it in pipeline.include_secrets to keep it)",
                )
                .at(rel.clone()),
            );
            plan.secrets.push(rel);
            continue;
        }
        let meta =
            fs::symlink_metadata(&abs).with_context(|| format!("reading {}", abs.display()))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&abs)?;
            let target_s = target.to_string_lossy().into_owned();
            if let Err(why) = archive::safe_link(&rel, &target_s) {
                plan.findings.push(
                    Finding::new(
                        codes::SYMLINK_OUTSIDE_TREE,
                        Severity::Low,
                        format!("link to `{target_s}` left out: {why}"),
                    )
                    .at(rel.clone()),
                );
                continue;
            }
            plan.manifest.files.push(ManifestEntry {
                path: rel.clone(),
                kind: EntryKind::Symlink,
                size: 0,
                mode: 0o777,
                sha256: None,
                target: Some(target_s),
            });
        } else if ft.is_file() {
            let (sha, size) = archive::hash_file(&abs)?;
            plan.manifest.files.push(ManifestEntry {
                path: rel.clone(),
                kind: EntryKind::File,
                size,
                mode: archive::normal_mode(meta.permissions().mode()),
                sha256: Some(sha),
                target: None,
            });
        } else {
            plan.findings.push(
                Finding::new(
                    codes::UNSUPPORTED_FILE_TYPE,
                    Severity::Low,
                    "not a regular file or link (socket, FIFO or device): left out",
                )
                .at(rel.clone()),
            );
            continue;
        }
        plan.sources.insert(rel, abs);
    }
    drop_chained_links(&mut plan);
    plan.manifest.format = FORMAT.to_string();
    plan.manifest.left_out = left_out(&plan);
    Ok(plan)
}

/// What the archive leaves out on purpose, for its manifest (restore names them).
fn left_out(plan: &Plan) -> Vec<LeftOut> {
    let secrets = plan.secrets.iter().map(|p| (p, LeftOutWhy::Secret));
    let excluded = plan.excluded.iter().map(|p| (p, LeftOutWhy::Excluded));
    let mut v: Vec<LeftOut> = secrets
        .chain(excluded)
        .map(|(path, why)| LeftOut {
            path: path.clone(),
            why,
        })
        .collect();
    v.sort_by(|a, b| a.path.cmp(&b.path));
    v
}

/// Links that stay inside one by one but lead outside (or loop) through other links of the
/// tree are left out, as restore would refuse them; until none is left, as leaving one out
/// changes where the others lead.
fn drop_chained_links(plan: &mut Plan) {
    loop {
        let links: BTreeMap<String, String> = plan
            .manifest
            .files
            .iter()
            .filter_map(|e| Some((e.path.clone(), e.target.clone()?)))
            .collect();
        let bad: Vec<(String, String)> = links
            .iter()
            .filter_map(|(l, t)| Some((l.clone(), archive::resolve_link(l, t, &links).err()?)))
            .collect();
        if bad.is_empty() {
            return;
        }
        for (link, why) in bad {
            plan.findings.push(
                Finding::new(
                    codes::SYMLINK_OUTSIDE_TREE,
                    Severity::Low,
                    format!("link to `{}` left out: {why}", links[&link]),
                )
                .at(link.clone()),
            );
            plan.manifest.files.retain(|e| e.path != link);
            plan.sources.remove(&link);
        }
    }
}

/// The existing paths a config entry names: itself, or what its glob matches. Globs are
/// expanded one component at a time, so `Dockerfile*` never walks the whole tree.
fn expand(root: &Path, entry: &str) -> Result<Vec<PathBuf>> {
    if !glob::has_wildcard(entry) {
        let p = root.join(entry);
        return Ok(if fs::symlink_metadata(&p).is_ok() {
            vec![p]
        } else {
            Vec::new()
        });
    }
    let mut current = vec![root.to_path_buf()];
    let comps: Vec<&str> = entry.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate() {
        if *comp == "**" {
            // Rare: match the rest of the pattern against every path below.
            let mut out = Vec::new();
            for dir in &current {
                for e in WalkDir::new(dir).follow_links(false).min_depth(1) {
                    let e = e.with_context(|| format!("walking {}", dir.display()))?;
                    let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                    if rel.to_str().is_some_and(|r| glob::matches(entry, r)) {
                        out.push(e.path().to_path_buf());
                    }
                }
            }
            return Ok(out);
        }
        let mut next = Vec::new();
        for dir in &current {
            let last = i + 1 == comps.len();
            if !glob::has_wildcard(comp) {
                let p = dir.join(comp);
                if fs::symlink_metadata(&p).is_ok() && (last || p.is_dir()) {
                    next.push(p);
                }
                continue;
            }
            let Ok(rd) = fs::read_dir(dir) else { continue };
            let mut names: Vec<_> = rd.flatten().collect();
            names.sort_by_key(|d| d.file_name());
            for d in names {
                let name = d.file_name();
                let matched = name.to_str().is_some_and(|n| glob::matches(comp, n));
                if matched && (last || d.file_type().is_ok_and(|t| t.is_dir())) {
                    next.push(d.path());
                }
            }
        }
        current = next;
    }
    Ok(current)
}

/// Walk `start` (a file, link or directory) without following links, adding every file and
/// link. The backup store itself is never archived.
fn walk(
    root: &Path,
    start: &Path,
    store_dir: &Path,
    found: &mut BTreeMap<String, PathBuf>,
) -> Result<()> {
    let walker = WalkDir::new(start)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !(e.file_type().is_dir() && real(e.path()) == store_dir));
    for e in walker {
        let e = e.with_context(|| format!("walking {}", start.display()))?;
        if e.file_type().is_dir() {
            continue;
        }
        let rel_path = e.path().strip_prefix(root).expect("walk stays under root");
        let Some(rel) = rel_path.to_str() else {
            bail!(
                "{} has a name that is not UTF-8: rename it or add it to pipeline.exclude",
                e.path().display()
            );
        };
        if rel == MANIFEST_NAME {
            bail!(
                "{} uses the reserved name {MANIFEST_NAME}: rename it",
                e.path().display()
            );
        }
        found.insert(rel.to_string(), e.path().to_path_buf());
    }
    Ok(())
}

/// `backup config [--if-changed]`.
pub fn run(cx: &Context, if_changed: bool) -> Result<Report> {
    let store = cx.store();
    check_store_outside(&cx.root, &store.dir, &cx.config.pipeline)?;
    let _lock = store.lock("backup config")?;
    store.clean_stale(Kind::Pipeline)?;
    Ok(create(cx, &store, if_changed)?.report())
}

/// What `backup config` made (or why it made nothing).
#[derive(Debug)]
pub struct ConfigBackup {
    /// Findings of the plan (secrets and paths left out).
    pub findings: Vec<Finding>,
    pub secrets: Vec<String>,
    pub excluded: Vec<String>,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// Nothing to archive: no backup was made.
    Empty,
    /// `--if-changed`, and the newest backup already holds this content.
    Unchanged(Archive),
    /// A new archive was published; the size of the archive file.
    Written(Archive, u64),
}

/// A published archive.
#[derive(Debug)]
pub struct Archive {
    pub path: PathBuf,
    pub sha256: String,
    pub files: usize,
    /// Size of the archived content.
    pub bytes: u64,
}

/// The body of `backup config`; the caller holds the store lock.
pub fn create(cx: &Context, store: &Store, if_changed: bool) -> Result<ConfigBackup> {
    let plan = plan(
        &cx.root,
        &store.dir,
        &cx.config.pipeline,
        cx.config.pipeline_paths_explicit,
    )?;
    let outcome = if plan.manifest.files.is_empty() {
        Outcome::Empty
    } else if let Some(same) = if_changed
        .then(|| unchanged(store, &plan))
        .transpose()?
        .flatten()
    {
        Outcome::Unchanged(same)
    } else {
        let (archive, archive_bytes) = write(store, &plan)?;
        Outcome::Written(archive, archive_bytes)
    };
    Ok(ConfigBackup {
        findings: plan.findings,
        secrets: plan.secrets,
        excluded: plan.excluded,
        outcome,
    })
}

/// The newest backup, when it holds exactly what `plan` would archive.
fn unchanged(store: &Store, plan: &Plan) -> Result<Option<Archive>> {
    let Some(newest) = store.list(Kind::Pipeline)?.into_iter().next() else {
        return Ok(None);
    };
    let same = store::checksum_state(&newest.path) == store::ChecksumState::Ok
        && archive::read_manifest(&newest.path).is_ok_and(|m| m == plan.manifest);
    if !same {
        return Ok(None);
    }
    Ok(Some(Archive {
        sha256: store::read_sidecar(&newest.path)?.unwrap_or_default(),
        path: newest.path,
        files: plan.manifest.files.len(),
        bytes: plan.manifest.bytes(),
    }))
}

/// Write and publish a new archive of `plan`.
fn write(store: &Store, plan: &Plan) -> Result<(Archive, u64)> {
    let dest = store.new_path(Kind::Pipeline)?;
    let mut out = files::AtomicFile::create(&dest, 0o600)?;
    let (sha, archive_bytes) = {
        let w = BufWriter::with_capacity(1 << 16, out.file());
        archive::write(w, &plan.manifest, &|e| plan.sources[&e.path].clone())
            .with_context(|| format!("writing {}", dest.display()))?
    };
    store::publish(out, &dest, &sha)?;
    let archive = Archive {
        path: dest,
        sha256: sha,
        files: plan.manifest.files.len(),
        bytes: plan.manifest.bytes(),
    };
    Ok((archive, archive_bytes))
}

impl ConfigBackup {
    /// The report of `backup config`.
    pub fn report(&self) -> Report {
        let mut report = Report::new("backup config");
        report.findings.extend(self.findings.iter().cloned());
        report.set("excluded_secrets", &self.secrets);
        report.set("excluded", &self.excluded);
        match &self.outcome {
            Outcome::Empty => {
                report.summary("archive", "none: no pipeline configuration backed up");
                report.push(Finding::new(
                    codes::PIPELINE_EMPTY,
                    Severity::High,
                    "no pipeline configuration found under the root: nothing was backed up (check pipeline.paths and --root)",
                ));
            }
            Outcome::Unchanged(a) => {
                let name = a.path.file_name().unwrap_or_default().to_string_lossy();
                report.summary("unchanged", format!("{name} already holds this content"));
                report.set("archive", a.path.display().to_string());
                report.set("sha256", &a.sha256);
                report.set("files", a.files);
                report.set("bytes", a.bytes);
                report.set("skipped", true);
            }
            Outcome::Written(a, archive_bytes) => {
                report.summary("archive", a.path.display().to_string());
                report.summary("files", a.files.to_string());
                report.summary("content", human_bytes(a.bytes));
                report.summary("archive size", human_bytes(*archive_bytes));
                report.summary("sha256", a.sha256.clone());
                if !self.secrets.is_empty() {
                    report.summary("secrets left out", self.secrets.len().to_string());
                }
                report.set("archive", a.path.display().to_string());
                report.set("sha256", &a.sha256);
                report.set("files", a.files);
                report.set("bytes", a.bytes);
                report.set("archive_bytes", archive_bytes);
                report.set("skipped", false);
            }
        }
        report
    }
}

/// Full verification of one archive: sidecar checksum and every member.
pub fn verify_one(path: &Path) -> Result<archive::Check> {
    let mut check = archive::check(path, None)?;
    match store::read_sidecar(path) {
        Ok(Some(expected)) if expected == check.sha256 => {}
        Ok(Some(expected)) => check.findings.push(
            Finding::new(
                codes::BACKUP_CHECKSUM_MISMATCH,
                Severity::High,
                format!(
                    "archive sha256 {} does not match {} in its .sha256 file",
                    check.sha256, expected
                ),
            )
            .at(path.display().to_string()),
        ),
        Ok(None) => check.findings.push(
            Finding::new(
                codes::BACKUP_CHECKSUM_MISSING,
                Severity::High,
                "no .sha256 file beside the archive: it was never completely published",
            )
            .at(path.display().to_string()),
        ),
        Err(e) => check.findings.push(
            Finding::new(
                codes::BACKUP_CHECKSUM_MISSING,
                Severity::High,
                format!("{e:#}"),
            )
            .at(path.display().to_string()),
        ),
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_any_case_and_their_copies() {
        for secret in [
            ".env",
            "config/.ENV",
            "a/.env.production",
            "ID_RSA",
            "ssh/id_ed25519.pub",
            "tls/Server.PEM",
            "tls.key.bak",
            "tls.KEY.orig~",
            "home/.aws/credentials",
            ".docker/config.json",
            "x/.Kube/Config",
            ".htpasswd",
            "k8s/secrets.yaml",
            "kubeconfig",
            "infra/terraform.tfvars",
            "infra/prod.auto.tfvars.json",
            "terraform.tfstate.backup",
        ] {
            assert!(is_secret(secret), "{secret}");
        }
        for plain in [
            "config/app.yml",
            "keyboard.yml",
            "pem-notes.md",
            "aws/credentials.md",
            "docker/config.json",
            "config.json",
            "secrets-manager.md",
            ".bak",
            "notes.bak",
        ] {
            assert!(!is_secret(plain), "{plain}");
        }
    }
}
