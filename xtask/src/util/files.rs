//! File-system primitives every command shares: atomic publish and the run lock.
//!
//! Invariant: nothing else in the crate writes a file that a user or another command reads
//! in place. Files are written to a temporary name beside their destination, fsynced,
//! renamed over it, and the directory is fsynced, so a crash leaves the old file or the new
//! one, never half of one. Temporary names start with [`TMP_PREFIX`], which readers ignore.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result, bail};

pub const TMP_PREFIX: &str = ".tmp-";

/// Checks that `p`, a path read from the user's configuration, names something inside the
/// root: not empty, not absolute, and with no `..` component. (It does not resolve links:
/// callers that open the path check where it resolves to.)
pub fn check_relative(p: &str) -> Result<()> {
    let path = Path::new(p);
    if p.is_empty() {
        bail!("empty path");
    }
    if path.is_absolute() {
        bail!("must be relative to the root, not absolute");
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        bail!("must stay inside the root (no `..`)");
    }
    Ok(())
}

/// A file being written under a temporary name; [`AtomicFile::commit`] publishes it.
/// Dropped without commit, the temporary file is removed.
pub struct AtomicFile {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl AtomicFile {
    pub fn create(dest: &Path, mode: u32) -> Result<AtomicFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = parent_dir(dest);
        let name = dest
            .file_name()
            .context("destination has no file name")?
            .to_string_lossy();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TMP_PREFIX}{name}.{}.{n}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        Ok(AtomicFile {
            file: Some(file),
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("file is present until commit")
    }

    pub fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// fsync the data, rename over the destination, fsync the directory.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("commit once");
        file.sync_all()
            .with_context(|| format!("syncing {}", self.tmp.display()))?;
        drop(file);
        fs::rename(&self.tmp, &self.dest).with_context(|| {
            format!("renaming {} to {}", self.tmp.display(), self.dest.display())
        })?;
        self.committed = true;
        sync_dir(parent_dir(&self.dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl Drop for AtomicFile {
    /// Not committed (an error, a failed rename): the temporary file goes.
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn parent_dir(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// Write `bytes` to `dest` atomically with the given permission bits.
pub fn write_atomic(dest: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let mut f = AtomicFile::create(dest, mode)?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", f.tmp_path().display()))?;
    f.commit()
}

/// Write a report to a path the user named (`--output`): a new file (0644), or an existing
/// regular file replaced atomically with its permission bits kept. A link, directory, device
/// or FIFO at the path is refused, never replaced.
pub fn write_output(dest: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let mode = match fs::symlink_metadata(dest) {
        Ok(m) if m.file_type().is_file() => m.permissions().mode() & 0o7777,
        Ok(m) => {
            let t = m.file_type();
            let what = if t.is_symlink() {
                "a symbolic link (give the path it points to)"
            } else if t.is_dir() {
                "a directory (give a file name inside it)"
            } else if t.is_fifo() {
                "a FIFO"
            } else if t.is_block_device() || t.is_char_device() {
                "a device"
            } else {
                "not a regular file"
            };
            anyhow::bail!(
                "--output {}: is {what}; refusing to replace it",
                dest.display()
            );
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0o644,
        Err(e) => return Err(e).with_context(|| format!("--output {}", dest.display())),
    };
    let mut f = AtomicFile::create(dest, mode)?;
    // The creation mode went through the umask; the kept mode must be exact.
    f.file()
        .set_permissions(fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", f.tmp_path().display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", f.tmp_path().display()))?;
    f.commit()
}

/// Append `bytes` to `path` (created if missing) in one write with O_APPEND, then fsync: for
/// append-only logs, where a crash can at worst cut the last line short.
pub fn append(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("appending to {}", path.display()))?;
    f.sync_all()
        .with_context(|| format!("syncing {}", path.display()))
}

/// Create a directory (and parents) with mode 0700 for new ones: backups hold secrets' neighbours.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating directory {}", dir.display()))
}

use std::os::unix::fs::DirBuilderExt;

/// An exclusive, non-blocking lock on a file. Released when dropped (or when the process dies).
pub struct Lock {
    _file: File,
}

/// Another run holds the lock. `main` maps this to its own exit code, [`LOCK_BUSY_EXIT`].
#[derive(Debug)]
pub struct LockBusy {
    pub path: PathBuf,
    pub holder: String,
}

pub const LOCK_BUSY_EXIT: i32 = 3;

impl fmt::Display for LockBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holder = self.holder.trim();
        let holder = if holder.is_empty() {
            "another process"
        } else {
            holder
        };
        write!(
            f,
            "{} is locked by {holder}: another run is in progress; wait for it to finish and try again",
            self.path.display()
        )
    }
}

impl std::error::Error for LockBusy {}

impl Lock {
    /// Take the lock at `path` or fail at once with [`LockBusy`]. `what` is recorded in the
    /// lock file so that a second run can say who holds it.
    pub fn acquire(path: &Path, what: &str) -> Result<Lock> {
        if let Some(dir) = path.parent() {
            create_private_dir(dir)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("opening lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(path).unwrap_or_default();
                return Err(LockBusy {
                    path: path.to_path_buf(),
                    holder,
                }
                .into());
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        let info = format!(
            "`{what}` (pid {}, user {}, since {})",
            std::process::id(),
            super::actor::actor(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0)?;
        file.write_all(info.as_bytes())?;
        Ok(Lock { _file: file })
    }
}

/// A file's bytes, mapped read-only: reading a large file this way touches a few page-cache
/// mappings instead of copying into (and page-faulting) fresh memory.
///
/// Only for files replaced by rename, never rewritten in place (our own caches): a file
/// truncated while mapped would fault on access.
pub struct Mapped(memmap2::Mmap);

impl Mapped {
    pub fn open(path: &Path) -> io::Result<Mapped> {
        let file = File::open(path)?;
        // SAFETY: the mapping is read-only and private, and the files mapped here are only
        // ever replaced by rename (see above), never truncated or written in place, so the
        // bytes stay valid for as long as the mapping lives.
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Ok(Mapped(map))
    }
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}
