//! The timed side as the fabric's [`Wire`]: each output of the protocol handed to the part of
//! [`Timed`] that owns it — messages onto the wire's channels, timers onto the event queue,
//! host acknowledgements to the hosts, command replies to the runbook, pair states and
//! replication progress to the tracks.

use super::*;

impl Timed<'_> {
    pub(super) fn now(&self) -> u64 {
        self.engine.now()
    }

    /// Puts `msg` on its channel (the link's, or the host network's) with the fate the
    /// fabric gave it: carried, it arrives after the channel's delay; dropped, it is counted.
    #[inline]
    pub(super) fn carry(&mut self, from: usize, via: Transport, msg: Message, route: Route) {
        let (Route::Carried(j) | Route::Dropped(j)) = route else {
            return;
        };
        let Some(ch) = self.net.channel(from, j, via) else {
            return;
        };
        if matches!(route, Route::Dropped(_)) {
            self.net.channels[ch].dropped += 1;
            return;
        }
        let (data, control) = (msg.data_bytes(), msg.control_bytes());
        self.net.count_split(&msg, data + control);
        self.tracks.count_bytes(msg.mirror(), data, control);
        let now = self.now();
        let c = &mut self.net.channels[ch];
        // A replay delivers a message at the step that names it.
        if let (Some(arrive), false) = (c.send(now, via, msg, (data, control)), self.scripted) {
            let epoch = c.epoch;
            self.engine.at(arrive, Ev::Arrive(ch as u32, epoch));
        }
    }
}

impl Wire for Timed<'_> {
    /// Times a host I/O inhibit (Fig 10 step 1120) from the input that set it to the one
    /// that lifted it.
    #[inline]
    fn handled(&mut self, fab: &Fabric, i: usize) {
        let now = self.engine.now();
        self.hosts.note_inhibit(i, fab.at(i).inhibited(), now);
    }

    #[inline]
    fn send(
        &mut self,
        _: &Fabric,
        from: usize,
        _: StorageSerial,
        via: Transport,
        msg: Message,
        route: Route,
    ) {
        if let Message::Write { write, .. } = msg {
            self.admitted(from, write.0);
        }
        self.carry(from, via, msg, route);
    }

    fn set_timer(&mut self, _: &Fabric, i: usize, timer: Timer, after_ns: u64) {
        if let Some(generation) = self.timers.arm(i, timer, self.scripted) {
            self.engine.after(after_ns, Ev::Timer(generation));
        }
    }

    #[inline]
    fn output(&mut self, fab: &Fabric, i: usize, o: &Output) {
        match *o {
            Output::AckWrite(w) => self.acked(i, w),
            Output::FailWrite(w, ref r) => self.failed(w, r.to_string()),
            Output::Done(c) => self.command_done(fab, c, None),
            Output::Refused(c, ref r) => self.command_done(fab, c, Some(r.to_string())),
            Output::StateChanged { mirror, to, .. } => self.state_changed(i, mirror, to),
            Output::Replicated { mirror, upto } => self.replicated(mirror, upto),
            Output::Send { .. } | Output::SetTimer { .. } => {
                unreachable!("the fabric routes these")
            }
        }
    }

    fn link_lost(&mut self, _: &Fabric, l: usize, _: usize, _: usize) {
        let now = self.now();
        self.net.fail_link(l, now);
    }

    /// Every channel touching system `i` loses what it carries, and its timers are gone.
    fn system_lost(&mut self, _: &Fabric, i: usize) {
        let now = self.now();
        self.net.fail_system(i, now);
        self.timers.drop_system(i);
    }
}
