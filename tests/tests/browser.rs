//! Pages in a real browser: headless Chromium opens the demo's `index.html` and a run's from
//! disk (no server, no network), every chart loads, and a screenshot is not blank.
//!
//! Chromium is required: `.ci/run` installs Debian's `chromium`. Without it this test fails
//! (it never skips), naming what to install; `CHROMIUM=/path/to/chrome` picks another binary.

mod report_common;
mod sim_common;

use mirrorlab::demo::{run_with, DemoOptions};
use mirrorlab::{simulate, write_outputs, Overrides};
use report_common::{images, SMALL_FIG8};
use std::path::{Path, PathBuf};
use std::process::Command;

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
}

fn chromium() -> PathBuf {
    find_chromium().expect("checked by `have_chromium` at the start of each test")
}

/// Whether this test can run. Without Chromium it prints a loud SKIPPED banner and the test
/// passes, so `cargo test` works on a machine with only the Rust toolchain; in CI
/// (`CI=true`, where .ci/run installs Chromium) a missing browser fails instead, so a skip
/// never passes there.
fn have_chromium(test: &str) -> bool {
    if find_chromium().is_some() {
        return true;
    }
    sim_common::skip(
        test,
        "Chromium",
        "headless Chromium and found none on PATH: install it with `apt-get install -y \
         chromium` (what .ci/run does) or set CHROMIUM=/path/to/chrome",
    );
    false
}

/// Runs headless Chromium on `page` with `args`, returns stdout.
fn browse(page: &Path, profile: &Path, args: &[&str]) -> String {
    let url = format!("file://{}", page.display());
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(&url)
        .output()
        .expect("start chromium");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Opens `index` and asserts that every `<img>` of it loaded (the page's own script counts
/// those with naturalWidth 0); returns how many it shows.
fn assert_every_chart_loads(index: &Path, profile: &Path) -> u64 {
    let dom = browse(index, profile, &["--dump-dom"]);
    let shown = attr(&dom, "data-images").unwrap_or_else(|| {
        panic!(
            "{} did not run the page's image check; DOM starts: {}",
            chromium().display(),
            &dom[..dom.len().min(400)]
        )
    });
    let broken = attr(&dom, "data-broken-images").unwrap();
    let expected = images(&std::fs::read_to_string(index).unwrap()).len() as u64;
    assert_eq!(shown, expected, "{}", index.display());
    assert_eq!(
        broken,
        0,
        "{}: {broken} of {shown} images did not load",
        index.display()
    );
    shown
}

fn attr(dom: &str, name: &str) -> Option<u64> {
    let at = dom.find(&format!("{name}=\""))? + name.len() + 2;
    dom[at..].split('"').next()?.parse().ok()
}

#[test]
fn the_demo_report_opens_from_disk_with_every_chart_loaded() {
    if !have_chromium("the_demo_report_opens_from_disk_with_every_chart_loaded") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("demo");
    let opts = DemoOptions {
        out: out.clone(),
        walkthrough: false,
        threads: None,
    };
    let mut log = Vec::new();
    let code = run_with(&opts, &mut log).unwrap();
    let log = String::from_utf8(log).unwrap();
    assert_eq!(code, 0, "the demo failed:\n{log}");
    assert!(
        log.contains("states explored") && log.contains("holds"),
        "{log}"
    );
    assert!(
        log.contains("index.html"),
        "the demo says where the report is:\n{log}"
    );
    let index = out.join("index.html").canonicalize().unwrap();

    let profile = tempfile::tempdir().unwrap();
    let shown = assert_every_chart_loads(&index, profile.path());
    assert!(
        shown >= 9,
        "the demo page shows the sweep's and the bitmap study's charts"
    );

    // A screenshot that is not blank: many pixels differ from the background.
    let shot = d.path().join("shot.png");
    browse(
        &index,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400",
        ],
    );
    let decoder = png::Decoder::new(std::fs::File::open(&shot).expect("a screenshot"));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2400));
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let luma: Vec<f64> = pixels
        .chunks(channels)
        .map(|p| (f64::from(p[0]) + f64::from(p[1 % channels]) + f64::from(p[2 % channels])) / 3.0)
        .collect();
    let n = luma.len() as f64;
    let mean = luma.iter().sum::<f64>() / n;
    let var = luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n;
    let inked = luma.iter().filter(|&&l| l < 200.0).count() as f64 / n;
    assert!(
        var > 100.0,
        "screenshot looks blank (luma variance {var:.1})"
    );
    assert!(
        inked > 0.01,
        "screenshot has almost no text or lines ({:.2}% dark pixels)",
        inked * 100.0
    );
    // Colour: the charts' lines and bars are not grey.
    let coloured = pixels
        .chunks(channels)
        .filter(|p| channels >= 3 && (i32::from(p[0]) - i32::from(p[2])).abs() > 60)
        .count();
    assert!(
        coloured > 1000,
        "no coloured chart pixels in the screenshot ({coloured})"
    );
}

#[test]
fn a_run_s_page_opens_from_disk_with_every_chart_loaded() {
    if !have_chromium("a_run_s_page_opens_from_disk_with_every_chart_loaded") {
        return;
    }
    let scenario = mirrorlab::scenario::parse(SMALL_FIG8, Path::new("small.toml")).unwrap();
    let out = simulate(&scenario, &Overrides::default()).unwrap();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("run");
    write_outputs(&out, &dir).unwrap();
    let index = dir.join("index.html").canonicalize().unwrap();
    let profile = tempfile::tempdir().unwrap();
    assert!(assert_every_chart_loads(&index, profile.path()) >= 7);
}
