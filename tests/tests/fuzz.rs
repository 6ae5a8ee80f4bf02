//! Fuzzing of the untrusted input (issue #7): arbitrary bytes and mutated valid scenarios into
//! the scenario parser and validator, and arbitrary bytes and trace-shaped lines into every
//! trace reader, alone and through a whole run (device mapping, volume bounds, replay).
//!
//! The property is always the same: no panic, no hang, and an error (if any) that names where.
//! Each case runs on its own thread with a deadline, so a hang fails the test with the input
//! that caused it instead of stalling CI. Bounded: 256 cases a property (`PROPTEST_CASES`
//! changes it), a few seconds in release.

use mirrorlab::scenario::{self, When, WorkloadDef};
use mirrorlab::scenario_text::{quote, ScenarioText};
use mirrorlab::trace::{TraceFormat, TraceOptions, TraceReader};
use mirrorlab::{simulate, Overrides, Scenario};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// Longer than any case needs by two orders of magnitude, in release or debug.
const DEADLINE: Duration = Duration::from_secs(30);

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Failures are reported with their input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `f` on its own thread; fails if it panics or takes longer than [`DEADLINE`].
fn guarded<T: Send + 'static>(
    what: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(TestCaseError::fail(format!("panicked on {what}"))),
        Err(_) => Err(TestCaseError::fail(format!(
            "no answer within {DEADLINE:?} (a hang?) on {what}"
        ))),
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The valid scenarios mutations start from: the bundled studies and the corpus base, with
/// the path each is parsed as (so relative trace paths resolve as for the real file).
fn seeds() -> Vec<(PathBuf, String)> {
    let mut v = Vec::new();
    let dir = root().join("scenarios");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.push(root().join("tests/corpus/base.toml"));
    paths.sort();
    for p in paths {
        let text = std::fs::read_to_string(&p).unwrap();
        v.push((p, text));
    }
    assert!(v.len() >= 5, "{}", v.len());
    v
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Copies line `from` over line `to` (a key in the wrong table, a duplicate id, ...).
    CopyLine(usize, usize),
    DeleteLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pieces = prop_oneof![
        Just(b"0".to_vec()),
        Just(b"9".to_vec()),
        Just(b"-".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"{".to_vec()),
        Just(b"=".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b".".to_vec()),
        Just(b"e".to_vec()),
        Just(b"ms".to_vec()),
        Just(b"GiB".to_vec()),
        Just(b":".to_vec()),
        Just(b"#".to_vec()),
        Just("é".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), pieces).prop_map(|(p, s)| Mutation::Insert(p, s)),
        (any::<usize>(), 1usize..12).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::CopyLine(a, b)),
        any::<usize>().prop_map(Mutation::DeleteLine),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> String {
    let mut b = text.as_bytes().to_vec();
    for m in mutations {
        let n = b.len().max(1);
        match m {
            Mutation::Flip(p, bit) => {
                if let Some(x) = b.get_mut(p % n) {
                    *x ^= 1 << bit;
                }
            }
            Mutation::Insert(p, s) => {
                let at = p % (b.len() + 1);
                b.splice(at..at, s.iter().copied());
            }
            Mutation::Delete(p, len) => {
                let at = p % n;
                let end = (at + len).min(b.len());
                b.drain(at.min(end)..end);
            }
            Mutation::CopyLine(..) | Mutation::DeleteLine(_) => {
                let mut lines: Vec<Vec<u8>> =
                    b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
                let k = lines.len();
                match *m {
                    Mutation::DeleteLine(at) => {
                        lines.remove(at % k);
                    }
                    Mutation::CopyLine(from, to) => {
                        let line = lines[from % k].clone();
                        lines[to % k] = line;
                    }
                    _ => unreachable!(),
                }
                b = lines.join(&b'\n');
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Squeezes every time in `s` into `target_ns` of simulated time (commands, hosts, outages,
/// trace replay, link and copy speeds), so a mutated multi-hour study still runs all its steps
/// in a fraction of a second; `None` when it would still ask for more work than a fuzz case
/// should do. Only changes a validated scenario could have (never volume sizes or I/O sizes).
fn squeezed(mut s: Scenario, target_ns: u64) -> Option<Scenario> {
    let f = target_ns as f64 / s.duration_ns as f64;
    if f >= 1.0 {
        return Some(s);
    }
    let scale = |t: u64| (t as f64 * f) as u64;
    // The same I/Os as the study, in less time.
    let mut ios = 0.0;
    for h in &mut s.hosts {
        match &mut h.workload {
            Some(WorkloadDef::Poisson(p)) => {
                p.rate /= f;
                ios += p.rate * target_ns as f64 / 1e9;
            }
            Some(WorkloadDef::Trace(t)) => t.time_scale *= f,
            None => {}
        }
        h.start_ns = h.start_ns.map(scale);
        h.stop_ns = h.stop_ns.map(scale);
    }
    if !ios.is_finite() {
        return None;
    }
    // At most 200,000 I/Os a case: slow every Poisson host down alike if needed.
    if ios > 2e5 {
        for h in &mut s.hosts {
            if let Some(WorkloadDef::Poisson(p)) = &mut h.workload {
                p.rate *= 2e5 / ios;
            }
        }
    }
    for l in &mut s.links {
        l.bandwidth = (l.bandwidth as f64 / f).min(1e15) as u64;
        l.outages = l
            .outages
            .iter()
            .map(|&(a, b)| (scale(a), scale(b)))
            .collect();
        l.latency_ns = scale(l.latency_ns);
    }
    s.protocol.local_copy_bytes_per_sec =
        (s.protocol.local_copy_bytes_per_sec as f64 / f).min(1e15) as u64;
    for c in &mut s.commands {
        c.when = match c.when {
            When::At(t) => When::At(scale(t)),
            When::AfterPrevious { delay_ns } => When::AfterPrevious {
                delay_ns: scale(delay_ns),
            },
            When::Replay => When::Replay,
        };
    }
    s.duration_ns = target_ns;
    s.interval_ns = (target_ns / 20).max(1);
    // A full copy sends every used chunk whatever the time scale: keep it small.
    for v in s.storages.iter_mut().flat_map(|x| &mut x.volumes) {
        v.used = v.used.min(64 << 20);
    }
    Some(s)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_into_the_scenario_parser(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let shown = format!("{text:?}");
        let path = root().join("fuzz.toml");
        let r = guarded(shown, move || scenario::parse(&text, &path).map(|_| ()).map_err(|e| e.to_string()))?;
        if let Err(e) = r {
            prop_assert!(e.starts_with(&format!("{}:", root().join("fuzz.toml").display())), "{e}");
        }
    }

    /// Most mutations are refused with a located message; those the validator accepts must
    /// run (squeezed into half a second of simulated time) without a panic: a [`Scenario`]
    /// that validates is runnable.
    #[test]
    fn mutated_scenarios_are_refused_with_a_location_or_run(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let (path, text) = seeds[seed.index(seeds.len())].clone();
        let mutated = apply(&text, &mutations);
        let shown = format!("{} with {mutations:?}:\n{mutated}", path.display());
        let p = path.clone();
        std::env::set_current_dir(root()).unwrap();
        let r = guarded(shown.clone(), move || {
            match scenario::parse(&mutated, &p) {
                Err(e) => Err(e.to_string()),
                Ok(s) => {
                    // What validates keeps every rule an override is held to.
                    assert_eq!(scenario::check(&s), Vec::new());
                    if let Some(s) = squeezed(s, 500_000_000) {
                        // A trace may still be bad (a mutated path to another file); that is
                        // an error, never a panic.
                        let _ = simulate(&s, &Overrides::default());
                    }
                    Ok(())
                }
            }
        })?;
        if let Err(e) = r {
            let prefix = format!("{}:", path.display());
            prop_assert!(e.starts_with(&prefix), "{e}\n{shown}");
            let rest = &e[prefix.len()..];
            let mut parts = rest.splitn(3, ':');
            let line: usize = parts.next().unwrap_or("").parse().unwrap_or(0);
            let column: usize = parts.next().unwrap_or("").parse().unwrap_or(0);
            prop_assert!(line >= 1 && column >= 1, "{e}\n{shown}");
        }
    }

    /// Legal-looking resource values (issue #16): a run of any length, sampled at any
    /// interval, at any rate and cycle, is either refused at the value, naming the limit, or
    /// within the limits, so its memory and time follow what it produces.
    #[test]
    fn resource_values_are_refused_with_their_limit_or_bounded(
        duration in prop::sample::select(vec!["1ms", "20s", "2h", "100000h", "5119000h"]),
        interval in prop::sample::select(vec![None, Some("1ns"), Some("1us"), Some("1ms"), Some("1h")]),
        rate in prop::sample::select(vec!["1", "100", "1e6", "1e9", "1e300"]),
        cycle in prop::sample::select(vec![None, Some("1ns"), Some("999us"), Some("1ms"), Some("1h")]),
    ) {
        let mut text = ScenarioText::new("limits", duration);
        if let Some(i) = interval {
            text = text.key("output", format!("{{ interval = {} }}", quote(i)));
        }
        let mut text = text
            .two_sites("100MB/s", "1ms")
            .host("prod", "production", 1, &format!("{{ poisson = {rate}, volume = \"1:1\" }}"))
            .mirror("R", "1:1", "2:1");
        if let Some(c) = cycle {
            text = text.string("mode", "periodic").string("cycle", c);
        }
        let text = text.build();
        match scenario::parse(&text, Path::new("limits.toml")) {
            Ok(s) => {
                prop_assert!(s.duration_ns / s.interval_ns <= scenario::MAX_SAMPLES, "{text}");
                let ios = rate.parse::<f64>().unwrap() * s.duration_ns as f64 / 1e9;
                prop_assert!(ios <= scenario::MAX_EVENTS, "{text}");
                prop_assert!(s.mirrors[0].options.period_ns >= scenario::MIN_PERIOD_NS, "{text}");
            }
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.starts_with("limits.toml:"), "{e}");
                prop_assert!(e.contains("at most") || e.contains("at least"), "{e}\n{text}");
            }
        }
    }

    /// Random bytes into each reader, with each option: no panic, at most one item a line,
    /// records in time order with a non-zero length, every error tied to a line in range.
    #[test]
    fn arbitrary_bytes_into_every_trace_reader(
        bytes in proptest::collection::vec(any::<u8>(), 0..4000),
        skip_bad_lines in any::<bool>(),
        time_scale in prop_oneof![Just(1.0), Just(0.5), Just(1e12), Just(0.0), Just(-1.0), Just(f64::NAN)],
    ) {
        for format in TraceFormat::ALL {
            let b = bytes.clone();
            let shown = format!("{format} {bytes:?}");
            let options = TraceOptions { skip_bad_lines, time_scale };
            let items = guarded(shown.clone(), move || {
                TraceReader::new(&b[..], format, options)
                    .map(|r| r.map_err(|e| (e.line(), e.to_string())))
                    .collect::<Vec<_>>()
            })?;
            let lines = bytes.split(|&c| c == b'\n').count() as u64;
            prop_assert!(items.len() as u64 <= lines.max(1), "{shown}: {} items", items.len());
            let mut last = 0;
            for item in &items {
                match item {
                    Ok(r) => {
                        prop_assert!(r.len > 0 && r.time_ns >= last, "{shown}: {r:?}");
                        last = r.time_ns;
                    }
                    Err((line, message)) => {
                        prop_assert!(line.is_none_or(|l| (1..=lines).contains(&l)), "{shown}: {message}");
                        if let Some(l) = line {
                            prop_assert!(message.starts_with(&format!("line {l}: ")), "{message}");
                        }
                    }
                }
            }
        }
    }

    /// Trace-shaped lines (numbers, opcodes, separators) reach the field parsers, and through
    /// a whole run the device mapping and the volume bounds: an error names the file and line
    /// or the trace, never a panic.
    #[test]
    fn trace_shaped_files_through_a_whole_run(
        (format, lines) in prop::sample::select(TraceFormat::ALL.to_vec())
            .prop_flat_map(|f| (Just(f), proptest::collection::vec(trace_line(f), 0..40))),
        skip_bad_lines in any::<bool>(),
        devices in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("fuzz.trace");
        let text = lines.join("\n");
        std::fs::write(&trace, &text).unwrap();
        let mapping = if devices {
            r#"devices = { "0" = "1:1", "3" = "1:2" }"#.to_string()
        } else {
            r#"volume = "1:1""#.to_string()
        };
        let workload = format!(
            "{{ trace = {}, format = \"{format}\", {mapping}, skip_bad_lines = {skip_bad_lines}, time_scale = 1e-6 }}",
            quote(&trace.display().to_string())
        );
        let scenario = ScenarioText::new("fuzz", "10s")
            .storage(1, &[("1", "64MiB"), ("2", "64MiB")])
            .storage(2, &[("1", "64MiB")])
            .link("wan", [1, 2], "10MB/s", "1ms")
            .host("h", "production", 1, &workload)
            .mirror("R", "1:1", "2:1")
            .string("mode", "sync")
            .build();
        let s = scenario::parse(&scenario, &dir.path().join("s.toml")).unwrap();
        let shown = format!("{format}:\n{text}");
        let r = guarded(shown.clone(), move || simulate(&s, &Overrides::default()).map(|o| o.summary.invariants.ok).map_err(|e| e.to_string()))?;
        match r {
            Ok(ok) => prop_assert!(ok, "{shown}"),
            Err(e) => prop_assert!(e.starts_with(&format!("{}: ", trace.display())), "{e}\n{shown}"),
        }
    }
}

/// One line of `format`: mostly a well-formed record (times that mostly go forward, devices
/// 0, 3 and 7, offsets that sometimes reach past the 64 MiB volumes, sizes including 0), else
/// one field or the whole line replaced by junk.
fn trace_line(format: TraceFormat) -> impl Strategy<Value = String> {
    let junk = prop_oneof![
        "[0-9]{1,21}",
        "[0-9]{1,8}\\.[0-9]{0,7}",
        "[rRwW]|Read|Write|2a|28|hm|version|ASU|Timestamp|-1|0x[0-9a-f]{0,3}",
        "[ -~]{0,5}",
    ];
    let record = (
        0u64..20_000_000,
        prop::sample::select(vec![0u64, 3, 7]),
        any::<bool>(),
        prop_oneof![4 => 0u64..(60 << 20), 1 => 0u64..(1 << 40)],
        prop_oneof![1 => Just(0u64), 8 => 1u64..(256 << 10)],
    );
    let corrupt = prop_oneof![6 => Just(None), 1 => (0usize..7, junk.clone()).prop_map(Some)];
    (
        record,
        corrupt,
        prop_oneof![20 => Just(None), 1 => junk.prop_map(Some)],
    )
        .prop_map(move |((t, device, write, offset, len), corrupt, whole)| {
            if let Some(line) = whole {
                return line;
            }
            let sectors = |b: u64| (b / 512).to_string();
            let mut fields: Vec<String> = match format {
                TraceFormat::CloudPhysics => vec![
                    "1".into(),
                    (t / 1000).to_string(),
                    (if write { "2a" } else { "28" }).into(),
                    len.to_string(),
                    sectors(offset),
                ],
                TraceFormat::DiskSim => vec![
                    format!("{}.{:03}", t / 1000, t % 1000),
                    device.to_string(),
                    sectors(offset),
                    sectors(len),
                    (if write { "80" } else { "81" }).into(),
                ],
                TraceFormat::MqSim => vec![
                    (t * 1000).to_string(),
                    device.to_string(),
                    sectors(offset),
                    sectors(len),
                    (if write { "0" } else { "1" }).into(),
                ],
                TraceFormat::Msr => vec![
                    (128_166_372_003_061_629 + t * 10).to_string(),
                    "hm".into(),
                    device.to_string(),
                    (if write { "Write" } else { "Read" }).into(),
                    offset.to_string(),
                    len.to_string(),
                    "26".into(),
                ],
                TraceFormat::Umass => vec![
                    device.to_string(),
                    sectors(offset),
                    len.to_string(),
                    (if write { "w" } else { "r" }).into(),
                    format!("{}.{:06}", t / 1_000_000, t % 1_000_000),
                ],
                TraceFormat::Alibaba => vec![
                    device.to_string(),
                    (if write { "W" } else { "R" }).into(),
                    offset.to_string(),
                    len.to_string(),
                    t.to_string(),
                ],
            };
            if let Some((i, j)) = corrupt {
                let k = i % fields.len();
                fields[k] = j;
            }
            let sep = if matches!(format, TraceFormat::DiskSim | TraceFormat::MqSim) {
                " "
            } else {
                ","
            };
            fields.join(sep)
        })
}
