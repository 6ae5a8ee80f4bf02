//! The HTML of a report: one self-contained page (inline CSS, charts as relative `<img>`),
//! leading with the answer a manager wants, then the charts, then the detail tables.
//!
//! This module owns markup only; the numbers and their choice come from [`super::Analysis`].
//! No timestamps and no absolute paths, so the same directory gives the same bytes.

use super::data::{RunData, Study};
use super::{dollars, rate_of, Analysis};
use crate::human::{self, duration};
use crate::output::format_replay;
use std::fmt::Write as _;

/// Escapes text for HTML content and attribute values.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1.5em 2em 4em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 2px solid #0072b2; padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
.meta { color: #555; margin-top: 0; }
.answer { background: #eef6fb; border-left: 5px solid #0072b2; padding: 0.8em 1.2em; margin: 1em 0; }
.answer p { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.3em 0.6em; text-align: right; vertical-align: top;
         white-space: nowrap; }
td.wrap { white-space: normal; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
tr.ok td.verdict { color: #006b3c; font-weight: 600; }
tr.miss td.verdict { color: #b00020; font-weight: 600; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e0e0e0; }
figcaption { color: #555; font-size: 0.9em; }
details { margin: 0.4em 0; }
summary { cursor: pointer; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.warn { color: #b00020; font-weight: 600; }
.note { color: #555; font-size: 0.9em; }
";

/// After the page loads, counts images that failed (missing SVG beside the page) and says so
/// on the page; the count is also left in `data-broken-images` for automated checks.
const IMAGE_CHECK: &str = "
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length;
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-broken-images', String(broken));
  if (broken > 0) {
    var p = document.getElementById('broken');
    p.textContent = broken + ' of ' + imgs.length +
      ' charts did not load: keep the .svg files beside index.html.';
    p.hidden = false;
  }
});
";

/// The whole page.
pub(super) fn page(study: &Study, check: Option<&str>, body: &str) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}: mirrorlab report</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&study.title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(&study.title));
    let _ = writeln!(h, "<p class=\"meta\">{}</p>", esc(&describe(study)));
    h.push_str("<p id=\"broken\" class=\"warn\" hidden></p>\n");
    status(&mut h, study);
    if let Some(m) = &study.meta {
        if m.shard.count > 1 {
            let _ = writeln!(
                h,
                "<p class=\"warn\">This is shard {}/{} of a sweep: only its runs are here. \
                 Join the shards with <code>mirrorlab merge</code> for the whole report.</p>",
                m.shard.index, m.shard.count
            );
        }
    }
    h.push_str(body);
    if let Some(c) = check {
        let states: usize = c
            .lines()
            .filter_map(|l| {
                l.trim()
                    .split(" states explored")
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        let configs = c.lines().filter(|l| l.starts_with("mode=")).count();
        let bad = c.contains("VIOLATED") || c.contains("NOT REACHED");
        let _ = writeln!(
            h,
            "<h2>Model check of the Fig 8 protocol</h2>\n<p>{} configuration{}, {} states explored: {}</p>\n\
             <details><summary>every property</summary><pre>{}</pre></details>",
            configs,
            if configs == 1 { "" } else { "s" },
            states,
            if bad {
                "<span class=\"warn\">a property failed</span>"
            } else {
                "every property holds and every expected event is reached"
            },
            esc(c.trim_end())
        );
    }
    if study.meta.is_none() {
        h.push_str(
            "<h2>The numbers</h2>\n<p class=\"note\">Same scenario and seed give byte-identical \
             files. The charts are the .svg files beside this page; the numbers are in \
             summary.json, link_usage.csv, lag.csv and latency.csv.</p>\n",
        );
    }
    if let Some(cmd) = reproduce(study) {
        let _ = writeln!(
            h,
            "<h2>Reproduce</h2>\n<pre>{}</pre>\n<p class=\"note\">Same scenario and seed give \
             byte-identical files. The charts are the .svg files beside this page; the numbers \
             are in sweep.csv and runs/NNNN/ (summary.json, link_usage.csv, lag.csv, latency.csv).</p>",
            esc(&cmd)
        );
    }
    let _ = write!(h, "<script>{IMAGE_CHECK}</script>\n</body>\n</html>\n");
    h
}

/// What a reader must know before any number, at the top of the page: for one run, whether
/// it is a replay and what it broke, or its verdict; for a sweep, runs that broke an
/// invariant (their numbers describe a protocol that misbehaved).
fn status(h: &mut String, study: &Study) {
    let failed: Vec<&RunData> = study
        .runs
        .iter()
        .filter(|r| !r.result.invariants_ok)
        .collect();
    let (None, [run]) = (&study.meta, study.runs.as_slice()) else {
        if !failed.is_empty() {
            let _ = writeln!(
                h,
                "<div class=\"answer\" style=\"{ALERT}\"><p class=\"warn\">INVARIANT FAILED in {} \
                 of {} runs ({}): their numbers describe a protocol that misbehaved; see every \
                 run below.</p></div>",
                failed.len(),
                study.runs.len(),
                failed
                    .iter()
                    .map(|r| format!("run {}", r.run))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return;
    };
    let s = &run.summary;
    let alert = if failed.is_empty() {
        String::new()
    } else {
        format!(" style=\"{ALERT}\"")
    };
    let _ = writeln!(h, "<div class=\"answer\"{alert}>");
    if let Some(replay) = &s.replay {
        let mut text = String::new();
        format_replay(replay, &mut text);
        let _ = writeln!(
            h,
            "<p><b>This run is a replay</b> of {} scripted steps (a model checker's \
             counterexample or a hand-written one), not a workload: its RPO, cost and latency \
             say little about a configuration.</p>\n<pre>{}</pre>",
            replay.steps,
            esc(text.trim())
        );
    }
    let failures = &s.invariants.failures;
    if !failed.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"warn\">Verdict: INVARIANT FAILED: this run broke {} invariant{}, so its \
             numbers describe a protocol that misbehaved:</p>\n<ul>",
            failures.len(),
            if failures.len() == 1 { "" } else { "s" }
        );
        for f in failures {
            let _ = writeln!(h, "<li>{}</li>", esc(f));
        }
        h.push_str("</ul>\n");
    } else if s.replay.is_some() {
        h.push_str("<p><b>Verdict: every invariant held</b> through every step.</p>\n");
    } else {
        let _ = writeln!(
            h,
            "<p><b>Verdict: {}</b> (target {}, worst RPO {}); every invariant held.</p>",
            esc(run.result.verdict(study.rpo_target_ns).text()),
            esc(&duration(study.rpo_target_ns)),
            esc(&duration(run.result.max_rpo_ns))
        );
    }
    h.push_str("</div>\n");
}

/// The answer box's colours for bad news (inline, so pages without it keep their bytes).
const ALERT: &str = "background: #fdecee; border-left-color: #b00020";

fn describe(study: &Study) -> String {
    let mut parts = Vec::new();
    parts.push(format!("{} simulated", duration(study.duration_ns())));
    match &study.meta {
        Some(m) => {
            parts.push(format!("seed {}", m.base_seed));
            parts.push(format!(
                "{} run{}",
                study.runs.len(),
                if study.runs.len() == 1 { "" } else { "s" }
            ));
            if !m.varies.is_empty() {
                let v: Vec<String> = m
                    .varies
                    .iter()
                    .map(|v| format!("{} = {}", v.key, v.values.join(", ")))
                    .collect();
                parts.push(format!("varied: {}", v.join("; ")));
            }
        }
        None => parts.push(format!("seed {}", study.runs[0].summary.seed)),
    }
    parts.push(format!("RPO target {}", duration(study.rpo_target_ns)));
    parts.join(" · ")
}

fn reproduce(study: &Study) -> Option<String> {
    let m = study.meta.as_ref()?;
    let mut cmd = format!("mirrorlab sweep {}", m.scenario_path);
    for v in &m.varies {
        let _ = write!(cmd, " \\\n    --vary {}={}", v.key, v.values.join(","));
    }
    let _ = write!(
        cmd,
        " \\\n    --rpo-target {}",
        crate::units::Nanos(study.rpo_target_ns)
    );
    Some(cmd)
}

fn params_label(a: &Analysis<'_>, r: &RunData, skip: &[usize]) -> String {
    let s: Vec<String> = a
        .study
        .keys
        .iter()
        .enumerate()
        .filter(|(k, _)| !skip.contains(k))
        .map(|(k, key)| format!("{key}={}", r.params[k]))
        .collect();
    if s.is_empty() {
        "base scenario".into()
    } else {
        s.join(" ")
    }
}

/// A chart on the page.
pub(super) struct Figure {
    pub(super) src: String,
    pub(super) alt: String,
    pub(super) size: (u32, u32),
}

/// The page body: the answer, the charts, the tables (not when `compact`).
pub(super) fn body(a: &Analysis<'_>, charts: &[Figure], compact: bool) -> String {
    let mut h = String::new();
    // A sweep of neither modes nor bandwidths (e.g. bitmap chunks) has no bandwidth answer,
    // nor has a replay: scripted steps are no workload to size a link for.
    let replay = a.study.runs.iter().any(|r| r.summary.replay.is_some());
    if !replay && (a.study.meta.is_none() || a.mode_key.is_some() || !a.bandwidth_keys.is_empty()) {
        answer(&mut h, a);
    }
    h.push_str("<h2>Charts</h2>\n");
    for f in charts {
        let _ = writeln!(
            h,
            "<figure><img src=\"{}\" alt=\"{}\" width=\"{}\" height=\"{}\"></figure>",
            esc(&f.src),
            esc(&f.alt),
            f.size.0,
            f.size.1
        );
    }
    second_mirror(&mut h, a);
    consistency(&mut h, a);
    bitmap(&mut h, a);
    if !compact {
        all_runs(&mut h, a);
        pairdisplay(&mut h, a);
    }
    h
}

fn answer(h: &mut String, a: &Analysis<'_>) {
    let target = duration(a.study.rpo_target_ns);
    let answers = a.answers();
    let what = a
        .series_key
        .map_or_else(|| "the run".to_string(), |k| a.study.keys[k].clone());
    let _ = writeln!(
        h,
        "<h2>The answer: the cheapest bandwidth that keeps the RPO under {}</h2>",
        esc(&target)
    );
    let _ = writeln!(
        h,
        "<p class=\"note\">A run meets the target when its worst RPO and its p99 host write \
         latency are both within it (writes queued at the host are at risk too) and its remote \
         copy is consistent: an adaptive SVOL is not a consistent image while a pass runs, so \
         its RPO is no recovery point.</p>"
    );
    h.push_str("<div class=\"answer\">\n");
    let mut best_all: Option<(&str, &RunData)> = None;
    for ans in &answers {
        if let Some(b) = ans.best {
            if best_all.is_none_or(|(_, x)| b.result.cost_total < x.result.cost_total) {
                best_all = Some((ans.label.as_str(), b));
            }
        }
    }
    match best_all {
        Some((label, r)) => {
            let _ = writeln!(
                h,
                "<p><b>Cheapest that meets the target: {} at {}, {} per month</b> (worst RPO {}, \
                 p99 host write latency {}).</p>",
                esc(label),
                esc(&rate_of(r)),
                dollars(r.result.cost_total),
                duration(r.result.max_rpo_ns),
                duration(r.result.write_p99_ns)
            );
        }
        None => {
            let _ = writeln!(
                h,
                "<p><b>No run met the RPO target of {}.</b> Try more bandwidth, another copy mode or a \
                 looser target (<code>--rpo-target</code>).</p>",
                esc(&target)
            );
        }
    }
    let mut free = a.bandwidth_keys.clone();
    free.extend(a.series_key);
    let at = a.reference_note(&free);
    if !at.is_empty() {
        let _ = writeln!(h, "<p class=\"note\">Other parameters at {}.</p>", esc(&at));
    }
    h.push_str("</div>\n");
    let _ = writeln!(
        h,
        "<table>\n<tr><th class=\"l\">{}</th><th>cheapest bandwidth</th><th>$ per month</th>\
         <th>transfer</th><th>provisioned</th><th>worst RPO</th><th>max lag</th>\
         <th>write p99</th><th class=\"l\">verdict</th></tr>",
        esc(&what)
    );
    for ans in &answers {
        match ans.best {
            Some(r) => {
                let _ = writeln!(
                    h,
                    "<tr class=\"ok\"><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td>{}</td><td>{}</td><td>{}</td><td class=\"l verdict\">meets {}{}</td></tr>",
                    esc(&ans.label),
                    esc(&rate_of(r)),
                    dollars(r.result.cost_total),
                    dollars(r.result.cost_transfer),
                    dollars(r.result.cost_provisioned),
                    duration(r.result.max_rpo_ns),
                    human::bytes(r.result.max_lag_bytes),
                    duration(r.result.write_p99_ns),
                    esc(&target),
                    if ans.runs.len() > 1 && ans.runs.first().is_some_and(|f| f.run == r.run) {
                        " (the lowest bandwidth tried: less may do)"
                    } else {
                        ""
                    }
                );
            }
            None => {
                let best = ans.closest();
                let why = ans.why_not(a.study.rpo_target_ns);
                let _ = writeln!(
                    h,
                    "<tr class=\"miss\"><td class=\"l\">{}</td><td>-</td><td>-</td><td>-</td><td>-</td>\
                     <td>{}</td><td>{}</td><td>{}</td><td class=\"l verdict\">{}</td></tr>",
                    esc(&ans.label),
                    best.map_or("-".into(), |b| duration(b.result.max_rpo_ns)),
                    best.map_or("-".into(), |b| human::bytes(b.result.max_lag_bytes)),
                    best.map_or("-".into(), |b| duration(b.result.write_p99_ns)),
                    esc(&why)
                );
            }
        }
    }
    h.push_str("</table>\n");
    h.push_str(
        "<p class=\"note\">RPO: the age of the oldest host write not yet on the remote copy, worst \
         over the run and the remote mirrors. Cost: the link's transfer price for a month of this \
         traffic plus its provisioned bandwidth. Write latency: production hosts, as acknowledged.</p>\n",
    );
}

/// Per disaster and completed split of the reference runs, whether each dependent host's
/// surviving or split SVOLs hold a consistent cut of its writes (nothing without dependent
/// hosts).
fn consistency(h: &mut String, a: &Analysis<'_>) {
    let refs = a.reference_runs();
    let mut images: Vec<(String, &[crate::output::ImageCut])> = Vec::new();
    for (_, _, r) in &refs {
        for s in &r.summary.splits {
            images.push((format!("split `{}`", s.command), &s.consistency));
        }
        for d in &r.summary.disasters {
            let at = human::duration(d.at_ns);
            images.push((
                format!("disaster at {at} (storage {})", d.storage),
                &d.consistency,
            ));
        }
    }
    images.retain(|(_, cuts)| !cuts.is_empty());
    if images.is_empty() {
        return;
    }
    h.push_str("<h2>Consistency of the surviving and split copies</h2>\n");
    for (what, cuts) in images {
        let _ = writeln!(h, "<p>{}:</p>\n<ul>", esc(&what));
        for c in cuts {
            let class = if c.consistent { "" } else { " class=\"warn\"" };
            let _ = writeln!(h, "<li{class}>{}</li>", esc(&c.describe()));
        }
        h.push_str("</ul>\n");
    }
}

fn second_mirror(h: &mut String, a: &Analysis<'_>) {
    let refs: Vec<_> = a
        .reference_runs()
        .into_iter()
        .filter(|(_, _, r)| r.result.has_second)
        .collect();
    if refs.is_empty() {
        return;
    }
    let group = refs[0]
        .2
        .summary
        .second_mirror
        .as_ref()
        .map_or("", |m| m.group.as_str());
    let _ = writeln!(
        h,
        "<h2>The second remote mirror {}: full copy versus atomic split + no-copy</h2>",
        esc(group)
    );
    h.push_str(
        "<table>\n<tr><th class=\"l\">run</th><th>full copy: bytes</th><th>full copy: time</th>\
         <th>split + no-copy: bytes</th><th>split + no-copy: time</th><th>bytes saved</th>\
         <th>split took</th><th>host I/O stall</th></tr>\n",
    );
    for (v, _, r) in &refs {
        let x = &r.result;
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(v),
            human::bytes(x.second_conventional_bytes),
            duration(x.second_conventional_ns),
            if x.second_conventional_done { "" } else { " (not done)" },
            human::bytes(x.second_nocopy_bytes),
            duration(x.second_nocopy_ns),
            human::bytes(x.second_conventional_bytes.saturating_sub(x.second_nocopy_bytes)),
            duration(x.split_ns),
            duration(x.split_stall_ns)
        );
    }
    h.push_str("</table>\n");
    let free: Vec<usize> = a.series_key.into_iter().collect();
    let at = a.reference_note(&free);
    let _ = writeln!(
        h,
        "<p class=\"note\">A full copy sends the volume's data over the link while production traffic \
         shares it; the atomic split + no-copy sends only the split and create messages.{}</p>",
        if at.is_empty() {
            String::new()
        } else {
            format!(" At {}.", esc(&at))
        }
    );
}

fn bitmap(h: &mut String, a: &Analysis<'_>) {
    let Some(ck) = a.chunk_key else { return };
    h.push_str("<h2>Bitmap granularity: what a resync sends</h2>\n<table>\n<tr><th>run</th>\
                <th>chunk</th><th>written by hosts</th><th>pending in bitmap</th><th>sent by resync</th>\
                <th>resync / written</th></tr>\n");
    for r in &a.study.runs {
        let x = &r.result;
        let ratio = if x.written_bytes == 0 {
            "-".to_string()
        } else {
            format!("{:.2}×", x.resync_bytes as f64 / x.written_bytes as f64)
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.run,
            esc(&r.params[ck]),
            human::bytes(x.written_bytes),
            human::bytes(x.resync_dirty_bytes),
            if x.resyncs_completed {
                human::bytes(x.resync_bytes)
            } else {
                format!("{} (not completed)", human::bytes(x.resync_bytes))
            },
            ratio
        );
    }
    h.push_str(
        "</table>\n<p class=\"note\">A pending bitmap keeps one bit per chunk: a 4 KiB write marks \
         a whole chunk, so coarse chunks make a resync send more than was written; fine chunks cost \
         bitmap memory (one bit per chunk per volume).</p>\n",
    );
}

fn all_runs(h: &mut String, a: &Analysis<'_>) {
    let n = a.study.runs.len();
    let _ = writeln!(
        h,
        "<h2>Every run</h2>\n<details{}><summary>{} run{} (the same numbers as {})</summary>",
        if n <= 40 { " open" } else { "" },
        n,
        if n == 1 { "" } else { "s" },
        if a.study.meta.is_some() {
            "sweep.csv"
        } else {
            "summary.json"
        }
    );
    h.push_str("<table>\n<tr><th>run</th>");
    for k in &a.study.keys {
        let _ = write!(h, "<th class=\"l\">{}</th>", esc(k));
    }
    h.push_str(
        "<th>data sent</th><th>busy</th><th>max lag</th><th>worst RPO</th><th>write p50</th>\
         <th>write p99</th><th>write p99.9</th><th>$ per month</th><th class=\"l\">final states</th>\
         <th class=\"l\">invariants</th></tr>\n",
    );
    for r in &a.study.runs {
        let x = &r.result;
        let cls = if a.meets_target(r) { "ok" } else { "miss" };
        let _ = write!(h, "<tr class=\"{cls}\"><td>{}</td>", r.run);
        for p in &r.params {
            let _ = write!(h, "<td class=\"l\">{}</td>", esc(p));
        }
        let _ = writeln!(
            h,
            "<td>{}</td><td>{:.1}%</td><td>{}</td><td class=\"verdict\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"l wrap\">{}</td><td class=\"l wrap\">{}</td></tr>",
            human::bytes(x.data_bytes),
            x.busy_fraction * 100.0,
            human::bytes(x.max_lag_bytes),
            duration(x.max_rpo_ns),
            duration(x.write_p50_ns),
            duration(x.write_p99_ns),
            duration(x.write_p999_ns),
            dollars(x.cost_total),
            esc(&x.final_states),
            if x.invariants_ok {
                "ok".to_string()
            } else {
                format!("<span class=\"warn\">FAILED: {}</span>", esc(&r.summary.invariants.failures.join("; ")))
            }
        );
    }
    h.push_str("</table>\n</details>\n");
}

fn pairdisplay(h: &mut String, a: &Analysis<'_>) {
    h.push_str("<h2>pairdisplay at the end of each run</h2>\n");
    let refs: Vec<usize> = a.reference_runs().iter().map(|(_, _, r)| r.run).collect();
    for r in &a.study.runs {
        let _ = writeln!(
            h,
            "<details{}><summary>run {}: {}</summary>",
            if refs.first() == Some(&r.run) {
                " open"
            } else {
                ""
            },
            r.run,
            esc(&params_label(a, r, &[]))
        );
        // A CTG column only where a mirror is in a consistency group.
        let ctg = r.summary.pairdisplay.iter().any(|p| p.ctg.is_some());
        let ctg_cell = |tag: &str, c: Option<&str>| {
            if ctg {
                format!("<{tag} class=\"l\">{}</{tag}>", esc(c.unwrap_or("-")))
            } else {
                String::new()
            }
        };
        h.push_str("<table>\n<tr>");
        h.push_str(&ctg_cell("th", Some("CTG")));
        h.push_str(
            "<th class=\"l\">Group</th><th class=\"l\">Volume</th><th>Storage</th>\
             <th class=\"l\">P/S</th><th class=\"l\">Status</th><th class=\"l\">Mode</th>\
             <th class=\"l\">Mirror</th><th>%Sync</th><th>Pending</th></tr>\n",
        );
        for p in &r.summary.pairdisplay {
            let _ = writeln!(
                h,
                "<tr>{}<td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td>\
                 <td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{:.1}</td><td>{}</td></tr>",
                ctg_cell("td", p.ctg.as_deref()),
                esc(&p.group),
                esc(&p.volume.to_string()),
                p.storage,
                esc(p.ps),
                esc(&p.state.to_string()),
                esc(&p.mode),
                esc(&p.mirror_volume.to_string()),
                p.sync_percent,
                human::bytes(p.pending_bytes)
            );
        }
        h.push_str("</table>\n</details>\n");
    }
}

/// A sub-study (a sweep in a subdirectory) as a section of its parent's page.
pub(super) fn sub_study(study: &Study, name: &str, body: &str) -> String {
    // Demote the sub-study's headings one level.
    let body = body
        .replace("<h3>", "<h4>")
        .replace("</h3>", "</h4>")
        .replace("<h2>", "<h3>")
        .replace("</h2>", "</h3>");
    format!(
        "<h2>Study: {}</h2>\n<p class=\"meta\">{} · <a href=\"{}/index.html\">its own page</a></p>\n{}",
        esc(&study.title),
        esc(&describe(study)),
        esc(name),
        body
    )
}
