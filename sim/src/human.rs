//! Numbers for people: byte counts, durations and rates as tables, CSV columns and chart
//! labels print them. One module, so a size or a time reads the same in the table `run`
//! prints, in `sweep.csv` and in the report.
//!
//! The CSV forms ([`seconds_6`], [`millis_3`], [`seconds_3`]) are made from integers, so they
//! are byte-stable; the table and label forms round. None parses back: for the exact,
//! parseable forms a scenario file uses, see [`crate::units`].

use crate::units::Rate;

/// A byte count for tables, rounded to one decimal in the largest SI unit it reaches
/// ("2.4 GB", "512 B"); not parseable back, use [`crate::units::Bytes`]'s `Display` for that.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1_000 {
        return format!("{n} B");
    }
    let n = u128::from(n);
    let mut unit_size = 1_000u128;
    let mut index = 0;
    while index + 1 < UNITS.len() && n >= unit_size * 1_000 {
        unit_size *= 1_000;
        index += 1;
    }
    loop {
        let tenths = (n * 10 + unit_size / 2) / unit_size;
        // 999.96 kB rounds to 1000.0 kB: show it as 1.0 MB instead.
        if tenths >= 10_000 && index + 1 < UNITS.len() {
            unit_size *= 1_000;
            index += 1;
            continue;
        }
        return format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[index]);
    }
}

/// Nanoseconds as a short human duration ("1.2 ms", "3.4 s", "1.5 h").
pub fn duration(ns: u64) -> String {
    let f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} us", f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", f / 1e6)
    } else if ns < 120_000_000_000 {
        format!("{:.1} s", f / 1e9)
    } else if ns < 7_200_000_000_000 {
        format!("{:.1} min", f / 6e10)
    } else {
        format!("{:.2} h", f / 3.6e12)
    }
}

/// A rate as a scenario writes it ("50MB/s").
pub fn rate(bytes_per_s: u64) -> String {
    Rate(bytes_per_s).to_string()
}

/// Nanoseconds as seconds with 6 decimals, from integers (byte-stable).
pub fn seconds_6(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1_000)
}

/// Nanoseconds as milliseconds with 3 decimals.
pub fn millis_3(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000_000, ns % 1_000_000 / 1_000)
}

/// Seconds with millisecond precision, for CSV time columns.
pub fn seconds_3(ns: u64) -> String {
    format!(
        "{}.{:03}",
        ns / 1_000_000_000,
        ns % 1_000_000_000 / 1_000_000
    )
}

/// Bytes for a label: "1.5 GB", "320 B".
pub fn bytes_label(v: f64) -> String {
    const UNITS: [(f64, &str); 4] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")];
    for (div, unit) in UNITS {
        if v >= div {
            return format!("{} {unit}", fmt_sig(v / div));
        }
    }
    format!("{} B", fmt_sig(v))
}

/// Seconds for a label: "2.5 h", "39.6 s", "22.6 ms", "15 us".
pub fn seconds_label(v: f64) -> String {
    if v >= 7200.0 {
        format!("{} h", fmt_sig(v / 3600.0))
    } else if v >= 120.0 {
        format!("{} min", fmt_sig(v / 60.0))
    } else if v >= 1.0 {
        format!("{} s", fmt_sig(v))
    } else if v >= 1e-3 {
        format!("{} ms", fmt_sig(v * 1e3))
    } else {
        format!("{} us", fmt_sig(v * 1e6))
    }
}

/// Prints a tick or value: fixed `decimals`, "-0" as "0", no exponent.
pub fn fmt_num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        format!("{:.decimals$}", 0.0)
    } else {
        s
    }
}

/// Three significant digits, no exponent, no trailing zeros: 512, 2.8, 0.0123, 0.
pub fn fmt_sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".to_string();
    }
    let mag = v.abs().log10().floor() as i32;
    let decimals = (2 - mag).clamp(0, 9) as usize;
    let s = fmt_num(v, decimals);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_for_tables() {
        let cases: &[(u64, &str)] = &[
            (0, "0 B"),
            (512, "512 B"),
            (999, "999 B"),
            (1_000, "1.0 kB"),
            (1_536, "1.5 kB"),
            (999_949, "999.9 kB"),
            (999_950, "1.0 MB"),
            (2_408_570_000, "2.4 GB"),
            (549_755_813_888, "549.8 GB"),
            (u64::MAX, "18.4 EB"),
        ];
        for &(value, want) in cases {
            assert_eq!(bytes(value), want, "{value}");
        }
    }

    #[test]
    fn csv_times_print_from_integers() {
        assert_eq!(seconds_6(1_500_000_123), "1.500000");
        assert_eq!(millis_3(12_345_678), "12.345");
        assert_eq!(seconds_3(1_500_000_123), "1.500");
    }

    #[test]
    fn durations_and_labels_pick_their_unit() {
        assert_eq!(duration(999), "999 ns");
        assert_eq!(duration(1_500_000), "1.5 ms");
        assert_eq!(duration(150_000_000_000), "2.5 min");
        assert_eq!(bytes_label(1.54e9), "1.54 GB");
        assert_eq!(bytes_label(320.0), "320 B");
        assert_eq!(seconds_label(0.0226), "22.6 ms");
        assert_eq!(rate(50_000_000), "50MB/s");
    }
}
