//! One HORCM configuration file (`horcmN.conf`) as CCI reads it: its sections and their lines,
//! each value checked and kept with the line it came from, so that what is wrong across files
//! (a group with one side only) can still be reported as `file:line`.
//!
//! The syntax, as the CCI documents describe it (see the [module above](super) for sources):
//!
//! - A section starts with its name alone on a line (`HORCM_MON`, `HORCM_CMD`, `HORCM_DEV`,
//!   `HORCM_LDEV`, `HORCM_INST`, `HORCM_INSTP`; `HORCM_LDEVG` and `HORCM_ALLOW_INST` are
//!   read and skipped); the lines after it up to the next section are its entries, fields
//!   separated by blanks. `#` starts a comment, to the end of the line (the column headings
//!   CCI's templates carry, `#dev_group dev_name ...`, are such comments).
//! - `HORCM_MON`: `ip_address service poll(10ms) timeout(10ms)`: the instance's own address.
//! - `HORCM_CMD`: command devices, one or more a line (alternates). The
//!   `\\.\CMD-Serial#[-LDEV#[-Port#]][:HINT]` form names the array's serial number.
//! - `HORCM_LDEV`: `dev_group dev_name Serial# CU:LDEV(LDEV#) [MU#]`; the LDEV as `CU:LDEV`
//!   in hex (`10:5A`), as a decimal number (`4186`) or in hex with `0x` (`0x105A`).
//! - `HORCM_DEV`: `dev_group dev_name port# TargetID LU# [MU#]`: the volume by its path from
//!   the host (`CL1-A 0 1`); the array is the one the command device names, the LDEV number
//!   is not in the file.
//! - MU# (mirror unit): none or `0` for MU#0 (ShadowImage's first mirror, or the one
//!   TrueCopy / Universal Replicator mirror an LDEV has at MU#0), `1`-`2` for ShadowImage,
//!   `h0`-`h3` for Universal Replicator journal mirrors.
//! - `HORCM_INST`: `dev_group ip_address service`: where the instance holding the group's
//!   other side listens; `HORCM_INSTP` adds a fourth field, the remote path group ID.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in one file, at a 1-based line and (where a field is to blame) column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A place in a file, for messages about the entry found there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub line: usize,
    pub column: usize,
}

/// The mirror unit of a pair entry: which of an LDEV's mirrors the group uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MirrorUnit {
    /// No MU# given: MU#0 (ShadowImage's first mirror, or TrueCopy / UR at MU#0).
    Omitted,
    /// `0`, `1` or `2`: `0` as [`MirrorUnit::Omitted`]; `1` and `2` are ShadowImage only.
    Number(u8),
    /// `h0`-`h3`: a Universal Replicator (journal) mirror.
    Journal(u8),
}

impl MirrorUnit {
    /// `Some(true)` for a mirror that can only be in-system (ShadowImage MU#1-2),
    /// `Some(false)` for one that can only be remote (UR `hN`), `None` when MU# does not say.
    pub fn local_only(self) -> Option<bool> {
        match self {
            MirrorUnit::Number(n) if n > 0 => Some(true),
            MirrorUnit::Journal(_) => Some(false),
            _ => None,
        }
    }
}

impl fmt::Display for MirrorUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MirrorUnit::Omitted => write!(f, "none"),
            MirrorUnit::Number(n) => write!(f, "{n}"),
            MirrorUnit::Journal(n) => write!(f, "h{n}"),
        }
    }
}

/// Where an entry's volume is: by array and LDEV (`HORCM_LDEV`) or by host path (`HORCM_DEV`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Volume {
    Ldev { serial: u32, ldev: u32 },
    Path { port: String, target: u32, lu: u32 },
}

/// One side of a pair: a `HORCM_LDEV` or `HORCM_DEV` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub group: String,
    pub name: String,
    pub volume: Volume,
    pub mu: MirrorUnit,
    pub at: At,
}

/// A `HORCM_INST` or `HORCM_INSTP` line: the remote instance of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub group: String,
    pub address: String,
    pub service: String,
    /// `HORCM_INSTP`'s path group ID.
    pub path_id: Option<u32>,
    pub at: At,
}

/// One instance's configuration file, checked line by line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conf {
    pub path: PathBuf,
    /// `HORCM_MON`: (ip_address, service) of each line.
    pub monitor: Vec<(String, String)>,
    /// Serial numbers the `HORCM_CMD` lines name (`\\.\CMD-Serial#...`), in order.
    pub command_serials: Vec<u32>,
    pub devices: Vec<Device>,
    pub remotes: Vec<Remote>,
}

impl Conf {
    /// The file name, for scenario comments.
    pub fn name(&self) -> String {
        self.path.file_name().map_or_else(
            || self.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Mon,
    Cmd,
    Dev,
    Ldev,
    Inst,
    InstP,
    /// Known to CCI, not needed for a scenario (`HORCM_LDEVG`, `HORCM_ALLOW_INST`).
    Skipped,
}

const SECTIONS: [(&str, Section); 8] = [
    ("HORCM_MON", Section::Mon),
    ("HORCM_CMD", Section::Cmd),
    ("HORCM_DEV", Section::Dev),
    ("HORCM_LDEV", Section::Ldev),
    ("HORCM_INST", Section::Inst),
    ("HORCM_INSTP", Section::InstP),
    ("HORCM_LDEVG", Section::Skipped),
    ("HORCM_ALLOW_INST", Section::Skipped),
];

/// A blank-separated field and its 1-based column.
#[derive(Clone, Copy)]
struct Field<'a> {
    text: &'a str,
    column: usize,
}

/// The fields of a line, a comment (`#` to the end) taken off.
fn fields(line: &str) -> Vec<Field<'_>> {
    let code = line.split('#').next().unwrap_or("");
    let mut out = Vec::new();
    // (byte offset, column) of the field being read.
    let mut start: Option<(usize, usize)> = None;
    for (column, (byte, c)) in code.char_indices().enumerate() {
        match (start, c.is_whitespace()) {
            (None, false) => start = Some((byte, column + 1)),
            (Some((s, col)), true) => {
                out.push(Field {
                    text: &code[s..byte],
                    column: col,
                });
                start = None;
            }
            _ => {}
        }
    }
    if let Some((s, col)) = start {
        out.push(Field {
            text: &code[s..],
            column: col,
        });
    }
    out
}

/// Reads and checks the file at `path`; every problem found, located.
pub fn load(path: &Path) -> Result<Conf, Vec<Located>> {
    let whole = |message: String| {
        vec![Located {
            path: path.to_path_buf(),
            line: 1,
            column: None,
            message,
        }]
    };
    if path.is_dir() {
        return Err(whole(
            "expected a HORCM configuration file, found a directory".to_string(),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(text, path),
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            let start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&good[start..]).chars().count() + 1;
            Err(vec![Located {
                path: path.to_path_buf(),
                line,
                column: Some(column),
                message: "expected text (a HORCM file is ASCII), found a byte that is not UTF-8"
                    .to_string(),
            }])
        }
    }
}

/// Parses the text of one configuration file; `path` names it in messages.
pub fn parse(text: &str, path: &Path) -> Result<Conf, Vec<Located>> {
    let mut p = Parser {
        path,
        errors: Vec::new(),
        conf: Conf {
            path: path.to_path_buf(),
            monitor: Vec::new(),
            command_serials: Vec::new(),
            devices: Vec::new(),
            remotes: Vec::new(),
        },
    };
    let mut section: Option<Section> = None;
    let mut seen: Vec<Section> = Vec::new();
    // A misspelt section name is the likelier fault than a missing section: say it once.
    let mut unknown_section = false;
    let mut lines = 0;
    for (i, raw) in text.lines().enumerate() {
        lines = i + 1;
        if let Some(column) = raw
            .chars()
            .position(|c| c.is_control() && c != '\t' && c != '\r')
        {
            p.err(
                i + 1,
                column + 1,
                "expected printable text, found a control character",
            );
            continue;
        }
        let f = fields(raw);
        let Some(first) = f.first() else { continue };
        if first.text.starts_with("HORCM_") {
            match SECTIONS.iter().find(|(name, _)| *name == first.text) {
                Some(&(name, s)) => {
                    if let Some(extra) = f.get(1) {
                        p.err(
                            i + 1,
                            extra.column,
                            format!("expected {name} alone on its line, found {:?}", extra.text),
                        );
                    }
                    section = Some(s);
                    seen.push(s);
                }
                None => {
                    p.err(
                        i + 1,
                        first.column,
                        format!(
                            "unknown section {}: expected one of {}",
                            first.text,
                            SECTIONS.map(|(n, _)| n).join(", ")
                        ),
                    );
                    section = Some(Section::Skipped);
                    unknown_section = true;
                }
            }
            continue;
        }
        match section {
            None => p.err(
                i + 1,
                first.column,
                format!(
                    "expected a section name such as HORCM_MON before the first entry, found {:?}",
                    first.text
                ),
            ),
            Some(s) => p.entry(s, i + 1, &f),
        }
    }
    if lines == 0 || text.trim().is_empty() {
        p.err(
            1,
            1,
            "the file is empty: expected HORCM_MON, HORCM_CMD, HORCM_LDEV or HORCM_DEV, and HORCM_INST",
        );
        return Err(p.errors);
    }
    let missing = |wanted: &[Section]| !seen.iter().any(|s| wanted.contains(s));
    for (wanted, what) in [
        (
            &[Section::Mon][..],
            "a HORCM_MON section (the instance's own ip_address and service)",
        ),
        (
            &[Section::Cmd][..],
            "a HORCM_CMD section (the command device of each array)",
        ),
        (
            &[Section::Ldev, Section::Dev][..],
            "a HORCM_LDEV or HORCM_DEV section (the volumes of the pairs)",
        ),
        (
            &[Section::Inst, Section::InstP][..],
            "a HORCM_INST or HORCM_INSTP section (the remote instance of each group)",
        ),
    ] {
        if missing(wanted) && !unknown_section {
            p.err(lines, 1, format!("expected {what}; the file has none"));
        }
    }
    if p.errors.is_empty() {
        p.check_groups();
    }
    if p.errors.is_empty() {
        Ok(p.conf)
    } else {
        Err(p.errors)
    }
}

struct Parser<'a> {
    path: &'a Path,
    errors: Vec<Located>,
    conf: Conf,
}

impl Parser<'_> {
    fn err(&mut self, line: usize, column: usize, message: impl Into<String>) {
        self.errors.push(Located {
            path: self.path.to_path_buf(),
            line,
            column: Some(column),
            message: message.into(),
        });
    }

    /// Checks the number of fields of an entry; `names` are the fields, the last `optional`
    /// of them may be left out.
    fn arity(&mut self, line: usize, f: &[Field<'_>], names: &[&str], optional: usize) -> bool {
        let (min, max) = (names.len() - optional, names.len());
        if (min..=max).contains(&f.len()) {
            return true;
        }
        let column = f.get(max).map_or(f[0].column, |x| x.column);
        let count = if optional > 0 {
            format!("{min} or {max}")
        } else {
            max.to_string()
        };
        self.err(
            line,
            column,
            format!(
                "expected {count} fields ({}), found {}",
                names.join(" "),
                f.len()
            ),
        );
        false
    }

    fn entry(&mut self, section: Section, line: usize, f: &[Field<'_>]) {
        match section {
            Section::Mon => {
                let names = ["ip_address", "service", "poll(10ms)", "timeout(10ms)"];
                if self.arity(line, f, &names, 0) {
                    if f[2].text != "-1" {
                        self.number(line, f[2], "poll(10ms) as a number of 10 ms, or -1");
                    }
                    self.number(line, f[3], "timeout(10ms) as a number of 10 ms");
                    self.conf
                        .monitor
                        .push((f[0].text.to_string(), f[1].text.to_string()));
                }
            }
            Section::Cmd => {
                for d in f {
                    if let Some(rest) = d.text.strip_prefix(r"\\.\CMD-") {
                        let digits: String =
                            rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                        match digits.parse::<u32>() {
                            Ok(s) if s > 0 => self.conf.command_serials.push(s),
                            _ => self.err(
                                line,
                                d.column,
                                format!(
                                    "expected a command device like \\\\.\\CMD-64001-250-CL1-A \
                                     (Serial#, then LDEV# and port), found {:?}",
                                    d.text
                                ),
                            ),
                        }
                    }
                }
            }
            Section::Ldev | Section::Dev => self.device(section, line, f),
            Section::Inst | Section::InstP => {
                let instp = section == Section::InstP;
                let names = ["dev_group", "ip_address", "service", "pathID"];
                let names = if instp { &names[..] } else { &names[..3] };
                if !self.arity(line, f, names, 0) {
                    return;
                }
                let path_id = if instp {
                    self.number(line, f[3], "a path group ID (a number)")
                } else {
                    None
                };
                if instp && path_id.is_none() {
                    return;
                }
                self.conf.remotes.push(Remote {
                    group: f[0].text.to_string(),
                    address: f[1].text.to_string(),
                    service: f[2].text.to_string(),
                    path_id,
                    at: At {
                        line,
                        column: f[0].column,
                    },
                });
            }
            Section::Skipped => {}
        }
    }

    /// A decimal field, or a located error naming `what` was expected.
    fn number(&mut self, line: usize, f: Field<'_>, what: &str) -> Option<u32> {
        let n = f
            .text
            .parse::<u32>()
            .ok()
            .filter(|_| f.text.bytes().all(|b| b.is_ascii_digit()));
        if n.is_none() {
            self.err(
                line,
                f.column,
                format!("expected {what}, found {:?}", f.text),
            );
        }
        n
    }

    fn device(&mut self, section: Section, line: usize, f: &[Field<'_>]) {
        let names: &[&str] = if section == Section::Ldev {
            &["dev_group", "dev_name", "Serial#", "CU:LDEV(LDEV#)", "MU#"]
        } else {
            &["dev_group", "dev_name", "port#", "TargetID", "LU#", "MU#"]
        };
        if !self.arity(line, f, names, 1) {
            return;
        }
        let volume = if section == Section::Ldev {
            let serial = self
                .number(
                    line,
                    f[2],
                    "a Serial# (the array's serial number, like 64001)",
                )
                .filter(|&s| s > 0);
            let ldev = ldev(f[3].text);
            if ldev.is_none() {
                self.err(
                    line,
                    f[3].column,
                    format!(
                        "expected an LDEV as CU:LDEV in hex (10:5A), a decimal LDEV# (4186) \
                         or a hex LDEV# (0x105A), at most 65535, found {:?}",
                        f[3].text
                    ),
                );
            }
            match (serial, ldev) {
                (Some(serial), Some(ldev)) => Some(Volume::Ldev { serial, ldev }),
                _ => None,
            }
        } else {
            let port_ok = port(f[2].text);
            if !port_ok {
                self.err(
                    line,
                    f[2].column,
                    format!(
                        "expected a port# like CL1-A (or CL1-A-1 with a host group), found {:?}",
                        f[2].text
                    ),
                );
            }
            let target = self.number(line, f[3], "a TargetID (a number)");
            let lu = self.number(line, f[4], "a LU# (a number)");
            match (port_ok, target, lu) {
                (true, Some(target), Some(lu)) => Some(Volume::Path {
                    port: f[2].text.to_string(),
                    target,
                    lu,
                }),
                _ => None,
            }
        };
        let last = names.len() - 1;
        let mu = match f.get(last) {
            None => Some(MirrorUnit::Omitted),
            Some(m) => {
                let mu = mirror_unit(m.text);
                if mu.is_none() {
                    self.err(
                        line,
                        m.column,
                        format!(
                            "expected MU# 0, 1 or 2 (ShadowImage; 0 also TrueCopy) or h0-h3 \
                             (Universal Replicator), found {:?}",
                            m.text
                        ),
                    );
                }
                mu
            }
        };
        let (Some(volume), Some(mu)) = (volume, mu) else {
            return;
        };
        let (group, name) = (f[0].text, f[1].text);
        if let Some(d) = self
            .conf
            .devices
            .iter()
            .find(|d| d.group == group && d.name == name)
        {
            let first = d.at.line;
            self.err(
                line,
                f[1].column,
                format!(
                    "dev_name {name} of group {group} is already defined at line {first} \
                     (a dev_name names one volume of its group)"
                ),
            );
            return;
        }
        self.conf.devices.push(Device {
            group: group.to_string(),
            name: name.to_string(),
            volume,
            mu,
            at: At {
                line,
                column: f[0].column,
            },
        });
    }

    /// Every group with volumes names its remote instance; every `HORCM_INST` group has
    /// volumes.
    fn check_groups(&mut self) {
        let mut found: Vec<(At, String)> = Vec::new();
        let c = &self.conf;
        for (i, d) in c.devices.iter().enumerate() {
            let first_of_group = !c.devices[..i].iter().any(|x| x.group == d.group);
            if first_of_group && !c.remotes.iter().any(|r| r.group == d.group) {
                found.push((
                    d.at,
                    format!(
                        "group {} has no HORCM_INST line naming the instance that holds its \
                         other side",
                        d.group
                    ),
                ));
            }
        }
        for r in &c.remotes {
            if !c.devices.iter().any(|d| d.group == r.group) {
                found.push((
                    r.at,
                    format!(
                        "group {} has no volumes: expected its dev_names in HORCM_LDEV or \
                         HORCM_DEV",
                        r.group
                    ),
                ));
            }
        }
        for (at, message) in found {
            self.err(at.line, at.column, message);
        }
    }
}

/// `CU:LDEV` in hex, `0x` hex, or decimal; at most 0xFFFF.
pub fn ldev(s: &str) -> Option<u32> {
    let hex = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(t, 16).ok())
            .flatten()
    };
    let n = if let Some((cu, ld)) = s.split_once(':') {
        match (hex(cu), hex(ld)) {
            (Some(cu), Some(ld)) if cu <= 0xff && ld <= 0xff => (cu << 8) | ld,
            _ => return None,
        }
    } else if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        hex(h)?
    } else if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
        s.parse().ok()?
    } else {
        return None;
    };
    (n <= 0xffff).then_some(n)
}

/// `CLn-X`, with an optional unit digit after the letter and `-N` host group: `CL1-A`,
/// `CL2-B1`, `CL1-A-3`.
fn port(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CL") else {
        return false;
    };
    let Some((cluster, rest)) = rest.split_once('-') else {
        return false;
    };
    let cluster_ok = !cluster.is_empty() && cluster.bytes().all(|b| b.is_ascii_alphanumeric());
    let (name, group) = match rest.split_once('-') {
        Some((n, g)) => (n, Some(g)),
        None => (rest, None),
    };
    let letters = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let name_ok = !letters.is_empty() && letters.bytes().all(|b| b.is_ascii_alphabetic());
    let group_ok = group.is_none_or(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
    cluster_ok && name_ok && group_ok
}

fn mirror_unit(s: &str) -> Option<MirrorUnit> {
    match s {
        "0" | "1" | "2" => Some(MirrorUnit::Number(s.as_bytes()[0] - b'0')),
        "h0" | "h1" | "h2" | "h3" => Some(MirrorUnit::Journal(s.as_bytes()[1] - b'0')),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldev_forms_agree() {
        assert_eq!(ldev("10:5A"), Some(0x105a));
        assert_eq!(ldev("4186"), Some(0x105a));
        assert_eq!(ldev("0x105a"), Some(0x105a));
        assert_eq!(ldev("01:05"), Some(0x105));
        assert_eq!(ldev("260"), Some(260));
        for bad in [
            "", "1g", "100:00", "01:", ":05", "0x", "65536", "0x10000", "-1", "1:2:3",
        ] {
            assert_eq!(ldev(bad), None, "{bad}");
        }
    }

    #[test]
    fn ports_and_mirror_units() {
        for good in ["CL1-A", "CL2-B1", "CL1-A-3", "CLA-R"] {
            assert!(port(good), "{good}");
        }
        for bad in ["CL1", "1-A", "CL1-", "CL1-A-", "CL1-1", "CL-A"] {
            assert!(!port(bad), "{bad}");
        }
        assert_eq!(mirror_unit("h3"), Some(MirrorUnit::Journal(3)));
        assert_eq!(mirror_unit("3"), None);
        assert_eq!(mirror_unit("h4"), None);
    }

    #[test]
    fn comments_sections_and_columns() {
        let text = "# header\nHORCM_MON\nhost  horcm0 1000 3000 # me\nHORCM_CMD\n\\\\.\\CMD-64001:/dev/sd\n\
                    HORCM_LDEV\n#dev_group dev_name Serial# CU:LDEV(LDEV#) MU#\nG d 64001 10:5A h1\n\
                    HORCM_INST\nG host horcm1\n";
        let c = parse(text, Path::new("h.conf")).unwrap();
        assert_eq!(c.monitor, vec![("host".into(), "horcm0".into())]);
        assert_eq!(c.command_serials, vec![64001]);
        assert_eq!(c.devices[0].mu, MirrorUnit::Journal(1));
        assert_eq!(c.devices[0].at, At { line: 8, column: 1 });
        let bad = text.replace("10:5A", "10:5G");
        let e = parse(&bad, Path::new("h.conf")).unwrap_err();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].line, e[0].column), (8, Some(11)), "{}", e[0]);
    }
}
