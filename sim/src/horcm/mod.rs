//! `mirrorlab import horcm0.conf horcm1.conf [...] [--out scenario.toml]`: a scenario from the
//! configuration files of Hitachi Command Control Interface (CCI, "HORCM") instances (issue 15),
//! so that users describe their arrays once, in the files they already keep.
//!
//! This module owns the command: [`conf`] reads one file, [`pairs`] joins the files into pairs,
//! [`write`] turns the pairs into scenario text, which is parsed as any scenario is before a
//! byte is written. Nothing is written when anything is wrong: every problem is reported as
//! `file:line[:column]: what was expected` (exit 2).
//!
//! What was relied on for the syntax (CCI User and Reference Guide and its HP XP "RAID Manager"
//! edition, as found with the search tool; Oracle's Sun Cluster guides for TrueCopy and
//! Universal Replicator show whole files):
//! - sections `HORCM_MON` (`ip_address service poll(10ms) timeout(10ms)`), `HORCM_CMD`
//!   (command devices, `\\.\CMD-Serial#-LDEV#-Port#[:HINT]` naming the array by serial),
//!   `HORCM_DEV` (`dev_group dev_name port# TargetID LU# [MU#]`), `HORCM_LDEV`
//!   (`dev_group dev_name Serial# CU:LDEV(LDEV#) [MU#]`), `HORCM_INST`
//!   (`dev_group ip_address service`) and `HORCM_INSTP` (the same and a path group ID);
//!   `#` comments; blank-separated fields;
//! - the LDEV in three forms: CU:LDEV in hex (`3A:DB`), decimal (`15067`) and hex (`0x3ADB`)
//!   (HP XP7 Replication Manager guide, "configuration definition file formats");
//! - mirror descriptors: an LDEV has MU#0-2 for ShadowImage (in-system), one MU#0 for
//!   TrueCopy or Universal Replicator (written as none or `0`), and `h1`-`h3` for further
//!   Universal Replicator mirrors; an omitted MU# is MU#0 (CCI guide, "Mirror Descriptors and
//!   Group Assignment"; HP Continentalclusters guide, "Mirror Unit Descriptors" for 3DC). `h0`
//!   is read as Universal Replicator at MU#0;
//! - LDEVs with the same device name in the two instances' groups form a pair (RAID Manager
//!   guide, device groups).
//!
//! What the files do not say, and what is assumed (each a `TODO` in the scenario):
//! - which side is the PVOL: the side in the file given first (`--primary FILE` reorders);
//! - TrueCopy's copy mode: synchronous (TrueCopy Async also uses MU#0); UR is async;
//! - volume sizes, the links between arrays (bandwidth, latency), journal sizes, the fence
//!   level, the workload and the run's length: placeholders that run;
//! - the LDEV number of a `HORCM_DEV` volume: a placeholder id above every LDEV number, on
//!   the array the file's `\\.\CMD-Serial#` command device names.
//!
//! Pages read (as stored by the search tool):
//! - Hitachi CCI User and Reference Guide MK-90RD011-25, 2.9.1 (mirror descriptors):
//!   <https://azmanual.top/manuals/91478/hitachi-tagmastore-mk-90rd011-25.html?page=117>
//! - Hitachi CCI User and Reference Guide (VSP G1500), unit IDs and `\\.\CMD-Ser#-ldev#-Port#`:
//!   <https://www.easymanua.ls/hitachi/vsp-g1500/manual?p=47>
//! - HP XP RAID Manager user guide, `HORCM_CMD` forms and device groups:
//!   <https://azmanual.top/manuals/396691/hp-xp-raid-manager-software-xp-p9500-storage.html?page=59>,
//!   <https://azmanual.top/manuals/398124/hp-xp-raid-manager-software-xp-p9500-storage.html?page=69>
//! - HP XP7 Replication Manager user guide, LDEV forms in `HORCM_LDEV`:
//!   <http://38.142.81.21:8001/manual/hp/hp-command-view-xp-advanced-edition-enterprise-media-kit/hp-xp7-replication-manager-user-guide-tk981-96013-may-2014/page-148.html>
//! - HP Serviceguard Continentalclusters, "Mirror Unit Descriptors" (3DC):
//!   <https://manualsdump.com/en/manuals/hp-serviceguard_continentalcluster/286017/421>
//! - Oracle Sun Cluster guides, whole `HORCM_DEV`/`HORCM_INST` files for TrueCopy and UR:
//!   <https://docs.oracle.com/cd/E19575-01/820-7358/gbmih/index.html>,
//!   <https://docs.oracle.com/cd/E19575-01/821-0709/gjibv/index.html>
//!
//! Serial numbers are taken as written (VSP G1000 and later prefix a `3` in some places; the
//! files should agree with each other, which is all a scenario needs).

pub mod conf;
pub mod pairs;
pub mod write;

use crate::scenario;
use conf::Located;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// `mirrorlab import FILE FILE [FILE...] [--out SCENARIO] [--force] [--primary FILE]`
#[derive(Clone, Debug, clap::Args)]
pub struct ImportArgs {
    /// The instances' configuration files (horcm0.conf horcm1.conf ...); a pair's side in the
    /// first is taken as its PVOL.
    #[arg(num_args = 2.., required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the scenario here (default: print it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// The file whose sides are the PVOLs (default: the first).
    #[arg(long)]
    pub primary: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// What does not parse or does not pair, located.
    #[error("{}", Lines(.0))]
    Invalid(Vec<Located>),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The generated text did not load: a bug here, reported rather than written.
    #[error("the imported scenario does not load (please report this): {0}")]
    Generated(String),
}

/// Located problems, one a line.
struct Lines<'a>(&'a [Located]);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{l}")?;
        }
        Ok(())
    }
}

/// The scenario text the files describe; `files` in the import order (the first is primary).
pub fn import(files: &[PathBuf]) -> Result<String, ImportError> {
    let mut confs = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match conf::load(f) {
            Ok(c) => confs.push(c),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    import_confs(&confs)
}

/// [`import`] on files already parsed.
pub fn import_confs(confs: &[conf::Conf]) -> Result<String, ImportError> {
    if confs.len() < 2 {
        return Err(ImportError::Usage(
            "expected two or more HORCM files: a pair joins two instances".to_string(),
        ));
    }
    let layout = pairs::pair(confs).map_err(ImportError::Invalid)?;
    let text = write::scenario(&layout);
    scenario::parse(&text, Path::new("imported.toml"))
        .map_err(|e| ImportError::Generated(e.to_string()))?;
    Ok(text)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Runs `mirrorlab import`: prints the scenario, or writes it to `--out` whole (a temporary
/// file beside it, then renamed), never over an existing file without `--force`, never over
/// an input.
pub fn run_import_cmd(args: &ImportArgs) -> Result<(), ImportError> {
    let mut files = args.files.clone();
    if let Some(p) = &args.primary {
        let i = files.iter().position(|f| same_file(f, p)).ok_or_else(|| {
            ImportError::Usage(format!(
                "--primary {} is not one of the files to import",
                p.display()
            ))
        })?;
        let primary = files.remove(i);
        files.insert(0, primary);
    }
    for (i, f) in files.iter().enumerate() {
        if files[..i].iter().any(|g| same_file(f, g)) {
            return Err(ImportError::Usage(format!(
                "{} is given twice: each instance's file once",
                f.display()
            )));
        }
    }
    if let Some(out) = &args.out {
        if files.iter().any(|f| same_file(f, out)) {
            return Err(ImportError::Usage(format!(
                "--out {} is one of the files to import: choose another output",
                out.display()
            )));
        }
        if out.is_dir() {
            return Err(ImportError::Usage(format!(
                "--out {} is a directory: expected a file name",
                out.display()
            )));
        }
        if out.exists() && !args.force {
            return Err(ImportError::Usage(format!(
                "--out {} exists: add --force to overwrite it",
                out.display()
            )));
        }
    }
    let text = import(&files)?;
    match &args.out {
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            lock.write_all(text.as_bytes())
                .and_then(|()| lock.flush())
                .map_err(|error| ImportError::Write {
                    path: PathBuf::from("<stdout>"),
                    error,
                })
        }
        Some(out) => write_whole(out, &text),
    }
}

/// Writes `text` to `out` through a temporary file in the same directory and a rename, so
/// `out` is never seen half-written.
fn write_whole(out: &Path, text: &str) -> Result<(), ImportError> {
    let error = |error| ImportError::Write {
        path: out.to_path_buf(),
        error,
    };
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    tmp.write_all(text.as_bytes()).map_err(error)?;
    tmp.persist(out).map_err(|e| error(e.error))?;
    Ok(())
}
