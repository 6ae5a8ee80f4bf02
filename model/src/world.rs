//! A whole replicated world without time: the storage systems, one FIFO interconnect queue per
//! direction, the unordered host network, and the timers asked for. It is a plain driver of
//! [`StorageSystem::handle`] that delivers whatever its caller picks, so unit tests, the Fig 5
//! walk-through and the model checker (which picks every possibility) share it.

use crate::command::{resolve, CommandError, CommandLine};
use crate::ids::{CommandId, StorageSerial, VolumeId, WriteId};
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
    pub from: StorageSerial,
    pub to: StorageSerial,
    pub msg: Message,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct World {
    pub systems: BTreeMap<StorageSerial, StorageSystem>,
    /// Interconnect, one FIFO per direction `(from, to)`.
    pub links: BTreeMap<(StorageSerial, StorageSerial), VecDeque<Message>>,
    /// Host network: unordered, kept sorted so equal worlds compare equal.
    pub host_net: Vec<Envelope>,
    /// Timers asked for and not yet fired.
    pub timers: BTreeSet<(StorageSerial, Timer)>,
    next_write: u64,
    next_command: u64,
}

impl World {
    /// Every volume of `topology`, every mirror of it installed in PAIR.
    pub fn new(topology: &Topology, config: ProtocolConfig) -> Self {
        let mut systems: BTreeMap<StorageSerial, StorageSystem> = topology
            .systems()
            .into_iter()
            .map(|s| (s, StorageSystem::new(s, config)))
            .collect();
        for v in topology.volumes() {
            let sys = systems.get_mut(&v.id.storage).expect("system of a volume");
            sys.add_volume(
                v.id.serial,
                Volume::new(v.size, v.used, topology.origin_of(v.id)),
            );
        }
        for m in topology.mirrors() {
            for s in [m.id.pvol.storage, m.id.svol.storage] {
                let sys = systems.get_mut(&s).expect("system of a volume");
                if sys.pair(m.id).is_none() {
                    sys.install_pair(m.id, m.options);
                }
            }
        }
        let mut w = World {
            systems,
            links: BTreeMap::new(),
            host_net: Vec::new(),
            timers: BTreeSet::new(),
            next_write: 0,
            next_command: 0,
        };
        let serials: Vec<StorageSerial> = w.systems.keys().copied().collect();
        for s in serials {
            let mut out = Vec::new();
            w.systems.get_mut(&s).expect("listed").start(&mut out);
            w.route(s, out);
        }
        w
    }

    pub fn system(&self, s: StorageSerial) -> &StorageSystem {
        &self.systems[&s]
    }

    pub fn volume(&self, v: VolumeId) -> &Volume {
        self.systems[&v.storage]
            .volume(v.serial)
            .expect("volume exists")
    }

    /// Feeds one input to one system and routes its outputs; returns all outputs.
    pub fn input(&mut self, s: StorageSerial, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        if let Some(sys) = self.systems.get_mut(&s) {
            sys.handle(input, &mut out);
        }
        self.route(s, out.clone());
        out
    }

    fn route(&mut self, from: StorageSerial, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send {
                    to,
                    via: Transport::Interconnect,
                    msg,
                } => self.links.entry((from, to)).or_default().push_back(msg),
                Output::Send {
                    to,
                    via: Transport::HostNetwork,
                    msg,
                } => {
                    let e = Envelope { from, to, msg };
                    let at = self.host_net.partition_point(|x| *x < e);
                    self.host_net.insert(at, e);
                }
                Output::SetTimer { timer, .. } => {
                    self.timers.insert((from, timer));
                }
                _ => {}
            }
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

    /// Parses, resolves and issues a HORCM command line (faults included).
    pub fn run_command(
        &mut self,
        topology: &mut Topology,
        line: &str,
        defaults: PairOptions,
        mutant: Option<Mutant>,
    ) -> Result<Vec<Output>, CommandError> {
        let parsed: CommandLine = line.parse()?;
        let mut out = Vec::new();
        match resolve(&parsed, topology, defaults, mutant)? {
            Some(cmds) => {
                for (s, c) in cmds {
                    out.extend(self.command(s, c).1);
                }
            }
            None => match parsed {
                CommandLine::Crash { storage } | CommandLine::Disaster { storage } => {
                    out.extend(self.crash(storage));
                }
                CommandLine::Restart { storage } => out.extend(self.restart(storage)),
                CommandLine::LinkDown { .. } => {
                    let (a, b) = self.only_link();
                    out.extend(self.cut(a, b));
                }
                CommandLine::LinkUp { .. } => {
                    let (a, b) = self.only_link();
                    out.extend(self.heal(a, b));
                }
                _ => unreachable!("resolve handles every protocol verb"),
            },
        }
        Ok(out)
    }

    /// The world's single pair of linked systems (this harness has one link).
    fn only_link(&self) -> (StorageSerial, StorageSerial) {
        let mut s = self.systems.keys().copied();
        let a = s.next().expect("a system");
        (a, s.next().unwrap_or(a))
    }

    /// The replication link between `a` and `b` fails: what it carries is lost and both ends
    /// are told. The host network is another network (Fig 11's host agents): what travels on
    /// it goes on travelling, as in the simulator.
    pub fn cut(&mut self, a: StorageSerial, b: StorageSerial) -> Vec<Output> {
        self.links.remove(&(a, b));
        self.links.remove(&(b, a));
        let mut out = self.input(a, Input::LinkDown(b));
        out.extend(self.input(b, Input::LinkDown(a)));
        out
    }

    /// System `s` stops: what travels to or from it is lost, its timers with it, and its peers
    /// see their links to it fail. `s` itself hears nothing more until [`Self::restart`]: a
    /// stopped system runs no code (the simulator's `crash`, input for input).
    pub fn crash(&mut self, s: StorageSerial) -> Vec<Output> {
        self.links.retain(|&(a, b), _| a != s && b != s);
        self.host_net.retain(|e| e.from != s && e.to != s);
        self.timers.retain(|&(x, _)| x != s);
        let peers: Vec<StorageSerial> = self.systems.keys().copied().filter(|&p| p != s).collect();
        let mut out = Vec::new();
        for p in peers {
            out.extend(self.input(p, Input::LinkDown(s)));
        }
        out
    }

    /// System `s` restarts after [`Self::crash`]: it takes [`Input::Restart`] (its remote pairs
    /// suspend and it tells the peers), re-arms the timers it lost, and its links come back
    /// (the simulator's `restart`, input for input).
    pub fn restart(&mut self, s: StorageSerial) -> Vec<Output> {
        let mut out = self.input(s, Input::Restart);
        let mut armed = Vec::new();
        if let Some(sys) = self.systems.get_mut(&s) {
            sys.start(&mut armed);
        }
        self.route(s, armed.clone());
        out.extend(armed);
        let peers: Vec<StorageSerial> = self.systems.keys().copied().filter(|&p| p != s).collect();
        for p in peers {
            out.extend(self.input(p, Input::LinkUp(s)));
            out.extend(self.input(s, Input::LinkUp(p)));
        }
        out
    }

    /// The link between `a` and `b` is back.
    pub fn heal(&mut self, a: StorageSerial, b: StorageSerial) -> Vec<Output> {
        let mut out = self.input(a, Input::LinkUp(b));
        out.extend(self.input(b, Input::LinkUp(a)));
        out
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
