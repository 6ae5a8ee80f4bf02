//! The scripted Fig 5 + Fig 12 flow on the Fig 8 topology (`walkthrough::fig5`): the copy
//! management tables after each step read as Figs 6 and 12 of the seed say.

use mirrorlab_model::ids::{MirrorId, StorageSerial, VolumeId};
use mirrorlab_model::protocol::{Message, Output};
use mirrorlab_model::table::{CopyType, PairState, Refusal};
use mirrorlab_model::topology::fig8_volumes;
use mirrorlab_model::walkthrough::{fig5, StepRecord, Walkthrough};

const PRIMARY: StorageSerial = StorageSerial(64001);
const SECONDARY: StorageSerial = StorageSerial(64002);

fn run() -> (Walkthrough, String) {
    let mut text = Vec::new();
    let w = fig5(&mut text).expect("the walk-through runs");
    (w, String::from_utf8(text).expect("utf-8"))
}

/// One Fig 6 row: (volume, mirror volume, copy type, pair system, primary, status).
type Row = (VolumeId, VolumeId, CopyType, StorageSerial, bool, PairState);

/// Asserts the step holds exactly these Fig 6 tables, each with the fields of the row.
fn assert_tables(step: &StepRecord, rows: &[Row]) {
    assert_eq!(
        step.tables.len(),
        rows.len(),
        "{}: tables {:#?}",
        step.key,
        step.tables
    );
    for &(vol, other, ty, system, primary, status) in rows {
        let t = step
            .table(vol, other)
            .unwrap_or_else(|| panic!("{}: no table of {vol} for {other}", step.key));
        let what = format!("{}: table of {vol} for {other}", step.key);
        assert_eq!(t.copy_type, ty, "{what}: Copy Type (610)");
        assert_eq!(t.pair_system, system, "{what}: Pair System ID (620)");
        assert_eq!(t.mirror_volume, other, "{what}: Mirror Volume ID (630)");
        assert_eq!(t.primary, primary, "{what}: Primary (640)");
        assert_eq!(t.status, status, "{what}: Mirror Status (650)");
    }
}

/// The Fig 8 tables with ORA_L / ORA_RL in `local` and ORA_R1 in PAIR, plus ORA_R2 if given.
fn fig8_rows(local: PairState, r2: Option<PairState>) -> Vec<Row> {
    use CopyType::{Local, Remote};
    let [a105, a106, b105, b106] = fig8_volumes();
    let mut rows = vec![
        // ORA_R1: remote 105a -> 105b.
        (a105, b105, Remote, SECONDARY, true, PairState::Pair),
        (b105, a105, Remote, PRIMARY, false, PairState::Pair),
        // ORA_L: local in 64001 (Pair System ID is the system itself for a local copy).
        (a105, a106, Local, PRIMARY, true, local),
        (a106, a105, Local, PRIMARY, false, local),
        // ORA_RL: local in 64002.
        (b105, b106, Local, SECONDARY, true, local),
        (b106, b105, Local, SECONDARY, false, local),
    ];
    if let Some(s) = r2 {
        // ORA_R2: remote 106a -> 106b (Fig 12 step 1310).
        rows.push((a106, b106, Remote, SECONDARY, true, s));
        rows.push((b106, a106, Remote, PRIMARY, false, s));
    }
    rows
}

#[test]
fn fig2_starts_with_ora_r1_in_pair() {
    let (w, _) = run();
    let [a105, _, b105, _] = fig8_volumes();
    let step = w.step("fig2");
    assert_tables(
        step,
        &[
            (
                a105,
                b105,
                CopyType::Remote,
                SECONDARY,
                true,
                PairState::Pair,
            ),
            (
                b105,
                a105,
                CopyType::Remote,
                PRIMARY,
                false,
                PairState::Pair,
            ),
        ],
    );
    assert_eq!(step.digests[&a105], step.digests[&b105]);
}

#[test]
fn step_510_creates_the_local_mirrors_with_a_full_copy() {
    let (w, _) = run();
    let [a105, a106, b105, b106] = fig8_volumes();
    let copying = w.step("510-copy");
    assert_tables(copying, &fig8_rows(PairState::Copy, None));
    // The PVOL tables carry the chunks still to copy.
    assert!(!copying.table(a105, a106).unwrap().pending.is_empty());
    assert!(!copying.table(b105, b106).unwrap().pending.is_empty());
    let done = w.step("510");
    assert_tables(done, &fig8_rows(PairState::Pair, None));
    for t in &done.tables {
        assert!(t.pending.is_empty(), "{t:?}");
    }
    // The full copy (plus production writes during it) makes all four volumes identical.
    let d = &done.digests;
    assert!(d[&a105] == d[&a106] && d[&a105] == d[&b105] && d[&b105] == d[&b106]);
}

#[test]
fn step_520_splits_atomically_and_106a_equals_106b() {
    let (w, text) = run();
    let [a105, a106, b105, b106] = fig8_volumes();
    let step = w.step("520");
    assert_tables(step, &fig8_rows(PairState::Split, None));
    assert_eq!(
        step.digests[&a106], step.digests[&b106],
        "106a == 106b after the split"
    );
    // Production went on: 105a and 105b moved past the split point, tracked in the bitmaps.
    assert_ne!(step.digests[&a105], step.digests[&a106]);
    assert_eq!(
        step.digests[&a105], step.digests[&b105],
        "ORA_R1 stays in sync"
    );
    assert!(!step.table(a105, a106).unwrap().pending.is_empty());
    let (_, out) = &step.commands[0];
    assert!(out.iter().any(|o| matches!(o, Output::Done(_))), "{out:?}");
    assert!(
        text.contains("106a and 106b identical after the split: yes"),
        "{text}"
    );
    // Step 530 gives the auxiliary hosts access and changes no table.
    assert_tables(w.step("530"), &fig8_rows(PairState::Split, None));
}

#[test]
fn fig12_creates_ora_r2_in_pair_with_zero_bitmaps_and_sends_no_data() {
    let (w, text) = run();
    let [_, a106, _, b106] = fig8_volumes();
    let r2 = MirrorId::new(a106, b106);
    let step = w.step("fig12");
    assert_tables(step, &fig8_rows(PairState::Split, Some(PairState::Pair)));
    for (vol, other) in [(a106, b106), (b106, a106)] {
        let t = step.table(vol, other).unwrap();
        assert_eq!(
            t.pending.count(),
            0,
            "Fig 12: the pending bitmap of {vol} is all zeros"
        );
    }
    // No chunk and no write crossed the link for ORA_R2's creation; only control messages.
    assert!(
        step.data_messages(r2).is_empty(),
        "{:?}",
        step.data_messages(r2)
    );
    let sends: Vec<&Message> = step
        .outputs()
        .filter_map(|o| match o {
            Output::Send { msg, .. } if msg.mirror() == r2 => Some(msg),
            _ => None,
        })
        .collect();
    assert!(
        sends.iter().all(|m| m.data_bytes() == 0),
        "data sent for ORA_R2: {sends:?}"
    );
    assert!(
        sends.iter().any(|m| matches!(
            m,
            Message::Create {
                nocopy: Some(_),
                ..
            }
        )),
        "{sends:?}"
    );
    assert!(
        text.contains("Data sent to build ORA_R2: 0 messages, 0 bytes"),
        "{text}"
    );
}

#[test]
fn step_540_auxiliary_writes_travel_on_ora_r2() {
    let (w, text) = run();
    let [a105, a106, b105, b106] = fig8_volumes();
    let step = w.step("540");
    assert_tables(step, &fig8_rows(PairState::Split, Some(PairState::Pair)));
    assert_eq!(step.digests[&a106], step.digests[&b106]);
    assert_ne!(step.digests[&a106], step.digests[&a105]);
    // The auxiliary writes are recorded against the split local mirrors, so a later resync
    // of ORA_L / ORA_RL puts the production data back on 106a / 106b.
    assert!(!step.table(a106, a105).unwrap().pending.is_empty());
    assert!(!step.table(b106, b105).unwrap().pending.is_empty());
    let r2_primary = step.table(a106, b106).unwrap();
    assert!(
        r2_primary.pending.is_empty(),
        "ORA_R2 in PAIR carries writes, nothing pending"
    );
    for line in [
        "Fig 6 copy management tables",
        "ORA_R2   64001:106a   Remote Copy 64002          64002:106b        YES     PAIR     all zero",
        "ORA_R2   64002:106b   Remote Copy 64001          64001:106a        NO      PAIR     all zero",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn no_copy_on_volumes_that_differ_is_refused_at_the_end() {
    let (w, text) = run();
    let [a105, a106, b105, b106] = fig8_volumes();
    let step = w.step("refused");
    assert_tables(step, &fig8_rows(PairState::Split, None));
    assert!(
        step.outputs()
            .any(|o| matches!(o, Output::Refused(_, Refusal::NotIdentical))),
        "{:?}",
        step.commands
    );
    let r2 = MirrorId::new(a106, b106);
    for s in [PRIMARY, SECONDARY] {
        assert_eq!(w.world.system(s).state(r2), PairState::Simplex);
    }
    assert_eq!(
        w.world.system(PRIMARY).state(MirrorId::new(a105, b105)),
        PairState::Pair
    );
    assert!(text.contains("refused: no-copy create refused"), "{text}");
}

#[test]
fn the_walkthrough_is_deterministic() {
    let (_, a) = run();
    let (_, b) = run();
    assert_eq!(a, b);
}
