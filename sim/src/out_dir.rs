//! Where a command writes, and how: the one place that decides whether an `--out` may be
//! written and writes it so that it only ever appears complete. Every command that writes
//! (`run`, `sweep`, `merge`, `report`, `check --trace-out`, the demo) goes through it.
//!
//! The rules (issue 16), because nothing a tool does is worse than destroying a user's files:
//! - An `--out` that exists must be empty or an earlier mirrorlab output of the same kind,
//!   recognised by the [`MARKER`] file written into every output; anything else is refused
//!   unless the user asks with `--force`. An `--out` that is, holds or lies inside an input
//!   (scenario, trace, shard) is refused even then.
//! - A directory is built beside its target (`.NAME.tmp-XXXXXX`) and renamed into place only
//!   when complete; the earlier result is renamed aside (`.NAME.old-XXXXXX/NAME`) first and
//!   deleted only once the new one is in place, so a crash at any point loses neither.
//! - One writer per target: an OS advisory lock on `.NAME.lock` beside it. The OS releases it
//!   when the process dies, so a `kill -9` leaves no stale lock to clear by hand; a second
//!   writer is refused while the first runs.
//! - What a killed writer left (`.NAME.tmp-*`, `.NAME.old-*`) is cleaned up by the next writer
//!   of the same target (an `.old-*` whose target is missing is the earlier result: it is put
//!   back first), and [`is_leftover`] lets readers refuse such a directory as a result.
//! - A single file (`check --trace-out`) never replaces an existing file without `--force`.

use crate::scenario::{Scenario, WorkloadDef};
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// The file in every output directory that says mirrorlab wrote it, and what kind it is.
pub const MARKER: &str = ".mirrorlab";

/// Bumped when the marker's text changes.
const MARKER_FORMAT: u32 = 1;

/// Random characters tempfile puts after a leftover's prefix.
const RANDOM_LEN: usize = 6;

/// What a directory holds; a target is only ever replaced by an output of its own kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `mirrorlab run`: `summary.json` and the CSV time series.
    Run,
    /// `mirrorlab sweep` or `merge`: `sweep.json`, `sweep.csv`, `runs/`.
    Sweep,
    /// `mirrorlab` with no arguments: a sweep with the check and the bitmap study beside it.
    Demo,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Sweep => "sweep",
            Kind::Demo => "demo",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        [Kind::Run, Kind::Sweep, Kind::Demo]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// How the user can proceed when a target is refused: the demo takes no flags.
    fn how(self) -> &'static str {
        match self {
            Kind::Demo => "move it away or delete it, or run the demo in another directory",
            _ => "choose another --out, or add --force to replace it (everything in it is deleted)",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("{}: another mirrorlab process is writing it (it holds {}); wait for it to finish, or choose another --out", .target.display(), .lock.display())]
    Busy { target: PathBuf, lock: PathBuf },
    #[error("{}: exists and {found}, so mirrorlab will not replace it with a {} output: {}", .target.display(), .kind.name(), .kind.how())]
    NotOurs {
        target: PathBuf,
        kind: Kind,
        /// What is there instead ("is not a mirrorlab output", "holds a mirrorlab run output").
        found: String,
    },
    #[error("{}: is {} the input {}; choose an output outside the inputs", .target.display(), .relation, .input.display())]
    HoldsInput {
        target: PathBuf,
        input: PathBuf,
        relation: &'static str,
    },
    #[error("{}: is the unfinished output of a mirrorlab process that was stopped, not a result; the next writer of {} cleans it up", .path.display(), .target)]
    Leftover { path: PathBuf, target: String },
    #[error("{}: exists; mirrorlab does not replace a file it was not asked to: choose another name, or add --force to replace it", .path.display())]
    FileExists { path: PathBuf },
    #[error("{}: not a mirrorlab output (no {MARKER} marker); `report` writes only into what run, sweep or merge wrote: add --force if this one is", .target.display())]
    NoMarker { target: PathBuf },
    #[error("cannot write {}: {error}", .path.display())]
    Io { path: PathBuf, error: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> OutDirError + '_ {
    move |error| OutDirError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// A target claimed for writing: locked, checked, leftovers cleaned. Dropping it releases
/// the lock and changes nothing.
#[derive(Debug)]
pub struct OutDir {
    /// As the user gave it, for messages.
    target: PathBuf,
    parent: PathBuf,
    name: OsString,
    kind: Kind,
    _lock: Lock,
}

/// A directory being built beside its target; deleted when dropped unpublished.
#[derive(Debug)]
pub struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl OutDir {
    /// Claims `target` for an output of `kind` built from `inputs`; `force` replaces a target
    /// that is not an earlier output of this kind (never one holding an input).
    pub fn claim(
        target: &Path,
        kind: Kind,
        inputs: &[PathBuf],
        force: bool,
    ) -> Result<OutDir, OutDirError> {
        let dir = OutDir::lock(target, kind)?;
        dir.refuse_inputs(inputs)?;
        dir.clean_leftovers()?;
        let path = dir.path();
        let found = match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(dir),
            Err(e) => return Err(io_at(&path)(e)),
            Ok(m) if !m.is_dir() => "is not a directory".to_string(),
            Ok(_) => match marker_kind(&path) {
                Some(k) if k == kind => return Ok(dir),
                Some(k) => format!("holds a mirrorlab {} output", k.name()),
                None if is_empty(&path)? => return Ok(dir),
                None => format!("is not a mirrorlab output (no {MARKER} marker)"),
            },
        };
        if force {
            return Ok(dir);
        }
        Err(OutDirError::NotOurs {
            target: target.to_path_buf(),
            kind,
            found,
        })
    }

    /// Claims an existing output to add files to it in place (`report`): any kind, but it
    /// must carry the marker unless `force`.
    pub fn claim_in_place(target: &Path, force: bool) -> Result<OutDir, OutDirError> {
        if let Some(e) = leftover_error(target) {
            return Err(e);
        }
        let mut dir = OutDir::lock(target, Kind::Run)?;
        match marker_kind(&dir.path()) {
            Some(k) => dir.kind = k,
            None if force || !dir.path().is_dir() => {}
            None => {
                return Err(OutDirError::NoMarker {
                    target: target.to_path_buf(),
                })
            }
        }
        Ok(dir)
    }

    /// Resolves `target` (its parent made absolute, created if missing) and takes its lock.
    fn lock(target: &Path, kind: Kind) -> Result<OutDir, OutDirError> {
        let full = if target.file_name().is_none() {
            fs::canonicalize(target).map_err(io_at(target))?
        } else {
            target.to_path_buf()
        };
        let name = full
            .file_name()
            .map(OsString::from)
            .ok_or_else(|| io_at(target)(io::Error::other("an output needs a directory name")))?;
        let parent = match full.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(io_at(&parent))?;
        let parent = fs::canonicalize(&parent).map_err(io_at(&parent))?;
        let lock_path = parent.join(format!(".{}.lock", name.to_string_lossy()));
        let lock = Lock::acquire(lock_path, target)?;
        Ok(OutDir {
            target: target.to_path_buf(),
            parent,
            name,
            kind,
            _lock: lock,
        })
    }

    /// The target, as an absolute path.
    pub fn path(&self) -> PathBuf {
        self.parent.join(&self.name)
    }

    /// The target as the user gave it.
    pub fn target(&self) -> &Path {
        &self.target
    }

    fn prefix(&self, what: &str) -> String {
        format!(".{}.{what}-", self.name.to_string_lossy())
    }

    fn refuse_inputs(&self, inputs: &[PathBuf]) -> Result<(), OutDirError> {
        let path = self.path();
        let real = fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        for input in inputs {
            let Ok(i) = fs::canonicalize(input) else {
                continue;
            };
            let relation = if i == path || i == real {
                "the same path as"
            } else if i.starts_with(&path) || i.starts_with(&real) {
                "a directory holding"
            } else if i.is_dir() && (path.starts_with(&i) || real.starts_with(&i)) {
                "inside"
            } else {
                continue;
            };
            return Err(OutDirError::HoldsInput {
                target: self.target.clone(),
                input: input.clone(),
                relation,
            });
        }
        Ok(())
    }

    /// Removes what a killed writer of this target left beside it, putting back an earlier
    /// result that was renamed aside when the target is missing.
    fn clean_leftovers(&self) -> Result<(), OutDirError> {
        let (tmp, old) = (self.prefix("tmp"), self.prefix("old"));
        let entries = fs::read_dir(&self.parent).map_err(io_at(&self.parent))?;
        let mut found: Vec<(PathBuf, bool)> = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            for (prefix, is_old) in [(&tmp, false), (&old, true)] {
                if name
                    .strip_prefix(prefix.as_str())
                    .is_some_and(is_random_suffix)
                {
                    found.push((e.path(), is_old));
                }
            }
        }
        found.sort();
        let path = self.path();
        for (leftover, is_old) in found {
            let earlier = leftover.join(&self.name);
            if is_old
                && fs::symlink_metadata(&path).is_err()
                && fs::symlink_metadata(&earlier).is_ok()
            {
                fs::rename(&earlier, &path).map_err(io_at(&path))?;
            }
            fs::remove_dir_all(&leftover).map_err(io_at(&leftover))?;
        }
        Ok(())
    }

    /// A fresh empty directory beside the target to build the output in.
    pub fn stage(&self) -> Result<Staging, OutDirError> {
        let dir = tempfile::Builder::new()
            .prefix(&self.prefix("tmp"))
            .rand_bytes(RANDOM_LEN)
            .tempdir_in(&self.parent)
            .map_err(io_at(&self.parent))?;
        Ok(Staging { dir })
    }

    /// Marks `staging` as this kind's output and renames it into place, replacing the earlier
    /// target. The earlier one is renamed aside first and deleted last; if the new one cannot
    /// be renamed in, the earlier one is put back.
    pub fn publish(self, staging: Staging) -> Result<(), OutDirError> {
        mark(staging.path(), self.kind)?;
        let path = self.path();
        let old = match fs::symlink_metadata(&path) {
            Ok(_) => {
                let holder = tempfile::Builder::new()
                    .prefix(&self.prefix("old"))
                    .rand_bytes(RANDOM_LEN)
                    .tempdir_in(&self.parent)
                    .map_err(io_at(&self.parent))?;
                let aside = holder.path().join(&self.name);
                fs::rename(&path, &aside).map_err(io_at(&path))?;
                Some((holder, aside))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_at(&path)(e)),
        };
        let built = staging.dir.keep();
        if let Err(e) = fs::rename(&built, &path) {
            let _ = fs::remove_dir_all(&built);
            if let Some((_, aside)) = &old {
                let _ = fs::rename(aside, &path);
            }
            return Err(io_at(&path)(e));
        }
        // The new output is in place; an earlier one that cannot be deleted is only disk
        // space (the next writer of this target removes it), not a reason to call this failed.
        if let Some((holder, _)) = old {
            let _ = holder.close();
        }
        Ok(())
    }
}

/// Writes the marker of `kind` into `dir` (also for a sweep nested in another output, so it
/// can be reported on and replaced on its own).
pub fn mark(dir: &Path, kind: Kind) -> Result<(), OutDirError> {
    let path = dir.join(MARKER);
    let text = format!(
        "# written by mirrorlab; it may replace this directory with a newer {0} output\nkind = \"{0}\"\nformat = {MARKER_FORMAT}\n",
        kind.name()
    );
    fs::write(&path, text).map_err(io_at(&path))
}

/// The kind `dir`'s marker names, if it has one.
pub fn marker_kind(dir: &Path) -> Option<Kind> {
    let text = fs::read_to_string(dir.join(MARKER)).ok()?;
    text.lines().find_map(|l| {
        let v = l.strip_prefix("kind = \"")?.strip_suffix('"')?;
        Kind::parse(v)
    })
}

fn is_empty(dir: &Path) -> Result<bool, OutDirError> {
    Ok(fs::read_dir(dir).map_err(io_at(dir))?.next().is_none())
}

fn is_random_suffix(s: &str) -> bool {
    s.len() == RANDOM_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `path` is a directory a writer builds or sets aside (`.NAME.tmp-XXXXXX`,
/// `.NAME.old-XXXXXX`), which readers must never take for a result.
pub fn is_leftover(path: &Path) -> bool {
    leftover_error(path).is_some()
}

fn leftover_error(path: &Path) -> Option<OutDirError> {
    let name = path.file_name()?.to_string_lossy();
    let rest = name.strip_prefix('.')?;
    ["tmp", "old"].into_iter().find_map(|what| {
        let (target, suffix) = rest.rsplit_once(&format!(".{what}-"))?;
        is_random_suffix(suffix).then(|| OutDirError::Leftover {
            path: path.to_path_buf(),
            target: target.to_string(),
        })
    })
}

/// Refuses a directory a killed writer left, given as an input (a shard, a report).
pub fn refuse_leftover(path: &Path) -> Result<(), OutDirError> {
    leftover_error(path).map_or(Ok(()), Err)
}

/// An OS advisory lock on a file beside the target. The file is removed when the lock is
/// released; a process that locked a file just removed (it opened it before the removal)
/// sees that the path no longer names its file and opens the new one.
#[derive(Debug)]
struct Lock {
    path: PathBuf,
    _file: File,
}

impl Lock {
    fn acquire(path: PathBuf, target: &Path) -> Result<Lock, OutDirError> {
        let busy = || OutDirError::Busy {
            target: target.to_path_buf(),
            lock: path.clone(),
        };
        for _ in 0..8 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io_at(&path))?;
            if !try_lock(&file).map_err(io_at(&path))? {
                return Err(busy());
            }
            if names_file(&path, &file) {
                return Ok(Lock { path, _file: file });
            }
        }
        Err(busy())
    }
}

/// Takes the OS advisory lock on `file` without waiting; `false` when another process holds
/// it. The OS drops it with the process, however the process ends.
#[cfg(unix)]
fn try_lock(file: &File) -> io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// std's lock (Rust 1.89, above the workspace's rust-version) where rustix does not reach.
#[cfg(not(unix))]
#[allow(clippy::incompatible_msrv)]
fn try_lock(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(fs::TryLockError::WouldBlock) => Ok(false),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(unix)]
fn names_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn names_file(path: &Path, _file: &File) -> bool {
    path.exists()
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the file handle right after.
        let _ = fs::remove_file(&self.path);
    }
}

/// The files a scenario reads: the scenario file and its traces (an output must not hold them).
pub fn inputs_of(s: &Scenario) -> Vec<PathBuf> {
    let traces = s.hosts.iter().filter_map(|h| match &h.workload {
        Some(WorkloadDef::Trace(t)) => Some(t.path.clone()),
        _ => None,
    });
    std::iter::once(s.path.clone()).chain(traces).collect()
}

/// Refuses, before any work, to replace an existing file among `paths` unless `force`.
pub fn check_new_files(paths: &[&Path], force: bool) -> Result<(), OutDirError> {
    match paths.iter().find(|p| fs::symlink_metadata(p).is_ok()) {
        Some(p) if !force => Err(OutDirError::FileExists {
            path: p.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Writes every file whole or none: each goes to a temporary file beside its target first,
/// and only once all are written are they renamed into place; without `force`, a file that
/// appeared meanwhile is not replaced.
pub fn write_files(files: &[(&Path, String)], force: bool) -> Result<(), OutDirError> {
    check_new_files(&files.iter().map(|f| f.0).collect::<Vec<_>>(), force)?;
    let mut written = Vec::new();
    for (path, text) in files {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut f = temp_file_beside(path, dir).map_err(io_at(dir))?;
        f.write_all(text.as_bytes()).map_err(io_at(path))?;
        written.push((f, *path));
    }
    for (f, path) in written {
        let done = if force {
            f.persist(path)
        } else {
            f.persist_noclobber(path)
        };
        done.map_err(|e| match e.error.kind() {
            io::ErrorKind::AlreadyExists => OutDirError::FileExists {
                path: path.to_path_buf(),
            },
            _ => io_at(path)(e.error),
        })?;
    }
    Ok(())
}

/// Replaces `path` (a file in a directory claimed with [`OutDir::claim_in_place`] or being
/// staged) whole: a reader sees the old file or the new one, never half of one.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), OutDirError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut f = temp_file_beside(path, dir).map_err(io_at(dir))?;
    f.write_all(bytes).map_err(io_at(path))?;
    f.persist(path).map_err(|e| io_at(path)(e.error))?;
    Ok(())
}

/// A temporary file in `dir` to become `path`, created as `fs::write` creates a file (mode
/// 0o666 less the umask, not tempfile's owner-only 0o600), so a page or a trace written
/// through it is as readable as the CSVs beside it.
fn temp_file_beside(path: &Path, dir: &Path) -> io::Result<tempfile::NamedTempFile> {
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let prefix = format!(".{name}.tmp-");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix).rand_bytes(RANDOM_LEN);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(fs::Permissions::from_mode(0o666));
    }
    b.tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_names_are_recognised_and_only_those() {
        assert!(is_leftover(Path::new("a/.out.tmp-Ab12Cd")));
        assert!(is_leftover(Path::new(".x.y.old-000000")));
        for name in [
            ".out.tmp-",
            "out.tmp-Ab12Cd",
            ".out.tmp-Ab12Cd7",
            ".out.lock",
            "runs",
        ] {
            assert!(!is_leftover(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn a_marker_names_its_kind() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(marker_kind(d.path()), None);
        mark(d.path(), Kind::Sweep).unwrap();
        assert_eq!(marker_kind(d.path()), Some(Kind::Sweep));
    }

    #[test]
    fn a_killed_writer_s_aside_result_is_put_back() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out");
        let aside = d.path().join(".out.old-abc123");
        fs::create_dir_all(aside.join("out")).unwrap();
        fs::write(aside.join("out").join("summary.json"), "{}").unwrap();
        fs::create_dir(d.path().join(".out.tmp-xyz789")).unwrap();
        fs::create_dir(d.path().join(".other.tmp-xyz789")).unwrap();
        let claim = OutDir::claim(&target, Kind::Run, &[], false);
        assert!(
            claim.is_err(),
            "the earlier result is back, and has no marker"
        );
        assert!(target.join("summary.json").is_file());
        assert!(!aside.exists() && !d.path().join(".out.tmp-xyz789").exists());
        assert!(
            d.path().join(".other.tmp-xyz789").exists(),
            "not ours to clean"
        );
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_lock() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("out");
        let first = OutDir::claim(&target, Kind::Run, &[], false).unwrap();
        let e = OutDir::claim(&target, Kind::Run, &[], false).unwrap_err();
        assert!(matches!(e, OutDirError::Busy { .. }), "{e}");
        drop(first);
        assert!(
            !d.path().join(".out.lock").exists(),
            "the lock file goes with the lock"
        );
        OutDir::claim(&target, Kind::Run, &[], false).unwrap();
    }
}
