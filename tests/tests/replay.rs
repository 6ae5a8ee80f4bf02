//! Replays (issue #4): `mirrorlab check --trace-out` writes the counterexample also as a
//! scenario, and `mirrorlab run` replays it step by step through the same protocol, its own
//! checks seeing the promise broken. Each mutant's counterexample is replayed; many random
//! paths of the correct protocol are replayed and the simulator must end exactly where the
//! checker's world ends (volumes, pair states and bitmaps, messages in flight, timers), which
//! shows the two drivers run one protocol. (A replay's outputs are byte-identical run after run:
//! `sim_determinism.rs`.) Run in release.

mod report_common;

use clap::Parser;
use mirrorlab::check_cmd::{run_check, CheckArgs};
use mirrorlab::output::format_table;
use mirrorlab::replay::scenario_text;
use mirrorlab::{scenario, simulate, write_outputs, Overrides, RunOutput, SimError};
use mirrorlab_model::check::{Action, CheckConfig, CheckModel, CheckState};
use mirrorlab_model::invariants;
use mirrorlab_model::replay::{MessageKey, Step, TimerKind};
use mirrorlab_model::topology::fig8_volumes;
use mirrorlab_model::volume::describe_blocks;
use mirrorlab_model::{pairdisplay, CopyMode, Mutant, Transport};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use report_common::{page_top, run_dir_files};
use stateright::Model;
use std::fs;
use std::path::Path;
use std::time::Instant;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: CheckArgs,
}

/// Replays `path` of `model` in the simulator.
fn replay(model: &CheckModel, path: &[Action]) -> (String, RunOutput) {
    let text = scenario_text(model, "a checker path", &[], path).expect("a path of the model");
    let s =
        scenario::parse(&text, Path::new("path.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let out = simulate(&s, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, out)
}

/// A random walk of `model` from its start until nothing more can happen.
fn random_path(model: &CheckModel, rng: &mut ChaCha8Rng) -> (Vec<Action>, CheckState) {
    let mut s = model.init_states().remove(0);
    let mut path = Vec::new();
    let mut actions = Vec::new();
    loop {
        actions.clear();
        model.actions(&s, &mut actions);
        if actions.is_empty() || path.len() >= 200 {
            return (path, s);
        }
        let a = actions.swap_remove(rng.gen_range(0..actions.len()));
        s = model.next_state(&s, a.clone()).expect("an enabled action");
        path.push(a);
    }
}

/// Where the checker's world stands, in the words the replay summary uses.
struct Seen {
    volumes: Vec<(String, String, String)>,
    in_flight: Vec<String>,
    timers: Vec<String>,
}

fn checker_end(model: &CheckModel, s: &CheckState) -> Seen {
    let t = model.topology();
    let mut volumes = Vec::new();
    for sys in s.world.systems.values() {
        for (serial, v) in sys.volumes() {
            volumes.push((
                format!("{}:{serial}", sys.serial()),
                describe_blocks(&v.blocks_in(0, u64::MAX), |w| w.to_string()),
                format!("{:016x}", v.digest().0),
            ));
        }
    }
    volumes.sort();
    let deliver = |via, from, to, msg| {
        Step::Deliver {
            via,
            from,
            to,
            message: MessageKey::of(msg).map(|m| t.mirror_ref(m)),
        }
        .to_string()
    };
    let mut in_flight: Vec<String> = s
        .world
        .links
        .iter()
        .flat_map(|(&(from, to), q)| q.iter().map(move |m| (from, to, m)))
        .map(|(from, to, m)| deliver(Transport::Interconnect, from, to, m))
        .collect();
    let mut host: Vec<String> = s
        .world
        .host_net
        .iter()
        .map(|e| deliver(Transport::HostNetwork, e.from, e.to, &e.msg))
        .collect();
    host.sort();
    in_flight.extend(host);
    let mut timers: Vec<String> = s
        .world
        .timers
        .iter()
        .map(|&(system, timer)| {
            let (kind, m) = TimerKind::of(timer);
            Step::Timer {
                kind,
                mirror: t.mirror_ref(m),
                system,
            }
            .to_string()
        })
        .collect();
    timers.sort();
    Seen {
        volumes,
        in_flight,
        timers,
    }
}

/// The simulator's verdict on each invariant it judged: held (never broken) or not.
fn sim_verdicts(out: &RunOutput) -> Vec<(&str, bool)> {
    let v = &out.summary.invariants.verdicts;
    v.iter()
        .map(|x| (x.invariant.as_str(), x.broken == 0))
        .collect()
}

/// The checker's verdict, at the end of its path, on each invariant the simulator judged:
/// the model's property of that name (they share `mirrorlab_model::invariants`).
fn checker_verdicts<'a>(
    model: &CheckModel,
    end: &CheckState,
    out: &'a RunOutput,
) -> Vec<(&'a str, bool)> {
    let props = model.properties();
    out.summary
        .invariants
        .verdicts
        .iter()
        .map(|x| {
            let p = props.iter().find(|p| p.name == x.invariant);
            let p = p.unwrap_or_else(|| panic!("no property {:?}", x.invariant));
            (x.invariant.as_str(), (p.condition)(model, end))
        })
        .collect()
}

/// The configurations the random paths come from, with how many paths of each: the default
/// Fig 8 in sync and async on both transports with and without faults (most paths), the other
/// copy modes (their cycle and pass timers), and the three-site cascade.
fn cross_check_configs() -> Vec<(CheckConfig, usize)> {
    let mut v = Vec::new();
    for mode in [CopyMode::Sync, CopyMode::Async] {
        for transport in [Transport::Interconnect, Transport::HostNetwork] {
            for faults in [false, true] {
                let cfg = CheckConfig {
                    mode,
                    transport,
                    faults,
                    writes: 4,
                    ..CheckConfig::default()
                };
                v.push((cfg, 100));
            }
        }
    }
    for mode in [CopyMode::SemiSync, CopyMode::Periodic, CopyMode::Adaptive] {
        for faults in [false, true] {
            let cfg = CheckConfig {
                mode,
                transport: Transport::HostNetwork,
                faults,
                writes: 3,
                ..CheckConfig::default()
            };
            v.push((cfg, 20));
        }
    }
    for mode in [CopyMode::Sync, CopyMode::Async] {
        let cfg = CheckConfig {
            mode,
            cascade: true,
            faults: true,
            writes: 2,
            aux_writes: 1,
            ..CheckConfig::default()
        };
        v.push((cfg, 40));
    }
    v
}

#[test]
fn random_checker_paths_end_in_the_same_world_when_the_simulator_replays_them() {
    let start = Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (mut replayed, mut steps) = (0, 0);
    for (cfg, paths) in cross_check_configs() {
        let model = CheckModel::new(cfg).unwrap();
        for _ in 0..paths {
            let (path, end) = random_path(&model, &mut rng);
            let (text, out) = replay(&model, &path);
            let why = || format!("{}\n{text}", cfg.label());
            let seen = checker_end(&model, &end);
            let r = out.summary.replay.as_ref().expect("a replay summary");
            let sim: Vec<(String, String, String)> = r
                .volumes
                .iter()
                .map(|v| (v.volume.clone(), v.blocks.clone(), v.digest.clone()))
                .collect();
            assert_eq!(sim, seen.volumes, "{}", why());
            // Pair states at both ends, pending bitmaps and journals (pairdisplay's columns).
            let rows = pairdisplay(model.topology(), end.world.systems.values());
            assert_eq!(out.summary.pairdisplay, rows, "{}", why());
            assert_eq!(r.in_flight, seen.in_flight, "{}", why());
            assert_eq!(r.timers, seen.timers, "{}", why());
            // One set of invariants: each the simulator judged has the checker's verdict.
            assert_eq!(
                sim_verdicts(&out),
                checker_verdicts(&model, &end, &out),
                "{}",
                why()
            );
            // The correct protocol: the simulator's own checks find nothing either.
            assert!(
                out.summary.invariants.ok,
                "{:?}\n{}",
                out.summary.invariants.failures,
                why()
            );
            replayed += 1;
            steps += path.len();
        }
    }
    assert_eq!(replayed, 1000);
    eprintln!(
        "{replayed} random paths ({steps} steps) replayed and compared in {:.2} s",
        start.elapsed().as_secs_f64()
    );
}

/// `mirrorlab check WORDS --trace-out DIR/cex.json` (it must find a counterexample), then the
/// scenario it wrote beside the JSON, replayed: the scenario's text and the run.
fn check_then_replay(words: &[&str]) -> (String, RunOutput) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("cex.json");
    let mut argv = vec!["check"];
    argv.extend_from_slice(words);
    argv.extend(["--trace-out", json.to_str().unwrap()]);
    let args = Cli::try_parse_from(argv).expect("valid arguments").args;
    let mut printed = Vec::new();
    assert_eq!(run_check(&args, &mut printed).unwrap(), 1, "{words:?}");
    let printed = String::from_utf8(printed).unwrap();
    let toml = dir.path().join("cex.toml");
    assert!(
        printed.contains(&format!("mirrorlab run {}", toml.display())),
        "{printed}"
    );
    assert!(json.is_file(), "{printed}");
    let text = fs::read_to_string(&toml).unwrap();
    let s = scenario::load(&toml).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let out = simulate(&s, &Overrides::default()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, out)
}

#[test]
fn each_mutants_counterexample_replays_to_the_promise_it_breaks() {
    let split = "atomic split `pairsplit --atomic ORA_L ORA_RL` completed but its SVOLs \
                 (64001:106a, 64002:106b) hold different data";
    let nocopy = "no-copy create `paircreate ORA_R2 64001:106a 64002:106b --nocopy` completed \
                  on volumes that differ";
    for (mutant, words, failure) in [
        (
            "no-atomic",
            &["--mode", "sync", "--transport", "interconnect"][..],
            split,
        ),
        (
            "no-drain",
            &["--mode", "async", "--transport", "host-network"],
            split,
        ),
        (
            "no-inhibit",
            &["--mode", "sync", "--transport", "host-network"],
            split,
        ),
        ("nocopy-unchecked", &["--mode", "sync"], nocopy),
    ] {
        let mut argv = vec!["--mutant", mutant];
        argv.extend_from_slice(words);
        let (text, out) = check_then_replay(&argv);
        assert!(text.contains(&format!("mutant = \"{mutant}\"")), "{text}");
        assert!(text.contains("# Property violated: "), "{text}");
        let s = &out.summary;
        assert!(!s.invariants.ok, "{mutant}: nothing broke\n{text}");
        let r = s.replay.as_ref().unwrap();
        // Seen by the simulator at the checker's last step, where the property fails.
        let broken = &r.broken[0];
        assert!(broken.failure.starts_with(failure), "{mutant}: {broken:?}");
        assert_eq!(broken.step, Some(r.steps), "{mutant}: {broken:?}\n{text}");
        let table = format_table(&out);
        let line = format!("REPLAY: step {0} of {0} (", r.steps);
        assert!(table.contains(&line), "{table}");
        // The run's page says it first: a replay, the step, what broke.
        let dir = tempfile::tempdir().unwrap();
        write_outputs(&out, &dir.path().join("run")).unwrap();
        let page = run_dir_files(&dir.path().join("run"))["index.html"].clone();
        let page = String::from_utf8(page).unwrap();
        let top = page_top(&page);
        let escaped = broken.failure.replace('>', "&gt;");
        for said in ["This run is a replay", &line, "INVARIANT FAILED", &escaped] {
            assert!(top.contains(said), "{mutant}: {said:?} not in\n{top}");
        }
        // In the simulator's own report terms.
        if failure == split {
            assert_eq!(s.splits[0].digests_match, Some(false), "{mutant}");
        } else {
            let created = s.commands.iter().find(|c| c.run.contains("--nocopy"));
            assert_eq!(created.map(|c| c.result.as_str()), Some("done"));
        }
        // The same steps with the correct protocol cannot break it: they do not fit (no
        // split in parts without `no-atomic`), a step cannot be applied (the correct protocol
        // does not send what the mutant sent), or nothing breaks.
        let fixed = text.replace(&format!("mutant = \"{mutant}\"\n"), "");
        if let Ok(fixed) = scenario::parse(&fixed, Path::new("fixed.toml")) {
            match simulate(&fixed, &Overrides::default()) {
                Err(SimError::Replay(_)) => {}
                Ok(o) => assert!(
                    o.summary.invariants.ok,
                    "{mutant}: {:?}",
                    o.summary.invariants
                ),
                Err(e) => panic!("{mutant}: {e}"),
            }
        }
    }
}

#[test]
fn trace_out_must_leave_room_for_the_scenario_beside_it() {
    let args = Cli::try_parse_from(["check", "--mutant", "no-atomic", "--trace-out", "cex.toml"])
        .unwrap()
        .args;
    let e = run_check(&args, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("give the JSON file another extension"), "{e}");
}

/// A broken world: under the `no-atomic` mutant the split SVOLs end up different. The
/// checker's property and the simulator's replay of the same path both say so, through the
/// one definition in `mirrorlab_model::invariants`.
#[test]
fn both_drivers_report_split_svols_made_to_differ() {
    let cfg = CheckConfig {
        mutant: Some(Mutant::NoAtomic),
        ..CheckConfig::default()
    };
    let model = CheckModel::new(cfg).unwrap();
    let path = model
        .shortest_counterexample(invariants::SPLIT_IDENTICAL)
        .expect("no-atomic breaks the split");
    let mut end = model.init_states().remove(0);
    for a in &path {
        end = model
            .next_state(&end, a.clone())
            .expect("an enabled action");
    }
    let [_, a106, _, b106] = fig8_volumes();
    assert!(!invariants::split_identical(
        &end.world,
        model.topology(),
        &[a106, b106]
    ));
    let (text, out) = replay(&model, &path);
    let sim = sim_verdicts(&out);
    assert!(
        sim.contains(&(invariants::SPLIT_IDENTICAL, false)),
        "{sim:?}\n{text}"
    );
    assert_eq!(sim, checker_verdicts(&model, &end, &out), "{text}");
    assert!(!out.summary.invariants.ok, "{text}");
}
