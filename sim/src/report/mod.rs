//! `mirrorlab report DIR`: the charts and `index.html` of a sweep or a run.
//!
//! This module owns the what-if answers a report gives and the choice of charts. It reads a
//! directory ([`data::Study`]), works out per copy mode the cheapest bandwidth that keeps the
//! RPO under the target, draws the charts ([`charts`], SVG files beside the page) and writes
//! one self-contained `index.html` ([`html`]) that opens from disk with no server and no
//! network. Subdirectories that hold a sweep of their own (the demo's bitmap study) get their
//! own page and a section in this one.
//!
//! Time series charts compare the values of one varied key (the copy mode, when it varies)
//! with every other key at its reference value: the scenario's own value when the sweep tried
//! it, else the first value tried. Everything is deterministic: the same directory gives
//! byte-identical SVG and HTML.

pub mod charts;
pub mod data;
mod html;

use crate::human;
use crate::out_dir::{self, OutDir, OutDirError};
use crate::scenario;
use crate::study::{Param, Verdict};
use crate::units::Rate;
use charts::{BarChart, BarGroup, ChartError, HLine, LineChart, Series, ValueLabels};
use data::{DataError, RunData, Study};
use mirrorlab_model::CopyMode;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error(transparent)]
    Out(#[from] OutDirError),
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl ReportError {
    /// Whether the input was at fault rather than the disk (both exit with 2).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ReportError::Data(_))
    }
}

/// What `mirrorlab report` may change.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Overrides the RPO target the sweep was run with.
    pub rpo_target_ns: Option<u64>,
}

/// Writes the charts and `index.html` of `dir` (and of each sub-study in it) and returns the
/// path of `index.html`.
pub fn build(dir: &Path, opts: &ReportOptions) -> Result<PathBuf, ReportError> {
    let study = Study::read(dir, opts.rpo_target_ns)?;
    let mut body = body(&study, "", false)?;
    let mut subs: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|error| ReportError::Read {
            path: dir.to_path_buf(),
            error,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.join("sweep.json").is_file()
                && p.file_name()
                    .is_some_and(|n| n != "runs" && !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    subs.sort();
    for sub in subs {
        let name = sub
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        build(&sub, opts)?;
        let s = Study::read(&sub, opts.rpo_target_ns)?;
        body.push_str(&html::sub_study(
            &s,
            &name,
            &self::body(&s, &format!("{name}/"), true)?,
        ));
    }
    let check = fs::read_to_string(dir.join("check.txt")).ok();
    let page = html::page(&study, check.as_deref(), &body);
    let path = dir.join("index.html");
    out_dir::replace_file(&path, page.as_bytes())?;
    Ok(path)
}

/// Draws every chart of `study` into its directory and returns the page body; `prefix` is
/// prepended to image paths. `compact` (a sub-study shown in its parent's page) keeps only
/// the charts of what the sub-study varies and leaves the run tables to its own page.
fn body(study: &Study, prefix: &str, compact: bool) -> Result<String, ReportError> {
    let a = Analysis::new(study);
    let mut charts: Vec<html::Figure> = Vec::new();
    for (file, alt, svg) in a.charts()? {
        let path = study.dir.join(&file);
        let size = svg_size(&svg);
        out_dir::replace_file(&path, svg.as_bytes())?;
        if compact && a.chunk_key.is_some() && file != "bitmap.svg" {
            continue;
        }
        charts.push(html::Figure {
            src: format!("{prefix}{file}"),
            alt,
            size,
        });
    }
    Ok(html::body(&a, &charts, compact))
}

/// The width and height plotters wrote on the `<svg>` element.
fn svg_size(svg: &str) -> (u32, u32) {
    let head = &svg[..svg.find('>').unwrap_or(svg.len())];
    let attr = |name: &str| {
        head.split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok())
    };
    (
        attr("width").unwrap_or(charts::SIZE.0),
        attr("height").unwrap_or(charts::SIZE.1),
    )
}

/// `mirrorlab report DIR`
#[derive(Clone, Debug, clap::Args)]
pub struct ReportArgs {
    /// A directory `mirrorlab sweep`, `merge` or `run` wrote.
    pub dir: PathBuf,
    /// The RPO target for the answer (default: the one the sweep was run with, else 60s).
    #[arg(long, value_name = "DURATION")]
    pub rpo_target: Option<crate::units::Nanos>,
    /// Write into DIR even though it has no .mirrorlab marker (a directory an older
    /// mirrorlab wrote); its index.html and charts are replaced.
    #[arg(long)]
    pub force: bool,
}

/// Runs `mirrorlab report`: exit code 0; `Err` is bad input or an I/O failure (exit 2). DIR
/// is locked against another writer while the report is drawn, and each file is replaced
/// whole.
pub fn run_report_cmd(args: &ReportArgs) -> anyhow::Result<u8> {
    let opts = ReportOptions {
        rpo_target_ns: args.rpo_target.map(|n| n.0),
    };
    let _claim = OutDir::claim_in_place(&args.dir, args.force)?;
    let index = build(&args.dir, &opts)?;
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "wrote {}", index.display());
    Ok(0)
}

// ----- analysis -----

/// How the runs of a study relate: which key is the copy mode, which are bandwidths, which
/// run is the reference for each value of the compared key.
pub struct Analysis<'a> {
    pub study: &'a Study,
    pub mode_key: Option<usize>,
    pub bandwidth_keys: Vec<usize>,
    pub chunk_key: Option<usize>,
    /// The key whose values the time-series charts compare (the mode when it varies).
    pub series_key: Option<usize>,
    /// Per key, the value other keys are held at.
    pub reference: Vec<String>,
}

/// Per series value, the cheapest run that meets the RPO target.
pub struct Answer<'a> {
    /// The compared key's value ("async"), or the scenario name for a single series.
    pub label: String,
    /// Runs of this series at the reference of every key but the bandwidths, by bandwidth.
    pub runs: Vec<&'a RunData>,
    pub best: Option<&'a RunData>,
}

impl Answer<'_> {
    /// The run closest to the target: the lowest worst RPO.
    pub fn closest(&self) -> Option<&RunData> {
        self.runs
            .iter()
            .copied()
            .min_by_key(|r| (r.result.max_rpo_ns, r.run))
    }

    /// Why no run of this series meets the target, in a few words.
    pub fn why_not(&self, rpo_target_ns: u64) -> String {
        let Some(b) = self.closest() else {
            return "no run".to_string();
        };
        match b.result.verdict(rpo_target_ns) {
            Verdict::NoConsistentCopy => "no consistent copy: an adaptive SVOL is not a \
                                          consistent image while a pass runs"
                .to_string(),
            verdict => format!(
                "none of the {} bandwidth{} tried; closest: {} at {} ({})",
                self.runs.len(),
                if self.runs.len() == 1 { "" } else { "s" },
                human::duration(b.result.max_rpo_ns),
                rate_of(b),
                verdict.text()
            ),
        }
    }
}

impl<'a> Analysis<'a> {
    pub fn new(study: &'a Study) -> Analysis<'a> {
        let mode_key = study.key("mode");
        let bandwidth_keys: Vec<usize> = (0..study.keys.len())
            .filter(|&k| {
                study.keys[k].starts_with("link.") && study.keys[k].ends_with(".bandwidth")
            })
            .collect();
        let chunk_key = (0..study.keys.len())
            .find(|&k| study.keys[k].starts_with("mirror.") && study.keys[k].ends_with(".chunk"));
        let series_key = mode_key.or_else(|| {
            (0..study.keys.len()).find(|k| !bandwidth_keys.contains(k) && Some(*k) != chunk_key)
        });
        let reference = reference_values(study);
        Analysis {
            study,
            mode_key,
            bandwidth_keys,
            chunk_key,
            series_key,
            reference,
        }
    }

    /// Runs with every key at its reference except those in `free`.
    fn runs_at_reference(&self, free: &[usize]) -> Vec<&'a RunData> {
        self.study
            .runs
            .iter()
            .filter(|r| {
                r.params
                    .iter()
                    .enumerate()
                    .all(|(k, v)| free.contains(&k) || *v == self.reference[k])
            })
            .collect()
    }

    /// The values of the compared key, in grid order, with their colour.
    fn series_values(&self) -> Vec<(String, usize)> {
        match self.series_key {
            None => vec![(self.study.runs[0].result_label(), 0)],
            Some(k) => {
                let mut seen: Vec<String> = Vec::new();
                for r in &self.study.runs {
                    if !seen.contains(&r.params[k]) {
                        seen.push(r.params[k].clone());
                    }
                }
                seen.into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let c = if Some(k) == self.mode_key {
                            mode_color(&v)
                        } else {
                            i
                        };
                        (v, c)
                    })
                    .collect()
            }
        }
    }

    /// One run per compared value, everything else at its reference.
    pub fn reference_runs(&self) -> Vec<(String, usize, &'a RunData)> {
        let free: Vec<usize> = self.series_key.into_iter().collect();
        let runs = self.runs_at_reference(&free);
        self.series_values()
            .into_iter()
            .filter_map(|(v, c)| {
                let r = match self.series_key {
                    Some(k) => runs.iter().find(|r| r.params[k] == v)?,
                    None => runs.first()?,
                };
                Some((v, c, *r))
            })
            .collect()
    }

    /// A run meets the target when its worst RPO is within it, host writes keep up and there
    /// is a consistent copy to recover to ([`crate::study::Verdict`]).
    pub fn meets_target(&self, r: &RunData) -> bool {
        r.result.verdict(self.study.rpo_target_ns) == Verdict::Meets
    }

    /// Per compared value: the runs over the bandwidths tried and the cheapest that meets the
    /// RPO target.
    pub fn answers(&self) -> Vec<Answer<'a>> {
        let mut free: Vec<usize> = self.bandwidth_keys.clone();
        free.extend(self.series_key);
        let runs = self.runs_at_reference(&free);
        self.series_values()
            .into_iter()
            .map(|(v, _)| {
                let mut rs: Vec<&RunData> = runs
                    .iter()
                    .copied()
                    .filter(|r| self.series_key.is_none_or(|k| r.params[k] == v))
                    .collect();
                rs.sort_by_key(|r| (bandwidth(r), r.run));
                let best = rs
                    .iter()
                    .copied()
                    .filter(|r| self.meets_target(r))
                    .min_by(|a, b| {
                        a.result
                            .cost_total
                            .total_cmp(&b.result.cost_total)
                            .then(bandwidth(a).cmp(&bandwidth(b)))
                            .then(a.run.cmp(&b.run))
                    });
                Answer {
                    label: v,
                    runs: rs,
                    best,
                }
            })
            .collect()
    }

    /// "link.wan.bandwidth=50MB/s" for the keys held at their reference.
    pub fn reference_note(&self, free: &[usize]) -> String {
        self.study
            .keys
            .iter()
            .enumerate()
            .filter(|(k, _)| !free.contains(k))
            .map(|(k, key)| format!("{key}={}", self.reference[k]))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn series_title(&self) -> String {
        self.series_key
            .map_or_else(String::new, |k| self.study.keys[k].clone())
    }

    /// Every chart: (file name, alt text, SVG).
    pub fn charts(&self) -> Result<Vec<(String, String, String)>, ChartError> {
        let mut out = Vec::new();
        let refs = self.reference_runs();
        let free: Vec<usize> = self.series_key.into_iter().collect();
        let at = self.reference_note(&free);
        let at_note = if at.is_empty() {
            Vec::new()
        } else {
            wrap(&format!("at {at}"), 30)
        };
        let duration = self.study.duration_ns();
        let (t_div, t_unit) = time_scale(duration);
        let time_label = format!("simulated time ({t_unit})");

        // One line a compared value, over simulated time; the caller adds a reference line
        // or a fixed top where the chart has one.
        let over_time =
            |title: &str, y_label: String, points: &dyn Fn(&RunData) -> Vec<(f64, f64)>| {
                LineChart {
                    title: title.into(),
                    x_label: time_label.clone(),
                    y_label,
                    series: refs
                        .iter()
                        .map(|(v, c, r)| Series::new(v.clone(), *c, points(r)))
                        .collect(),
                    log_y: false,
                    hline: None,
                    notes: at_note.clone(),
                    y_top: None,
                }
            };

        // Link throughput, each compared value on the same axes.
        let max_bw = refs
            .iter()
            .map(|(_, _, r)| forward_bandwidth(r))
            .max()
            .unwrap_or(0);
        let mut tc = over_time(
            "Link throughput over time",
            "link throughput (MB/s)".into(),
            &|r| throughput(r, t_div),
        );
        tc.hline = (max_bw > 0).then(|| HLine {
            y: max_bw as f64 / 1e6,
            label: format!("bandwidth {}", human::rate(max_bw)),
        });
        if refs.len() > 1 && !tc.series.is_empty() {
            tc.notes.insert(0, format!("by {}", self.series_title()));
        }
        tc.notes.push("data + control bytes,".into());
        tc.notes.push("primary -> secondary".into());
        out.push(line("throughput.svg", &tc)?);

        let mut util = over_time(
            "Link utilisation over time",
            "busy time of the link (%)".into(),
            &|r| utilisation(r, t_div),
        );
        util.y_top = Some(100.0);
        out.push(line("utilisation.svg", &util)?);

        // Lag in bytes and RPO in seconds.
        let lag_max = refs
            .iter()
            .flat_map(|(_, _, r)| lag_sum(r, 1.0, 1.0))
            .map(|p| p.1)
            .fold(0.0, f64::max);
        let (b_div, b_unit) = bytes_scale(lag_max);
        let lag = over_time(
            "Replication lag over time",
            format!("bytes written, not yet on the SVOL ({b_unit})"),
            &|r| lag_sum(r, t_div, b_div),
        );
        out.push(line("lag_bytes.svg", &lag)?);
        let rpo_max = refs
            .iter()
            .flat_map(|(_, _, r)| rpo(r, 1.0, 1.0))
            .map(|p| p.1)
            .fold(self.study.rpo_target_ns as f64 / 1e9, f64::max);
        let (s_div, s_unit) = seconds_scale(rpo_max);
        let target = self.study.rpo_target_ns as f64 / 1e9 / s_div;
        let mut rpo_chart = over_time(
            "RPO over time (age of the oldest write not yet on the SVOL)",
            format!("RPO ({s_unit})"),
            &|r| rpo(r, t_div, s_div),
        );
        rpo_chart.hline = Some(HLine {
            y: target,
            label: format!("target {}", human::duration(self.study.rpo_target_ns)),
        });
        // A shorter alt text than the title.
        out.push((
            "rpo.svg".into(),
            "RPO over time".into(),
            charts::line_chart(&rpo_chart)?,
        ));

        // Host write latency percentiles.
        let worst = refs
            .iter()
            .map(|(_, _, r)| r.result.write_p999_ns)
            .max()
            .unwrap_or(0);
        let (l_div, l_unit) = if worst >= 10_000_000_000 {
            (1e9, "s")
        } else {
            (1e6, "ms")
        };
        let pct = |f: fn(&RunData) -> u64| -> Vec<Option<f64>> {
            refs.iter()
                .map(|(_, _, r)| Some(f(r) as f64 / l_div))
                .collect()
        };
        let lat = BarChart {
            title: "Host write latency (production hosts)".into(),
            y_label: format!("write latency ({l_unit}, log scale)"),
            categories: refs.iter().map(|(v, _, _)| v.clone()).collect(),
            groups: vec![
                BarGroup::new("p50", 5, pct(|r| r.result.write_p50_ns)),
                BarGroup::new("p99", 0, pct(|r| r.result.write_p99_ns)),
                BarGroup::new("p99.9", 7, pct(|r| r.result.write_p999_ns)),
            ],
            log_y: true,
            value_labels: ValueLabels::Sig,
            si_ticks: false,
            notes: {
                let mut n = at_note.clone();
                n.push(format!("0 {l_unit} (acknowledged at once)"));
                n.push("shows no bar".into());
                n
            },
        };
        out.push(bar("latency.svg", &lat)?);

        // Cost and RPO against bandwidth.
        let answers = self.answers();
        let distinct_bw = {
            let mut b: Vec<u64> = answers
                .iter()
                .flat_map(|a| a.runs.iter().map(|r| bandwidth(r)))
                .collect();
            b.sort_unstable();
            b.dedup();
            b.len()
        };
        let mut bw_free: Vec<usize> = self.bandwidth_keys.clone();
        bw_free.extend(self.series_key);
        let bw_note = self.reference_note(&bw_free);
        let mut legend_notes = vec![
            "filled: meets the RPO target".to_string(),
            "hollow: misses it".to_string(),
        ];
        if !bw_note.is_empty() {
            legend_notes.extend(wrap(&format!("at {bw_note}"), 30));
        }
        let colors: BTreeMap<String, usize> = self.series_values().into_iter().collect();
        if distinct_bw >= 2 {
            let by_bandwidth = |f: &dyn Fn(&RunData) -> f64| -> Vec<Series> {
                answers
                    .iter()
                    .map(|a| Series {
                        label: a.label.clone(),
                        color: colors.get(&a.label).copied().unwrap_or(0),
                        points: a
                            .runs
                            .iter()
                            .map(|r| (bandwidth(r) as f64 / 1e6, f(r)))
                            .collect(),
                        marks: a.runs.iter().map(|r| self.meets_target(r)).collect(),
                    })
                    .collect()
            };
            let cost = LineChart {
                title: "Monthly link cost by bandwidth".into(),
                x_label: "provisioned bandwidth (MB/s)".into(),
                y_label: "cost ($ per month)".into(),
                series: by_bandwidth(&|r| r.result.cost_total),
                log_y: false,
                hline: None,
                notes: legend_notes.clone(),
                y_top: None,
            };
            out.push(line("cost.svg", &cost)?);
            let rb = LineChart {
                title: "Worst RPO by bandwidth".into(),
                x_label: "provisioned bandwidth (MB/s)".into(),
                y_label: "max RPO (s, log scale)".into(),
                series: by_bandwidth(&|r| r.result.max_rpo_ns as f64 / 1e9),
                log_y: true,
                hline: Some(HLine {
                    y: self.study.rpo_target_ns as f64 / 1e9,
                    label: format!("target {}", human::duration(self.study.rpo_target_ns)),
                }),
                notes: legend_notes,
                y_top: None,
            };
            out.push(line("rpo_bandwidth.svg", &rb)?);
        } else {
            let money = |f: fn(&RunData) -> f64| -> Vec<Option<f64>> {
                refs.iter().map(|(_, _, r)| Some(f(r))).collect()
            };
            let cost = BarChart {
                title: "Monthly link cost".into(),
                y_label: "cost ($ per month)".into(),
                categories: refs.iter().map(|(v, _, _)| v.clone()).collect(),
                groups: vec![
                    BarGroup::new("transfer", 5, money(|r| r.result.cost_transfer)),
                    BarGroup::new("provisioned", 0, money(|r| r.result.cost_provisioned)),
                    BarGroup::new("total", 7, money(|r| r.result.cost_total)),
                ],
                log_y: false,
                value_labels: ValueLabels::Sig,
                si_ticks: false,
                notes: at_note.clone(),
            };
            out.push(bar("cost.svg", &cost)?);
        }

        // The second remote mirror: conventional full copy versus atomic split + no-copy.
        let seconds: Vec<&(String, usize, &RunData)> = refs
            .iter()
            .filter(|(_, _, r)| r.result.has_second)
            .collect();
        if !seconds.is_empty() {
            let cats: Vec<String> = seconds.iter().map(|(v, _, _)| v.clone()).collect();
            let both = |f: &dyn Fn(&RunData) -> (f64, f64)| -> Vec<BarGroup> {
                let (conv, nocopy): (Vec<_>, Vec<_>) = seconds.iter().map(|(_, _, r)| f(r)).unzip();
                vec![
                    BarGroup::new("full copy", 0, conv.into_iter().map(Some).collect()),
                    BarGroup::new(
                        "atomic split + no-copy",
                        1,
                        nocopy.into_iter().map(Some).collect(),
                    ),
                ]
            };
            let top = BarChart {
                title: "Bytes sent over the link to build it".into(),
                y_label: "bytes (log scale)".into(),
                categories: cats.clone(),
                groups: both(&|r| {
                    (
                        r.result.second_conventional_bytes as f64,
                        r.result.second_nocopy_bytes as f64,
                    )
                }),
                log_y: true,
                value_labels: ValueLabels::Bytes,
                si_ticks: true,
                notes: Vec::new(),
            };
            let bottom = BarChart {
                title: "Time until it is PAIR".into(),
                y_label: "seconds (log scale)".into(),
                categories: cats,
                groups: both(&|r| {
                    (
                        r.result.second_conventional_ns as f64 / 1e9,
                        r.result.second_nocopy_ns as f64 / 1e9,
                    )
                }),
                log_y: true,
                value_labels: ValueLabels::Seconds,
                si_ticks: false,
                notes: Vec::new(),
            };
            let group = seconds[0]
                .2
                .summary
                .second_mirror
                .as_ref()
                .map_or("", |m| m.group.as_str());
            let title = format!("Building the second remote mirror {group}");
            let mut notes = vec!["by copy mode of the".to_string(), "mirrors".to_string()];
            notes.extend(at_note.iter().cloned());
            let svg = charts::bar_stack(&title, &top, &bottom, &notes)?;
            out.push(("second_mirror.svg".into(), title, svg));
        }

        // Bitmap granularity: what a resync sends against what the hosts wrote.
        if let Some(ck) = self.chunk_key {
            let runs = self.runs_at_reference(&[ck]);
            if !runs.is_empty() {
                let val = |f: fn(&RunData) -> u64| -> Vec<Option<f64>> {
                    runs.iter().map(|r| Some(f(r) as f64)).collect()
                };
                let note = self.reference_note(&[ck]);
                let c = BarChart {
                    title: "Resync traffic by bitmap granularity".into(),
                    y_label: "bytes (log scale)".into(),
                    categories: runs
                        .iter()
                        .map(|r| format!("chunk {}", r.params[ck]))
                        .collect(),
                    groups: vec![
                        BarGroup::new("written by hosts", 2, val(|r| r.result.written_bytes)),
                        BarGroup::new("pending in bitmap", 1, val(|r| r.result.resync_dirty_bytes)),
                        BarGroup::new("sent by resync", 4, val(|r| r.result.resync_bytes)),
                    ],
                    log_y: true,
                    value_labels: ValueLabels::Bytes,
                    si_ticks: true,
                    notes: if note.is_empty() {
                        Vec::new()
                    } else {
                        wrap(&format!("at {note}"), 30)
                    },
                };
                out.push(bar("bitmap.svg", &c)?);
            }
        }
        Ok(out)
    }
}

/// A chart's entry in [`Analysis::charts`], its title as the alt text.
fn line(file: &str, chart: &LineChart) -> Result<(String, String, String), ChartError> {
    Ok((file.into(), chart.title.clone(), charts::line_chart(chart)?))
}

/// As [`line`], for a bar chart.
fn bar(file: &str, chart: &BarChart) -> Result<(String, String, String), ChartError> {
    Ok((file.into(), chart.title.clone(), charts::bar_chart(chart)?))
}

impl RunData {
    /// A name for a run with no varied key: its remote copy mode.
    fn result_label(&self) -> String {
        self.summary
            .mirrors
            .iter()
            .find(|m| m.mode != "local")
            .map_or_else(|| "run".to_string(), |m| m.mode.clone())
    }
}

/// The reference value of each key: the scenario's own when tried, else the first tried.
fn reference_values(study: &Study) -> Vec<String> {
    let first = |k: usize| {
        study
            .runs
            .iter()
            .map(|r| r.params[k].clone())
            .next()
            .unwrap_or_default()
    };
    let Some(meta) = &study.meta else {
        return Vec::new();
    };
    let base = fs::read_to_string(study.dir.join("scenario.toml"))
        .ok()
        .and_then(|t| scenario::parse(&t, Path::new(&meta.scenario_path)).ok());
    meta.varies
        .iter()
        .enumerate()
        .map(|(k, v)| {
            base.as_ref()
                .and_then(|s| Param::parse(&v.key, s).ok().and_then(|p| p.value_in(s)))
                .filter(|x| v.values.contains(x))
                .unwrap_or_else(|| first(k))
        })
        .collect()
}

/// The colour of a copy mode, the same in every chart.
pub fn mode_color(mode: &str) -> usize {
    CopyMode::ALL
        .iter()
        .position(|m| m.to_string() == mode)
        .unwrap_or(6)
}

/// Sum of the links' bandwidths of a run, bytes/s.
pub fn bandwidth(r: &RunData) -> u64 {
    r.summary
        .links
        .iter()
        .map(|l| l.bandwidth_bytes_per_s)
        .sum()
}

fn forward_bandwidth(r: &RunData) -> u64 {
    r.summary
        .links
        .iter()
        .map(|l| l.bandwidth_bytes_per_s)
        .max()
        .unwrap_or(0)
}

/// Per link, the direction that carried the most bytes (primary to secondary).
fn forward_directions(r: &RunData) -> BTreeMap<String, String> {
    let mut totals: BTreeMap<(String, String), u64> = BTreeMap::new();
    for u in &r.series.link_usage {
        *totals
            .entry((u.link.clone(), u.direction.clone()))
            .or_default() += u.data_bytes + u.control_bytes;
    }
    let mut best: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for ((link, dir), n) in totals {
        let e = best.entry(link).or_insert((0, dir.clone()));
        if n > e.0 {
            *e = (n, dir);
        }
    }
    best.into_iter().map(|(l, (_, d))| (l, d)).collect()
}

/// MB/s over time, summed over the links' forward directions.
fn throughput(r: &RunData, t_div: f64) -> Vec<(f64, f64)> {
    let fwd = forward_directions(r);
    let mut by_t: BTreeMap<u64, f64> = BTreeMap::new();
    for u in &r.series.link_usage {
        if fwd.get(&u.link) == Some(&u.direction) {
            *by_t.entry(ms(u.time_s)).or_default() += u.bytes_per_s as f64 / 1e6;
        }
    }
    by_t.into_iter()
        .map(|(t, y)| (t as f64 / 1e3 / t_div, y))
        .collect()
}

/// Busy percentage over time, the busiest link direction.
fn utilisation(r: &RunData, t_div: f64) -> Vec<(f64, f64)> {
    let mut by_t: BTreeMap<u64, f64> = BTreeMap::new();
    for u in &r.series.link_usage {
        let e = by_t.entry(ms(u.time_s)).or_default();
        *e = e.max(u.utilisation * 100.0);
    }
    by_t.into_iter()
        .map(|(t, y)| (t as f64 / 1e3 / t_div, y))
        .collect()
}

/// Lag bytes over time, summed over remote mirrors.
fn lag_sum(r: &RunData, t_div: f64, b_div: f64) -> Vec<(f64, f64)> {
    let mut by_t: BTreeMap<u64, f64> = BTreeMap::new();
    for l in &r.series.lag {
        *by_t.entry(ms(l.time_s)).or_default() += l.lag_bytes as f64;
    }
    by_t.into_iter()
        .map(|(t, y)| (t as f64 / 1e3 / t_div, y / b_div))
        .collect()
}

/// RPO over time, the worst remote mirror.
fn rpo(r: &RunData, t_div: f64, s_div: f64) -> Vec<(f64, f64)> {
    let mut by_t: BTreeMap<u64, f64> = BTreeMap::new();
    for l in &r.series.lag {
        let e = by_t.entry(ms(l.time_s)).or_default();
        *e = e.max(l.rpo_s);
    }
    by_t.into_iter()
        .map(|(t, y)| (t as f64 / 1e3 / t_div, y / s_div))
        .collect()
}

/// A CSV time in seconds as integer milliseconds (a stable map key).
fn ms(time_s: f64) -> u64 {
    (time_s * 1e3).round() as u64
}

/// The unit of a time axis for a run of `ns`: (seconds per unit, unit).
fn time_scale(ns: u64) -> (f64, &'static str) {
    let s = ns as f64 / 1e9;
    if s <= 300.0 {
        (1.0, "s")
    } else if s <= 3.0 * 3600.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

/// (bytes per unit, unit) for values up to `max` bytes.
fn bytes_scale(max: f64) -> (f64, &'static str) {
    if max >= 1e9 {
        (1e9, "GB")
    } else if max >= 1e6 {
        (1e6, "MB")
    } else {
        (1e3, "kB")
    }
}

/// (seconds per unit, unit) for values up to `max` seconds.
fn seconds_scale(max: f64) -> (f64, &'static str) {
    if max < 1.0 {
        (1e-3, "ms")
    } else if max <= 600.0 {
        (1.0, "s")
    } else if max <= 3.0 * 3600.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

/// Splits `text` into lines of at most about `width` characters at spaces or commas.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_inclusive([' ', ',']) {
        if !cur.is_empty() && cur.len() + word.trim_end().len() > width {
            lines.push(cur.trim_end().to_string());
            cur.clear();
        }
        cur.push_str(word);
    }
    if !cur.trim().is_empty() {
        lines.push(cur.trim_end().to_string());
    }
    lines
}

/// A rate printed for tables ("50MB/s"), or "-".
pub fn rate_of(r: &RunData) -> String {
    let b = bandwidth(r);
    if b == 0 {
        "-".into()
    } else {
        human::rate(b)
    }
}

/// Dollars with thousands separators: $12,345.67.
pub fn dollars(x: f64) -> String {
    let cents = (x * 100.0).round() as i128;
    let (sign, cents) = if cents < 0 {
        ("-", -cents)
    } else {
        ("", cents)
    };
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

/// The bandwidth key's value of a run parsed back, for sorting labels.
pub fn parse_rate(s: &str) -> Option<u64> {
    Rate::from_str(s).ok().map(|r| r.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_wrapping_print_stably() {
        assert_eq!(dollars(12345.678), "$12,345.68");
        assert_eq!(dollars(0.5), "$0.50");
        assert_eq!(dollars(999.0), "$999.00");
        assert_eq!(
            wrap("at link.wan.bandwidth=50MB/s, seed=1", 30),
            ["at link.wan.bandwidth=50MB/s,", "seed=1"]
        );
        assert_eq!(time_scale(120_000_000_000), (1.0, "s"));
        assert_eq!(bytes_scale(2.5e9), (1e9, "GB"));
    }
}
