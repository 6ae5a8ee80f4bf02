//! A whole replicated world without time: the storage systems, one FIFO interconnect queue per
//! direction, the unordered host network, and the timers asked for. It is a plain driver of
//! [`StorageSystem::handle`] that delivers whatever its caller picks, so unit tests, the Fig 5
//! walk-through and the model checker (which picks every possibility) share it.

use crate::command::{resolve, CommandError, CommandLine};
use crate::fabric::{Fabric, Route, Wire};
use crate::ids::{CommandId, MirrorId, StorageSerial, VolumeId, WriteId};
use crate::protocol::{
    Command, HostWrite, Input, Message, Mutant, Output, ProtocolConfig, StorageSystem, Timer,
    Transport,
};
use crate::table::PairOptions;
use crate::topology::Topology;
use crate::volume::Volume;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A message on the host network (host agents), which delivers in any order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    /// The sending system.
    pub from: StorageSerial,
    /// The receiving system.
    pub to: StorageSerial,
    /// The message.
    pub msg: Message,
}

/// The systems and faults are the [`Fabric`]'s (reached through `Deref`, e.g. `w.systems`);
/// what is in flight and which timers are set are the world's own.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    /// The systems and what is down, shared with the simulator's rules.
    pub fabric: Fabric,
    /// Interconnect, one FIFO per direction `(from, to)`.
    pub links: BTreeMap<(StorageSerial, StorageSerial), VecDeque<Message>>,
    /// Host network: unordered, kept sorted so equal worlds compare equal.
    pub host_net: Vec<Envelope>,
    /// Timers asked for and not yet fired.
    pub timers: BTreeSet<(StorageSerial, Timer)>,
    next_write: u64,
    next_command: u64,
}

impl std::ops::Deref for World {
    type Target = Fabric;
    fn deref(&self) -> &Fabric {
        &self.fabric
    }
}

/// The untimed wire: queues without a clock, and a log of every output (the world's calls
/// return what the systems said).
struct Queues<'a> {
    links: &'a mut BTreeMap<(StorageSerial, StorageSerial), VecDeque<Message>>,
    host_net: &'a mut Vec<Envelope>,
    timers: &'a mut BTreeSet<(StorageSerial, Timer)>,
    log: Vec<Output>,
}

impl Wire for Queues<'_> {
    fn send(
        &mut self,
        fab: &Fabric,
        from: usize,
        to: StorageSerial,
        via: Transport,
        msg: Message,
        route: Route,
    ) {
        self.log.push(Output::Send {
            to,
            via,
            msg: msg.clone(),
        });
        if !matches!(route, Route::Carried(_)) {
            return;
        }
        let from = fab.serial(from);
        match via {
            Transport::Interconnect => self.links.entry((from, to)).or_default().push_back(msg),
            Transport::HostNetwork => {
                let e = Envelope { from, to, msg };
                let at = self.host_net.partition_point(|x| *x < e);
                self.host_net.insert(at, e);
            }
        }
    }

    fn set_timer(&mut self, fab: &Fabric, at: usize, timer: Timer, after_ns: u64) {
        self.log.push(Output::SetTimer { timer, after_ns });
        self.timers.insert((fab.serial(at), timer));
    }

    fn output(&mut self, _: &Fabric, _: usize, out: &Output) {
        self.log.push(out.clone());
    }

    fn link_lost(&mut self, fab: &Fabric, _: usize, a: usize, b: usize) {
        let (a, b) = (fab.serial(a), fab.serial(b));
        self.links.remove(&(a, b));
        self.links.remove(&(b, a));
    }

    fn system_lost(&mut self, fab: &Fabric, s: usize) {
        let s = fab.serial(s);
        self.links.retain(|&(a, b), _| a != s && b != s);
        self.host_net.retain(|e| e.from != s && e.to != s);
        self.timers.retain(|&(x, _)| x != s);
    }
}

impl World {
    /// Every volume of `topology`, every mirror of it installed in PAIR, a replication link
    /// between every two systems (an untimed harness has no link list; a mirror a command
    /// creates may join any two).
    pub fn new(topology: &Topology, config: ProtocolConfig) -> Self {
        let serials: Vec<StorageSerial> = topology.systems().into_iter().collect();
        let links: Vec<(StorageSerial, StorageSerial)> = serials
            .iter()
            .enumerate()
            .flat_map(|(k, &a)| serials[k + 1..].iter().map(move |&b| (a, b)))
            .collect();
        let mut w = World {
            fabric: Fabric::install(topology, config, &serials, &links, |_| true),
            links: BTreeMap::new(),
            host_net: Vec::new(),
            timers: BTreeSet::new(),
            next_write: 0,
            next_command: 0,
        };
        w.with_wire(|fab, wire| fab.start(wire));
        w
    }

    /// Runs `f` on the fabric with this world's queues as its wire; returns what was said.
    fn with_wire(&mut self, f: impl FnOnce(&mut Fabric, &mut Queues<'_>)) -> Vec<Output> {
        let mut wire = Queues {
            links: &mut self.links,
            host_net: &mut self.host_net,
            timers: &mut self.timers,
            log: Vec::new(),
        };
        f(&mut self.fabric, &mut wire);
        wire.log
    }

    /// The system with serial `s` (panics if there is none: a harness bug).
    pub fn system(&self, s: StorageSerial) -> &StorageSystem {
        &self.fabric.systems[&s]
    }

    /// Volume `v` (panics if there is none: a harness bug).
    pub fn volume(&self, v: VolumeId) -> &Volume {
        self.system(v.storage)
            .volume(v.serial)
            .expect("volume exists")
    }

    /// Feeds one input to one system and routes its outputs; returns all outputs.
    pub fn input(&mut self, s: StorageSerial, input: Input) -> Vec<Output> {
        match self.fabric.index(s) {
            Some(i) => self.with_wire(|fab, wire| fab.input(i, input, wire)),
            None => Vec::new(),
        }
    }

    /// A host attached to `volume`'s system writes `len` bytes at `offset`.
    pub fn write(&mut self, volume: VolumeId, offset: u64, len: u64) -> (WriteId, Vec<Output>) {
        self.next_write += 1;
        let id = WriteId(self.next_write);
        let w = HostWrite {
            id,
            volume: volume.serial,
            offset,
            len,
        };
        (id, self.input(volume.storage, Input::Write(w)))
    }

    /// Issues a protocol command to system `s`.
    pub fn command(&mut self, s: StorageSerial, command: Command) -> (CommandId, Vec<Output>) {
        self.next_command += 1;
        let id = CommandId(self.next_command);
        (id, self.input(s, Input::Command { id, command }))
    }

    /// Parses, resolves and issues a HORCM command line (faults included). A fault or
    /// takeover the [`Fabric`] refuses (a restart of a running system, a second takeover) is a
    /// no-op: it says nothing.
    pub fn run_command(
        &mut self,
        topology: &mut Topology,
        line: &str,
        defaults: PairOptions,
        mutant: Option<Mutant>,
    ) -> Result<Vec<Output>, CommandError> {
        let parsed: CommandLine = line.parse()?;
        let mut out = Vec::new();
        if let CommandLine::Takeover { storage } = parsed {
            let i = self.fabric.index(storage);
            if i.is_some_and(|i| self.fabric.take_over(i).is_err()) {
                return Ok(out);
            }
        }
        match resolve(&parsed, topology, defaults, mutant)? {
            Some(cmds) => {
                for (s, c) in cmds {
                    out.extend(self.command(s, c).1);
                }
            }
            None => out.extend(match parsed {
                CommandLine::Crash { storage } => self.crash(storage),
                CommandLine::Disaster { storage } => self.stop(storage, true),
                CommandLine::Restart { storage } => self.restart(storage),
                // The first link: the one between the first two systems.
                CommandLine::LinkDown { .. } => self.with_wire(|fab, wire| fab.link_down(0, wire)),
                CommandLine::LinkUp { .. } => self.with_wire(|fab, wire| fab.link_up(0, wire)),
                _ => unreachable!("resolve handles every protocol verb"),
            }),
        }
        Ok(out)
    }

    /// The link joining `a` and `b`.
    fn link(&self, a: StorageSerial, b: StorageSerial) -> Option<usize> {
        let (i, j) = (self.fabric.index(a)?, self.fabric.index(b)?);
        self.fabric.link_between(i, j)
    }

    /// The replication link between `a` and `b` fails: what it carries is lost and both ends
    /// are told ([`Fabric::link_down`]). The host network is another network (Fig 11's host
    /// agents): what travels on it goes on travelling.
    pub fn cut(&mut self, a: StorageSerial, b: StorageSerial) -> Vec<Output> {
        match self.link(a, b) {
            Some(l) => self.with_wire(|fab, wire| fab.link_down(l, wire)),
            None => Vec::new(),
        }
    }

    /// The link between `a` and `b` is back ([`Fabric::link_up`]).
    pub fn heal(&mut self, a: StorageSerial, b: StorageSerial) -> Vec<Output> {
        match self.link(a, b) {
            Some(l) => self.with_wire(|fab, wire| fab.link_up(l, wire)),
            None => Vec::new(),
        }
    }

    /// System `s` stops ([`Fabric::crash`]); a crash of a stopped system changes nothing.
    pub fn crash(&mut self, s: StorageSerial) -> Vec<Output> {
        self.stop(s, false)
    }

    /// System `s` stops, for good when `lost` (a disaster).
    fn stop(&mut self, s: StorageSerial, lost: bool) -> Vec<Output> {
        match self.fabric.index(s) {
            Some(i) => self.with_wire(|fab, wire| {
                // Refused only when already down or lost: then there is nothing to do.
                let _ = fab.crash(i, lost, wire);
            }),
            None => Vec::new(),
        }
    }

    /// System `s` restarts after [`Self::crash`] ([`Fabric::restart`]); a restart of a
    /// running system changes nothing.
    pub fn restart(&mut self, s: StorageSerial) -> Vec<Output> {
        match self.fabric.index(s) {
            Some(i) => self.with_wire(|fab, wire| {
                // Refused only when running (or lost): then there is nothing to do.
                let _ = fab.restart(i, wire);
            }),
            None => Vec::new(),
        }
    }

    /// Delivers the oldest message on the interconnect from `from` to `to`.
    pub fn deliver_link(&mut self, from: StorageSerial, to: StorageSerial) -> Vec<Output> {
        let Some(msg) = self
            .links
            .get_mut(&(from, to))
            .and_then(VecDeque::pop_front)
        else {
            return Vec::new();
        };
        if self.links.get(&(from, to)).is_some_and(VecDeque::is_empty) {
            self.links.remove(&(from, to));
        }
        self.input(
            to,
            Input::Deliver {
                from,
                via: Transport::Interconnect,
                msg,
            },
        )
    }

    /// Delivers the `i`-th message on the host network (any may go first).
    pub fn deliver_host_net(&mut self, i: usize) -> Vec<Output> {
        let e = self.host_net.remove(i);
        self.input(
            e.to,
            Input::Deliver {
                from: e.from,
                via: Transport::HostNetwork,
                msg: e.msg,
            },
        )
    }

    /// Fires a timer the protocol asked for.
    pub fn fire(&mut self, s: StorageSerial, timer: Timer) -> Vec<Output> {
        self.timers.remove(&(s, timer));
        self.input(s, Input::Timer(timer))
    }

    /// Whether a message of mirror `m` is in flight.
    pub fn carries(&self, m: MirrorId) -> bool {
        self.links.values().flatten().any(|x| x.mirror() == m)
            || self.host_net.iter().any(|e| e.msg.mirror() == m)
    }

    /// True when no message is in flight.
    pub fn quiet(&self) -> bool {
        self.links.is_empty() && self.host_net.is_empty()
    }

    /// Delivers every message (oldest link first, then the host network) and fires in-system
    /// copy timers until nothing moves; periodic and adaptive timers fire only once per call
    /// each when `tick` is set. Returns all outputs. Panics past `limit` steps, which only a
    /// livelocked protocol reaches.
    pub fn settle(&mut self, tick: bool) -> Vec<Output> {
        let mut out = Vec::new();
        let mut ticked = BTreeSet::new();
        for _ in 0..1_000_000 {
            if let Some(&(from, to)) = self.links.keys().next() {
                out.extend(self.deliver_link(from, to));
            } else if !self.host_net.is_empty() {
                out.extend(self.deliver_host_net(0));
            } else if let Some(&(s, t)) = self.timers.iter().find(|(s, t)| {
                matches!(t, Timer::LocalCopy(_)) || (tick && !ticked.contains(&(*s, *t)))
            }) {
                ticked.insert((s, t));
                out.extend(self.fire(s, t));
            } else {
                return out;
            }
        }
        panic!("world did not settle in 1,000,000 steps: the protocol livelocks");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{CopyMode, PairState};
    use crate::topology::{fig8, fig8_volumes};

    #[test]
    fn async_write_reaches_the_spvol_and_its_local_mirror() {
        let t = fig8(1 << 20, PairOptions::with_mode(CopyMode::Async));
        let mut w = World::new(&t, ProtocolConfig::default());
        let [a105, a106, b105, b106] = fig8_volumes();
        let (id, out) = w.write(a105, 0, 4096);
        assert!(out.contains(&Output::AckWrite(id)), "async acks at once");
        assert_eq!(w.volume(a106).digest(), w.volume(a105).digest());
        assert_ne!(w.volume(b105).digest(), w.volume(a105).digest());
        w.settle(false);
        for v in [a106, b105, b106] {
            assert_eq!(w.volume(v).digest(), w.volume(a105).digest(), "{v}");
        }
        for s in w.systems.values() {
            assert!(s.pairs().all(|p| p.state == PairState::Pair));
        }
    }

    fn split_then_nocopy(mode: CopyMode, transport: Transport) {
        let mut t = fig8(1 << 20, PairOptions::with_mode(mode));
        let config = ProtocolConfig {
            split_transport: transport,
            ..Default::default()
        };
        let mut w = World::new(&t, config);
        let [a105, a106, b105, b106] = fig8_volumes();
        w.write(a105, 0, 4096);
        w.write(a105, 8192, 512);
        let defaults = PairOptions::with_mode(mode);
        let out = w
            .run_command(&mut t, "pairsplit --atomic ORA_L ORA_RL", defaults, None)
            .unwrap();
        assert!(
            !out.iter().any(|o| matches!(o, Output::Refused(..))),
            "{out:?}"
        );
        // A write while the split travels, then everything settles.
        w.write(a105, 4096, 4096);
        let out = w.settle(true);
        assert!(
            out.iter().any(|o| matches!(o, Output::Done(_))),
            "{mode:?} {transport:?}: split never completed: {out:?}"
        );
        assert_eq!(
            w.volume(a106).digest(),
            w.volume(b106).digest(),
            "{mode:?} {transport:?}"
        );
        assert_eq!(w.volume(a105).digest(), w.volume(b105).digest());
        let out = w
            .run_command(
                &mut t,
                "paircreate ORA_R2 64001:106a 64002:106b --nocopy",
                defaults,
                None,
            )
            .unwrap();
        let mut all = out;
        all.extend(w.settle(false));
        assert!(all.iter().any(|o| matches!(o, Output::Done(_))), "{all:?}");
        let r2 = crate::ids::MirrorId::new(a106, b106);
        assert_eq!(w.system(a106.storage).state(r2), PairState::Pair);
        assert_eq!(w.system(b106.storage).state(r2), PairState::Pair);
    }

    #[test]
    fn atomic_split_then_nocopy_every_mode_and_transport() {
        for mode in CopyMode::ALL {
            for transport in [Transport::Interconnect, Transport::HostNetwork] {
                split_then_nocopy(mode, transport);
            }
        }
    }
}
