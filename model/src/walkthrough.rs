//! The Fig 5 + Fig 12 flow on the Fig 8 topology, step by step, with the pairdisplay table
//! after each step: the main job of `mirrorlab` before the simulator, and a scripted test.
//!
//! Where it starts (Fig 2): storage 64001 (primary site) holds 105a and 106a, storage 64002
//! (secondary site) holds 105b and 106b; the remote mirror ORA_R1 (105a -> 105b, async) is in
//! PAIR and the production host writes 105a.
//!
//! The steps, as a storage administrator would run them:
//! - **510**: `paircreate` the local mirrors ORA_L (105a -> 106a) and ORA_RL (105b -> 106b)
//!   with a full copy. They show COPY while the in-system copy runs (production keeps
//!   writing; those writes are tracked and copied too), then PAIR.
//! - **520**: `pairsplit --atomic ORA_L ORA_RL` (Fig 9 names; Fig 7 id pairs work too). The
//!   primary splits ORA_L, then forwards the split through ORA_R1 behind the data already
//!   sent (Figs 10/11), so ORA_RL splits at the same point of the write stream: 106a and 106b
//!   now hold identical data although production never stopped.
//! - **530**: the auxiliary hosts 120a and 120b get access to 106a and 106b: a split SVOL is
//!   writable (before the split the mirror owns it and refuses host writes).
//! - **Fig 12**: `paircreate ORA_R2 106a 106b --nocopy` builds the second remote mirror with
//!   no data sent at all: both tables are created in PAIR with empty pending bitmaps.
//! - **540**: the auxiliary application writes 106a; ORA_R2 carries it to 106b.
//!
//! Order of steps: the seed lists 510, 520, 530, 540 and then Fig 12. Here ORA_R2 is created
//! right after the split, *before* the auxiliary application writes 106a: once 106a is written
//! the split copies differ and a no-copy create is rightly refused, which the walk-through
//! shows last.

use crate::display::{format_pairdisplay, pairdisplay};
use crate::ids::{MirrorId, VolumeId};
use crate::protocol::{Message, Output, ProtocolConfig};
use crate::table::{CopyMode, CopyTable, PairOptions, PairState, Refusal};
use crate::topology::{fig2, fig8_volumes, Topology};
use crate::volume::Digest;
use crate::world::World;
use std::collections::BTreeMap;
use std::io::Write;

/// Volume size of the walk-through: small, so the initial copies are quick to print.
pub const SIZE: u64 = 64 << 20;

/// What one step did and left behind, for tests and reports.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// Short name: `fig2`, `510-copy`, `510`, `520`, `530`, `fig12`, `540`, `refused`.
    pub key: &'static str,
    /// What the step does, as printed.
    pub title: String,
    /// Each command line run in the step with every output it and the copies it started
    /// produced (messages sent included).
    pub commands: Vec<(String, Vec<Output>)>,
    /// Every Fig 6 copy management table either system holds after the step.
    pub tables: Vec<CopyTable>,
    /// The content summary of every volume after the step.
    pub digests: BTreeMap<VolumeId, Digest>,
}

impl StepRecord {
    /// The Fig 6 table of `volume` for its mirror with `mirror_volume`.
    pub fn table(&self, volume: VolumeId, mirror_volume: VolumeId) -> Option<&CopyTable> {
        self.tables
            .iter()
            .find(|t| t.volume == volume && t.mirror_volume == mirror_volume)
    }

    /// Every output of the step's commands.
    pub fn outputs(&self) -> impl Iterator<Item = &Output> {
        self.commands.iter().flat_map(|(_, o)| o)
    }

    /// Messages the step's commands sent for `mirror` that carry data (chunks or writes).
    pub fn data_messages(&self, mirror: MirrorId) -> Vec<&Message> {
        self.outputs()
            .filter_map(|o| match o {
                Output::Send { msg, .. }
                    if msg.mirror() == mirror
                        && matches!(msg, Message::Chunk { .. } | Message::Write { .. }) =>
                {
                    Some(msg)
                }
                _ => None,
            })
            .collect()
    }
}

/// The walk-through's end state and every step's record.
#[derive(Clone, Debug)]
pub struct Walkthrough {
    /// The world after the last step.
    pub world: World,
    /// The topology it ran on.
    pub topology: Topology,
    /// Every step, in order.
    pub steps: Vec<StepRecord>,
}

impl Walkthrough {
    /// The record of the step named `key` (see [`StepRecord::key`]).
    pub fn step(&self, key: &str) -> &StepRecord {
        self.steps
            .iter()
            .find(|s| s.key == key)
            .unwrap_or_else(|| panic!("no walk-through step {key:?}"))
    }
}

struct Walk<'a, W: Write> {
    out: &'a mut W,
    world: World,
    topology: Topology,
    defaults: PairOptions,
    commands: Vec<(String, Vec<Output>)>,
    steps: Vec<StepRecord>,
    next_write: u64,
}

impl<W: Write> Walk<'_, W> {
    /// Prints the step's title and the pairdisplay table, and records the step.
    fn show(&mut self, key: &'static str, title: &str) -> std::io::Result<()> {
        writeln!(self.out, "\n--- {title}")?;
        let rows = pairdisplay(&self.topology, self.world.systems.values());
        write!(self.out, "{}", format_pairdisplay(&rows))?;
        self.record(key, title);
        Ok(())
    }

    /// Records the step without printing.
    fn record(&mut self, key: &'static str, title: &str) {
        let tables = self
            .world
            .systems
            .values()
            .flat_map(|s| s.tables())
            .collect();
        let digests = self
            .world
            .systems
            .values()
            .flat_map(|s| {
                s.volumes().map(move |(serial, v)| {
                    (
                        VolumeId {
                            storage: s.serial(),
                            serial,
                        },
                        v.digest(),
                    )
                })
            })
            .collect();
        self.steps.push(StepRecord {
            key,
            title: title.to_string(),
            commands: std::mem::take(&mut self.commands),
            tables,
            digests,
        });
    }

    /// Runs a command line; with `settle`, lets every message and copy complete.
    fn run(&mut self, line: &str, settle: bool) -> Result<Vec<Output>, WalkError> {
        writeln!(self.out, "\n$ {line}")?;
        let mut out = self
            .world
            .run_command(&mut self.topology, line, self.defaults, None)?;
        if settle {
            out.extend(self.world.settle(false));
        }
        let mut answered = false;
        for o in &out {
            match o {
                Output::Refused(_, r) => writeln!(self.out, "  refused: {r}")?,
                Output::Done(_) => writeln!(self.out, "  done")?,
                _ => continue,
            }
            answered = true;
        }
        if !answered {
            writeln!(self.out, "  accepted, copying")?;
        }
        self.commands.push((line.to_string(), out.clone()));
        Ok(out)
    }

    /// The production host writes `n` times to 105a, spread over the volume.
    fn production_writes(&mut self, n: u64) {
        let [a105, ..] = fig8_volumes();
        for _ in 0..n {
            let i = self.next_write;
            self.next_write += 1;
            let offset = ((i * 7919 + 104_729) % (SIZE / 4096)) * 4096;
            self.world.write(a105, offset, 4096 * (1 + i % 4));
        }
    }

    fn same(&self, a: VolumeId, b: VolumeId) -> bool {
        self.world.volume(a).same_content(self.world.volume(b))
    }

    fn yes(&mut self, what: &str, ok: bool) -> std::io::Result<()> {
        writeln!(self.out, "{what}: {}", if ok { "yes" } else { "NO" })
    }
}

/// Why the walk-through stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// Writing the printout failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A command line of the script does not resolve.
    #[error(transparent)]
    Command(#[from] crate::command::CommandError),
    /// A step did not do what the seed says (a bug in the protocol).
    #[error("walk-through went wrong: {0}")]
    Broken(String),
}

fn broken(what: &str) -> WalkError {
    WalkError::Broken(what.to_string())
}

/// Runs the walk-through, printing to `out`; returns the end state and each step's record so
/// tests can assert on the tables.
pub fn fig5(out: &mut impl Write) -> Result<Walkthrough, WalkError> {
    let remote = PairOptions::with_mode(CopyMode::Async);
    let topology = fig2(SIZE, remote);
    let world = World::new(&topology, ProtocolConfig::default());
    let mut w = Walk {
        out,
        world,
        topology,
        defaults: PairOptions::default(),
        commands: Vec::new(),
        steps: Vec::new(),
        next_write: 0,
    };
    let [a105, a106, b105, b106] = fig8_volumes();
    writeln!(
        w.out,
        "Fig 5 + Fig 12 on the Fig 8 topology: storage 64001 (primary site: 105a, 106a) and \
         64002 (secondary site: 105b, 106b), {} MiB volumes.",
        SIZE >> 20
    )?;
    w.production_writes(16);
    w.world.settle(false);
    w.show(
        "fig2",
        "Fig 2: the first remote mirror ORA_R1 (105a -> 105b, async) in PAIR; the production \
         host writes 105a",
    )?;

    // Step 510: local mirrors with a full copy, production writing meanwhile.
    w.run("paircreate ORA_L 64001:105a 64001:106a", false)?;
    w.run("paircreate ORA_RL 64002:105b 64002:106b", false)?;
    w.production_writes(8);
    w.show(
        "510-copy",
        "Step 510: local mirrors ORA_L and ORA_RL created with a full copy: COPY while the \
         in-system copy runs (production writes meanwhile are tracked and copied too)",
    )?;
    let out = w.world.settle(false);
    w.commands
        .push(("(the copies run to the end)".to_string(), out));
    w.show("510", "Step 510 done: ORA_L and ORA_RL in PAIR")?;
    let ok = w.same(a105, a106) && w.same(a105, b105) && w.same(b105, b106);
    w.yes("105a, 106a, 105b and 106b identical", ok)?;
    if !ok {
        return Err(broken(
            "the initial copies did not make the volumes identical",
        ));
    }
    let (_, refused) = w.world.write(b106, 0, 4096);
    if !refused
        .iter()
        .any(|o| matches!(o, Output::FailWrite(_, Refusal::SvolProtected(_))))
    {
        return Err(broken("an SVOL in PAIR took a host write"));
    }
    writeln!(
        w.out,
        "An auxiliary host write to 106b is refused: the mirror owns its SVOL while in PAIR."
    )?;

    // Step 520: the atomic split, issued while production writes are still on the link.
    w.production_writes(8);
    let out = w.run("pairsplit --atomic ORA_L ORA_RL", true)?;
    if !out.iter().any(|o| matches!(o, Output::Done(_))) {
        return Err(broken("the atomic split did not complete"));
    }
    w.production_writes(8);
    w.world.settle(false);
    w.show(
        "520",
        "Step 520: atomic split of ORA_L and ORA_RL (Figs 7-11); production continues on \
         ORA_R1 and is tracked in the local mirrors' bitmaps",
    )?;
    let same = w.same(a106, b106);
    w.yes("106a and 106b identical after the split", same)?;
    if !same {
        return Err(broken("106a and 106b differ after the atomic split"));
    }

    // Step 530: the auxiliary hosts get the split SVOLs.
    let title = "Step 530: auxiliary hosts 120a and 120b get paths to 106a and 106b (split \
                 SVOLs are writable; a write there is tracked in the SVOL's pending bitmap); \
                 no copy, no table changes";
    writeln!(w.out, "\n--- {title}")?;
    w.record("530", title);

    // Fig 12: the second remote mirror without copying.
    let r2 = MirrorId::new(a106, b106);
    w.run(
        "paircreate ORA_R2 64001:106a 64002:106b --mode async --nocopy",
        true,
    )?;
    w.show(
        "fig12",
        "Fig 12 (steps 1300-1310): ORA_R2 created with no-copy: PAIR at once, both pending \
         bitmaps all zero",
    )?;
    let sent = w.steps.last().map_or(0, |s| s.data_messages(r2).len());
    writeln!(
        w.out,
        "Data sent to build ORA_R2: {sent} messages, 0 bytes (a full initial copy would send \
         {} MiB across the link).",
        SIZE >> 20
    )?;
    for s in [a106.storage, b106.storage] {
        if w.world.system(s).state(r2) != PairState::Pair || sent != 0 {
            return Err(broken(
                "the no-copy ORA_R2 is not in PAIR, or data was sent",
            ));
        }
    }

    // Step 540: the auxiliary application runs on 106a.
    let mut aux = Vec::new();
    for i in 0..6 {
        aux.extend(w.world.write(a106, i * 65536, 8192).1);
    }
    aux.extend(w.world.settle(false));
    w.commands
        .push(("(auxiliary host 120a writes 106a)".to_string(), aux));
    w.show(
        "540",
        "Step 540: the auxiliary host 120a writes 106a; ORA_R2 carries the writes to 106b",
    )?;
    let same = w.same(a106, b106);
    w.yes("106b follows 106a over ORA_R2", same)?;
    if !same {
        return Err(broken("ORA_R2 did not carry the auxiliary writes"));
    }
    write_fig6(&mut w)?;

    // A no-copy create on volumes that differ is refused (invariant 4).
    w.run("pairdelete ORA_R2", true)?;
    w.world.write(a106, 0, 4096);
    writeln!(
        w.out,
        "(the auxiliary host writes 106a once more: 106a and 106b now differ)"
    )?;
    let out = w.run(
        "paircreate ORA_R2 64001:106a 64002:106b --mode async --nocopy",
        true,
    )?;
    if !out
        .iter()
        .any(|o| matches!(o, Output::Refused(_, Refusal::NotIdentical)))
    {
        return Err(broken(
            "no-copy on differing volumes was not refused as not identical",
        ));
    }
    let r1 = MirrorId::new(a105, b105);
    let final_state = w.world.system(a105.storage).state(r1);
    if final_state != PairState::Pair {
        return Err(WalkError::Broken(format!("ORA_R1 ended in {final_state}")));
    }
    w.show(
        "refused",
        "Fig 12 refused: after 106a changed, a no-copy ORA_R2 is refused and stays SIMPLEX; \
         ORA_R1 is still in PAIR",
    )?;
    Ok(Walkthrough {
        world: w.world,
        topology: w.topology,
        steps: w.steps,
    })
}

/// Prints every Fig 6 copy management table, one per volume per mirror.
fn write_fig6<W: Write>(w: &mut Walk<'_, W>) -> std::io::Result<()> {
    writeln!(
        w.out,
        "\nFig 6 copy management tables (one per volume per mirror):\n{:<8} {:<12} {:<11} {:<14} \
         {:<17} {:<7} {:<8} Pending Bitmap",
        "Mirror", "Volume", "Copy Type", "Pair System ID", "Mirror Volume ID", "Primary", "Status"
    )?;
    let mut tables: Vec<CopyTable> = w.world.systems.values().flat_map(|s| s.tables()).collect();
    tables.sort_by_key(|t| (t.volume, t.mirror_volume));
    for t in &tables {
        let (p, s) = if t.primary {
            (t.volume, t.mirror_volume)
        } else {
            (t.mirror_volume, t.volume)
        };
        let group = w.topology.group_of(MirrorId::new(p, s)).unwrap_or("-");
        let pending = match t.pending.count() {
            0 => "all zero".to_string(),
            n => format!("{n} chunks set"),
        };
        writeln!(
            w.out,
            "{:<8} {:<12} {:<11} {:<14} {:<17} {:<7} {:<8} {}",
            group,
            t.volume.to_string(),
            t.copy_type.to_string(),
            t.pair_system.to_string(),
            t.mirror_volume.to_string(),
            if t.primary { "YES" } else { "NO" },
            t.status.to_string(),
            pending
        )?;
    }
    Ok(())
}
