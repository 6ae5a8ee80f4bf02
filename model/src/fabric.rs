//! The one world both drivers share: the storage systems installed from a topology, which of
//! them and which replication links are down, and what a delivery or a fault does. It routes
//! every [`Output`] a system gives (a message onto a link or the host network, a timer, a host
//! acknowledgement, a command reply) to a [`Wire`], and turns crash / restart / link down /
//! link up / disaster / takeover into the protocol inputs the systems take.
//!
//! It owns *what* happens and never *when*: the untimed [`crate::world::World`] (unit tests,
//! the Fig 5 walk-through, the model checker) and the simulator's timed driver each implement
//! [`Wire`] with their own queues and clock. The semantics are the simulator's: a stopped
//! system runs no code and hears nothing until it restarts; its peers (the systems an up link
//! joins it to) see their links to it fail; a replication link failure loses what the link
//! carries, while the host network (Fig 11's host agents) goes on carrying.

use crate::ids::StorageSerial;
use crate::protocol::{Input, Message, Output, ProtocolConfig, StorageSystem, Timer, Transport};
use crate::topology::{MirrorSpec, Topology};
use crate::volume::Volume;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Where a system stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// Running.
    Up,
    /// Crashed: restarts with [`Input::Restart`].
    Down,
    /// Lost in a disaster: never restarts.
    Lost,
}

/// Why the fabric refused a fault or a takeover: it would not change the world, and counting
/// it would report something that did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultRefusal {
    /// A crash or disaster of a system already down.
    #[error("storage {0} is already down")]
    AlreadyDown(StorageSerial),
    /// A crash or disaster of a system already lost.
    #[error("storage {0} was already lost in a disaster")]
    AlreadyLost(StorageSerial),
    /// A restart of a system lost in a disaster.
    #[error("storage {0} was lost in a disaster and cannot restart")]
    LostForGood(StorageSerial),
    /// A restart of a system that is running.
    #[error("storage {0} is running: nothing to restart")]
    Running(StorageSerial),
    /// A second takeover of one system.
    #[error("the standby host of storage {0} has already taken over")]
    AlreadyTakenOver(StorageSerial),
}

/// What becomes of a message a system sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Both ends and the link are up: the wire carries it to system `usize`.
    Carried(usize),
    /// An end or the link is down: the message is lost (system `usize` would have had it).
    Dropped(usize),
    /// No link joins the two systems (or no such system): the message goes nowhere.
    Nowhere,
}

/// A driver's delivery layer: it decides when a carried message arrives and when a timer
/// fires; the fabric decides what each does.
pub trait Wire {
    /// System `from` has taken an input; what it said is routed next (a driver may look at
    /// the system now, e.g. to time a host I/O inhibit).
    fn handled(&mut self, _fab: &Fabric, _at: usize) {}
    /// System `from` sent `msg` to system `to` over `via`, with the fate the fabric gave it.
    fn send(
        &mut self,
        fab: &Fabric,
        from: usize,
        to: StorageSerial,
        via: Transport,
        msg: Message,
        route: Route,
    );
    /// System `at` asked for `timer` in `after_ns`.
    fn set_timer(&mut self, fab: &Fabric, at: usize, timer: Timer, after_ns: u64);
    /// Anything else system `at` said: host acks and failures, command replies, pair state
    /// changes, replication progress.
    fn output(&mut self, fab: &Fabric, at: usize, out: &Output);
    /// Replication link `link` between systems `a` and `b` failed: what it carries either way
    /// is lost.
    fn link_lost(&mut self, fab: &Fabric, link: usize, a: usize, b: usize);
    /// System `s` stopped: whatever travels to or from it, and its timers, are lost.
    fn system_lost(&mut self, fab: &Fabric, s: usize);
}

/// What never changes while a world runs: the systems' serials and the links joining them.
#[derive(Debug, PartialEq, Eq)]
struct Layout {
    serials: Vec<StorageSerial>,
    /// Each replication link's two ends (system indexes).
    links: Vec<[usize; 2]>,
    /// The link joining system `i` to `j`, at `i * n + j`.
    link_at: Vec<Option<u32>>,
}

/// Per-system marks the faults change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Marks {
    health: Health,
    taken_over: bool,
}

/// The storage systems of a world, in a fixed order (the driver's), looked up by serial.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Systems(Vec<StorageSystem>);

impl Systems {
    /// The systems in order.
    pub fn values(&self) -> impl Iterator<Item = &StorageSystem> {
        self.0.iter()
    }

    /// Their serials in order.
    pub fn keys(&self) -> impl Iterator<Item = StorageSerial> + '_ {
        self.0.iter().map(StorageSystem::serial)
    }

    /// `(serial, system)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (StorageSerial, &StorageSystem)> {
        self.0.iter().map(|s| (s.serial(), s))
    }

    /// The system with serial `s`.
    pub fn get(&self, s: StorageSerial) -> Option<&StorageSystem> {
        self.0.iter().find(|x| x.serial() == s)
    }

    /// The system with serial `s`, to change (tests and harnesses set up a world this way).
    pub fn get_mut(&mut self, s: StorageSerial) -> Option<&mut StorageSystem> {
        self.0.iter_mut().find(|x| x.serial() == s)
    }

    /// How many systems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::ops::Index<&StorageSerial> for Systems {
    type Output = StorageSystem;
    fn index(&self, s: &StorageSerial) -> &StorageSystem {
        self.get(*s).expect("a system of this world")
    }
}

/// The systems, what is down, and the routing and fault rules (see the module comment).
#[derive(Clone, Debug)]
pub struct Fabric {
    layout: Arc<Layout>,
    /// The storage systems, in topology order (their index is the `usize` the wire is given).
    pub systems: Systems,
    marks: Vec<Marks>,
    link_up: Vec<bool>,
    /// Reused for each input's outputs (empty between inputs; not part of the state).
    scratch: Vec<Output>,
}

// The layout is shared by every state of one world: equality and hashing look at what changes.
impl PartialEq for Fabric {
    fn eq(&self, o: &Self) -> bool {
        self.systems == o.systems
            && self.marks == o.marks
            && self.link_up == o.link_up
            && (Arc::ptr_eq(&self.layout, &o.layout) || self.layout == o.layout)
    }
}

impl Eq for Fabric {}

impl Hash for Fabric {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.systems.hash(h);
        self.marks.hash(h);
        self.link_up.hash(h);
    }
}

impl Fabric {
    /// Systems `serials` (in this order), each with its volumes of `topology`, and the mirrors
    /// `installed` picks installed in PAIR (the others are made by commands, e.g. an initial
    /// copy); `links` are the replication links, each joining two of the systems.
    pub fn install(
        topology: &Topology,
        config: ProtocolConfig,
        serials: &[StorageSerial],
        links: &[(StorageSerial, StorageSerial)],
        installed: impl Fn(&MirrorSpec) -> bool,
    ) -> Self {
        let mut systems: Vec<StorageSystem> = serials
            .iter()
            .map(|&s| StorageSystem::new(s, config))
            .collect();
        let at = |s: StorageSerial| serials.iter().position(|&x| x == s);
        for v in topology.volumes() {
            let i = at(v.id.storage).expect("system of a volume");
            systems[i].add_volume(
                v.id.serial,
                Volume::new(v.size, v.used, topology.origin_of(v.id)),
            );
        }
        for m in topology.mirrors().filter(|m| installed(m)) {
            for s in [m.id.pvol.storage, m.id.svol.storage] {
                let sys = &mut systems[at(s).expect("system of a volume")];
                if sys.pair(m.id).is_none() {
                    sys.install_pair(m.id, m.options);
                }
            }
        }
        for g in topology.consistency_groups() {
            if g.mirrors
                .iter()
                .all(|m| topology.mirror(*m).is_some_and(&installed))
            {
                let [a, b] = [g.mirrors[0].pvol.storage, g.mirrors[0].svol.storage];
                for s in [a, b] {
                    systems[at(s).expect("system of a volume")].join_group(&g.mirrors);
                }
            }
        }
        let n = serials.len();
        let mut link_at = vec![None; n * n];
        let mut ends = Vec::with_capacity(links.len());
        for (l, &(a, b)) in links.iter().enumerate() {
            let (a, b) = (
                at(a).expect("a link joins systems"),
                at(b).expect("a link joins systems"),
            );
            link_at[a * n + b] = Some(l as u32);
            link_at[b * n + a] = Some(l as u32);
            ends.push([a, b]);
        }
        Fabric {
            layout: Arc::new(Layout {
                serials: serials.to_vec(),
                links: ends,
                link_at,
            }),
            systems: Systems(systems),
            marks: vec![
                Marks {
                    health: Health::Up,
                    taken_over: false
                };
                n
            ],
            link_up: vec![true; links.len()],
            scratch: Vec::new(),
        }
    }

    /// Every system starts (arms its timers).
    pub fn start(&mut self, wire: &mut impl Wire) {
        for i in 0..self.systems.len() {
            self.start_one(i, wire);
        }
    }

    /// System `i` starts (arms its timers).
    fn start_one(&mut self, i: usize, wire: &mut impl Wire) {
        let mut out = std::mem::take(&mut self.scratch);
        self.systems.0[i].start(&mut out);
        self.route(i, out.drain(..), wire);
        self.scratch = out;
    }

    /// How many systems.
    pub fn len(&self) -> usize {
        self.systems.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.systems.is_empty()
    }

    /// The index of system `s`.
    #[inline]
    pub fn index(&self, s: StorageSerial) -> Option<usize> {
        self.layout.serials.iter().position(|&x| x == s)
    }

    /// The serial of system `i`.
    pub fn serial(&self, i: usize) -> StorageSerial {
        self.layout.serials[i]
    }

    /// The system with serial `s`.
    pub fn system(&self, s: StorageSerial) -> Option<&StorageSystem> {
        self.index(s).map(|i| &self.systems.0[i])
    }

    /// System `i`, by index.
    pub fn at(&self, i: usize) -> &StorageSystem {
        &self.systems.0[i]
    }

    /// Whether system `i` is up, down or lost.
    pub fn health(&self, i: usize) -> Health {
        self.marks[i].health
    }

    /// Whether system `i` runs (takes inputs).
    #[inline]
    pub fn is_up(&self, i: usize) -> bool {
        self.marks[i].health == Health::Up
    }

    /// The replication links, as the indexes of the two systems each joins.
    pub fn links(&self) -> &[[usize; 2]] {
        &self.layout.links
    }

    /// Whether replication link `l` is up.
    pub(crate) fn link_is_up(&self, l: usize) -> bool {
        self.link_up[l]
    }

    /// The link joining systems `i` and `j`.
    #[inline]
    pub fn link_between(&self, i: usize, j: usize) -> Option<usize> {
        self.layout.link_at[i * self.len() + j].map(|l| l as usize)
    }

    /// Routes what system `i` said: messages by [`Self::route_of`], the rest to the wire.
    #[inline]
    pub fn route(&self, i: usize, out: impl IntoIterator<Item = Output>, wire: &mut impl Wire) {
        for o in out {
            match o {
                Output::Send { to, via, msg } => {
                    let route = self.route_of(i, to, via);
                    wire.send(self, i, to, via, msg, route);
                }
                Output::SetTimer { timer, after_ns } => wire.set_timer(self, i, timer, after_ns),
                o => wire.output(self, i, &o),
            }
        }
    }

    /// What becomes of a message from system `from` to `to` over `via`: the interconnect
    /// needs a link between the two, up; either network needs both ends up.
    #[inline]
    pub fn route_of(&self, from: usize, to: StorageSerial, via: Transport) -> Route {
        let Some(j) = self.index(to) else {
            return Route::Nowhere;
        };
        let link_up = match via {
            Transport::Interconnect => match self.link_between(from, j) {
                Some(l) => self.link_up[l],
                None => return Route::Nowhere,
            },
            Transport::HostNetwork => true,
        };
        if link_up && self.is_up(from) && self.is_up(j) {
            Route::Carried(j)
        } else {
            Route::Dropped(j)
        }
    }

    /// Feeds `input` to system `i` and routes what it says.
    #[inline]
    pub fn input(&mut self, i: usize, input: Input, wire: &mut impl Wire) {
        let mut out = std::mem::take(&mut self.scratch);
        self.systems.0[i].handle(input, &mut out);
        wire.handled(self, i);
        self.route(i, out.drain(..), wire);
        self.scratch = out;
    }

    /// Systems joined to `i` by an up link, in link order.
    fn peers(&self, i: usize) -> Vec<usize> {
        self.layout
            .links
            .iter()
            .zip(&self.link_up)
            .filter(|(ends, up)| **up && ends.contains(&i))
            .map(|(ends, _)| if ends[0] == i { ends[1] } else { ends[0] })
            .collect()
    }

    /// Replication link `l` fails: what it carries is lost, and each end that runs takes
    /// [`Input::LinkDown`]. A link already down: nothing happens.
    pub fn link_down(&mut self, l: usize, wire: &mut impl Wire) {
        if !self.link_up[l] {
            return;
        }
        self.link_up[l] = false;
        let [a, b] = self.layout.links[l];
        wire.link_lost(self, l, a, b);
        for (x, y) in [(a, b), (b, a)] {
            if self.is_up(x) {
                let peer = self.serial(y);
                self.input(x, Input::LinkDown(peer), wire);
            }
        }
    }

    /// Replication link `l` is back: each end takes [`Input::LinkUp`] when both run. A link
    /// already up: nothing happens.
    pub fn link_up(&mut self, l: usize, wire: &mut impl Wire) {
        if self.link_up[l] {
            return;
        }
        self.link_up[l] = true;
        let [a, b] = self.layout.links[l];
        for (x, y) in [(a, b), (b, a)] {
            if self.is_up(x) && self.is_up(y) {
                let peer = self.serial(y);
                self.input(x, Input::LinkUp(peer), wire);
            }
        }
    }

    /// Whether [`Self::crash`] of system `i` (a disaster when `lost`) would change anything.
    pub fn may_crash(&self, i: usize, lost: bool) -> Result<(), FaultRefusal> {
        let s = self.serial(i);
        match (self.marks[i].health, lost) {
            (Health::Lost, _) => Err(FaultRefusal::AlreadyLost(s)),
            (Health::Down, false) => Err(FaultRefusal::AlreadyDown(s)),
            _ => Ok(()),
        }
    }

    /// System `i` stops (for good when `lost`: a disaster): it runs no code until
    /// [`Self::restart`], what travels to or from it is lost with its timers, and its peers
    /// see their links to it fail. A disaster of a crashed system only marks it lost.
    pub fn crash(
        &mut self,
        i: usize,
        lost: bool,
        wire: &mut impl Wire,
    ) -> Result<(), FaultRefusal> {
        self.may_crash(i, lost)?;
        let was_up = self.is_up(i);
        self.marks[i].health = if lost { Health::Lost } else { Health::Down };
        if !was_up {
            return Ok(());
        }
        wire.system_lost(self, i);
        let s = self.serial(i);
        for p in self.peers(i) {
            if self.is_up(p) {
                self.input(p, Input::LinkDown(s), wire);
            }
        }
        Ok(())
    }

    /// System `i` restarts after [`Self::crash`]: it takes [`Input::Restart`] (its remote
    /// pairs suspend and it tells the peers), re-arms its timers, and each running peer and
    /// it see their link come back.
    pub fn restart(&mut self, i: usize, wire: &mut impl Wire) -> Result<(), FaultRefusal> {
        let s = self.serial(i);
        match self.marks[i].health {
            Health::Lost => return Err(FaultRefusal::LostForGood(s)),
            Health::Up => return Err(FaultRefusal::Running(s)),
            Health::Down => {}
        }
        self.marks[i].health = Health::Up;
        self.input(i, Input::Restart, wire);
        self.start_one(i, wire);
        for p in self.peers(i) {
            if self.is_up(p) {
                self.input(p, Input::LinkUp(s), wire);
                let peer = self.serial(p);
                self.input(i, Input::LinkUp(peer), wire);
            }
        }
        Ok(())
    }

    /// The standby host of system `i` takes over (the protocol's [`crate::protocol::Command::Takeover`]
    /// follows): refused the second time.
    pub fn take_over(&mut self, i: usize) -> Result<(), FaultRefusal> {
        if self.marks[i].taken_over {
            return Err(FaultRefusal::AlreadyTakenOver(self.serial(i)));
        }
        self.marks[i].taken_over = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{CopyMode, PairOptions, PairState};
    use crate::topology::{fig8, fig8_volumes};

    /// A wire that carries nothing: these tests look at the fabric's marks and refusals.
    struct Void;

    impl Wire for Void {
        fn send(
            &mut self,
            _: &Fabric,
            _: usize,
            _: StorageSerial,
            _: Transport,
            _: Message,
            _: Route,
        ) {
        }
        fn set_timer(&mut self, _: &Fabric, _: usize, _: Timer, _: u64) {}
        fn output(&mut self, _: &Fabric, _: usize, _: &Output) {}
        fn link_lost(&mut self, _: &Fabric, _: usize, _: usize, _: usize) {}
        fn system_lost(&mut self, _: &Fabric, _: usize) {}
    }

    fn fabric() -> Fabric {
        let t = fig8(1 << 20, PairOptions::with_mode(CopyMode::Sync));
        let serials: Vec<StorageSerial> = t.systems().into_iter().collect();
        Fabric::install(
            &t,
            ProtocolConfig::default(),
            &serials,
            &[(serials[0], serials[1])],
            |_| true,
        )
    }

    #[test]
    fn a_fault_that_changes_nothing_is_refused() {
        let mut f = fabric();
        let b = f.index(fig8_volumes()[2].storage).unwrap();
        let s = f.serial(b);
        assert_eq!(f.restart(b, &mut Void), Err(FaultRefusal::Running(s)));
        f.crash(b, false, &mut Void).unwrap();
        assert_eq!(
            f.crash(b, false, &mut Void),
            Err(FaultRefusal::AlreadyDown(s))
        );
        // A disaster of a crashed system marks it lost; a second one is refused.
        f.crash(b, true, &mut Void).unwrap();
        assert_eq!(f.health(b), Health::Lost);
        assert_eq!(
            f.crash(b, true, &mut Void),
            Err(FaultRefusal::AlreadyLost(s))
        );
        assert_eq!(f.restart(b, &mut Void), Err(FaultRefusal::LostForGood(s)));
        f.take_over(b).unwrap();
        assert_eq!(f.take_over(b), Err(FaultRefusal::AlreadyTakenOver(s)));
    }

    #[test]
    fn a_crash_is_told_to_the_linked_peers_and_drops_what_is_sent_to_it() {
        let mut f = fabric();
        let [a105, _, b105, _] = fig8_volumes();
        let (a, b) = (
            f.index(a105.storage).unwrap(),
            f.index(b105.storage).unwrap(),
        );
        let r1 = crate::ids::MirrorId::new(a105, b105);
        f.crash(b, false, &mut Void).unwrap();
        assert_eq!(
            f.at(a).state(r1),
            PairState::SuspendedError,
            "the peer saw its link fail"
        );
        assert_eq!(
            f.route_of(a, f.serial(b), Transport::HostNetwork),
            Route::Dropped(b)
        );
        f.restart(b, &mut Void).unwrap();
        assert_eq!(
            f.route_of(a, f.serial(b), Transport::Interconnect),
            Route::Carried(b)
        );
    }
}
