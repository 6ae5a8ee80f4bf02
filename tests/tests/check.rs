//! The model checker (`mirrorlab check`): the protocol passes every default configuration, each
//! mutant is caught by the property that names its fault (and the correct protocol passes the
//! same configuration), the seed's bitmap resume breaks the prefix property that the journal
//! resume keeps, counterexamples are short and in domain words, and the CLI's exit codes.
//! Also regression tests for the protocol bugs the checker found. Run in release.

use clap::Parser;
use mirrorlab::check_cmd::{bench_check, run_check, CheckArgs};
use mirrorlab_model::check::{self, check, CheckConfig, CheckModel, CheckReport, Verdict};
use mirrorlab_model::ids::{MirrorId, StorageSerial, VolumeId};
use mirrorlab_model::protocol::{Command, Mutant, Output, ProtocolConfig, Timer, Transport};
use mirrorlab_model::table::{AsyncResume, CopyMode, Fence, PairOptions, PairState};
use mirrorlab_model::topology::{fig8, fig8_volumes, MirrorSpec, VolumeSpec};
use mirrorlab_model::volume::BLOCK_BYTES;
use mirrorlab_model::world::World;

const P: StorageSerial = StorageSerial(64001);
const S: StorageSerial = StorageSerial(64002);

fn run(cfg: CheckConfig) -> CheckReport {
    check(CheckModel::new(cfg).expect("valid configuration"), 2)
}

fn verdict(r: &CheckReport, name: &str) -> Verdict {
    r.properties
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{}: no property {name:?}", r.config))
        .verdict
}

fn assert_passes(cfg: CheckConfig) -> CheckReport {
    let r = run(cfg);
    assert!(
        r.passed() && r.exhaustive,
        "{}: expected a pass, got {:?}",
        r.config,
        r.properties
    );
    r
}

fn small(mode: CopyMode, transport: Transport) -> CheckConfig {
    CheckConfig {
        mode,
        transport,
        writes: 3,
        queue_depth: 1,
        aux_writes: 1,
        ..CheckConfig::default()
    }
}

#[test]
fn default_configuration_passes_for_sync_semi_sync_and_async_on_both_transports() {
    for mode in [CopyMode::Sync, CopyMode::SemiSync, CopyMode::Async] {
        for transport in [Transport::Interconnect, Transport::HostNetwork] {
            let r = assert_passes(CheckConfig {
                mode,
                transport,
                ..CheckConfig::default()
            });
            // Not vacuous: the interesting things happen, in many interleavings.
            for p in [
                check::SPLIT_COMPLETES,
                check::NOCOPY_PAIR,
                check::RESYNC_COMPLETES,
            ] {
                assert_eq!(verdict(&r, p), Verdict::Reached, "{}: {p}", r.config);
            }
            assert!(r.unique_states > 5_000, "{}: {}", r.config, r.unique_states);
        }
    }
}

#[test]
fn periodic_and_adaptive_pass_a_smaller_configuration() {
    for mode in [CopyMode::Periodic, CopyMode::Adaptive] {
        for transport in [Transport::Interconnect, Transport::HostNetwork] {
            assert_passes(small(mode, transport));
        }
    }
}

#[test]
fn faults_leave_every_property_true_and_suspended_mirrors_are_resynced() {
    for mode in [CopyMode::Sync, CopyMode::Async, CopyMode::Periodic] {
        let cfg = CheckConfig {
            writes: 2,
            faults: true,
            ..small(mode, Transport::HostNetwork)
        };
        let r = assert_passes(cfg);
        assert_eq!(verdict(&r, check::FAULT_REPAIRED), Verdict::Reached);
        assert_eq!(verdict(&r, check::ENDS_AGREE), Verdict::Holds);
    }
}

#[test]
fn a_three_site_cascade_splits_atomically_too() {
    for mode in [CopyMode::Sync, CopyMode::Async] {
        assert_passes(CheckConfig {
            cascade: true,
            ..small(mode, Transport::HostNetwork)
        });
    }
    // With a crash of the middle system: its own hop ORA_R3 stays suspended.
    assert_passes(CheckConfig {
        cascade: true,
        faults: true,
        writes: 1,
        aux_writes: 0,
        ..small(CopyMode::Sync, Transport::Interconnect)
    });
}

/// Runs `cfg` with and without `mutant`: the mutant must violate `property` (the checker can
/// fail) and the correct protocol must pass the very same configuration.
fn caught(mutant: Mutant, cfg: CheckConfig, property: &str) -> CheckReport {
    assert_passes(cfg);
    let cfg = CheckConfig {
        mutant: Some(mutant),
        ..cfg
    };
    let r = run(cfg);
    assert_eq!(
        verdict(&r, property),
        Verdict::Violated,
        "{}: {:?}",
        r.config,
        r.properties
    );
    assert!(!r.passed());
    r
}

/// The shortest counterexample, checked to be stable and of the expected length.
fn shortest(mutant: Mutant, cfg: CheckConfig, property: &str, steps: usize) -> String {
    let cfg = CheckConfig {
        mutant: Some(mutant),
        ..cfg
    };
    let model = CheckModel::new(cfg).unwrap();
    let path = model
        .shortest_counterexample(property)
        .expect("a violation");
    assert_eq!(
        model.shortest_counterexample(property).as_ref(),
        Some(&path),
        "stable"
    );
    let text = model.render(property, &path).to_string();
    assert_eq!(path.len(), steps, "{text}");
    text
}

#[test]
fn no_atomic_mutant_is_caught_on_either_transport() {
    for transport in [Transport::Interconnect, Transport::HostNetwork] {
        for mode in [CopyMode::Sync, CopyMode::Async] {
            let cfg = CheckConfig {
                mode,
                transport,
                ..CheckConfig::default()
            };
            caught(Mutant::NoAtomic, cfg, check::SPLIT_IDENTICAL);
        }
    }
    let cfg = CheckConfig::default();
    let text = shortest(Mutant::NoAtomic, cfg, check::SPLIT_IDENTICAL, 3);
    for words in [
        "production host writes w1 to 64001:105a",
        "administrator runs `pairsplit ORA_L (one mirror per command)`",
        "storage 64002: ORA_RL (64002:105b->64002:106b) PAIR -> SPLIT",
        "64001:106a [b1=w1]",
        "64002:106b [original data]",
    ] {
        assert!(text.contains(words), "{words:?} missing from:\n{text}");
    }
}

#[test]
fn no_drain_and_no_inhibit_are_caught_on_the_host_network_only() {
    let cases = [
        (Mutant::NoDrain, CopyMode::Sync, 4),
        (Mutant::NoDrain, CopyMode::Async, 4),
        (Mutant::NoInhibit, CopyMode::Sync, 5),
    ];
    for (mutant, mode, steps) in cases {
        let hn = CheckConfig {
            mode,
            transport: Transport::HostNetwork,
            ..CheckConfig::default()
        };
        caught(mutant, hn, check::SPLIT_IDENTICAL);
        let text = shortest(mutant, hn, check::SPLIT_IDENTICAL, steps);
        assert!(
            text.contains("host network delivers atomic split"),
            "{text}"
        );
        // Over the FIFO interconnect ordering alone keeps the split SVOLs identical.
        let ic = CheckConfig {
            transport: Transport::Interconnect,
            mutant: Some(mutant),
            ..hn
        };
        let r = run(ic);
        assert!(r.passed(), "{}: {:?}", r.config, r.properties);
        assert!(check::mutant_note(mutant, Transport::Interconnect).is_some());
    }
}

#[test]
fn nocopy_unchecked_mutant_is_caught_once_the_auxiliary_host_writes_a_split_svol() {
    let cfg = CheckConfig::default();
    caught(Mutant::NocopyUnchecked, cfg, check::NOCOPY_IDENTICAL);
    let text = shortest(Mutant::NocopyUnchecked, cfg, check::NOCOPY_IDENTICAL, 8);
    assert!(
        text.contains("auxiliary host writes a1 to split SVOL 64001:106a"),
        "{text}"
    );
    assert!(
        text.contains("paircreate ORA_R2 64001:106a 64002:106b --nocopy"),
        "{text}"
    );
    // Without auxiliary writes the split copies stay identical and nothing is caught.
    let r = run(CheckConfig {
        aux_writes: 0,
        mutant: Some(Mutant::NocopyUnchecked),
        ..cfg
    });
    assert!(r.passed(), "{:?}", r.properties);
}

// ----- the blind spots (issue 18): direction, moment of judgement, windows, traffic -----

fn sync_ic() -> CheckConfig {
    CheckConfig {
        transport: Transport::Interconnect,
        ..CheckConfig::default()
    }
}

/// The fault configuration .ci/run checks every fence level in.
fn fenced(fence: Fence) -> CheckConfig {
    CheckConfig {
        faults: true,
        writes: 2,
        aux_writes: 1,
        fence,
        ..sync_ic()
    }
}

#[test]
fn fence_ignored_is_caught_at_the_acknowledgement_and_both_fence_levels_pass() {
    assert_passes(fenced(Fence::Continue));
    caught(
        Mutant::FenceIgnored,
        fenced(Fence::Refuse),
        check::FENCE_AT_ACK,
    );
    let text = shortest(
        Mutant::FenceIgnored,
        fenced(Fence::Refuse),
        check::FENCE_AT_ACK,
        2,
    );
    // Acknowledged by the suspension itself, with 105b still without it.
    assert!(text.contains("w1 acknowledged to its host"), "{text}");
    assert!(text.contains("64002:105b [original data]"), "{text}");
}

#[test]
fn semi_sync_window_mutant_is_caught_by_the_window_property() {
    let cfg = CheckConfig {
        mode: CopyMode::SemiSync,
        ..sync_ic()
    };
    caught(Mutant::SemiSyncWindow, cfg, check::SEMI_SYNC_WINDOW);
    shortest(Mutant::SemiSyncWindow, cfg, check::SEMI_SYNC_WINDOW, 2);
}

#[test]
fn a_restore_the_wrong_way_is_caught_by_the_direction_though_the_volumes_end_equal() {
    for mode in [CopyMode::Sync, CopyMode::Async] {
        let cfg = CheckConfig {
            mode,
            restore: true,
            ..sync_ic()
        };
        let r = caught(Mutant::RestoreWrongWay, cfg, check::RESYNC_DIRECTION);
        assert_ne!(verdict(&r, check::RESYNC_EQUAL), Verdict::Violated);
    }
    let cfg = CheckConfig {
        restore: true,
        ..sync_ic()
    };
    let text = shortest(Mutant::RestoreWrongWay, cfg, check::RESYNC_DIRECTION, 9);
    assert!(
        text.contains("`pairresync --restore ORA_L` completed"),
        "{text}"
    );
}

#[test]
fn nocopy_mutants_are_caught_by_what_crosses_the_link_and_what_is_refused() {
    caught(
        Mutant::NocopyFullCopy,
        sync_ic(),
        check::NOCOPY_SENDS_NO_DATA,
    );
    // With no auxiliary write the volumes are identical: a refusal is the bug.
    let identical = CheckConfig {
        aux_writes: 0,
        ..sync_ic()
    };
    caught(
        Mutant::NocopyWrongVolumes,
        identical,
        check::NOCOPY_REFUSED_DIFFERENT,
    );
    let text = shortest(
        Mutant::NocopyWrongVolumes,
        identical,
        check::NOCOPY_REFUSED_DIFFERENT,
        8,
    );
    assert!(text.contains("refused: no-copy create refused"), "{text}");
}

#[test]
fn adaptive_drain_early_needs_a_copy_window_of_two_chunks() {
    let small = CheckConfig {
        mode: CopyMode::Adaptive,
        transport: Transport::HostNetwork,
        writes: 3,
        queue_depth: 1,
        aux_writes: 0,
        chunks: 3,
        window: 2,
        ..CheckConfig::default()
    };
    caught(Mutant::AdaptiveDrainEarly, small, check::SPLIT_IDENTICAL);
    // A one-chunk window: the chunks in flight at the split command are the whole flush.
    let r = run(CheckConfig {
        window: 1,
        mutant: Some(Mutant::AdaptiveDrainEarly),
        ..small
    });
    assert!(r.passed() && r.exhaustive, "{:?}", r.properties);
}

#[test]
fn resync_one_bitmap_is_caught_by_the_auxiliary_host_on_the_split_svol() {
    caught(Mutant::ResyncOneBitmap, sync_ic(), check::RESYNC_EQUAL);
    let r = run(CheckConfig {
        aux_writes: 0,
        mutant: Some(Mutant::ResyncOneBitmap),
        ..sync_ic()
    });
    assert!(
        r.passed(),
        "without writes on the SVOL's side: {:?}",
        r.properties
    );
}

#[test]
fn resync_remote_one_bitmap_is_caught_only_once_the_auxiliary_host_writes_the_remote_svol() {
    // The split remote mirror ORA_R1 written on both sides: 105a by production, 105b by
    // the auxiliary host; its resync must copy the chunks of both bitmaps.
    let remote_split = CheckConfig {
        remote_split: true,
        writes: 2,
        queue_depth: 1,
        aux_writes: 1,
        ..sync_ic()
    };
    for mode in [CopyMode::Sync, CopyMode::SemiSync, CopyMode::Async] {
        caught(
            Mutant::ResyncRemoteOneBitmap,
            CheckConfig {
                mode,
                ..remote_split
            },
            check::RESYNC_EQUAL,
        );
    }
    // The default world never writes the secondary's side: the mutant escapes it.
    let r = run(CheckConfig {
        mutant: Some(Mutant::ResyncRemoteOneBitmap),
        ..sync_ic()
    });
    assert!(r.passed(), "{:?}", r.properties);
    let text = shortest(
        Mutant::ResyncRemoteOneBitmap,
        remote_split,
        check::RESYNC_EQUAL,
        7,
    );
    assert!(
        text.contains("auxiliary host writes a1 to split SVOL 64002:105b"),
        "{text}"
    );
}

#[test]
fn a_two_chunk_window_passes_once_ordered_writes_in_flight_are_judged_landed() {
    // The finding: a no-copy create completes while an auxiliary write it carried in order
    // is still on the FIFO link, ahead of its "copy complete".
    for mode in [CopyMode::Sync, CopyMode::SemiSync, CopyMode::Async] {
        for transport in [Transport::Interconnect, Transport::HostNetwork] {
            let r = assert_passes(CheckConfig {
                mode,
                transport,
                chunks: 3,
                window: 2,
                ..CheckConfig::default()
            });
            assert_eq!(verdict(&r, check::NOCOPY_PAIR), Verdict::Reached);
        }
    }
}

#[test]
fn bitmap_resume_breaks_the_prefix_property_and_the_journal_keeps_it() {
    for transport in [Transport::Interconnect, Transport::HostNetwork] {
        let journal = CheckConfig {
            mode: CopyMode::Async,
            transport,
            ..CheckConfig::default()
        };
        assert_eq!(
            verdict(&assert_passes(journal), check::PREFIX),
            Verdict::Holds
        );
        let bitmap = CheckConfig {
            resume: AsyncResume::Bitmap,
            ..journal
        };
        let r = run(bitmap);
        assert_eq!(
            verdict(&r, check::PREFIX),
            Verdict::Violated,
            "{}",
            r.config
        );
        // The split itself stays atomic: only the remote SVOL's order suffers.
        assert_eq!(verdict(&r, check::SPLIT_IDENTICAL), Verdict::Holds);
        let model = CheckModel::new(bitmap).unwrap();
        let path = model.shortest_counterexample(check::PREFIX).unwrap();
        let text = model.render(check::PREFIX, &path).to_string();
        // w2 (block 0) reaches the remote SVOL before w1 (block 1): address order.
        assert!(text.contains("64002:105b now holds [b0=w2]"), "{text}");
    }
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let e = CheckModel::new(CheckConfig {
        queue_depth: 3,
        chunks: 2,
        ..CheckConfig::default()
    })
    .err()
    .unwrap();
    assert!(e.contains("queue depth"), "{e}");
    assert!(CheckModel::new(CheckConfig {
        writes: 0,
        ..CheckConfig::default()
    })
    .is_err());
    let e = CheckModel::new(CheckConfig {
        remote_split: true,
        restore: true,
        ..CheckConfig::default()
    })
    .err()
    .unwrap();
    assert!(e.contains("--remote-split"), "{e}");
}

// ----- the command line -----

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: CheckArgs,
}

fn args(words: &[&str]) -> CheckArgs {
    let mut argv = vec!["check"];
    argv.extend_from_slice(words);
    Cli::try_parse_from(argv).expect("valid arguments").args
}

#[test]
fn cli_exit_codes_summary_and_json_counterexample() {
    // 0: the default configuration, four runs, every property listed.
    let mut out = Vec::new();
    assert_eq!(run_check(&args(&[]), &mut out).unwrap(), 0);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("[4/4] mode=async transport=host-network"),
        "{text}"
    );
    assert!(text.contains("exhaustive"), "{text}");
    assert!(
        text.contains("reached     sometimes ORA_R2 reaches PAIR by no-copy"),
        "{text}"
    );
    assert!(text.contains("all 4 configurations pass"), "{text}");

    // 1: a mutant, with numbered steps and a JSON trace.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.json");
    let a = args(&[
        "--mutant",
        "no-drain",
        "--transport",
        "host-network",
        "--mode",
        "async",
        "--trace-out",
        file.to_str().unwrap(),
    ]);
    let mut out = Vec::new();
    assert_eq!(run_check(&a, &mut out).unwrap(), 1);
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("VIOLATED"), "{text}");
    assert!(text.contains("  1. "), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(json["property"], check::SPLIT_IDENTICAL);
    let steps = json["steps"].as_array().unwrap();
    assert!(!steps.is_empty());
    assert_eq!(steps[0]["n"], 1);
    assert!(steps[0]["text"].as_str().unwrap().contains("host"));

    // 2: bad arguments, from clap or from the configuration.
    for bad in [
        &["--mode", "fast"][..],
        &["--writes", "0"],
        &["--mutant", "nope"],
        &["--transport", "pigeon"],
    ] {
        let mut argv = vec!["check"];
        argv.extend_from_slice(bad);
        let e = Cli::try_parse_from(argv).err().expect("refused");
        assert_eq!(e.exit_code(), 2, "{bad:?}");
    }
    let a = args(&["--queue-depth", "4", "--chunks", "2"]);
    let e = run_check(&a, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("queue depth"), "{e}");
}

#[test]
fn bench_check_prints_one_line() {
    let mut out = Vec::new();
    bench_check(2, &mut out).unwrap();
    let line = String::from_utf8(out).unwrap();
    assert!(
        line.starts_with("checker: ")
            && line.contains(" unique states in ")
            && line.contains(" states/s)"),
        "{line}"
    );
}

// ----- regressions: protocol bugs the checker found -----

fn remote(mode: CopyMode) -> PairOptions {
    PairOptions {
        mode,
        chunk_bytes: BLOCK_BYTES,
        window_bytes: BLOCK_BYTES,
        ..PairOptions::default()
    }
}

fn outputs_done(out: &[Output]) -> bool {
    out.iter().any(|o| matches!(o, Output::Done(_)))
}

/// Periodic: a cycle whose chunks were acknowledged (buffered, not applied) but whose end mark
/// was lost with the link must be sent again by the resync, or the SVOL misses the write.
#[test]
fn periodic_cycle_lost_after_its_chunks_were_acked_is_resent_by_the_resync() {
    let t = fig8(2 * BLOCK_BYTES, remote(CopyMode::Periodic));
    let mut w = World::new(&t, ProtocolConfig::default());
    let [a105, _, b105, _] = fig8_volumes();
    let r1 = MirrorId::new(a105, b105);
    w.write(a105, BLOCK_BYTES, BLOCK_BYTES);
    w.fire(P, Timer::Cycle(r1));
    w.deliver_link(P, S); // the chunk: buffered at 64002, acknowledged
    w.deliver_link(S, P); // its ack
    w.cut(P, S); // the end-of-cycle mark is lost
    w.heal(P, S);
    let (_, mut out) = w.command(
        P,
        Command::Resync {
            mirror: r1,
            restore: false,
        },
    );
    out.extend(w.settle(false));
    assert!(outputs_done(&out), "{out:?}");
    assert_eq!(w.volume(b105).digest(), w.volume(a105).digest());
}

/// A no-copy create lost with the link leaves the primary SUSPENDED_ERROR and the secondary
/// without a table; a resync must be refused, not wait in COPY for ever.
#[test]
fn resync_of_a_pair_the_secondary_never_created_is_refused() {
    let mut t = fig8(2 * BLOCK_BYTES, remote(CopyMode::Sync));
    let mut w = World::new(&t, ProtocolConfig::default());
    let [_, a106, _, b106] = fig8_volumes();
    let r2 = MirrorId::new(a106, b106);
    let d = remote(CopyMode::Sync);
    w.run_command(&mut t, "pairsplit --atomic ORA_L ORA_RL", d, None)
        .unwrap();
    w.settle(false);
    w.run_command(
        &mut t,
        "paircreate ORA_R2 64001:106a 64002:106b --nocopy",
        d,
        None,
    )
    .unwrap();
    w.cut(P, S); // the Create message is lost
    w.heal(P, S);
    assert_eq!(w.system(P).state(r2), PairState::SuspendedError);
    assert_eq!(w.system(S).state(r2), PairState::Simplex);
    let (id, mut out) = w.command(
        P,
        Command::Resync {
            mirror: r2,
            restore: false,
        },
    );
    out.extend(w.settle(false));
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Refused(c, _) if *c == id)),
        "{out:?}"
    );
    assert_eq!(w.system(P).state(r2), PairState::Simplex);
}

/// In a cascade, a system that forwards an atomic split through its own remote mirror must
/// refuse when that mirror is suspended: the mirror behind it holds stale data.
#[test]
fn split_forwarded_through_a_suspended_hop_is_refused() {
    let size = 2 * BLOCK_BYTES;
    let mut t = fig8(size, remote(CopyMode::Sync));
    let [a105, _, b105, _] = fig8_volumes();
    let (c105, c106) = (VolumeId::new(64003, 0x105c), VolumeId::new(64003, 0x106c));
    for id in [c105, c106] {
        t.add_volume(VolumeSpec {
            id,
            size,
            used: size,
        })
        .unwrap();
    }
    for (group, id) in [
        ("ORA_R3", MirrorId::new(b105, c105)),
        ("ORA_CL", MirrorId::new(c105, c106)),
    ] {
        t.add_mirror(MirrorSpec {
            id,
            group: group.to_string(),
            options: remote(CopyMode::Sync),
        })
        .unwrap();
    }
    let mut w = World::new(&t, ProtocolConfig::default());
    w.write(a105, 0, BLOCK_BYTES);
    w.settle(false);
    // 64002 crashes and restarts: ORA_R1 and ORA_R3 are suspended; only ORA_R1 is resynced.
    w.crash(S);
    w.restart(S);
    let r1 = MirrorId::new(a105, b105);
    w.command(
        P,
        Command::Resync {
            mirror: r1,
            restore: false,
        },
    );
    w.write(a105, 0, BLOCK_BYTES);
    w.settle(false);
    assert_eq!(
        w.system(S).state(MirrorId::new(b105, c105)),
        PairState::SuspendedError
    );
    let mut out = w
        .run_command(
            &mut t,
            "pairsplit --atomic ORA_L ORA_RL ORA_CL",
            remote(CopyMode::Sync),
            None,
        )
        .unwrap();
    out.extend(w.settle(false));
    assert!(
        out.iter().any(|o| matches!(o, Output::Refused(..))),
        "a split behind a suspended hop must not complete: {out:?}"
    );
    assert!(!outputs_done(&out), "{out:?}");
}
