//! Shared by the tests of what commands write (report, sweep, browser, determinism, faults):
//! a small Fig 8 scenario that runs in a fraction of a second, helpers to compare output
//! directories byte for byte, and the files of a run directory.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Fig 8 in 15 simulated seconds: ORA_R1 remote, local mirrors split atomically at 5 s,
/// ORA_R2 created with --nocopy, an auxiliary host writing 106a afterwards.
pub const SMALL_FIG8: &str = r#"
name = "small Fig 8"
seed = 7
duration = "15s"

[defaults]
mode = "async"
journal = "256MiB"
cycle = "2s"

[[storage]]
serial = 64001
volumes = [{ id = "105a", size = "4GiB", used = "128MiB" }, { id = "106a", size = "4GiB", used = "128MiB" }]

[[storage]]
serial = 64002
volumes = [{ id = "105b", size = "4GiB", used = "128MiB" }, { id = "106b", size = "4GiB", used = "128MiB" }]

[[link]]
name = "wan"
between = [64001, 64002]
bandwidth = "50MB/s"
latency = "2ms"
price_per_gb = 0.02
price_per_mbps_month = 30.0

[[host]]
name = "prod"
role = "production"
storage = 64001
workload = { poisson = 150, sizes = [{ size = "8KiB", weight = 3 }, { size = "64KiB", weight = 1 }], volume = "64001:105a", addresses = "zipf", skew = 1.1 }

[[host]]
name = "aux"
role = "auxiliary"
storage = 64001
start = "8s"
workload = { poisson = 20, size = "64KiB", volume = "64001:106a" }

[[mirror]]
group = "ORA_R1"
pvol = "64001:105a"
svol = "64002:105b"

[[mirror]]
group = "ORA_L"
pvol = "64001:105a"
svol = "64001:106a"

[[mirror]]
group = "ORA_RL"
pvol = "64002:105b"
svol = "64002:106b"

[[command]]
at = "5s"
run = "pairsplit --atomic ORA_L ORA_RL"

[[command]]
after = "previous"
run = "paircreate ORA_R2 64001:106a 64002:106b --nocopy"
"#;

/// Every file under `dir`, by relative path, with its bytes.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts two directories hold the same files with the same bytes.
pub fn assert_same_files(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for (name, bytes) in &fa {
        assert!(
            bytes == &fb[name],
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// What `mirrorlab run` writes whatever the scenario: the marker, the summary, the CSV time
/// series and the page; the page's charts come on top (which ones depends on the scenario).
pub const RUN_FILES: [&str; 6] = [
    ".mirrorlab",
    "index.html",
    "lag.csv",
    "latency.csv",
    "link_usage.csv",
    "summary.json",
];

/// The `src` of every `<img>` of a page.
pub fn images(html: &str) -> Vec<String> {
    html.split("<img src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

/// Every file of the run directory `dir`, checked to be what a run writes: [`RUN_FILES`] and
/// the SVG charts its page shows, nothing else (no chart the page does not show, none missing).
pub fn run_dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let f = files(dir);
    let html = String::from_utf8(f.get("index.html").cloned().unwrap_or_default()).unwrap();
    let charts = images(&html);
    assert!(
        charts.len() >= 5 && charts.iter().all(|c| c.ends_with(".svg")),
        "{}: the page shows its charts: {charts:?}",
        dir.display()
    );
    let expected: BTreeSet<&str> = RUN_FILES
        .iter()
        .copied()
        .chain(charts.iter().map(String::as_str))
        .collect();
    assert_eq!(
        f.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "{}: the files a run writes",
        dir.display()
    );
    f
}

/// The part of a page before its first section: what a reader sees first.
pub fn page_top(html: &str) -> &str {
    &html[..html.find("<h2>").unwrap_or(html.len())]
}
