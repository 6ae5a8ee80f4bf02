//! Replay steps: one run of the protocol told step by step in domain words.
//!
//! The model checker finds a run (a counterexample, or any path of the checked world) as a
//! list of its actions; the simulator's links are timed FIFOs and its host network has a
//! latency, so a scenario driven by the clock cannot force that interleaving. A scenario's
//! `[replay]` section scripts it instead, one [`Step`] per line, and `mirrorlab run` applies
//! each through the same [`crate::protocol::StorageSystem::handle`] the checker calls. This
//! module owns that grammar (`Display` and `FromStr` round-trip) and how a message in flight
//! is named by its content ([`MessageKey`]: kind, mirror, sequence number or split), so a step
//! picks "the split of ORA_R1 forwarded by command 1 of 64001" rather than an index into some
//! internal order, and a replay does not silently drift when queues differ.
//!
//! ```text
//! HOST writes wN to VOLUME block B                   a host writes one block (version wN)
//! run COMMAND-LINE [(part K of N)]                   the administrator runs a command line
//! link A->B delivers MESSAGE                         the oldest message on the replication
//!                                                    link A->B arrives; it must be MESSAGE
//! host network A->B delivers MESSAGE                 a message queued on the host network
//!                                                    arrives (the oldest that is MESSAGE)
//! timer KIND of MIRROR fires at STORAGE              a protocol timer fires (cycle, pass,
//!                                                    local-copy)
//! MESSAGE = KIND of MIRROR [seq N | split ROOT/COMMAND]
//! ```
//!
//! A MIRROR is a group name or `PVOL,SVOL`, as on command lines. Faults are command lines
//! too (`run linkdown wan`, `run crash 64002`). A command line the protocol receives as
//! several commands (a `pairsplit` of several mirrors without `--atomic`, or any split under
//! the `no-atomic` mutant: one split per mirror) is run one part per step, `(part K of N)`,
//! because the interleaving between the parts is the point of such a run.

use crate::command::{CommandError, CommandLine};
use crate::ids::{CommandId, IdError, MirrorId, StorageSerial, VolumeId, WriteId};
use crate::protocol::{MarkKind, Message, SplitId, Timer, Transport};
use crate::topology::{MirrorRef, MirrorRefError};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// One step of a replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A host writes block `block` of `volume` with version `write` (Fig 5 step 500's
    /// production I/O, or the auxiliary host on a split SVOL).
    Write {
        /// The host, by its name in the scenario.
        host: String,
        /// The version written.
        write: WriteId,
        /// The volume written.
        volume: VolumeId,
        /// The block written.
        block: u64,
    },
    /// The administrator runs a command line (HORCM verb or fault), or one part of it.
    Run {
        /// The command line as written.
        line: CommandLine,
        /// Which protocol command of the line, when it becomes several (one per system); `None` runs them all.
        part: Option<Part>,
    },
    /// The channel `from -> to` of `via` delivers `message`.
    Deliver {
        /// The path.
        via: Transport,
        /// The sending system.
        from: StorageSerial,
        /// The receiving system.
        to: StorageSerial,
        /// Which message in flight, named by its content.
        message: MessageKey<MirrorRef>,
    },
    /// A timer the protocol set on `system` fires.
    Timer {
        /// Which timer.
        kind: TimerKind,
        /// The mirror it belongs to.
        mirror: MirrorRef,
        /// The system that set it.
        system: StorageSerial,
    },
}

/// Part `k` of the `of` protocol commands one command line becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Which part, from 1.
    pub k: u32,
    /// How many parts the line becomes.
    pub of: u32,
}

/// What a message is, as far as naming it in a replay needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MessageKind {
    /// `write`: `Message::Write`.
    Write,
    /// `chunk`: `Message::Chunk`.
    Chunk,
    /// `split-mark`: `Message::Mark` of kind `MarkKind::Split`.
    SplitMark,
    /// `cycle-end`: `Message::Mark` of kind `MarkKind::CycleEnd`.
    CycleEnd,
    /// `pass-end`: `Message::Mark` of kind `MarkKind::PassEnd`.
    PassEnd,
    /// `ack`: `Message::Ack`.
    Ack,
    /// `forward`: `Message::Forward`.
    Forward,
    /// `split-done`: `Message::SplitDone`.
    SplitDone,
    /// `create`: `Message::Create`.
    Create,
    /// `create-reply`: `Message::CreateReply`.
    CreateReply,
    /// `resync`: `Message::Resync`.
    Resync,
    /// `resync-bitmap`: `Message::ResyncBitmap`.
    ResyncBitmap,
    /// `copy-complete`: `Message::CopyComplete`.
    CopyComplete,
    /// `suspend`: `Message::Suspend`.
    Suspend,
    /// `delete`: `Message::Delete`.
    Delete,
}

/// Which detail tells messages of one kind and mirror apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tag {
    /// Kinds of which one at a time travels per mirror (create, resync, suspend, ...).
    None,
    /// Sequenced data, marks and acks: the mirror's sequence number.
    Seq(u64),
    /// A forwarded split and its answer: the split, named by its root system and the number
    /// of the command that started it there (commands are numbered 1, 2, ... in the order the
    /// storage systems receive them).
    Split(SplitId),
}

/// A message named by its content. `M` is how the mirror is named: [`MirrorRef`] as written
/// in a step, [`MirrorId`] once resolved against a topology.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MessageKey<M> {
    /// What the message is.
    pub kind: MessageKind,
    /// The mirror it belongs to.
    pub mirror: M,
    /// What tells it from others of its kind and mirror.
    pub tag: Tag,
}

/// The protocol timers by kind; the mirror completes a [`Timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// `cycle`: `Timer::Cycle`.
    Cycle,
    /// `pass`: `Timer::Pass`.
    Pass,
    /// `local-copy`: `Timer::LocalCopy`.
    LocalCopy,
}

/// Why a replay step does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StepError {
    #[error(
        "expected a step like \"prod writes w1 to 64001:105a block 0\", \"run pairsplit --atomic \
         ORA_L ORA_RL\", \"link 64001->64002 delivers write of ORA_R1 seq 1\", \"host network \
         64001->64002 delivers forward of ORA_R1 split 64001/1\" or \"timer local-copy of ORA_L \
         fires at 64001\", found {0:?}"
    )]
    /// The line matches no step form.
    Form(String),
    /// A part of the step is not what its place needs.
    #[error("expected {what}, found {found:?}")]
    /// A part of the step is not what its place needs.
    Expected {
        /// What the place needs.
        what: &'static str,
        /// What the line has there.
        found: String,
    },
    #[error("expected a message kind ({}), found {0:?}", MessageKind::names())]
    /// An unknown message kind.
    Kind(String),
    #[error("a {kind} message is named {needs}, e.g. \"{kind} of ORA_R1{example}\"")]
    /// A message named without the detail its kind needs.
    Tag {
        /// The message kind.
        kind: MessageKind,
        /// The detail it needs.
        needs: &'static str,
        /// How that detail is written.
        example: &'static str,
    },
    #[error(transparent)]
    /// A bad storage or volume id.
    Id(#[from] IdError),
    #[error(transparent)]
    /// A bad mirror name.
    Mirror(#[from] MirrorRefError),
    #[error("run: {0}")]
    /// A bad command line in a `run` step.
    Command(#[from] CommandError),
}

impl MessageKind {
    /// Every kind, in the order the grammar lists them.
    pub const ALL: [MessageKind; 15] = [
        MessageKind::Write,
        MessageKind::Chunk,
        MessageKind::SplitMark,
        MessageKind::CycleEnd,
        MessageKind::PassEnd,
        MessageKind::Ack,
        MessageKind::Forward,
        MessageKind::SplitDone,
        MessageKind::Create,
        MessageKind::CreateReply,
        MessageKind::Resync,
        MessageKind::ResyncBitmap,
        MessageKind::CopyComplete,
        MessageKind::Suspend,
        MessageKind::Delete,
    ];

    /// The kind as a step writes it (`split-done`).
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Write => "write",
            MessageKind::Chunk => "chunk",
            MessageKind::SplitMark => "split-mark",
            MessageKind::CycleEnd => "cycle-end",
            MessageKind::PassEnd => "pass-end",
            MessageKind::Ack => "ack",
            MessageKind::Forward => "forward",
            MessageKind::SplitDone => "split-done",
            MessageKind::Create => "create",
            MessageKind::CreateReply => "create-reply",
            MessageKind::Resync => "resync",
            MessageKind::ResyncBitmap => "resync-bitmap",
            MessageKind::CopyComplete => "copy-complete",
            MessageKind::Suspend => "suspend",
            MessageKind::Delete => "delete",
        }
    }

    fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Which tag names a message of this kind: what the protocol can have in flight at once.
    fn tagged(self) -> TagKind {
        match self {
            MessageKind::Write
            | MessageKind::Chunk
            | MessageKind::SplitMark
            | MessageKind::CycleEnd
            | MessageKind::PassEnd
            | MessageKind::Ack => TagKind::Seq,
            MessageKind::Forward | MessageKind::SplitDone => TagKind::Split,
            _ => TagKind::None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TagKind {
    None,
    Seq,
    Split,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl MessageKey<MirrorId> {
    /// The name of `msg`.
    pub fn of(msg: &Message) -> Self {
        let (kind, tag) = match msg {
            Message::Write { seq, .. } => (MessageKind::Write, Tag::Seq(*seq)),
            Message::Chunk { seq, .. } => (MessageKind::Chunk, Tag::Seq(*seq)),
            Message::Mark { seq, kind, .. } => (
                match kind {
                    MarkKind::Split => MessageKind::SplitMark,
                    MarkKind::CycleEnd => MessageKind::CycleEnd,
                    MarkKind::PassEnd => MessageKind::PassEnd,
                },
                Tag::Seq(*seq),
            ),
            Message::Ack { seq, .. } => (MessageKind::Ack, Tag::Seq(*seq)),
            Message::Forward { split, .. } => (MessageKind::Forward, Tag::Split(*split)),
            Message::SplitDone { split, .. } => (MessageKind::SplitDone, Tag::Split(*split)),
            Message::Create { .. } => (MessageKind::Create, Tag::None),
            Message::CreateReply { .. } => (MessageKind::CreateReply, Tag::None),
            Message::Resync { .. } => (MessageKind::Resync, Tag::None),
            Message::ResyncBitmap { .. } => (MessageKind::ResyncBitmap, Tag::None),
            Message::CopyComplete { .. } => (MessageKind::CopyComplete, Tag::None),
            Message::Suspend { .. } => (MessageKind::Suspend, Tag::None),
            Message::Delete { .. } => (MessageKind::Delete, Tag::None),
        };
        MessageKey {
            kind,
            mirror: msg.mirror(),
            tag,
        }
    }
}

impl<M> MessageKey<M> {
    /// The same key with the mirror named another way.
    pub fn map<N>(self, f: impl FnOnce(M) -> N) -> MessageKey<N> {
        MessageKey {
            kind: self.kind,
            mirror: f(self.mirror),
            tag: self.tag,
        }
    }
}

impl<M: fmt::Display> fmt::Display for MessageKey<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.kind, self.mirror)?;
        match self.tag {
            Tag::None => Ok(()),
            Tag::Seq(n) => write!(f, " seq {n}"),
            Tag::Split(s) => write!(f, " split {}/{}", s.root, s.command.0),
        }
    }
}

impl TimerKind {
    /// A timer's kind and mirror.
    pub fn of(timer: Timer) -> (TimerKind, MirrorId) {
        match timer {
            Timer::Cycle(m) => (TimerKind::Cycle, m),
            Timer::Pass(m) => (TimerKind::Pass, m),
            Timer::LocalCopy(m) => (TimerKind::LocalCopy, m),
        }
    }

    /// The timer of this kind for mirror `m`.
    pub fn timer(self, m: MirrorId) -> Timer {
        match self {
            TimerKind::Cycle => Timer::Cycle(m),
            TimerKind::Pass => Timer::Pass(m),
            TimerKind::LocalCopy => Timer::LocalCopy(m),
        }
    }

    fn name(self) -> &'static str {
        match self {
            TimerKind::Cycle => "cycle",
            TimerKind::Pass => "pass",
            TimerKind::LocalCopy => "local-copy",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Write {
                host,
                write,
                volume,
                block,
            } => write!(f, "{host} writes {write} to {volume} block {block}"),
            Step::Run { line, part } => {
                write!(f, "run {line}")?;
                match part {
                    Some(p) => write!(f, " (part {} of {})", p.k, p.of),
                    None => Ok(()),
                }
            }
            Step::Deliver {
                via,
                from,
                to,
                message,
            } => {
                let channel = match via {
                    Transport::Interconnect => "link",
                    Transport::HostNetwork => "host network",
                };
                write!(f, "{channel} {from}->{to} delivers {message}")
            }
            Step::Timer {
                kind,
                mirror,
                system,
            } => write!(f, "timer {} of {mirror} fires at {system}", kind.name()),
        }
    }
}

/// `word` must be `want`.
fn keyword(word: Option<&str>, want: &'static str) -> Result<(), StepError> {
    match word {
        Some(w) if w == want => Ok(()),
        other => Err(StepError::Expected {
            what: want,
            found: other.unwrap_or("the end of the step").to_string(),
        }),
    }
}

fn number<T: FromStr>(word: Option<&str>, what: &'static str) -> Result<T, StepError> {
    let w = word.unwrap_or("the end of the step");
    w.parse().map_err(|_| StepError::Expected {
        what,
        found: w.to_string(),
    })
}

/// `A->B`.
fn direction(word: Option<&str>) -> Result<(StorageSerial, StorageSerial), StepError> {
    let w = word.unwrap_or("the end of the step");
    let (a, b) = w.split_once("->").ok_or_else(|| StepError::Expected {
        what: "a direction like 64001->64002",
        found: w.to_string(),
    })?;
    Ok((a.parse()?, b.parse()?))
}

/// `KIND of MIRROR [seq N | split ROOT/COMMAND]`, the whole rest of the step.
fn message_key(words: &[&str]) -> Result<MessageKey<MirrorRef>, StepError> {
    let mut it = words.iter().copied();
    let kind_word = it.next().unwrap_or("the end of the step");
    let kind = MessageKind::ALL
        .into_iter()
        .find(|k| k.name() == kind_word)
        .ok_or_else(|| StepError::Kind(kind_word.to_string()))?;
    keyword(it.next(), "of")?;
    let mirror: MirrorRef = it
        .next()
        .ok_or(StepError::Expected {
            what: "a mirror (a group or PVOL,SVOL)",
            found: "the end of the step".to_string(),
        })?
        .parse()?;
    let tag = match (it.next(), kind.tagged()) {
        (None, TagKind::None) => Tag::None,
        (Some("seq"), TagKind::Seq) => Tag::Seq(number(it.next(), "a sequence number")?),
        (Some("split"), TagKind::Split) => {
            let w = it.next().unwrap_or("the end of the step");
            let bad = || StepError::Expected {
                what: "a split like 64001/1 (root storage / command number)",
                found: w.to_string(),
            };
            let (root, command) = w.split_once('/').ok_or_else(bad)?;
            Tag::Split(SplitId {
                root: root.parse()?,
                command: CommandId(command.parse().map_err(|_| bad())?),
            })
        }
        (_, t) => {
            let (needs, example) = match t {
                TagKind::None => ("by its mirror alone", ""),
                TagKind::Seq => ("by its sequence number", " seq 3"),
                TagKind::Split => ("by its split", " split 64001/1"),
            };
            return Err(StepError::Tag {
                kind,
                needs,
                example,
            });
        }
    };
    if let Some(extra) = it.next() {
        return Err(StepError::Expected {
            what: "the end of the step",
            found: extra.to_string(),
        });
    }
    Ok(MessageKey { kind, mirror, tag })
}

/// `run LINE [(part K of N)]`: the part suffix, if any, and the line before it.
fn run_step(rest: &str) -> Result<Step, StepError> {
    let (line, part) = match rest.strip_suffix(')').and_then(|r| r.rsplit_once("(part ")) {
        Some((line, part)) => {
            let words: Vec<&str> = part.split_whitespace().collect();
            let bad = || StepError::Expected {
                what: "a part like (part 1 of 2)",
                found: format!("(part {part})"),
            };
            let [k, "of", of] = words[..] else {
                return Err(bad());
            };
            let (k, of): (u32, u32) = (
                k.parse().map_err(|_| bad())?,
                of.parse().map_err(|_| bad())?,
            );
            if k == 0 || k > of {
                return Err(bad());
            }
            (line, Some(Part { k, of }))
        }
        None => (rest, None),
    };
    Ok(Step::Run {
        line: line.parse()?,
        part,
    })
}

impl FromStr for Step {
    type Err = StepError;

    fn from_str(text: &str) -> Result<Self, StepError> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let form = || StepError::Form(text.to_string());
        match words[..] {
            [host, "writes", ..] => {
                let mut it = words[2..].iter().copied();
                let w = it.next().unwrap_or("the end of the step");
                let write = w
                    .strip_prefix('w')
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .map(WriteId)
                    .ok_or_else(|| StepError::Expected {
                        what: "a write like w1 (its number, from 1, is the version it leaves)",
                        found: w.to_string(),
                    })?;
                keyword(it.next(), "to")?;
                let volume = it.next().unwrap_or("the end of the step").parse()?;
                keyword(it.next(), "block")?;
                let block = number(it.next(), "a block number")?;
                if let Some(extra) = it.next() {
                    return Err(StepError::Expected {
                        what: "the end of the step",
                        found: extra.to_string(),
                    });
                }
                Ok(Step::Write {
                    host: host.to_string(),
                    write,
                    volume,
                    block,
                })
            }
            ["run", ..] => {
                let rest = text.trim_start().strip_prefix("run").unwrap_or_default();
                run_step(rest.trim())
            }
            ["link", dir, "delivers", ref rest @ ..] => {
                let (from, to) = direction(Some(dir))?;
                Ok(Step::Deliver {
                    via: Transport::Interconnect,
                    from,
                    to,
                    message: message_key(rest)?,
                })
            }
            ["host", "network", dir, "delivers", ref rest @ ..] => {
                let (from, to) = direction(Some(dir))?;
                Ok(Step::Deliver {
                    via: Transport::HostNetwork,
                    from,
                    to,
                    message: message_key(rest)?,
                })
            }
            ["timer", kind, "of", mirror, "fires", "at", system] => Ok(Step::Timer {
                kind: [TimerKind::Cycle, TimerKind::Pass, TimerKind::LocalCopy]
                    .into_iter()
                    .find(|k| k.name() == kind)
                    .ok_or_else(|| StepError::Expected {
                        what: "a timer kind (cycle, pass or local-copy)",
                        found: kind.to_string(),
                    })?,
                mirror: mirror.parse()?,
                system: system.parse()?,
            }),
            _ => Err(form()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_trip() {
        for text in [
            "prod writes w1 to 64001:105a block 1",
            "aux writes w101 to 64001:106a block 0",
            "run pairsplit --atomic ORA_L ORA_RL",
            "run pairsplit --atomic ORA_L ORA_RL (part 2 of 2)",
            "run paircreate ORA_R2 64001:106a 64002:106b --nocopy",
            "run linkdown wan",
            "run crash 64002",
            "link 64001->64002 delivers write of ORA_R1 seq 3",
            "link 64002->64001 delivers ack of 64001:105a,64002:105b seq 3",
            "link 64001->64002 delivers create of ORA_R2",
            "host network 64001->64002 delivers forward of ORA_R1 split 64001/1",
            "host network 64002->64001 delivers split-done of ORA_R1 split 64001/1",
            "timer local-copy of ORA_L fires at 64001",
        ] {
            let step: Step = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(step.to_string(), text);
        }
    }

    #[test]
    fn bad_steps_say_what_was_expected() {
        for (text, want) in [
            ("", "expected a step like"),
            ("prod scribbles w1", "expected a step like"),
            ("prod writes 1 to 64001:105a block 0", "a write like w1"),
            ("prod writes w0 to 64001:105a block 0", "a write like w1"),
            ("prod writes w1 to 64001-105a block 0", "a volume id"),
            ("prod writes w1 to 64001:105a block x", "a block number"),
            ("run pairsplitt ORA_L", "unknown verb"),
            (
                "run pairsplit ORA_L (part 3 of 2)",
                "a part like (part 1 of 2)",
            ),
            (
                "link 64001-64002 delivers ack of ORA_R1 seq 1",
                "a direction",
            ),
            (
                "link 64001->64002 delivers parcel of ORA_R1",
                "a message kind",
            ),
            (
                "link 64001->64002 delivers write of ORA_R1",
                "by its sequence number",
            ),
            (
                "link 64001->64002 delivers create of ORA_R2 seq 1",
                "by its mirror alone",
            ),
            (
                "host network 64001->64002 delivers forward of ORA_R1 split 1",
                "a split like 64001/1",
            ),
            ("timer tick of ORA_L fires at 64001", "a timer kind"),
        ] {
            let e = text.parse::<Step>().unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn a_message_key_names_its_message() {
        let m = MirrorId::new(VolumeId::new(64001, 0x105a), VolumeId::new(64002, 0x105b));
        let msg = Message::Ack { mirror: m, seq: 4 };
        let key = MessageKey::of(&msg).map(|_| MirrorRef::Group("ORA_R1".into()));
        assert_eq!(key.to_string(), "ack of ORA_R1 seq 4");
    }
}
