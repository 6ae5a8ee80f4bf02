//! Bad scenarios are refused before the run with one message each, at the right line, saying
//! what was expected; nothing is written.

mod sim_common;

use mirrorlab::scenario_text::{poisson, ScenarioText};
use sim_common::parse;

/// Fig 8 as a scenario file (64001: 105a, 106a; 64002: 105b, 106b, ORA_R1 and the local
/// mirrors), with a synthetic host; each test changes one thing of it.
fn base() -> String {
    ScenarioText::new("validation base", "2h")
        .key("seed", 1)
        .storage(64001, &[("105a", "512GiB"), ("106a", "512GiB")])
        .storage(64002, &[("105b", "512GiB"), ("106b", "512GiB")])
        .link("wan", [64001, 64002], "100MB/s", "5ms")
        .host(
            "prod",
            "production",
            64001,
            &poisson(100, "8KiB", "64001:105a"),
        )
        .mirror("ORA_R1", "64001:105a", "64002:105b")
        .string("mode", "async")
        .mirror("ORA_L", "64001:105a", "64001:106a")
        .mirror("ORA_RL", "64002:105b", "64002:106b")
        .command("1h", "pairsplit --atomic ORA_L ORA_RL")
        .command_after(None, "paircreate ORA_R2 64001:106a 64002:106b --nocopy")
        .build()
}

/// Replaces `from` in the base (once) and checks the one diagnostic: on the line holding
/// `at_line_of` in the new text, with `fragment` in its message.
fn refused(from: &str, to: &str, at_line_of: &str, fragment: &str) {
    let base = base();
    assert_eq!(
        base.matches(from).count(),
        1,
        "{from:?} must occur once in the base"
    );
    let text = base.replacen(from, to, 1);
    let at = text
        .find(at_line_of)
        .unwrap_or_else(|| panic!("{at_line_of:?} not in the text"));
    let line = text[..at].matches('\n').count() + 1;
    let err = parse(&text)
        .err()
        .unwrap_or_else(|| panic!("accepted: {to}"));
    let d = err.diagnostics();
    assert_eq!(d.len(), 1, "{to}: {err}");
    assert!(d[0].message.contains(fragment), "{to}: {err}");
    assert_eq!(d[0].line, line, "{to}: {err}");
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:{line}:",
            sim_common::root().join("test.toml").display()
        )),
        "{shown}"
    );
}

#[test]
fn the_base_scenario_is_valid() {
    let s = parse(&base()).unwrap();
    assert_eq!(s.commands.len(), 2);
    assert_eq!(s.mirrors.len(), 3);
}

#[test]
fn unknown_keys() {
    refused(
        "bandwidth = \"100MB/s\"",
        "bandwith = \"100MB/s\"",
        "bandwith",
        "unknown field `bandwith`",
    );
    refused(
        "mode = \"async\"",
        "mode = \"async\"\ncolour = \"red\"",
        "colour",
        "unknown field `colour`",
    );
}

#[test]
fn bad_units_and_times() {
    refused("\"100MB/s\"", "\"100MB\"", "bandwidth", "expected a rate");
    refused(
        "latency = \"5ms\"",
        "latency = \"5 parsecs\"",
        "latency",
        "expected a duration",
    );
    refused(
        "at = \"1h\"",
        "at = \"-5s\"",
        "at = ",
        "expected a duration",
    );
    refused(
        "at = \"1h\"",
        "at = \"3h\"",
        "at = ",
        "before the end of the run",
    );
    refused(
        "size = \"8KiB\"",
        "size = \"8 KiBs\"",
        "workload",
        "expected a size",
    );
}

#[test]
fn zero_bandwidth() {
    refused("\"100MB/s\"", "\"0MB/s\"", "bandwidth", "bandwidth above 0");
}

#[test]
fn duplicate_ids() {
    refused(
        "serial = 64002",
        "serial = 64001",
        "serial = 64001\nvolumes = [{ id = \"105b\"",
        "defined twice",
    );
    refused(
        "[[host]]",
        "[[link]]\nname = \"wan\"\nbetween = [64001, 64002]\nbandwidth = \"1MB/s\"\nlatency = \"1ms\"\n\n[[host]]",
        "name = \"wan\"\nbetween = [64001, 64002]\nbandwidth = \"1MB/s\"",
        "link \"wan\" is defined twice",
    );
}

#[test]
fn dangling_references() {
    refused(
        "svol = \"64002:105b\"",
        "svol = \"64002:999\"",
        "64002:999",
        "not defined",
    );
    refused(
        "between = [64001, 64002]",
        "between = [64001, 64009]",
        "between",
        "storage 64009, which is not defined",
    );
    refused(
        "storage = 64001\nworkload",
        "storage = 64009\nworkload",
        "storage = 64009",
        "not defined",
    );
    refused(
        "volume = \"64001:105a\"",
        "volume = \"64002:105b\"",
        "workload",
        "this host is attached to storage 64001",
    );
    refused(
        "run = \"pairsplit --atomic ORA_L ORA_RL\"",
        "run = \"pairsplit --atomic ORA_L ORA_X\"",
        "ORA_X",
        "unknown group \"ORA_X\"",
    );
    refused(
        "run = \"pairsplit --atomic ORA_L ORA_RL\"",
        "run = \"linkdown lan\"",
        "linkdown",
        "no link named \"lan\"",
    );
    refused(
        "run = \"pairsplit --atomic ORA_L ORA_RL\"",
        "run = \"pairsplitt ORA_L\"",
        "pairsplitt",
        "unknown verb",
    );
}

#[test]
fn impossible_mirrors() {
    refused(
        "{ id = \"106b\", size = \"512GiB\" }",
        "{ id = \"106b\", size = \"1TiB\" }",
        "svol = \"64002:106b\"",
        "differ in size",
    );
    refused(
        "group = \"ORA_RL\"\npvol = \"64002:105b\"\nsvol = \"64002:106b\"",
        "group = \"BACK\"\npvol = \"64002:105b\"\nsvol = \"64001:105a\"",
        "svol = \"64001:105a\"",
        "cycle",
    );
    refused(
        "mode = \"async\"",
        "mode = \"async\"\ncycle = \"30s\"",
        "cycle = ",
        "applies to periodic mirrors",
    );
}

#[test]
fn nocopy_on_volumes_that_will_differ() {
    refused(
        "run = \"pairsplit --atomic ORA_L ORA_RL\"",
        "run = \"pairsplit ORA_L\"",
        "--nocopy",
        "will not be identical",
    );
    refused(
        "[[mirror]]\ngroup = \"ORA_R1\"",
        "[[host]]\nname = \"aux\"\nrole = \"auxiliary\"\nstorage = 64001\nworkload = { poisson = 1, volume = \"64001:106a\" }\n\n[[mirror]]\ngroup = \"ORA_R1\"",
        "--nocopy",
        "host \"aux\" writes 64001:106a",
    );
}

#[test]
fn missing_trace_names_both_places_tried() {
    refused(
        "workload = { poisson = 100, size = \"8KiB\", volume = \"64001:105a\" }",
        "workload = { trace = \"no/such.csv\", format = \"cloudphysics\", volume = \"64001:105a\" }",
        "no/such.csv",
        "relative to the scenario's directory",
    );
}

#[test]
fn a_bad_scenario_leaves_no_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.toml");
    std::fs::write(&scenario, base().replace("\"100MB/s\"", "\"0MB/s\"")).unwrap();
    let out = dir.path().join("out");
    let args = mirrorlab::run_cmd::RunArgs {
        scenario,
        seed: None,
        out: Some(out.clone()),
        mode: None,
        skip_bad_lines: false,
        force: false,
    };
    let err = mirrorlab::run_cmd::run(&args).unwrap_err();
    assert!(
        matches!(err, mirrorlab::run_cmd::RunCmdError::Scenario(_)),
        "{err}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the scenario file"
    );
}
