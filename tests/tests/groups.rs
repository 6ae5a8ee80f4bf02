//! Consistency groups in the scenario file: `[[group]]` accepted and carried into the
//! topology and pairdisplay, `ctg` on a mirror and groups that cannot be one refused, located.

mod sim_common;

use mirrorlab::scenario_text::{poisson, ScenarioText};
use mirrorlab_model::display::{format_pairdisplay, pairdisplay};
use mirrorlab_model::world::World;
use sim_common::parse;

/// A database's data (105a) and log (105c) volumes on 64001, mirrored asynchronously to
/// 105b and 105d on 64002, then `group` appended.
fn with_group(group: &str) -> String {
    let mut text = ScenarioText::new("groups", "1h")
        .storage(
            64001,
            &[("105a", "1GiB"), ("105c", "1GiB"), ("106a", "1GiB")],
        )
        .storage(64002, &[("105b", "1GiB"), ("105d", "1GiB")])
        .link("wan", [64001, 64002], "100MB/s", "5ms")
        .host(
            "prod",
            "production",
            64001,
            &poisson(100, "8KiB", "64001:105a"),
        )
        .mirror("ORA_DATA", "64001:105a", "64002:105b")
        .string("mode", "async")
        .mirror("ORA_LOG", "64001:105c", "64002:105d")
        .string("mode", "async")
        .mirror("ORA_L", "64001:105a", "64001:106a")
        .build();
    text.push_str(group);
    text
}

const GROUP: &str = "\n[[group]]\nname = \"ORA_DB\"\nmirrors = [\"ORA_DATA\", \"ORA_LOG\"]\n";

/// The one diagnostic of `text`: its line and message.
fn refusal(text: &str) -> (usize, String) {
    let err = parse(text).expect_err("refused");
    let d = err.diagnostics();
    assert_eq!(d.len(), 1, "{err}");
    (d[0].line, d[0].message.clone())
}

fn line_of(text: &str, fragment: &str) -> usize {
    text[..text.find(fragment).expect("fragment")]
        .matches('\n')
        .count()
        + 1
}

#[test]
fn a_group_reaches_the_topology_and_pairdisplay_shows_it() {
    let s = parse(&with_group(GROUP)).unwrap();
    let t = s.topology();
    let g = &t.consistency_groups()[0];
    assert_eq!(g.name, "ORA_DB");
    assert_eq!(g.mirrors.len(), 2);
    let w = World::new(&t, s.protocol);
    let table = format_pairdisplay(&pairdisplay(&t, w.systems.values()));
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("CTG "), "{table}");
    let grouped = table.lines().filter(|l| l.starts_with("ORA_DB ")).count();
    assert_eq!(grouped, 4, "both ends of both mirrors: {table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("- ") && l.contains("ORA_L ")),
        "{table}"
    );
    // Without a group the table has no CTG column, as before.
    let s = parse(&with_group("")).unwrap();
    let t = s.topology();
    let w = World::new(&t, s.protocol);
    let table = format_pairdisplay(&pairdisplay(&t, w.systems.values()));
    assert!(table.starts_with("Group "), "{table}");
}

#[test]
fn ctg_on_a_mirror_points_to_group() {
    let text = with_group("").replacen(
        "group = \"ORA_LOG\"",
        "group = \"ORA_LOG\"\nctg = \"ORA_DB\"",
        1,
    );
    let (line, message) = refusal(&text);
    assert_eq!(line, line_of(&text, "ctg ="));
    assert!(message.contains("[[group]]"), "{message}");
}

#[test]
fn groups_that_cannot_be_one_are_refused_where_they_say_so() {
    for (group, at, fragment) in [
        (
            "\n[[group]]\nname = \"ORA_DB\"\nmirrors = [\"ORA_DATA\", \"NOPE\"]\n",
            "\"NOPE\"",
            "unknown group",
        ),
        (
            "\n[[group]]\nname = \"ORA_DB\"\nmirrors = [\"ORA_DATA\", \"ORA_L\"]\n",
            "mirrors =",
            "is local",
        ),
        (
            "\n[[group]]\nname = \"ORA_L\"\nmirrors = [\"ORA_DATA\"]\n",
            "name = \"ORA_L\"",
            "already taken",
        ),
        (
            &format!("{GROUP}\n[[group]]\nname = \"G2\"\nmirrors = [\"ORA_LOG\"]\n"),
            "mirrors = [\"ORA_LOG\"]",
            "already in group",
        ),
    ] {
        let text = with_group(group);
        let (line, message) = refusal(&text);
        assert_eq!(line, line_of(&text, at), "{message}");
        assert!(message.contains(fragment), "{message}");
    }
    let text = with_group(GROUP).replacen("mode = \"async\"", "mode = \"sync\"", 1);
    let (line, message) = refusal(&text);
    assert_eq!(line, line_of(&text, "mirrors = [\"ORA_DATA\""));
    assert!(message.contains("share one copy mode"), "{message}");
}

#[test]
fn at_the_disaster_the_ungrouped_copy_is_inconsistent_and_the_group_consistent() {
    let s = sim_common::load("consistency.toml");
    let out = sim_common::run(&s, mirrorlab::Overrides::default());
    let d = &out.summary.disasters[0];
    let cut = |host: &str| {
        d.consistency
            .iter()
            .find(|c| c.host == host)
            .unwrap_or_else(|| panic!("{host}: {:?}", d.consistency))
    };
    let (plain, grouped) = (cut("db1"), cut("db2"));
    assert_eq!(plain.ctg, "-");
    assert!(!plain.consistent, "{}", plain.describe());
    assert!(plain.missing < plain.present, "{}", plain.describe());
    assert_eq!(grouped.ctg, "ORA2_DB");
    assert!(grouped.consistent, "{}", grouped.describe());
    assert!(grouped.upto.is_some(), "{}", grouped.describe());
    // The group suspended as one; the ungrouped data mirror went on alone.
    let state = |g: &str| &d.mirrors.iter().find(|m| m.group == g).unwrap().state;
    assert_eq!(state("ORA2_LOG"), state("ORA2_DATA"));
    assert_ne!(state("ORA1_LOG"), state("ORA1_DATA"));
}

#[test]
fn a_dependent_host_waits_for_each_acknowledgement() {
    let s = sim_common::load("consistency.toml");
    let overrides = mirrorlab::Overrides {
        mode: Some(mirrorlab_model::CopyMode::Sync),
        duration_ns: Some(20_000_000_000),
        ..Default::default()
    };
    let out = sim_common::run(&s, overrides);
    for h in &out.summary.hosts {
        // Open-loop, 200 writes/s for 20 s would issue about 4,000; a sync write waits at
        // least a 10 ms round trip, so one at a time there is room for at most 2,000.
        assert!(
            (100..2_000).contains(&h.writes),
            "{}: {} writes",
            h.name,
            h.writes
        );
    }
}

#[test]
fn an_atomic_split_of_a_group_captures_a_consistent_cut() {
    let text = with_group(GROUP)
        .replacen(
            "volume = \"64001:105a\"",
            "volumes = [\"64001:105c\", \"64001:105a\"], dependent = true",
            1,
        )
        .replacen("duration = \"1h\"", "duration = \"20s\"", 1)
        + "\n[[command]]\nat = \"10s\"\nrun = \"pairsplit ORA_DB\"\n";
    let s = parse(&text).unwrap();
    let out = sim_common::run(&s, mirrorlab::Overrides::default());
    let split = &out.summary.splits[0];
    assert_eq!(split.digests_match, Some(true), "{split:?}");
    let [cut] = split.consistency.as_slice() else {
        panic!("one dependent host: {split:?}")
    };
    assert_eq!(cut.ctg, "ORA_DB");
    assert!(cut.consistent && cut.upto.is_some(), "{}", cut.describe());
}

#[test]
fn volume_and_volumes_together_are_refused_where_written() {
    let text = with_group("").replacen(
        "volume = \"64001:105a\"",
        "volume = \"64001:105a\", volumes = [\"64001:105c\"]",
        1,
    );
    let (line, message) = refusal(&text);
    assert_eq!(line, line_of(&text, "volumes = [\"64001:105c\"]"));
    assert!(
        message.contains("either `volume` or `volumes`"),
        "{message}"
    );
    let text = with_group("").replacen(
        "volume = \"64001:105a\"",
        "volumes = [\"64001:105a\", \"64002:105b\"]",
        1,
    );
    let (_, message) = refusal(&text);
    assert!(
        message.contains("this host is attached to storage 64001"),
        "{message}"
    );
}
