//! The Fig 5 + Fig 12 flow on the Fig 8 topology, step by step, with the pairdisplay table
//! after each step: the main job of `mirrorlab` before the simulator, and a scripted test.
//!
//! Order of steps: the seed's Fig 5 lists 510 (local mirrors), 520 (atomic split), 530 (aux
//! hosts get access) and 540 (aux applications run). The second remote mirror ORA_R2 is
//! created with no-copy (Fig 12) right after the split, *before* the auxiliary application
//! writes 106a: once 106a is written the split copies differ and a no-copy create is rightly
//! refused, which the walk-through also shows.

use crate::display::{format_pairdisplay, pairdisplay};
use crate::ids::MirrorId;
use crate::protocol::{Output, ProtocolConfig};
use crate::table::{CopyMode, PairOptions, PairState};
use crate::topology::{fig2, fig8_volumes, Topology};
use crate::world::World;
use std::io::Write;

/// Volume size of the walk-through: small, so the initial copies are quick to print.
const SIZE: u64 = 64 << 20;

struct Walk<'a, W: Write> {
    out: &'a mut W,
    world: World,
    topology: Topology,
    defaults: PairOptions,
    step: usize,
}

impl<W: Write> Walk<'_, W> {
    fn show(&mut self, title: &str) -> std::io::Result<()> {
        self.step += 1;
        writeln!(self.out, "\n== {}. {title}", self.step)?;
        let rows = pairdisplay(&self.topology, self.world.systems.values());
        write!(self.out, "{}", format_pairdisplay(&rows))
    }

    /// Runs a command line, then lets every message and copy complete.
    fn run(&mut self, line: &str) -> Result<Vec<Output>, WalkError> {
        writeln!(self.out, "\n$ {line}")?;
        let mut out = self
            .world
            .run_command(&mut self.topology, line, self.defaults, None)?;
        out.extend(self.world.settle(false));
        for o in &out {
            if let Output::Refused(_, r) = o {
                writeln!(self.out, "refused: {r}")?;
            }
        }
        Ok(out)
    }

    fn production_writes(&mut self, n: u64, seed: u64) {
        let [a105, ..] = fig8_volumes();
        for i in 0..n {
            let offset = ((i * 7919 + seed * 104_729) % (SIZE / 4096)) * 4096;
            self.world.write(a105, offset, 4096 * (1 + i % 4));
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Command(#[from] crate::command::CommandError),
    #[error("walk-through went wrong: {0}")]
    Broken(String),
}

/// Runs the walk-through, printing to `out`; returns the final world and topology so tests
/// can assert on the tables.
pub fn fig5(out: &mut impl Write) -> Result<(World, Topology), WalkError> {
    let remote = PairOptions::with_mode(CopyMode::Async);
    let topology = fig2(SIZE, remote);
    let world = World::new(&topology, ProtocolConfig::default());
    let mut w = Walk {
        out,
        world,
        topology,
        defaults: PairOptions::default(),
        step: 0,
    };
    writeln!(
        w.out,
        "Fig 5 + Fig 12 on the Fig 8 topology: storage 64001 (primary) and 64002 (secondary), \
         remote mirror ORA_R1 (105a -> 105b, async) already in PAIR."
    )?;
    w.production_writes(16, 1);
    w.world.settle(false);
    w.show("Fig 2: the first remote mirror ORA_R1 in PAIR, production host writing 105a")?;

    w.run("paircreate ORA_L 64001:105a 64001:106a")?;
    w.run("paircreate ORA_RL 64002:105b 64002:106b")?;
    w.production_writes(16, 2);
    w.world.settle(false);
    w.show("Step 510: local mirrors ORA_L and ORA_RL created with a full copy (COPY -> PAIR)")?;

    w.production_writes(8, 3);
    // The split is issued while production writes are still in flight on ORA_R1.
    let out = w.run("pairsplit --atomic ORA_L ORA_RL")?;
    if !out.iter().any(|o| matches!(o, Output::Done(_))) {
        return Err(WalkError::Broken("the atomic split did not complete".into()));
    }
    w.production_writes(8, 4);
    w.world.settle(false);
    let [a105, a106, b105, b106] = fig8_volumes();
    let same = w.world.volume(a106).digest() == w.world.volume(b106).digest();
    w.show("Step 520: atomic split of ORA_L and ORA_RL (Fig 10/11); production continues")?;
    writeln!(
        w.out,
        "106a and 106b identical after the split: {}",
        if same { "yes" } else { "NO" }
    )?;
    writeln!(
        w.out,
        "Step 530: auxiliary hosts 120a and 120b get access to 106a and 106b (split SVOLs are writable)."
    )?;

    w.run("paircreate ORA_R2 64001:106a 64002:106b --mode async --nocopy")?;
    w.show("Fig 12: ORA_R2 created with no-copy: PAIR at once, bitmaps all zero, nothing sent")?;

    for i in 0..6 {
        w.world.write(a106, i * 65536, 8192);
    }
    w.world.settle(false);
    w.show("Step 540: auxiliary host 120a writes 106a; ORA_R2 carries it to 106b")?;
    writeln!(
        w.out,
        "\nFig 6 copy management tables of 105a and 106a:\n{:<12} {:<11} {:<11} {:<12} {:<7} {:<8} Pending chunks",
        "Volume", "Copy Type", "Pair Sys", "Mirror Vol", "Primary", "Status"
    )?;
    let tables = w.world.system(a105.storage).tables();
    for t in tables.iter().filter(|t| t.volume == a105 || t.volume == a106) {
        writeln!(
            w.out,
            "{:<12} {:<11} {:<11} {:<12} {:<7} {:<8} {}",
            t.volume.to_string(),
            t.copy_type.to_string(),
            t.pair_system.to_string(),
            t.mirror_volume.to_string(),
            if t.primary { "YES" } else { "NO" },
            t.status.to_string(),
            t.pending.count()
        )?;
    }

    // A no-copy create on volumes that now differ is refused (invariant 4).
    w.run("pairdelete ORA_R2")?;
    w.world.write(a106, 0, 4096);
    let out = w.run("paircreate ORA_R2 64001:106a 64002:106b --mode async --nocopy")?;
    if !out.iter().any(|o| matches!(o, Output::Refused(..))) {
        return Err(WalkError::Broken("no-copy on differing volumes was accepted".into()));
    }
    let r1 = MirrorId::new(a105, b105);
    let final_state = w.world.system(a105.storage).state(r1);
    if final_state != PairState::Pair {
        return Err(WalkError::Broken(format!("ORA_R1 ended in {final_state}")));
    }
    w.show("Fig 12 refused: after 106a changed, a no-copy ORA_R2 is refused and stays SIMPLEX")?;
    Ok((w.world, w.topology))
}
