//! Administrator command lines (HORCM verbs and fault injections) and their resolution into
//! protocol [`Command`]s addressed to storage systems. Scenarios, the checker and tests all
//! speak this one language, e.g. `pairsplit --atomic ORA_L ORA_RL` or
//! `paircreate ORA_R2 64001:106a 64002:106b --nocopy`.

use crate::ids::{MirrorId, StorageSerial, VolumeId};
use crate::protocol::{Command, Mutant};
use crate::table::{CopyMode, PairOptions};
use crate::topology::{MirrorRef, MirrorRefError, MirrorSpec, SplitPlan, Topology, TopologyError};
use std::fmt;
use thiserror::Error;

/// One parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    /// `paircreate GROUP PVOL SVOL [--nocopy] [--mode MODE]`.
    PairCreate {
        /// The group name the new mirror gets (Fig 9).
        group: String,
        /// The primary volume.
        pvol: VolumeId,
        /// The secondary volume.
        svol: VolumeId,
        /// `--nocopy` (Fig 12).
        nocopy: bool,
        /// `--mode`; else the defaults.
        mode: Option<CopyMode>,
    },
    /// `pairsplit [--atomic] MIRROR...`.
    PairSplit {
        /// `--atomic`: every named mirror at one point of the write stream (Figs 10/11).
        atomic: bool,
        /// The mirrors named: groups or `PVOL,SVOL` (Fig 7).
        targets: Vec<MirrorRef>,
    },
    /// `pairresync [--restore] MIRROR...`.
    PairResync {
        /// `--restore`: copy SVOL -> PVOL.
        restore: bool,
        /// The mirrors named: groups or `PVOL,SVOL` (Fig 7).
        targets: Vec<MirrorRef>,
    },
    /// `pairdelete MIRROR...`.
    PairDelete {
        /// The mirrors named: groups or `PVOL,SVOL` (Fig 7).
        targets: Vec<MirrorRef>,
    },
    /// `takeover STORAGE`: the standby host takes over that secondary's SVOLs.
    Takeover {
        /// The storage system.
        storage: StorageSerial,
    },
    /// `linkdown LINK`: a fault.
    LinkDown {
        /// The link, by its scenario name.
        link: String,
    },
    /// `linkup LINK`: the link is repaired.
    LinkUp {
        /// The link, by its scenario name.
        link: String,
    },
    /// `crash STORAGE`: a fault; it restarts with `restart`.
    Crash {
        /// The storage system.
        storage: StorageSerial,
    },
    /// `restart STORAGE` after a crash.
    Restart {
        /// The storage system.
        storage: StorageSerial,
    },
    /// `disaster STORAGE`: the system is lost for good.
    Disaster {
        /// The storage system.
        storage: StorageSerial,
    },
}

/// Why a command line is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// No verb.
    #[error("empty command: expected a verb ({VERBS})")]
    Empty,
    /// A verb mirrorlab does not know.
    #[error("unknown verb {0:?}: expected one of {VERBS}")]
    UnknownVerb(String),
    /// The verb's arguments or flags are wrong.
    #[error("{verb}: {what}")]
    Usage {
        /// The verb.
        verb: &'static str,
        /// What is wrong.
        what: String,
    },
    /// The named mirrors or volumes do not fit the topology.
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

const VERBS: &str =
    "paircreate, pairsplit, pairresync, pairdelete, takeover, linkdown, linkup, crash, restart, disaster";

fn usage(verb: &'static str, what: impl Into<String>) -> CommandError {
    CommandError::Usage {
        verb,
        what: what.into(),
    }
}

/// A mirror named on the command line: a group, or `PVOL,SVOL` (Fig 7).
fn parse_target(verb: &'static str, s: &str) -> Result<MirrorRef, CommandError> {
    s.parse()
        .map_err(|e: MirrorRefError| usage(verb, e.to_string()))
}

fn storage(verb: &'static str, args: &[&str]) -> Result<StorageSerial, CommandError> {
    match args {
        [s] => s.parse().map_err(|e| usage(verb, format!("{e}"))),
        _ => Err(usage(verb, "expected one storage serial, e.g. 64001")),
    }
}

impl std::str::FromStr for CommandLine {
    type Err = CommandError;

    fn from_str(line: &str) -> Result<Self, CommandError> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (&verb, rest) = words.split_first().ok_or(CommandError::Empty)?;
        let flags: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|w| w.starts_with("--"))
            .collect();
        let args: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let check_flags = |verb: &'static str, allowed: &[&str]| -> Result<(), CommandError> {
            let Some(f) = flags.iter().find(|f| !allowed.contains(f)) else {
                return Ok(());
            };
            let allowed = if allowed.is_empty() {
                format!("{verb} takes no options")
            } else {
                format!("allowed: {}", allowed.join(" "))
            };
            Err(usage(verb, format!("unknown option {f}; {allowed}")))
        };
        let targets = |verb: &'static str| -> Result<Vec<MirrorRef>, CommandError> {
            if args.is_empty() {
                return Err(usage(verb, "expected at least one group name or PVOL,SVOL"));
            }
            args.iter().map(|a| parse_target(verb, a)).collect()
        };
        match verb {
            "paircreate" => {
                // `--mode MODE` takes a value; find it among the raw words.
                let mut mode = None;
                let mut positional = Vec::new();
                let mut nocopy = false;
                let mut it = rest.iter();
                while let Some(&w) = it.next() {
                    match w {
                        "--nocopy" => nocopy = true,
                        "--mode" => {
                            let m = it
                                .next()
                                .ok_or_else(|| usage("paircreate", "--mode needs a value"))?;
                            mode = Some(m.parse().map_err(|e: String| usage("paircreate", e))?);
                        }
                        f if f.starts_with("--") => {
                            return Err(usage(
                                "paircreate",
                                format!("unknown option {f}; allowed: --nocopy --mode MODE"),
                            ))
                        }
                        p => positional.push(p),
                    }
                }
                let [group, pvol, svol] = positional[..] else {
                    return Err(usage("paircreate", "expected GROUP PVOL SVOL, e.g. paircreate ORA_R2 64001:106a 64002:106b --nocopy"));
                };
                Ok(CommandLine::PairCreate {
                    group: group.to_string(),
                    pvol: pvol
                        .parse()
                        .map_err(|e| usage("paircreate", format!("{e}")))?,
                    svol: svol
                        .parse()
                        .map_err(|e| usage("paircreate", format!("{e}")))?,
                    nocopy,
                    mode,
                })
            }
            "pairsplit" => {
                check_flags("pairsplit", &["--atomic"])?;
                Ok(CommandLine::PairSplit {
                    atomic: flags.contains(&"--atomic"),
                    targets: targets("pairsplit")?,
                })
            }
            "pairresync" => {
                check_flags("pairresync", &["--restore"])?;
                Ok(CommandLine::PairResync {
                    restore: flags.contains(&"--restore"),
                    targets: targets("pairresync")?,
                })
            }
            "pairdelete" => {
                check_flags("pairdelete", &[])?;
                Ok(CommandLine::PairDelete {
                    targets: targets("pairdelete")?,
                })
            }
            "takeover" => {
                check_flags("takeover", &[])?;
                Ok(CommandLine::Takeover {
                    storage: storage("takeover", &args)?,
                })
            }
            "linkdown" | "linkup" => {
                let verb = if verb == "linkdown" {
                    "linkdown"
                } else {
                    "linkup"
                };
                check_flags(verb, &[])?;
                let [link] = args[..] else {
                    let found = args.len();
                    return Err(usage(
                        verb,
                        format!("expected one link name, found {found} words"),
                    ));
                };
                let link = link.to_string();
                Ok(if verb == "linkdown" {
                    CommandLine::LinkDown { link }
                } else {
                    CommandLine::LinkUp { link }
                })
            }
            "crash" | "restart" | "disaster" => {
                let verb = match verb {
                    "crash" => "crash",
                    "restart" => "restart",
                    _ => "disaster",
                };
                check_flags(verb, &[])?;
                let storage = storage(verb, &args)?;
                Ok(match verb {
                    "crash" => CommandLine::Crash { storage },
                    "restart" => CommandLine::Restart { storage },
                    _ => CommandLine::Disaster { storage },
                })
            }
            other => Err(CommandError::UnknownVerb(other.to_string())),
        }
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let refs = |t: &[MirrorRef]| {
            t.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        match self {
            CommandLine::PairCreate {
                group,
                pvol,
                svol,
                nocopy,
                mode,
            } => {
                write!(f, "paircreate {group} {pvol} {svol}")?;
                if let Some(m) = mode {
                    write!(f, " --mode {m}")?;
                }
                if *nocopy {
                    write!(f, " --nocopy")?;
                }
                Ok(())
            }
            CommandLine::PairSplit { atomic, targets } => {
                let a = if *atomic { "--atomic " } else { "" };
                write!(f, "pairsplit {a}{}", refs(targets))
            }
            CommandLine::PairResync { restore, targets } => {
                let r = if *restore { "--restore " } else { "" };
                write!(f, "pairresync {r}{}", refs(targets))
            }
            CommandLine::PairDelete { targets } => write!(f, "pairdelete {}", refs(targets)),
            CommandLine::Takeover { storage } => write!(f, "takeover {storage}"),
            CommandLine::LinkDown { link } => write!(f, "linkdown {link}"),
            CommandLine::LinkUp { link } => write!(f, "linkup {link}"),
            CommandLine::Crash { storage } => write!(f, "crash {storage}"),
            CommandLine::Restart { storage } => write!(f, "restart {storage}"),
            CommandLine::Disaster { storage } => write!(f, "disaster {storage}"),
        }
    }
}

/// Turns a HORCM command into protocol commands, each for the system that must receive it.
/// `paircreate` adds its mirror to `topology` (with `defaults` for options it does not name).
/// Fault verbs are not protocol commands: they return `Ok(None)` for the driver to act on.
pub fn resolve(
    line: &CommandLine,
    topology: &mut Topology,
    defaults: PairOptions,
    mutant: Option<Mutant>,
) -> Result<Option<Vec<(StorageSerial, Command)>>, CommandError> {
    let per_mirror = |targets: &[MirrorRef], f: &dyn Fn(MirrorId) -> Command| {
        topology
            .resolve(targets)
            .map(|ms| ms.into_iter().map(|m| (m.pvol.storage, f(m))).collect())
    };
    let cmds = match line {
        CommandLine::PairCreate {
            group,
            pvol,
            svol,
            nocopy,
            mode,
        } => {
            let mirror = MirrorId::new(*pvol, *svol);
            let options = PairOptions {
                mode: mode.unwrap_or(defaults.mode),
                ..defaults
            };
            if topology.mirror(mirror).is_none() {
                topology.add_mirror(MirrorSpec {
                    id: mirror,
                    group: group.clone(),
                    options,
                })?;
            }
            vec![(
                pvol.storage,
                Command::Create {
                    mirror,
                    options,
                    nocopy: *nocopy,
                },
            )]
        }
        CommandLine::PairSplit { atomic, targets } => {
            let mirrors = topology.resolve(targets)?;
            // A consistency group is split at one point whether or not `--atomic` is given.
            let atomic = *atomic || targets.iter().any(|t| topology.names_consistency_group(t));
            if atomic && mutant != Some(Mutant::NoAtomic) {
                let plan = topology.split_plan(&mirrors)?;
                let root = plan.system.expect("split plans name their root");
                vec![(root, Command::Split { plan })]
            } else {
                // Without --atomic each mirror is split on its own, wherever it lives: the
                // splits share no point in the write stream (the `no-atomic` mutant).
                mirrors
                    .into_iter()
                    .map(|m| {
                        let plan = SplitPlan {
                            system: Some(m.pvol.storage),
                            here: vec![m],
                            forwards: Vec::new(),
                        };
                        (m.pvol.storage, Command::Split { plan })
                    })
                    .collect()
            }
        }
        CommandLine::PairResync { restore, targets } => {
            let restore = *restore;
            per_mirror(targets, &|mirror| Command::Resync { mirror, restore })?
        }
        CommandLine::PairDelete { targets } => {
            per_mirror(targets, &|mirror| Command::Delete { mirror })?
        }
        CommandLine::Takeover { storage } => vec![(*storage, Command::Takeover)],
        _ => return Ok(None),
    };
    Ok(Some(cmds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::fig8;

    #[test]
    fn command_lines_round_trip() {
        for line in [
            "pairsplit --atomic ORA_L ORA_RL",
            "paircreate ORA_R2 64001:106a 64002:106b --nocopy",
            "paircreate ORA_R2 64001:106a 64002:106b --mode async",
            "pairresync --restore ORA_L",
            "pairsplit 64001:105a,64001:106a",
            "pairdelete ORA_R2",
            "takeover 64002",
            "linkdown wan",
            "disaster 64001",
        ] {
            let c: CommandLine = line.parse().unwrap();
            assert_eq!(c.to_string(), line);
        }
    }

    #[test]
    fn bad_command_lines_say_what_was_expected() {
        for (line, want) in [
            ("", "empty command"),
            ("pairsplitt ORA_L", "unknown verb"),
            ("pairsplit", "at least one group"),
            ("pairsplit --atomik ORA_L", "unknown option --atomik"),
            ("paircreate ORA_R2 64001:106a", "expected GROUP PVOL SVOL"),
            (
                "paircreate ORA_R2 64001:106a 64002:zz",
                "expected a volume id",
            ),
            (
                "paircreate X 64001:1 64002:1 --mode fast",
                "expected a copy mode",
            ),
            ("crash", "one storage serial"),
            ("pairsplit 64001:105a", "PVOL,SVOL"),
        ] {
            let e = line.parse::<CommandLine>().unwrap_err().to_string();
            assert!(e.contains(want), "{line:?}: {e}");
        }
    }

    #[test]
    fn atomic_split_goes_to_the_root_and_no_atomic_mutant_splits_each_alone() {
        let mut t = fig8(1 << 30, PairOptions::default());
        let line: CommandLine = "pairsplit --atomic ORA_L ORA_RL".parse().unwrap();
        let cmds = resolve(&line, &mut t, PairOptions::default(), None)
            .unwrap()
            .unwrap();
        assert_eq!(cmds.len(), 1);
        assert_eq!(cmds[0].0, StorageSerial(64001));
        let cmds = resolve(
            &line,
            &mut t,
            PairOptions::default(),
            Some(Mutant::NoAtomic),
        )
        .unwrap()
        .unwrap();
        let systems: Vec<u32> = cmds.iter().map(|(s, _)| s.0).collect();
        assert_eq!(systems, vec![64001, 64002]);
    }
}
