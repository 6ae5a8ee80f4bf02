//! SVG charts with plotters: line charts over time or bandwidth, grouped bar charts and two
//! bar charts side by side.
//!
//! This module owns how a chart looks and nothing about what it shows: callers hand it plain
//! series of numbers already in display units (MB/s, s, ms, $) with their labels. Every chart
//! has a title, axis labels with units and, when it has more than one series, a legend in its
//! own panel right of the plot, so the legend never covers data. Output is deterministic: the
//! same input gives byte-identical SVG (plotters writes integer pixel positions, and every tick
//! label goes through [`fmt_num`]). SVG text names a font family and needs no font at build
//! time.

use crate::human::{bytes_label, fmt_num, fmt_sig, seconds_label};
use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt;

/// Width and height of a chart in pixels.
pub const SIZE: (u32, u32) = (960, 440);
const LEGEND_WIDTH: u32 = 200;
const FONT: &str = "sans-serif";

/// Okabe–Ito colours (readable with colour-blindness); index 0..5 are the copy modes in
/// [`mirrorlab_model::CopyMode`] order, so a mode keeps its colour in every chart.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // green
    RGBColor(204, 121, 167), // purple
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(120, 120, 120), // grey
    RGBColor(0, 0, 0),       // black
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const GRID: RGBColor = RGBColor(225, 225, 225);
const AXIS: RGBColor = RGBColor(90, 90, 90);

/// A chart could not be drawn (plotters refused a range or element).
#[derive(Debug, thiserror::Error)]
#[error("chart {title:?}: {message}")]
pub struct ChartError {
    pub title: String,
    pub message: String,
}

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    /// Index into [`PALETTE`].
    pub color: usize,
    pub points: Vec<(f64, f64)>,
    /// Empty: a plain line. Otherwise one flag per point: a filled marker (true) or a hollow
    /// one (false), e.g. "meets the RPO target" or not.
    pub marks: Vec<bool>,
}

impl Series {
    pub fn new(label: impl Into<String>, color: usize, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            color,
            points,
            marks: Vec::new(),
        }
    }
}

/// A horizontal reference line (e.g. the RPO target).
#[derive(Clone, Debug, PartialEq)]
pub struct HLine {
    pub y: f64,
    pub label: String,
}

/// A line chart. Values are in display units; `log_y` draws the y axis in powers of ten
/// (values at or below 0 are left out).
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_y: bool,
    pub hline: Option<HLine>,
    /// Lines of small print under the legend.
    pub notes: Vec<String>,
    /// The top of a linear y axis when the values have one (100 for a percentage).
    pub y_top: Option<f64>,
}

/// How bar values are printed above the bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueLabels {
    None,
    /// Three significant digits of the value as drawn.
    Sig,
    /// The value is bytes: "1.5 GB", "320 B".
    Bytes,
    /// The value is seconds: "39.6 s", "22.6 ms".
    Seconds,
}

/// One kind of bar in a grouped bar chart (e.g. "p99"), one value per category.
#[derive(Clone, Debug, PartialEq)]
pub struct BarGroup {
    pub label: String,
    pub color: usize,
    /// `None`: no bar in that category.
    pub values: Vec<Option<f64>>,
}

impl BarGroup {
    pub fn new(label: impl Into<String>, color: usize, values: Vec<Option<f64>>) -> Self {
        BarGroup {
            label: label.into(),
            color,
            values,
        }
    }
}

/// Bars by category (x axis), one bar of each group per category.
#[derive(Clone, Debug, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub y_label: String,
    pub categories: Vec<String>,
    pub groups: Vec<BarGroup>,
    pub log_y: bool,
    pub value_labels: ValueLabels,
    /// Tick labels of a log axis with k, M, G suffixes (for bytes).
    pub si_ticks: bool,
    pub notes: Vec<String>,
}

/// Decimals that tell ticks `step` apart.
fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) || step >= 1.0 {
        0
    } else {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    }
}

/// A power-of-ten value as plain decimal: 0.01, 0.1, 1, 10, 1000; with `si`, 1k, 10M, 1G.
fn fmt_pow10(e: i32, si: bool) -> String {
    if e < 0 {
        return fmt_num(10f64.powi(e), (-e) as usize);
    }
    if si && e >= 3 {
        let (div, suffix) = match e {
            3..=5 => (3, "k"),
            6..=8 => (6, "M"),
            9..=11 => (9, "G"),
            _ => (12, "T"),
        };
        return format!("{}{suffix}", 10u64.pow((e - div) as u32));
    }
    format!("{}", 10f64.powi(e))
}

/// A "nice" axis top at or above `max` (1, 2, 2.5, 5 × 10^k) and its tick step.
fn nice_top(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 0.2);
    }
    let raw = max * 1.05;
    let mag = 10f64.powf(raw.log10().floor());
    let top = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&t| t >= raw)
        .unwrap_or(10.0 * mag);
    // About five ticks.
    let step = [0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|&s| top / s <= 6.0)
        .unwrap_or(top / 5.0);
    (top, step)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

fn err(title: &str, e: impl fmt::Display) -> ChartError {
    ChartError {
        title: title.to_string(),
        message: e.to_string(),
    }
}

/// Renders `draw` on a fresh white canvas of [`SIZE`] and returns the SVG text.
fn render(
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(title, e))?;
        draw(&root)?;
        root.present().map_err(|e| err(title, e))?;
    }
    Ok(svg)
}

/// A legend entry: a line sample, an optional marker, and a label.
struct LegendItem {
    label: String,
    color: RGBColor,
    line: bool,
    dashed: bool,
    filled_box: bool,
}

fn draw_legend(
    area: &Area<'_>,
    title: &str,
    items: &[LegendItem],
    notes: &[String],
) -> Result<(), ChartError> {
    let style = (FONT, 14).into_font().color(&BLACK);
    let small = (FONT, 12).into_font().color(&AXIS);
    let mut y = 60;
    for item in items {
        if item.filled_box {
            area.draw(&Rectangle::new(
                [(8, y - 6), (28, y + 6)],
                item.color.filled(),
            ))
            .map_err(|e| err(title, e))?;
        } else if item.dashed {
            for x in (4..32).step_by(8) {
                area.draw(&PathElement::new(
                    vec![(x, y), (x + 5, y)],
                    item.color.stroke_width(2),
                ))
                .map_err(|e| err(title, e))?;
            }
        } else if item.line {
            area.draw(&PathElement::new(
                vec![(4, y), (32, y)],
                item.color.stroke_width(3),
            ))
            .map_err(|e| err(title, e))?;
        }
        area.draw(&Text::new(item.label.clone(), (40, y - 8), style.clone()))
            .map_err(|e| err(title, e))?;
        y += 24;
    }
    y += 8;
    for n in notes {
        area.draw(&Text::new(n.clone(), (4, y - 8), small.clone()))
            .map_err(|e| err(title, e))?;
        y += 18;
    }
    Ok(())
}

/// Splits off the legend panel when there is anything to put in it.
fn with_legend<'a>(root: &Area<'a>, wanted: bool) -> (Area<'a>, Option<Area<'a>>) {
    if wanted {
        let (w, _) = root.dim_in_pixel();
        let (plot, legend) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
        (plot, Some(legend))
    } else {
        (root.clone(), None)
    }
}

fn draw_no_data(area: &Area<'_>, title: &str) -> Result<(), ChartError> {
    let (_, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        format!("{title}: no data"),
        (20, (h / 2) as i32),
        (FONT, 18).into_font().color(&AXIS),
    ))
    .map_err(|e| err(title, e))?;
    Ok(())
}

/// The y axis's ticks: every decade of a log axis (its range is in powers of ten), at most
/// twelve, else every `step` of a linear one; labelled so that ticks tell apart.
struct YTicks {
    log: bool,
    /// k, M, G suffixes on a log axis.
    si: bool,
    count: usize,
    decimals: usize,
}

impl YTicks {
    fn new(log: bool, si: bool, range: std::ops::Range<f64>, step: f64) -> YTicks {
        let count = if log {
            ((range.end - range.start).round() as usize + 1).min(12)
        } else {
            ((range.end - range.start) / step).round() as usize + 1
        };
        YTicks {
            log,
            si,
            count,
            decimals: decimals_for(step),
        }
    }

    fn label(&self, v: f64) -> String {
        if self.log {
            fmt_pow10(v.round() as i32, self.si)
        } else {
            fmt_num(v, self.decimals)
        }
    }
}

/// What every chart's mesh shares: the y axis (description and ticks) and the fonts, grid and
/// axis colours; the caller has set the x axis, which differs between line and bar charts.
fn house_style<'m, 'a, 'b, X: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, RangedCoordf64, DB>,
    y_label: &str,
    ticks: &YTicks,
    y_fmt: &'b dyn Fn(&f64) -> String,
) -> &'m mut MeshStyle<'a, 'b, X, RangedCoordf64, DB> {
    mesh.y_desc(y_label)
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .y_labels(ticks.count)
        .y_label_formatter(y_fmt)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(AXIS)
}

/// Draws a line chart and returns the SVG.
pub fn line_chart(c: &LineChart) -> Result<String, ChartError> {
    render(&c.title, SIZE, |root| draw_line_chart(root, c))
}

fn draw_line_chart(root: &Area<'_>, c: &LineChart) -> Result<(), ChartError> {
    let t = c.title.as_str();
    let ylog = |y: f64| if c.log_y { y.log10() } else { y };
    let keep = |y: f64| y.is_finite() && (!c.log_y || y > 0.0);
    let pts: Vec<(f64, f64)> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .filter(|&(x, y)| x.is_finite() && keep(y))
        .collect();
    let mut items: Vec<LegendItem> = c
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| LegendItem {
            // A line drawn exactly over an earlier one says so, or it would look missing.
            label: match c.series[..i]
                .iter()
                .find(|e| e.points == s.points && !s.points.is_empty())
            {
                Some(e) => format!("{} (= {})", s.label, e.label),
                None => s.label.clone(),
            },
            color: color(s.color),
            line: true,
            dashed: false,
            filled_box: false,
        })
        .collect();
    if let Some(h) = &c.hline {
        items.push(LegendItem {
            label: h.label.clone(),
            color: BLACK,
            line: true,
            dashed: true,
            filled_box: false,
        });
    }
    let (plot, legend) = with_legend(
        root,
        items.len() > 1 || !c.notes.is_empty() || c.hline.is_some(),
    );
    if let Some(l) = &legend {
        draw_legend(l, t, &items, &c.notes)?;
    }
    if pts.is_empty() {
        return draw_no_data(&plot, t);
    }
    let (mut x0, mut x1) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &(x, _)| {
            (a.min(x), b.max(x))
        });
    if x0 >= 0.0 && x0 <= (x1 - x0) * 0.2 {
        x0 = 0.0;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let hline_y = c.hline.as_ref().map(|h| h.y).filter(|&y| keep(y));
    let ymax = pts
        .iter()
        .map(|p| p.1)
        .chain(hline_y)
        .fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1, y_step) = if c.log_y {
        let ymin = pts
            .iter()
            .map(|p| p.1)
            .chain(hline_y)
            .fold(f64::INFINITY, f64::min);
        let lo = ymin.log10().floor();
        let hi = (ymax.log10().ceil()).max(lo + 1.0);
        (lo, hi, 1.0)
    } else {
        let (top, step) = match c.y_top {
            Some(t) if ymax <= t => (t, nice_top(t / 1.05).1),
            _ => nice_top(ymax),
        };
        (0.0, top, step)
    };
    let x_step = (x1 - x0) / 8.0;
    let x_dec = decimals_for(x_step);
    let mut chart = ChartBuilder::on(&plot)
        .caption(t, (FONT, 22).into_font())
        .margin(12)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| err(t, e))?;
    let y_ticks = YTicks::new(c.log_y, false, y0..y1, y_step);
    let y_fmt = |v: &f64| y_ticks.label(*v);
    house_style(
        chart
            .configure_mesh()
            .x_desc(c.x_label.as_str())
            .x_labels(9)
            .x_label_formatter(&|v| fmt_num(*v, x_dec)),
        &c.y_label,
        &y_ticks,
        &y_fmt,
    )
    .draw()
    .map_err(|e| err(t, e))?;
    if let Some(h) = &c.hline {
        if keep(h.y) {
            let y = ylog(h.y);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0, y), (x1, y)],
                    8,
                    6,
                    BLACK.stroke_width(2),
                ))
                .map_err(|e| err(t, e))?;
        }
    }
    let n = c.series.len();
    for (i, s) in c.series.iter().enumerate() {
        let col = color(s.color);
        // Earlier series are drawn wider, so a later one on the same values shows as a core
        // inside them instead of hiding them.
        let width = 2 + 2 * (n - 1 - i).min(3) as u32 / 2;
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|&&(x, y)| x.is_finite() && keep(y))
            .map(|&(x, y)| (x, ylog(y)))
            .collect();
        chart
            .draw_series(LineSeries::new(points, col.stroke_width(width)))
            .map_err(|e| err(t, e))?;
        if !s.marks.is_empty() {
            for (&(x, y), &filled) in s.points.iter().zip(&s.marks) {
                if !(x.is_finite() && keep(y)) {
                    continue;
                }
                let style = if filled {
                    col.filled()
                } else {
                    col.stroke_width(2)
                };
                chart
                    .draw_series(std::iter::once(Circle::new((x, ylog(y)), 5, style)))
                    .map_err(|e| err(t, e))?;
                if !filled {
                    chart
                        .draw_series(std::iter::once(Circle::new(
                            (x, ylog(y)),
                            3,
                            WHITE.filled(),
                        )))
                        .map_err(|e| err(t, e))?;
                }
            }
        }
    }
    Ok(())
}

/// Draws a grouped bar chart and returns the SVG.
pub fn bar_chart(c: &BarChart) -> Result<String, ChartError> {
    render(&c.title, SIZE, |root| {
        let (plot, legend) = with_legend(root, c.groups.len() > 1 || !c.notes.is_empty());
        if let Some(l) = &legend {
            draw_legend(l, &c.title, &bar_items(c), &c.notes)?;
        }
        draw_bars(&plot, c)
    })
}

/// Two bar charts one above the other under one title (e.g. bytes and time), sharing a
/// legend.
pub fn bar_stack(
    title: &str,
    top: &BarChart,
    bottom: &BarChart,
    notes: &[String],
) -> Result<String, ChartError> {
    render(title, (SIZE.0, 2 * SIZE.1 - 80), |root| {
        let root = root
            .titled(title, (FONT, 22).into_font())
            .map_err(|e| err(title, e))?;
        let (plots, legend) = with_legend(&root, top.groups.len() > 1 || !notes.is_empty());
        if let Some(l) = &legend {
            draw_legend(l, title, &bar_items(top), notes)?;
        }
        let (_, ph) = plots.dim_in_pixel();
        let (a, b) = plots.split_vertically(ph / 2);
        draw_bars(&a, top)?;
        draw_bars(&b, bottom)
    })
}

fn bar_items(c: &BarChart) -> Vec<LegendItem> {
    if c.groups.len() < 2 {
        return Vec::new();
    }
    c.groups
        .iter()
        .map(|g| LegendItem {
            label: g.label.clone(),
            color: color(g.color),
            line: false,
            dashed: false,
            filled_box: true,
        })
        .collect()
}

fn draw_bars(plot: &Area<'_>, c: &BarChart) -> Result<(), ChartError> {
    let t = c.title.as_str();
    let keep = |y: f64| y.is_finite() && if c.log_y { y > 0.0 } else { y >= 0.0 };
    let values: Vec<f64> = c
        .groups
        .iter()
        .flat_map(|g| g.values.iter().flatten().copied())
        .filter(|&v| keep(v))
        .collect();
    if values.is_empty() || c.categories.is_empty() {
        return draw_no_data(plot, t);
    }
    let ymax = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1, y_step) = if c.log_y {
        let ymin = values.iter().copied().fold(f64::INFINITY, f64::min);
        // A bar at the floor would not show: keep a decade below the smallest.
        let lo = (ymin.log10() - 0.3).floor();
        // Headroom for the value labels.
        let hi = (ymax.log10() + 0.25).ceil().max(lo + 1.0);
        (lo, hi, 1.0)
    } else {
        let (top, step) = nice_top(
            ymax * if c.value_labels == ValueLabels::None {
                1.0
            } else {
                1.1
            },
        );
        (0.0, top, step)
    };
    let ylog = |y: f64| if c.log_y { y.log10() } else { y };
    let n = c.categories.len();
    let mut chart = ChartBuilder::on(plot)
        .caption(t, (FONT, 18).into_font())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(78)
        .build_cartesian_2d(-0.5..n as f64 - 0.5, y0..y1)
        .map_err(|e| err(t, e))?;
    let y_ticks = YTicks::new(c.log_y, c.si_ticks, y0..y1, y_step);
    let y_fmt = |v: &f64| y_ticks.label(*v);
    house_style(
        chart.configure_mesh().disable_x_mesh().x_labels(0),
        &c.y_label,
        &y_ticks,
        &y_fmt,
    )
    .draw()
    .map_err(|e| err(t, e))?;
    // Category names under the axis, centred on their bars (drawn on the whole area, in
    // pixels, since the plot area clips below the axis).
    let (bx, by) = plot.get_base_pixel();
    let cat_style =
        (FONT, 14)
            .into_font()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ));
    for (i, name) in c.categories.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(i as f64, y0));
        plot.draw(&Text::new(
            name.clone(),
            (px - bx, py - by + 8),
            cat_style.clone(),
        ))
        .map_err(|e| err(t, e))?;
    }
    let groups = c.groups.len().max(1) as f64;
    let width = 0.8 / groups;
    let label_style =
        (FONT, 12)
            .into_font()
            .color(&BLACK)
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            ));
    for (gi, g) in c.groups.iter().enumerate() {
        let col = color(g.color);
        for (ci, v) in g.values.iter().enumerate().take(n) {
            let Some(v) = v.filter(|&v| keep(v)) else {
                continue;
            };
            let left = ci as f64 - 0.4 + gi as f64 * width;
            let right = left + width * 0.92;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(left, y0), (right, ylog(v))],
                    col.filled(),
                )))
                .map_err(|e| err(t, e))?;
            let text = match c.value_labels {
                ValueLabels::None => continue,
                ValueLabels::Sig => fmt_sig(v),
                ValueLabels::Bytes => bytes_label(v),
                ValueLabels::Seconds => seconds_label(v),
            };
            // Leave out a label much wider than its bar rather than overprint a neighbour.
            let bar_px = chart.backend_coord(&(right, y0)).0 - chart.backend_coord(&(left, y0)).0;
            if (text.len() as i32) * 6 > bar_px * 2 {
                continue;
            }
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    ((left + right) / 2.0, ylog(v)),
                    label_style.clone(),
                )))
                .map_err(|e| err(t, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_stably() {
        assert_eq!(fmt_num(-0.0001, 2), "0.00");
        assert_eq!(fmt_num(1.5, 1), "1.5");
        assert_eq!(fmt_pow10(-2, false), "0.01");
        assert_eq!(fmt_pow10(3, false), "1000");
        assert_eq!(fmt_pow10(10, true), "10G");
        assert_eq!(nice_top(0.93), (1.0, 0.2));
        assert_eq!(decimals_for(0.25), 1);
        assert_eq!(fmt_sig(512.0), "512");
        assert_eq!(fmt_sig(2.80), "2.8");
        assert_eq!(fmt_sig(0.012345), "0.0123");
        assert_eq!(fmt_sig(123456.0), "123456");
    }

    #[test]
    fn same_input_same_svg() {
        let c = LineChart {
            title: "t".into(),
            x_label: "time (s)".into(),
            y_label: "MB/s".into(),
            series: vec![
                Series::new("sync", 0, vec![(0.0, 1.0), (1.0, 3.0)]),
                Series::new("async", 2, vec![(0.0, 2.0), (1.0, 2.5)]),
            ],
            log_y: false,
            hline: Some(HLine {
                y: 2.2,
                label: "target".into(),
            }),
            notes: vec!["note".into()],
            y_top: None,
        };
        let a = line_chart(&c).unwrap();
        assert_eq!(a, line_chart(&c).unwrap());
        assert!(a.contains("<svg") && a.contains("sync") && a.contains("time (s)"));
    }

    #[test]
    fn empty_charts_say_so() {
        let c = BarChart {
            title: "empty".into(),
            y_label: "ms".into(),
            categories: vec![],
            groups: vec![],
            log_y: true,
            value_labels: ValueLabels::None,
            si_ticks: false,
            notes: vec![],
        };
        assert!(bar_chart(&c).unwrap().contains("no data"));
    }
}
