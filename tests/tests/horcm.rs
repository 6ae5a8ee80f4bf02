//! `mirrorlab import` (issue 15): the example HORCM files of `examples/horcm/` become scenarios
//! that load and run and hold the arrays, LDEVs and pairs the files describe (checked against
//! sets written here from the files' description, not from the generated text); each malformed
//! case of `tests/corpus/horcm/` is refused with the located messages
//! `tests/corpus/horcm/expected.txt` gives and nothing written; no text makes the parser panic.

use clap::Parser;
use mirrorlab::horcm::{conf, import, import_confs, run_import_cmd, ImportArgs, ImportError};
use mirrorlab::{scenario, simulate, Overrides, Scenario};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/horcm")
}

fn example(dir: &str, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|n| repo().join("examples/horcm").join(dir).join(n))
        .collect()
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ImportArgs,
}

fn args(argv: &[&str]) -> ImportArgs {
    Cli::try_parse_from(std::iter::once("import").chain(argv.iter().copied()))
        .expect("valid arguments")
        .args
}

fn load(text: &str) -> Scenario {
    scenario::parse(text, Path::new("imported.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// (storage serial, hex LDEV ids) of every storage.
fn volumes(s: &Scenario) -> BTreeSet<(u32, String)> {
    s.storages
        .iter()
        .flat_map(|st| {
            st.volumes
                .iter()
                .map(move |v| (st.serial.0, v.id.serial.to_string()))
        })
        .collect()
}

/// (group, pvol, svol, mode or "local") of every mirror.
fn mirrors(s: &Scenario) -> BTreeSet<(String, String, String, String)> {
    s.mirrors
        .iter()
        .map(|m| {
            let mode = if m.id.is_local() {
                "local".to_string()
            } else {
                format!("{:?}", m.options.mode).to_lowercase()
            };
            (
                m.group.clone(),
                m.id.pvol.to_string(),
                m.id.svol.to_string(),
                mode,
            )
        })
        .collect()
}

fn mirror_set(rows: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    rows.iter()
        .map(|(g, p, s, m)| (g.to_string(), p.to_string(), s.to_string(), m.to_string()))
        .collect()
}

/// The scenario holds exactly these volumes (storage, hex LDEV) and mirrors (group, pvol,
/// svol, mode or "local").
fn holds(s: &Scenario, v: &[(u32, &str)], m: &[(&str, &str, &str, &str)]) {
    let v: BTreeSet<(u32, String)> = v.iter().map(|(s, v)| (*s, v.to_string())).collect();
    assert_eq!(volumes(s), v);
    assert_eq!(mirrors(s), mirror_set(m));
}

/// The scenario runs at its placeholder values: every production host writes, every mirror
/// reports, and no invariant breaks.
fn runs(s: &Scenario) {
    let out = simulate(s, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.summary.invariants.ok, "{:?}", out.summary.invariants);
    assert_eq!(out.summary.mirrors.len(), s.mirrors.len());
    assert!(!out.summary.hosts.is_empty());
    for h in &out.summary.hosts {
        assert!(h.writes > 0, "{h:?}");
    }
}

#[test]
fn the_fig8_files_import_into_the_fig8_topology_and_run() {
    let s = load(&import(&example("fig8", &["horcm0.conf", "horcm1.conf"])).unwrap());
    holds(
        &s,
        &[
            (64001, "105a"),
            (64001, "106a"),
            (64002, "105b"),
            (64002, "106b"),
        ],
        &[
            ("ORA_R1", "64001:105a", "64002:105b", "async"),
            ("ORA_L", "64001:105a", "64001:106a", "local"),
            ("ORA_RL", "64002:105b", "64002:106b", "local"),
        ],
    );
    assert_eq!(s.links.len(), 1);
    // The one volume no mirror feeds carries the placeholder workload.
    let hosts: Vec<String> = s.hosts.iter().map(|h| h.name.clone()).collect();
    assert_eq!(hosts, ["prod-64001-105a"]);
    runs(&s);
}

#[test]
fn the_3dc_files_import_sync_near_and_async_far_and_run() {
    let files = example("3dc", &["horcm0.conf", "horcm1.conf", "horcm2.conf"]);
    let text = import(&files).unwrap();
    let s = load(&text);
    // The far site lists its volumes by path (HORCM_DEV): placeholder ids above any LDEV#.
    holds(
        &s,
        &[
            (64001, "2000"),
            (64001, "2001"),
            (64002, "2000"),
            (64002, "2001"),
            (64003, "10000"),
            (64003, "10001"),
        ],
        &[
            ("TC_NEAR", "64001:2000", "64002:2000", "sync"),
            ("TC_NEAR", "64001:2001", "64002:2001", "sync"),
            ("UR_FAR", "64001:2000", "64003:10000", "async"),
            ("UR_FAR", "64001:2001", "64003:10001", "async"),
        ],
    );
    assert_eq!(s.links.len(), 2);
    assert!(text.contains("raidscan -p CL1-A"), "{text}");
    runs(&s);
}

#[test]
fn every_placeholder_is_marked_todo() {
    let text = import(&example("fig8", &["horcm0.conf", "horcm1.conf"])).unwrap();
    for key in ["duration", "bandwidth", "latency", "journal"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("{key}: {text}"));
        assert!(line.contains("TODO"), "{line}");
    }
    for line in text.lines().filter(|l| l.trim_start().starts_with("{ id")) {
        assert!(line.contains("TODO: size"), "{line}");
    }
    for line in text.lines().filter(|l| l.starts_with("workload =")) {
        assert!(line.contains("TODO"), "{line}");
    }
}

#[test]
fn primary_names_the_file_whose_sides_are_pvols() {
    let dir = tempfile::tempdir().unwrap();
    let files = example("fig8", &["horcm0.conf", "horcm1.conf"]);
    let out = dir.path().join("s.toml");
    let (f0, f1, o) = (
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
        out.to_str().unwrap(),
    );
    run_import_cmd(&args(&[f0, f1, "--primary", f1, "--out", o])).unwrap();
    let s = scenario::load(&out).unwrap();
    assert_eq!(
        mirrors(&s),
        mirror_set(&[
            ("ORA_R1", "64002:105b", "64001:105a", "async"),
            ("ORA_L", "64001:106a", "64001:105a", "local"),
            ("ORA_RL", "64002:106b", "64002:105b", "local"),
        ])
    );
    let e = run_import_cmd(&args(&[f0, f1, "--primary", "other.conf"])).unwrap_err();
    assert!(e.to_string().contains("not one of the files"), "{e}");
    let e = run_import_cmd(&args(&[f0, f0, "--out", o, "--force"])).unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
    assert!(import(&files[..1]).is_err());
}

#[test]
fn out_is_written_whole_never_over_a_file_without_force_nor_over_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let files = example("fig8", &["horcm0.conf", "horcm1.conf"]);
    let (f0, f1) = (files[0].to_str().unwrap(), files[1].to_str().unwrap());
    let out = dir.path().join("s.toml");
    let o = out.to_str().unwrap();
    run_import_cmd(&args(&[f0, f1, "--out", o])).unwrap();
    assert_eq!(
        fs::read_to_string(&out).unwrap(),
        import(&files).unwrap(),
        "--out holds what import gives"
    );
    fs::write(&out, "mine").unwrap();
    let e = run_import_cmd(&args(&[f0, f1, "--out", o])).unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
    assert_eq!(fs::read_to_string(&out).unwrap(), "mine");
    run_import_cmd(&args(&[f0, f1, "--out", o, "--force"])).unwrap();
    load(&fs::read_to_string(&out).unwrap());
    // An input as the output: refused even with --force, the input untouched.
    let copy = dir.path().join("horcm1.conf");
    fs::copy(&files[1], &copy).unwrap();
    let c = copy.to_str().unwrap();
    let e = run_import_cmd(&args(&[f0, c, "--out", c, "--force"])).unwrap_err();
    assert!(e.to_string().contains("one of the files to import"), "{e}");
    assert_eq!(fs::read(&copy).unwrap(), fs::read(&files[1]).unwrap());
    // Only the output and the copy: no temporary file left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// `expected.txt`: case -> its messages, in order.
fn expectations() -> Vec<(String, Vec<String>)> {
    let text = fs::read_to_string(corpus().join("expected.txt")).unwrap();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (case, message) = line.split_once(": ").expect("CASE: MESSAGE");
        match out.last_mut() {
            Some((c, m)) if c == case => m.push(message.to_string()),
            _ => {
                assert!(
                    out.iter().all(|(c, _)| c != case),
                    "{case}: its lines must be together"
                );
                out.push((case.to_string(), vec![message.to_string()]));
            }
        }
    }
    out
}

/// The files of a case: its `*.conf` entries (files or not) in name order.
fn case_files(case: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(corpus().join(case))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_case_has_expectations_and_every_expectation_a_case() {
    let mut cases: Vec<String> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    let mut expected: Vec<String> = expectations().into_iter().map(|(c, _)| c).collect();
    expected.sort();
    assert_eq!(cases, expected);
    assert!(cases.len() >= 12, "{}", cases.len());
}

#[test]
fn each_malformed_case_is_refused_with_its_located_messages() {
    let prefix = format!("{}/", corpus().display());
    let mut failures = String::new();
    for (case, expected) in expectations() {
        let files = case_files(&case);
        assert!(files.len() >= 2, "{case}");
        let found: Vec<String> = match import(&files) {
            Ok(_) => vec!["accepted".to_string()],
            Err(e @ ImportError::Invalid(_)) => e
                .to_string()
                .lines()
                .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_string())
                .collect(),
            Err(e) => vec![format!("not a located error: {e}")],
        };
        let ok = expected == found;
        if !ok {
            failures.push_str(&format!(
                "{case}:\n  expected {}\n  found    {}\n",
                expected.join("\n           "),
                found.join("\n           ")
            ));
        }
        // Each message names its file and line.
        for f in &found {
            let (file, rest) = f.split_once(".conf:").unwrap_or_else(|| panic!("{f}"));
            assert!(file.starts_with(&format!("{case}/")), "{f}");
            assert!(rest.starts_with(|c: char| c.is_ascii_digit()), "{f}");
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

#[test]
fn a_refused_import_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.toml");
    for (case, _) in expectations() {
        let files = case_files(&case);
        let mut argv: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
        argv.extend(["--out", out.to_str().unwrap()]);
        assert!(run_import_cmd(&args(&argv)).is_err(), "{case}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "{case}");
    }
}

/// Lines a HORCM file could hold, right and wrong, so that generated files reach past the
/// first check.
fn line() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "G",
        "H",
        "d",
        "e",
        "64001",
        "64002",
        "0",
        "1",
        "h1",
        "h4",
        "10:5A",
        "0x105b",
        "260",
        "70000",
        "CL1-A",
        "CL1A",
        "-1",
        "1000",
        "host",
        "horcm1",
        "\\\\.\\CMD-64001-1",
        "\\\\.\\CMD-x",
        "#",
        "é",
        "\t",
    ]);
    prop_oneof![
        prop::sample::select(vec![
            "HORCM_MON",
            "HORCM_CMD",
            "HORCM_LDEV",
            "HORCM_DEV",
            "HORCM_INST",
            "HORCM_INSTP",
            "HORCM_LDEVG",
            "HORCM_X",
        ])
        .prop_map(String::from),
        prop::collection::vec(word, 0..7).prop_map(|w| w.join(" ")),
        ".{0,40}",
    ]
}

/// Where one side of a pair is: an LDEV on the file's array, or a path.
fn side() -> impl Strategy<Value = (bool, String)> {
    let ldev = prop::sample::select(vec!["10:5A", "0x105b", "260", "4186"])
        .prop_map(|l| (true, l.to_string()));
    let dev = (0..3u32).prop_map(|lu| (false, format!("CL1-A 0 {lu}")));
    prop_oneof![3 => ldev, 1 => dev]
}

/// Two files with every section, whose pairs (groups G and H, dev_names d and e) are in both
/// or in neither, in-system or remote with a fitting MU#, so that they often import (or still
/// conflict, or close a cycle).
fn two_files() -> impl Strategy<Value = (String, String)> {
    let pair = (
        any::<bool>(),
        prop::sample::select(vec!["", "0", "1", "h1"]),
        side(),
        side(),
    );
    prop::collection::vec(prop::option::weighted(0.8, pair), 4).prop_map(|pairs| {
        // (HORCM_LDEV lines, HORCM_DEV lines, command device) of each file.
        let mut files = [
            (String::new(), String::new(), "\\\\.\\CMD-64001-250"),
            (String::new(), String::new(), "\\\\.\\CMD-64002-250"),
        ];
        let mut groups = BTreeSet::new();
        for ((group, name), p) in [("G", "d"), ("G", "e"), ("H", "d"), ("H", "e")]
            .into_iter()
            .zip(pairs)
        {
            let Some((local, mu, a, b)) = p else { continue };
            let mu = match (local, mu) {
                (true, "h1") | (false, "1") => "",
                _ => mu,
            };
            groups.insert(group);
            let serials = [64001, if local { 64001 } else { 64002 }];
            for ((ldevs, devs, _), ((is_ldev, at), serial)) in
                files.iter_mut().zip([a, b].into_iter().zip(serials))
            {
                if is_ldev {
                    ldevs.push_str(&format!("{group} {name} {serial} {at} {mu}\n"));
                } else {
                    devs.push_str(&format!("{group} {name} {at} {mu}\n"));
                }
            }
        }
        let inst: String = groups
            .iter()
            .map(|g| format!("{g} host horcm1\n"))
            .collect();
        let [a, b] = files.map(|(ldevs, devs, cmd)| {
            format!(
                "HORCM_MON\nhost horcm0 1000 3000\nHORCM_CMD\n{cmd}\nHORCM_LDEV\n{ldevs}\
                 HORCM_DEV\n{devs}HORCM_INST\n{inst}"
            )
        });
        (a, b)
    })
}

fn file() -> impl Strategy<Value = String> {
    prop::collection::vec(line(), 0..14).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_text_makes_the_parser_panic(text in ".{0,400}") {
        let _ = conf::parse(&text, Path::new("any.conf"));
    }

    /// Files the parser accepts either pair or are refused with located messages; what pairs
    /// always becomes a scenario that loads.
    #[test]
    fn accepted_files_import_into_a_scenario_that_loads(
        (a, b) in prop_oneof![(file(), file()), two_files()]
    ) {
        let (Ok(a), Ok(b)) = (
            conf::parse(&a, Path::new("a.conf")),
            conf::parse(&b, Path::new("b.conf")),
        ) else {
            return Ok(());
        };
        match import_confs(&[a, b]) {
            Ok(_) => {}
            Err(ImportError::Invalid(e)) => prop_assert!(
                !e.is_empty() && e.iter().all(|l| l.line >= 1 && l.path.extension().is_some_and(|x| x == "conf")),
                "{e:?}"
            ),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}
