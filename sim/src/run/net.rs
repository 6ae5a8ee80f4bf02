//! The wire of a run: one [`Channel`] per direction of each replication link and, made on
//! first use, of the host network between two systems; which link a channel belongs to; the
//! links' loss draws; the bytes the split's own messages used; and the messages that have
//! arrived and wait for the receiving array to take them into cache (its `write_latency`).

use super::*;

/// One replication link as the run holds it.
pub(super) struct LinkRt {
    pub(super) def: LinkDef,
    pub(super) channels: [usize; 2],
    /// Draws message losses (`loss`), one stream per link.
    rng: ChaCha8Rng,
    pub(super) lost: u64,
}

pub(super) struct Net {
    pub(super) serials: Vec<StorageSerial>,
    pub(super) channels: Vec<Channel>,
    /// Interconnect channel from system i to j at `i * n + j`.
    inter: Vec<Option<usize>>,
    /// The link of each channel (`None` on the host network): every message sent and
    /// arriving asks, and a search of the links cost each about as much as its queueing.
    link_of: Vec<Option<usize>>,
    /// Host-network channel from system i to j at `i * n + j`, made on first use.
    host_net: Vec<Option<usize>>,
    pub(super) links: Vec<LinkRt>,
    /// Bytes of split messages (Forward, SplitDone, split marks) on any channel.
    pub(super) split_control: u64,
    /// Per system: the array's service time for a write (`write_latency`).
    pub(super) service_ns: Vec<u64>,
    /// Per channel: messages arrived and not yet taken by the receiver, with the time it takes
    /// each, in arrival order. A data message waits the receiver's service time; a message
    /// behind it waits for it (the channel stays FIFO). Empty while no array is slow.
    pub(super) landing: Vec<VecDeque<(u64, InTransit)>>,
    /// Per channel: bumped when the receiver is lost, so landing events scheduled before are
    /// ignored.
    pub(super) landing_epoch: Vec<u32>,
    host_latency_ns: u64,
    interval_ns: u64,
}

impl Net {
    /// The systems' channels for the scenario's links (the host network's come later).
    pub(super) fn new(scenario: &Scenario) -> Net {
        let serials: Vec<StorageSerial> = scenario.storages.iter().map(|s| s.serial).collect();
        let n = serials.len();
        let idx = |s: StorageSerial| serials.iter().position(|&x| x == s).expect("validated");
        let mut channels = Vec::new();
        let mut inter = vec![None; n * n];
        let mut link_of = Vec::new();
        let mut links = Vec::new();
        for l in &scenario.links {
            let (a, b) = (idx(l.a), idx(l.b));
            let mut chans = [0; 2];
            for (k, (f, t)) in [(a, b), (b, a)].into_iter().enumerate() {
                chans[k] = channels.len();
                inter[f * n + t] = Some(channels.len());
                link_of.push(Some(links.len()));
                channels.push(Channel::new(
                    serials[f],
                    serials[t],
                    l.bandwidth,
                    l.latency_ns,
                    scenario.interval_ns,
                ));
            }
            links.push(LinkRt {
                def: l.clone(),
                channels: chans,
                rng: component_rng(scenario.seed, &format!("link/{}", l.name)),
                lost: 0,
            });
        }
        let landing = (0..channels.len()).map(|_| VecDeque::new()).collect();
        Net {
            service_ns: scenario
                .storages
                .iter()
                .map(|s| s.write_latency_ns)
                .collect(),
            landing,
            landing_epoch: vec![0; channels.len()],
            serials,
            channels,
            inter,
            link_of,
            host_net: vec![None; n * n],
            links,
            split_control: 0,
            host_latency_ns: scenario.host_latency_ns,
            interval_ns: scenario.interval_ns,
        }
    }

    pub(super) fn idx(&self, s: StorageSerial) -> Option<usize> {
        self.serials.iter().position(|&x| x == s)
    }

    /// The channel from system `from` to `to` over `via`: a link's, if one joins them, or
    /// the host network's (made now if new).
    #[inline]
    pub(super) fn channel(&mut self, from: usize, to: usize, via: Transport) -> Option<usize> {
        match via {
            Transport::Interconnect => self.inter[from * self.serials.len() + to],
            Transport::HostNetwork => Some(self.host_channel(from, to)),
        }
    }

    /// The channel from `from` to `to` if one exists (a replay looks, and makes nothing).
    pub(super) fn existing(&self, from: usize, to: usize, via: Transport) -> Option<usize> {
        let at = from * self.serials.len() + to;
        match via {
            Transport::Interconnect => self.inter[at],
            Transport::HostNetwork => self.host_net[at],
        }
    }

    fn host_channel(&mut self, from: usize, to: usize) -> usize {
        let n = self.serials.len();
        if let Some(c) = self.host_net[from * n + to] {
            return c;
        }
        let c = self.channels.len();
        self.channels.push(Channel::new(
            self.serials[from],
            self.serials[to],
            0,
            self.host_latency_ns,
            self.interval_ns,
        ));
        self.link_of.push(None);
        self.landing.push(VecDeque::new());
        self.landing_epoch.push(0);
        self.host_net[from * n + to] = Some(c);
        c
    }

    /// Counts `bytes` of `msg` as split traffic if it is one of the split's messages.
    pub(super) fn count_split(&mut self, msg: &Message, bytes: u64) {
        if matches!(
            msg,
            Message::Forward { .. }
                | Message::SplitDone { .. }
                | Message::Mark {
                    kind: mirrorlab_model::protocol::MarkKind::Split,
                    ..
                }
        ) {
            self.split_control += bytes;
        }
    }

    /// Whether the message arriving on channel `ch` is lost (its link's `loss`); `Some(link)`
    /// when it is, so the caller can take the link down and up.
    #[inline]
    pub(super) fn lose(&mut self, ch: usize) -> Option<usize> {
        let l = self.link_of[ch]?;
        let link = &mut self.links[l];
        if link.def.loss <= 0.0 || link.rng.gen::<f64>() >= link.def.loss {
            return None;
        }
        link.lost += 1;
        self.channels[ch].dropped += 1;
        Some(l)
    }

    /// Link `l` failed at `now`: both directions lose what they carry, including what has
    /// arrived and not yet been taken by the receiving array (as the checker's world drops
    /// every message not yet delivered).
    pub(super) fn fail_link(&mut self, l: usize, now: u64) {
        for ch in self.links[l].channels {
            self.channels[ch].fail(now);
            self.drop_landing(ch);
        }
    }

    /// Forgets what waits on channel `ch` for the receiving array; its landing events go stale.
    fn drop_landing(&mut self, ch: usize) {
        if !self.landing[ch].is_empty() {
            self.landing[ch].clear();
            self.landing_epoch[ch] = self.landing_epoch[ch].wrapping_add(1);
        }
    }

    /// System `i` stopped at `now`: every channel touching it loses what it carries,
    /// including what has arrived and not yet been taken by the receiving array.
    pub(super) fn fail_system(&mut self, i: usize, now: u64) {
        let s = self.serials[i];
        for ch in 0..self.channels.len() {
            let c = &mut self.channels[ch];
            if c.from == s || c.to == s {
                c.fail(now);
                self.drop_landing(ch);
            }
        }
    }

    /// Message `m` arrived on channel `ch` at `now` for a system whose service time for it
    /// is `service`: `Some(m)` to deliver now, or `None` when it waits (and the landing
    /// event to schedule, if it is first in line, is returned beside).
    #[inline]
    pub(super) fn land(
        &mut self,
        ch: usize,
        now: u64,
        service: u64,
        m: InTransit,
    ) -> (Option<InTransit>, Option<(u64, u32)>) {
        let queue = &mut self.landing[ch];
        if service == 0 && queue.is_empty() {
            return (Some(m), None);
        }
        let at = now
            .saturating_add(service)
            .max(queue.back().map_or(0, |x| x.0));
        queue.push_back((at, m));
        let first = (queue.len() == 1).then_some((at, self.landing_epoch[ch]));
        (None, first)
    }
}
