//! Each copy mode's data path and each fault, driven through a two-system world (the
//! Fig 2 remote mirror ORA_R1, 105a -> 105b) one message at a time.

use super::sender::InFlight;
use super::*;
use crate::ids::{MirrorId, StorageSerial, VolumeId};
use crate::table::{AdaptivePass, CopyMode, Fence, OnFull, PairOptions, PairState, Refusal};
use crate::topology::SplitPlan;
use crate::topology::{fig2, fig8_volumes, Topology, VolumeSpec};
use crate::volume::BLOCK_BYTES;
use crate::world::World;

const CHUNK: u64 = 8192;
const CB: u64 = CHUNK / BLOCK_BYTES;
const SIZE: u64 = 16 * CHUNK;
const P: StorageSerial = StorageSerial(64001);
const S: StorageSerial = StorageSerial(64002);

fn vols() -> (VolumeId, VolumeId) {
    let [a105, _, b105, _] = fig8_volumes();
    (a105, b105)
}

fn r1() -> MirrorId {
    let (a, b) = vols();
    MirrorId::new(a, b)
}

fn opts(mode: CopyMode) -> PairOptions {
    PairOptions {
        mode,
        chunk_bytes: CHUNK,
        ..PairOptions::default()
    }
}

/// ORA_R1 in PAIR between 64001 and 64002.
fn world(o: PairOptions) -> World {
    World::new(&fig2(SIZE, o), ProtocolConfig::default())
}

fn same(w: &World) -> bool {
    let (a, b) = vols();
    w.volume(a).same_content(w.volume(b))
}

fn state(w: &World, s: StorageSerial) -> PairState {
    w.system(s).state(r1())
}

/// The chunk numbers of the Chunk messages in `out`, in order.
fn chunks_sent(out: &[Output]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                msg: Message::Chunk { first, .. },
                ..
            } => Some(first / CB),
            _ => None,
        })
        .collect()
}

fn resync(w: &mut World, restore: bool) -> Vec<Output> {
    let (id, mut out) = w.command(
        P,
        Command::Resync {
            mirror: r1(),
            restore,
        },
    );
    out.extend(w.settle(false));
    assert!(
        out.contains(&Output::Done(id)),
        "resync never done: {out:?}"
    );
    out
}

fn split(w: &mut World) {
    let plan = SplitPlan {
        system: Some(P),
        here: vec![r1()],
        forwards: Vec::new(),
    };
    let (id, out) = w.command(P, Command::Split { plan });
    assert!(out.contains(&Output::Done(id)), "{out:?}");
    w.settle(false);
    assert_eq!(
        (state(w, P), state(w, S)),
        (PairState::Split, PairState::Split)
    );
}

#[test]
fn hot_records_keep_their_size() {
    // Moved or queued several times per simulated write: see `Message::Chunk`, `InFlight`.
    assert_eq!(std::mem::size_of::<Message>(), 64);
    assert_eq!(std::mem::size_of::<InFlight>(), 64);
}

#[test]
fn sync_acknowledges_only_after_the_remote_ack() {
    let mut w = world(opts(CopyMode::Sync));
    let (a, b) = vols();
    let (id, out) = w.write(a, 0, 4096);
    assert!(
        !out.contains(&Output::AckWrite(id)),
        "acked before the SVOL has it"
    );
    let out = w.deliver_link(P, S);
    assert_eq!(w.volume(b).block(0), Some(id), "the SVOL applies the write");
    assert!(!out.contains(&Output::AckWrite(id)));
    let out = w.deliver_link(S, P);
    assert!(out.contains(&Output::AckWrite(id)), "{out:?}");
    assert!(same(&w));
}

#[test]
fn semi_sync_holds_the_next_write_until_the_previous_transfer_is_acked() {
    let mut w = world(opts(CopyMode::SemiSync));
    let (a, _) = vols();
    let (w1, out) = w.write(a, 0, 4096);
    assert!(
        out.contains(&Output::AckWrite(w1)),
        "semi-sync acks at once"
    );
    let (w2, out) = w.write(a, 4096, 4096);
    assert!(out.is_empty(), "the second write waits: {out:?}");
    assert_eq!(w.system(P).held_writes(), 1);
    w.deliver_link(P, S);
    let out = w.deliver_link(S, P);
    assert!(out.contains(&Output::AckWrite(w2)), "{out:?}");
    assert!(
        out.iter().any(
            |o| matches!(o, Output::Send { msg: Message::Write { write, .. }, .. } if *write == w2)
        ),
        "{out:?}"
    );
    w.settle(false);
    assert!(same(&w));
}

#[test]
fn async_full_journal_throttles_the_host() {
    let mut w = world(PairOptions {
        journal_bytes: 2 * 4096,
        on_full: OnFull::Throttle,
        ..opts(CopyMode::Async)
    });
    let (a, _) = vols();
    for i in 0..2 {
        let (id, out) = w.write(a, i * 4096, 4096);
        assert!(out.contains(&Output::AckWrite(id)));
    }
    assert_eq!(w.system(P).pair(r1()).unwrap().journal_bytes(), 8192);
    let (w3, out) = w.write(a, 2 * 4096, 4096);
    assert!(
        !out.contains(&Output::AckWrite(w3)),
        "the journal is full: hold the host"
    );
    assert_eq!(w.system(P).held_writes(), 1);
    w.deliver_link(P, S);
    let out = w.deliver_link(S, P);
    assert!(out.contains(&Output::AckWrite(w3)), "room again: {out:?}");
    w.settle(false);
    assert_eq!(state(&w, P), PairState::Pair);
    assert!(same(&w));
}

#[test]
fn async_full_journal_can_suspend_and_track_in_the_bitmap() {
    let mut w = world(PairOptions {
        journal_bytes: 2 * 4096,
        on_full: OnFull::Suspend,
        ..opts(CopyMode::Async)
    });
    let (a, _) = vols();
    w.write(a, 0, 4096);
    w.write(a, 4096, 4096);
    let (w3, out) = w.write(a, 5 * CHUNK, 4096);
    assert!(
        out.contains(&Output::AckWrite(w3)),
        "never hold: suspend instead"
    );
    assert_eq!(state(&w, P), PairState::SuspendedError);
    let p = w.system(P).pair(r1()).unwrap();
    // The write that did not fit and the two in flight are all pending.
    assert!(
        p.pending.contains(5) && p.pending.contains(0),
        "{:?}",
        p.pending
    );
    assert_eq!(p.journal_bytes(), 0);
    w.settle(false);
    assert_eq!(
        state(&w, S),
        PairState::SuspendedError,
        "the secondary is told"
    );
    assert!(!same(&w));
    resync(&mut w, false);
    assert!(same(&w));
}

#[test]
fn periodic_applies_a_cycle_only_when_whole() {
    let mut w = world(opts(CopyMode::Periodic));
    let (a, b) = vols();
    let m = r1();
    w.write(a, 0, 4096);
    assert!(
        w.links.is_empty(),
        "periodic sends nothing until the cycle closes"
    );
    w.fire(P, Timer::Cycle(m));
    w.settle(false);
    assert!(same(&w), "cycle 1 applied");
    let cycle1 = w.volume(b).digest();
    w.write(a, 3 * CHUNK, 4096);
    w.write(a, 9 * CHUNK, 4096);
    let out = w.fire(P, Timer::Cycle(m));
    assert_eq!(chunks_sent(&out), vec![3, 9]);
    // The first chunk of cycle 2 arrives; the link fails before the rest.
    w.deliver_link(P, S);
    assert_eq!(
        w.volume(b).digest(),
        cycle1,
        "a partial cycle is not applied"
    );
    w.cut(P, S);
    assert_eq!(state(&w, S), PairState::SuspendedError);
    assert_eq!(
        w.volume(b).digest(),
        cycle1,
        "the SVOL stays at the last whole cycle"
    );
    w.heal(P, S);
    resync(&mut w, false);
    assert!(same(&w));
}

#[test]
fn periodic_cycle_due_while_one_is_in_flight_closes_when_it_is_acknowledged() {
    let mut w = world(opts(CopyMode::Periodic));
    let (a, _) = vols();
    let m = r1();
    w.write(a, 2 * CHUNK, 4096);
    assert_eq!(chunks_sent(&w.fire(P, Timer::Cycle(m))), vec![2]);
    // Cycle 2 comes due while cycle 1 is still on the link: nothing leaves yet.
    w.write(a, 5 * CHUNK, 4096);
    assert!(chunks_sent(&w.fire(P, Timer::Cycle(m))).is_empty());
    // Cycle 1's chunk and end mark arrive, and their acknowledgements come back: the last
    // one sends cycle 2 at once, with no further timer.
    w.deliver_link(P, S);
    w.deliver_link(P, S);
    w.deliver_link(S, P);
    assert!(w.links.get(&(P, S)).is_none_or(|q| q.is_empty()));
    let out = w.deliver_link(S, P);
    assert_eq!(chunks_sent(&out), vec![5]);
    w.settle(false);
    assert!(same(&w));
    // Nothing was due meanwhile: the next timer closes an empty cycle.
    assert!(chunks_sent(&w.fire(P, Timer::Cycle(m))).is_empty());
}

#[test]
fn adaptive_idle_sends_a_burst_at_once_and_each_dirty_chunk_once() {
    let (a, _) = vols();
    let burst = [9, 3, 7];
    let mut w = world(opts(CopyMode::Adaptive));
    let mut sent = Vec::new();
    for chunk in burst {
        sent.extend(chunks_sent(&w.write(a, chunk * CHUNK, 4096).1));
    }
    // No acknowledgement yet, no timer: every chunk left with the write that dirtied it.
    sent.sort_unstable();
    let mut want = burst.to_vec();
    want.sort_unstable();
    assert_eq!(sent, want);
    assert!(w.timers.is_empty(), "no pass timer: {:?}", w.timers);
    w.settle(false);
    assert!(same(&w));
}

#[test]
fn adaptive_idle_with_one_chunk_in_flight_coalesces_rewrites() {
    let (a, _) = vols();
    let burst = [9, 3, 7, 3, 3, 9];
    let mut w = world(PairOptions {
        window_bytes: CHUNK,
        ..opts(CopyMode::Adaptive)
    });
    let mut out = Vec::new();
    for chunk in burst {
        out.extend(w.write(a, chunk * CHUNK, 4096).1);
    }
    assert_eq!(chunks_sent(&out), vec![burst[0]], "one chunk in flight");
    out.extend(w.settle(false));
    // The first chunk left before the rest were written; each other dirty chunk once.
    let mut want: Vec<u64> = burst[1..]
        .iter()
        .copied()
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    want.insert(0, burst[0]);
    let mut sent = chunks_sent(&out);
    sent[1..].sort_unstable();
    assert_eq!(sent, want);
    assert!(same(&w));
}

#[test]
fn adaptive_timer_copies_each_dirty_chunk_once_per_pass_in_address_order() {
    let mut w = world(PairOptions {
        pass: AdaptivePass::Timer,
        ..opts(CopyMode::Adaptive)
    });
    let (a, _) = vols();
    let m = r1();
    for chunk in [9, 3, 7, 3, 3] {
        let (id, out) = w.write(a, chunk * CHUNK, 4096);
        assert!(out.contains(&Output::AckWrite(id)));
    }
    assert!(w.links.is_empty());
    let mut out = w.fire(P, Timer::Pass(m));
    out.extend(w.settle(false));
    assert_eq!(chunks_sent(&out), vec![3, 7, 9]);
    assert!(same(&w));
    // Nothing dirty: the next pass sends nothing.
    let out = w.fire(P, Timer::Pass(m));
    assert!(chunks_sent(&out).is_empty());
}

#[test]
fn full_initial_copy_with_host_writes_during_copy_ends_identical() {
    let (a, b) = vols();
    let mut t = Topology::new();
    for id in [a, b] {
        t.add_volume(VolumeSpec {
            id,
            size: SIZE,
            used: SIZE,
        })
        .unwrap();
    }
    let mut w = World::new(&t, ProtocolConfig::default());
    w.write(a, 5 * CHUNK, 4096);
    let o = PairOptions {
        window_bytes: 2 * CHUNK,
        ..opts(CopyMode::Async)
    };
    let (id, out) = w.command(
        P,
        Command::Create {
            mirror: r1(),
            options: o,
            nocopy: false,
        },
    );
    assert_eq!(state(&w, P), PairState::Copy);
    assert_eq!(
        chunks_sent(&out),
        vec![0, 1],
        "a window of chunks at a time"
    );
    // Writes to a chunk already sent, to one not yet sent, and to the SVOL (refused).
    w.deliver_link(P, S);
    w.deliver_link(P, S);
    w.deliver_link(P, S);
    w.write(a, 0, 4096);
    w.write(a, 12 * CHUNK + 4096, 4096);
    let (_, out) = w.write(b, 0, 4096);
    assert!(
        matches!(out[..], [Output::FailWrite(_, Refusal::SvolProtected(_))]),
        "{out:?}"
    );
    let mut all = w.settle(false);
    all.extend(out);
    assert!(all.contains(&Output::Done(id)), "{all:?}");
    assert_eq!(
        (state(&w, P), state(&w, S)),
        (PairState::Pair, PairState::Pair)
    );
    assert!(same(&w));
    assert_eq!(w.volume(a).digest(), w.volume(b).digest());
}

#[test]
fn resync_sends_exactly_the_dirty_chunks_of_both_sides() {
    let mut w = world(opts(CopyMode::Async));
    let (a, b) = vols();
    split(&mut w);
    // Production writes chunks 1 (twice) and 5; the auxiliary host writes 5 and 9.
    w.write(a, CHUNK, 512);
    w.write(a, CHUNK + 4096, 512);
    w.write(a, 5 * CHUNK, 512);
    w.write(b, 5 * CHUNK, 512);
    w.write(b, 9 * CHUNK + 4096, 512);
    assert_eq!(w.system(P).pair(r1()).unwrap().pending.count(), 2);
    assert_eq!(w.system(S).pair(r1()).unwrap().pending.count(), 2);
    let out = resync(&mut w, false);
    let mut sent = chunks_sent(&out);
    sent.sort();
    assert_eq!(
        sent,
        vec![1, 5, 9],
        "the union of both bitmaps, nothing more"
    );
    assert!(same(&w));
    for s in [P, S] {
        assert!(w.system(s).pair(r1()).unwrap().pending.is_empty());
    }
}

#[test]
fn restore_copies_the_svol_back_onto_the_pvol() {
    let mut w = world(opts(CopyMode::Async));
    let (a, b) = vols();
    split(&mut w);
    let (prod, _) = w.write(a, 4 * CHUNK, 4096);
    let (aux, _) = w.write(b, 2 * CHUNK, 4096);
    let (id, out) = w.command(
        P,
        Command::Resync {
            mirror: r1(),
            restore: true,
        },
    );
    assert!(
        !out.iter().any(|o| matches!(o, Output::Refused(..))),
        "{out:?}"
    );
    // The PVOL takes no host writes while it is being restored.
    let (_, out) = w.write(a, 0, 4096);
    assert!(
        matches!(out[..], [Output::FailWrite(_, Refusal::Restoring(_))]),
        "{out:?}"
    );
    let out = w.settle(false);
    assert!(out.contains(&Output::Done(id)), "{out:?}");
    assert!(same(&w));
    assert_eq!(
        w.volume(a).block(2 * CB),
        Some(aux),
        "the SVOL's write came back"
    );
    assert_ne!(
        w.volume(a).block(4 * CB),
        Some(prod),
        "the PVOL-only write is undone"
    );
    assert_eq!(
        (state(&w, P), state(&w, S)),
        (PairState::Pair, PairState::Pair)
    );
    // Back in PAIR in the normal direction.
    let (id, _) = w.write(a, 0, 4096);
    w.settle(false);
    assert_eq!(w.volume(b).block(0), Some(id));
}

#[test]
fn link_down_suspends_tracks_in_the_bitmap_and_resyncs_after_link_up() {
    let mut w = world(opts(CopyMode::Async));
    let (a, _) = vols();
    w.write(a, 0, 4096);
    w.cut(P, S);
    assert_eq!(
        (state(&w, P), state(&w, S)),
        (PairState::SuspendedError, PairState::SuspendedError)
    );
    let (id, out) = w.write(a, 3 * CHUNK, 4096);
    assert!(out.contains(&Output::AckWrite(id)));
    let pending = &w.system(P).pair(r1()).unwrap().pending;
    assert!(
        pending.contains(0) && pending.contains(3),
        "lost in flight and new: {pending:?}"
    );
    let (id, out) = w.command(
        P,
        Command::Resync {
            mirror: r1(),
            restore: false,
        },
    );
    assert!(
        out.contains(&Output::Refused(id, Refusal::Unreachable(S))),
        "{out:?}"
    );
    w.heal(P, S);
    resync(&mut w, false);
    assert!(same(&w));
}

#[test]
fn secondary_restart_suspends_both_ends_and_loses_nothing() {
    let mut w = world(opts(CopyMode::Sync));
    let (a, b) = vols();
    let (w1, _) = w.write(a, 0, 4096);
    let out = w.input(S, Input::Restart);
    assert!(out.contains(&Output::StateChanged {
        mirror: r1(),
        from: PairState::Pair,
        to: PairState::SuspendedError
    }));
    // The write in flight reaches a secondary that no longer applies it: no ack, so the
    // sync host is never told it is safe; the primary hears of the restart and fails it.
    let out = w.deliver_link(P, S);
    assert_eq!(w.volume(b).block(0), None);
    assert!(out.is_empty(), "{out:?}");
    let out = w.settle(false);
    assert!(
        out.contains(&Output::FailWrite(w1, Refusal::Fenced(a))),
        "{out:?}"
    );
    assert_eq!(state(&w, P), PairState::SuspendedError);
    resync(&mut w, false);
    assert!(same(&w));
}

#[test]
fn takeover_makes_the_svols_writable() {
    let mut w = world(opts(CopyMode::Async));
    let (_, b) = vols();
    let (_, out) = w.write(b, 0, 4096);
    assert!(matches!(
        out[..],
        [Output::FailWrite(_, Refusal::SvolProtected(_))]
    ));
    // A fault alone does not hand the SVOL to the standby host.
    w.cut(P, S);
    let (_, out) = w.write(b, 0, 4096);
    assert!(
        matches!(out[..], [Output::FailWrite(_, Refusal::SvolProtected(_))]),
        "{out:?}"
    );
    let (id, out) = w.command(S, Command::Takeover);
    assert!(out.contains(&Output::Done(id)));
    let (wid, out) = w.write(b, 0, 4096);
    assert!(out.contains(&Output::AckWrite(wid)), "{out:?}");
    assert!(
        w.system(S).pair(r1()).unwrap().pending.contains(0),
        "tracked for resync"
    );
    // Failback: the primary's resync copies the standby's writes away again.
    w.heal(P, S);
    resync(&mut w, false);
    assert!(same(&w));
    let (_, out) = w.write(b, 0, 4096);
    assert!(matches!(
        out[..],
        [Output::FailWrite(_, Refusal::SvolProtected(_))]
    ));
}

#[test]
fn sync_fence_refuse_fails_writes_and_continue_tracks_them() {
    for fence in [Fence::Refuse, Fence::Continue] {
        let mut w = world(PairOptions {
            fence,
            ..opts(CopyMode::Sync)
        });
        let (a, _) = vols();
        let (w1, _) = w.write(a, 0, 4096);
        let out = w.cut(P, S);
        let (w2, out2) = w.write(a, 4096, 4096);
        match fence {
            Fence::Refuse => {
                assert!(
                    out.contains(&Output::FailWrite(w1, Refusal::Fenced(a))),
                    "{out:?}"
                );
                assert!(
                    out2.contains(&Output::FailWrite(w2, Refusal::Fenced(a))),
                    "{out2:?}"
                );
            }
            Fence::Continue => {
                assert!(out.contains(&Output::AckWrite(w1)), "{out:?}");
                assert!(out2.contains(&Output::AckWrite(w2)), "{out2:?}");
                assert!(w.system(P).pair(r1()).unwrap().pending.contains(0));
            }
        }
        w.heal(P, S);
        resync(&mut w, false);
        assert!(same(&w), "{fence:?}");
    }
}
