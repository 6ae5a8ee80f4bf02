//! Quantities with units as scenario files write them: sizes (`"512GiB"`), rates (`"100MB/s"`,
//! `"1Gbit/s"`) and durations (`"5ms"`, `"2h"`).
//!
//! This module owns their parsing, their canonical printing (so a value written back into a
//! report or a sweep label parses to the same value) and their serde forms. Arithmetic is exact:
//! numbers are read as decimals, never through `f64`, so `"1.5GB"` is exactly 1,500,000,000
//! bytes; a result that is not whole is rounded to the nearest unit (half up). A number without
//! a unit is refused unless it is 0: there is no unit a reader could safely assume.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Reverse;
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A size in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

/// A rate in bytes per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(pub u64);

/// A span of simulated time in nanoseconds (the engine's clock unit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

/// The scenario name for [`Nanos`]; `std::time::Duration` is not used for simulated time.
pub type Duration = Nanos;

/// Which quantity failed to parse, so the message can show what a good one looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantity {
    Size,
    Rate,
    Duration,
}

impl Quantity {
    fn example(self) -> &'static str {
        match self {
            Quantity::Size => "a size like \"8KiB\" or \"512GiB\"",
            Quantity::Rate => "a rate like \"100MB/s\" or \"1Gbit/s\"",
            Quantity::Duration => "a duration like \"5ms\" or \"2h\"",
        }
    }

    /// What a unit-less number should have looked like.
    fn with_unit(self) -> &'static str {
        match self {
            Quantity::Size => "a size with a unit, e.g. \"4096B\" or \"8KiB\"",
            Quantity::Rate => "a rate with a unit, e.g. \"100MB/s\" or \"1Gbit/s\"",
            Quantity::Duration => "a duration with a unit, e.g. \"20min\" or \"500ms\"",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Quantity::Size => "size",
            Quantity::Rate => "rate",
            Quantity::Duration => "duration",
        }
    }

    fn max(self) -> &'static str {
        match self {
            Quantity::Size => "16EiB",
            Quantity::Rate => "16EiB/s",
            Quantity::Duration => "about 584 years",
        }
    }
}

/// Why a quantity did not parse; the message shows what a good one looks like.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum UnitError {
    #[error("expected {}, found {found:?}", .quantity.example())]
    Invalid { quantity: Quantity, found: String },
    #[error("{} {found:?} is too large: at most {}", .quantity.noun(), .quantity.max())]
    Overflow { quantity: Quantity, found: String },
    /// A number other than 0 without a unit: `duration = 20` once meant 20 ns and `journal = 8`
    /// 8 bytes, silently, where the writer likely meant minutes or GiB. Zero is zero in every
    /// unit, so it needs none. `found` is as written (quoted if it was a string).
    #[error("expected {}, found {found}", .quantity.with_unit())]
    NoUnit { quantity: Quantity, found: String },
}

/// A unit suffix and its value as the fraction `num / den` of the base unit.
struct Unit {
    suffix: &'static str,
    num: u128,
    den: u128,
}

const fn unit(suffix: &'static str, num: u128, den: u128) -> Unit {
    Unit { suffix, num, den }
}

/// Everything about one quantity: its units and how it prints and deserializes.
struct Table {
    quantity: Quantity,
    /// Units `Display` may choose from.
    display: &'static [Unit],
    /// Further spellings that parse but never print.
    aliases: &'static [Unit],
    zero: &'static str,
}

const K: u128 = 1_000;
const KI: u128 = 1_024;
const NS_PER_S: u128 = 1_000_000_000;

const SIZES: Table = Table {
    quantity: Quantity::Size,
    display: &[
        unit("B", 1, 1),
        unit("KiB", KI, 1),
        unit("MiB", KI * KI, 1),
        unit("GiB", KI * KI * KI, 1),
        unit("TiB", KI * KI * KI * KI, 1),
        unit("PiB", KI * KI * KI * KI * KI, 1),
        unit("EiB", KI * KI * KI * KI * KI * KI, 1),
        unit("kB", K, 1),
        unit("MB", K * K, 1),
        unit("GB", K * K * K, 1),
        unit("TB", K * K * K * K, 1),
        unit("PB", K * K * K * K * K, 1),
        unit("EB", K * K * K * K * K * K, 1),
    ],
    aliases: &[unit("KB", K, 1)],
    zero: "0B",
};

/// Rates print in byte units only, so every rate has one printed form; bit rates parse as a
/// `den` of 8.
const RATES: Table = Table {
    quantity: Quantity::Rate,
    display: &[
        unit("B/s", 1, 1),
        unit("kB/s", K, 1),
        unit("MB/s", K * K, 1),
        unit("GB/s", K * K * K, 1),
        unit("TB/s", K * K * K * K, 1),
        unit("PB/s", K * K * K * K * K, 1),
        unit("EB/s", K * K * K * K * K * K, 1),
        unit("KiB/s", KI, 1),
        unit("MiB/s", KI * KI, 1),
        unit("GiB/s", KI * KI * KI, 1),
        unit("TiB/s", KI * KI * KI * KI, 1),
    ],
    aliases: &[
        unit("KB/s", K, 1),
        unit("bit/s", 1, 8),
        unit("kbit/s", K, 8),
        unit("Kbit/s", K, 8),
        unit("Mbit/s", K * K, 8),
        unit("Gbit/s", K * K * K, 8),
        unit("Tbit/s", K * K * K * K, 8),
        unit("bps", 1, 8),
        unit("kbps", K, 8),
        unit("Kbps", K, 8),
        unit("Mbps", K * K, 8),
        unit("Gbps", K * K * K, 8),
        unit("Tbps", K * K * K * K, 8),
    ],
    zero: "0B/s",
};

const DURATIONS: Table = Table {
    quantity: Quantity::Duration,
    display: &[
        unit("ns", 1, 1),
        unit("us", K, 1),
        unit("ms", K * K, 1),
        unit("s", NS_PER_S, 1),
        unit("min", 60 * NS_PER_S, 1),
        unit("h", 3600 * NS_PER_S, 1),
    ],
    aliases: &[unit("µs", K, 1), unit("μs", K, 1)],
    zero: "0s",
};

/// At most this many decimals are read; more precision than that is never meaningful here and
/// the bound keeps the exact arithmetic within `u128`.
const MAX_DECIMALS: usize = 18;

/// Why [`scale_decimal`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecimalError {
    /// Not `digits` or `digits.digits`, or more than 18 decimals.
    Invalid,
    Overflow,
}

/// `number * num / den`, exactly and rounded half up, for a plain decimal `number` such as
/// `"42"` or `"1.5"` (no sign, no exponent). Shared with the trace readers' time fields.
pub(crate) fn scale_decimal(number: &str, num: u128, den: u128) -> Result<u128, DecimalError> {
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let dot_without_digits = number.contains('.') && frac_part.is_empty();
    if int_part.is_empty()
        || dot_without_digits
        || !digits(int_part)
        || !digits(frac_part)
        || frac_part.len() > MAX_DECIMALS
    {
        return Err(DecimalError::Invalid);
    }
    // Digits only, so `parse` fails only on a number too long for u128.
    let int_digits = int_part.trim_start_matches('0');
    let int: u128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().map_err(|_| DecimalError::Overflow)?
    };
    let frac: u128 = if frac_part.is_empty() {
        0
    } else {
        frac_part.parse().map_err(|_| DecimalError::Invalid)?
    };
    let scale = 10u128.pow(frac_part.len() as u32);

    let numerator = int
        .checked_mul(scale)
        .and_then(|n| n.checked_add(frac))
        .and_then(|n| n.checked_mul(num))
        .ok_or(DecimalError::Overflow)?;
    let denominator = scale * den;
    let mut value = numerator / denominator;
    if (numerator % denominator) * 2 >= denominator {
        value += 1;
    }
    Ok(value)
}

impl Table {
    /// Parses `"<decimal><spaces><unit>"` exactly; the unit may be left out of a zero only.
    fn parse(&self, s: &str) -> Result<u64, UnitError> {
        let quantity = self.quantity;
        let invalid = || UnitError::Invalid {
            quantity,
            found: s.to_string(),
        };
        let overflow = || UnitError::Overflow {
            quantity,
            found: s.to_string(),
        };
        let text = s.trim();
        let number_len = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, suffix) = text.split_at(number_len);
        let suffix = suffix.trim_start();
        if suffix.is_empty() && !number.is_empty() {
            return match scale_decimal(number, 1, 1) {
                Ok(0) => Ok(0),
                Ok(_) | Err(DecimalError::Overflow) => Err(UnitError::NoUnit {
                    quantity,
                    found: format!("{s:?}"),
                }),
                Err(DecimalError::Invalid) => Err(invalid()),
            };
        }
        let unit = self
            .display
            .iter()
            .chain(self.aliases)
            .find(|u| u.suffix == suffix)
            .ok_or_else(invalid)?;

        match scale_decimal(number, unit.num, unit.den) {
            Ok(value) => u64::try_from(value).map_err(|_| overflow()),
            Err(DecimalError::Invalid) => Err(invalid()),
            Err(DecimalError::Overflow) => Err(overflow()),
        }
    }

    /// The simplest exact form: fewest significant digits, then the larger unit ("1000KiB"
    /// rather than "1024kB", "1.5GB" rather than "1500MB", "10min" rather than "600s"); at most
    /// two decimals, so odd values stay in small units ("4097B", not "4.097kB").
    fn format(&self, value: u64) -> String {
        if value == 0 {
            return self.zero.to_string();
        }
        let value = u128::from(value);
        let mut best: Option<((usize, Reverse<u128>), String)> = None;
        for u in self.display {
            // The value in hundredths of the unit, if that is exact.
            let hundredths = value * 100 / u.num;
            if value < u.num || hundredths * u.num != value * 100 {
                continue;
            }
            let (int, frac) = (hundredths / 100, hundredths % 100);
            let mut text = int.to_string();
            let significant = if frac == 0 {
                text.trim_end_matches('0').len()
            } else {
                let decimals = format!("{frac:02}");
                text.push('.');
                text.push_str(decimals.trim_end_matches('0'));
                text.len() - 1
            };
            text.push_str(u.suffix);
            let key = (significant, Reverse(u.num));
            let better = match &best {
                Some((best_key, _)) => key < *best_key,
                None => true,
            };
            if better {
                best = Some((key, text));
            }
        }
        // The base unit (num = 1) always qualifies, so `best` is set.
        best.map(|(_, text)| text).unwrap_or_default()
    }
}

macro_rules! quantity_impls {
    ($ty:ident, $table:expr) => {
        impl FromStr for $ty {
            type Err = UnitError;
            fn from_str(s: &str) -> Result<Self, UnitError> {
                $table.parse(s).map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&$table.format(self.0))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(&$table).map($ty)
            }
        }
    };
}

quantity_impls!(Bytes, SIZES);
quantity_impls!(Rate, RATES);
quantity_impls!(Nanos, DURATIONS);

/// Reads a quantity from a string; a bare number (TOML integers arrive as `i64`, floats as
/// `f64`) only when it is 0, as [`Table::parse`] does for a unit-less string.
impl Visitor<'_> for &Table {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.quantity.example())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        self.parse(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        self.bare_number(v == 0, v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        self.bare_number(v == 0, v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        self.bare_number(v == 0.0, v)
    }
}

impl Table {
    fn bare_number<E: de::Error>(&self, zero: bool, v: impl fmt::Display) -> Result<u64, E> {
        if zero {
            Ok(0)
        } else {
            Err(E::custom(UnitError::NoUnit {
                quantity: self.quantity,
                found: v.to_string(),
            }))
        }
    }
}

/// The table form of a byte count, kept here for the callers that name it so.
pub use crate::human::bytes as human_bytes;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;
    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    #[test]
    fn sizes_parse_exactly() {
        let cases: &[(&str, u64)] = &[
            ("512GiB", 512 * GIB),
            ("8KiB", 8 * KIB),
            ("4 KiB", 4 * KIB),
            ("1MiB", MIB),
            ("2TiB", 2 * TIB),
            ("100MB", 100_000_000),
            ("1.5GB", 1_500_000_000),
            ("512B", 512),
            ("8kB", 8_000),
            ("8KB", 8_000),
            ("1TB", 1_000_000_000_000),
            ("0.5KiB", 512),
            ("1.5B", 2),
            ("0.4B", 0),
            (" 7B ", 7),
            ("15EiB", 15 << 60),
            ("18446744073709551615B", u64::MAX),
            ("0", 0),
            ("0.0", 0),
        ];
        for &(text, want) in cases {
            assert_eq!(text.parse::<Bytes>(), Ok(Bytes(want)), "{text}");
        }
    }

    #[test]
    fn rates_parse_exactly() {
        let cases: &[(&str, u64)] = &[
            ("100MB/s", 100_000_000),
            ("25MB/s", 25_000_000),
            ("1Gbit/s", 125_000_000),
            ("10Gbps", 1_250_000_000),
            ("500Mbit/s", 62_500_000),
            ("800KiB/s", 800 * KIB),
            ("1.5GB/s", 1_500_000_000),
            ("0MB/s", 0),
            ("4bit/s", 1),
            ("3bit/s", 0),
            ("12 KB/s", 12_000),
        ];
        for &(text, want) in cases {
            assert_eq!(text.parse::<Rate>(), Ok(Rate(want)), "{text}");
        }
    }

    #[test]
    fn durations_parse_exactly() {
        let cases: &[(&str, u64)] = &[
            ("2h", 7_200 * S),
            ("5ms", 5 * MS),
            ("30s", 30 * S),
            ("10min", 600 * S),
            ("1.5s", 1_500 * MS),
            ("250us", 250_000),
            ("250µs", 250_000),
            ("100ns", 100),
            ("0s", 0),
            ("0.0000000004s", 0),
            ("0.0000000005s", 1),
        ];
        for &(text, want) in cases {
            assert_eq!(text.parse::<Duration>(), Ok(Nanos(want)), "{text}");
        }
    }

    #[test]
    fn bad_input_says_what_was_expected() {
        let size = |s: &str| s.parse::<Bytes>().unwrap_err().to_string();
        let rate = |s: &str| s.parse::<Rate>().unwrap_err().to_string();
        let time = |s: &str| s.parse::<Duration>().unwrap_err().to_string();
        assert_eq!(
            size("12 apples"),
            r#"expected a size like "8KiB" or "512GiB", found "12 apples""#
        );
        for bad in [
            "", " ", "KiB", "-5KiB", "1.KiB", ".5KiB", "1..5KiB", "1.2.3B", "8kb", "8 Mb", "1e3B",
        ] {
            assert_eq!(
                size(bad),
                format!(r#"expected a size like "8KiB" or "512GiB", found {bad:?}"#)
            );
        }
        assert_eq!(
            rate("100MB"),
            r#"expected a rate like "100MB/s" or "1Gbit/s", found "100MB""#
        );
        assert_eq!(
            rate("100"),
            r#"expected a rate with a unit, e.g. "100MB/s" or "1Gbit/s", found "100""#
        );
        assert_eq!(
            rate("8Mb/s"),
            r#"expected a rate like "100MB/s" or "1Gbit/s", found "8Mb/s""#
        );
        for bad in ["", "-5s", "5 sec", "5m", "1.s", "5S"] {
            assert_eq!(
                time(bad),
                format!(r#"expected a duration like "5ms" or "2h", found {bad:?}"#)
            );
        }
        assert_eq!(
            size("1.0000000000000000001B"),
            r#"expected a size like "8KiB" or "512GiB", found "1.0000000000000000001B""#
        );
    }

    #[test]
    fn a_number_without_a_unit_is_refused_unless_it_is_zero() {
        assert_eq!(
            "20".parse::<Duration>().unwrap_err().to_string(),
            r#"expected a duration with a unit, e.g. "20min" or "500ms", found "20""#
        );
        assert_eq!(
            " 4096 ".parse::<Bytes>().unwrap_err().to_string(),
            r#"expected a size with a unit, e.g. "4096B" or "8KiB", found " 4096 ""#
        );
        assert_eq!(
            "99999999999999999999999999999999999999999"
                .parse::<Bytes>()
                .unwrap_err()
                .to_string(),
            r#"expected a size with a unit, e.g. "4096B" or "8KiB", found "99999999999999999999999999999999999999999""#
        );
        assert_eq!("0".parse::<Duration>(), Ok(Nanos(0)));
        assert_eq!("0".parse::<Rate>(), Ok(Rate(0)));
        assert_eq!(" 0.00 ".parse::<Bytes>(), Ok(Bytes(0)));
    }

    #[test]
    fn overflow_is_an_error() {
        let size = |s: &str| s.parse::<Bytes>().unwrap_err().to_string();
        assert_eq!(size("16EiB"), r#"size "16EiB" is too large: at most 16EiB"#);
        assert_eq!(
            size("18446744073709551616B"),
            r#"size "18446744073709551616B" is too large: at most 16EiB"#
        );
        let huge = format!("{}B", "9".repeat(60));
        assert_eq!(
            size(&huge),
            format!("size {huge:?} is too large: at most 16EiB")
        );
        assert_eq!(
            "99999999999999999999Tbit/s"
                .parse::<Rate>()
                .unwrap_err()
                .to_string(),
            r#"rate "99999999999999999999Tbit/s" is too large: at most 16EiB/s"#
        );
        assert_eq!(
            "5124096h".parse::<Duration>().unwrap_err().to_string(),
            r#"duration "5124096h" is too large: at most about 584 years"#
        );
        // Just below the limit still parses.
        assert_eq!(
            "5124095h".parse::<Duration>(),
            Ok(Nanos(5_124_095 * 3_600 * S))
        );
    }

    #[test]
    fn display_is_the_short_canonical_form() {
        let sizes: &[(u64, &str)] = &[
            (0, "0B"),
            (512, "512B"),
            (8 * KIB, "8KiB"),
            (512 * GIB, "512GiB"),
            (2 * TIB, "2TiB"),
            (100_000_000, "100MB"),
            (1_500_000_000, "1.5GB"),
            (1_000, "1kB"),
            (1_536, "1.5KiB"),
            (4_097, "4097B"),
            (1_024_000, "1000KiB"),
            (1_250, "1.25kB"),
            (2_560, "2.5KiB"),
            (u64::MAX, "18446744073709551615B"),
        ];
        for &(value, want) in sizes {
            assert_eq!(Bytes(value).to_string(), want);
        }
        let rates: &[(u64, &str)] = &[
            (0, "0B/s"),
            (100_000_000, "100MB/s"),
            (125_000_000, "125MB/s"),
            (800 * KIB, "800KiB/s"),
            (1_500_000_000, "1.5GB/s"),
        ];
        for &(value, want) in rates {
            assert_eq!(Rate(value).to_string(), want);
        }
        let durations: &[(u64, &str)] = &[
            (0, "0s"),
            (7_200 * S, "2h"),
            (5 * MS, "5ms"),
            (30 * S, "30s"),
            (600 * S, "10min"),
            (1_500 * MS, "1.5s"),
            (250_000, "250us"),
            (100, "100ns"),
            (90 * S, "90s"),
            (5_400 * S, "90min"),
            (60 * S, "1min"),
            (1_234_567, "1234567ns"),
        ];
        for &(value, want) in durations {
            assert_eq!(Nanos(value).to_string(), want);
        }
        assert_eq!(
            format!("{:>7}|{:<5}|", Bytes(8 * KIB), Nanos(5 * MS)),
            "   8KiB|5ms  |"
        );
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Scenario {
        size: Bytes,
        bandwidth: Rate,
        latency: Duration,
    }

    #[test]
    fn serde_reads_strings_and_zero_and_writes_strings() {
        let from_toml: Scenario =
            toml::from_str("size = \"512GiB\"\nbandwidth = \"100MB/s\"\nlatency = \"5ms\"")
                .expect("valid scenario");
        let want = Scenario {
            size: Bytes(512 * GIB),
            bandwidth: Rate(100_000_000),
            latency: Nanos(5 * MS),
        };
        assert_eq!(from_toml, want);
        let zeros: Scenario =
            toml::from_str("size = 0\nbandwidth = 0\nlatency = 0.0").expect("valid scenario");
        assert_eq!(
            zeros,
            Scenario {
                size: Bytes(0),
                bandwidth: Rate(0),
                latency: Nanos(0),
            }
        );

        let json = serde_json::to_string(&want).expect("serializable");
        assert_eq!(
            json,
            r#"{"size":"512GiB","bandwidth":"100MB/s","latency":"5ms"}"#
        );
        assert_eq!(
            serde_json::from_str::<Scenario>(&json).expect("round trip"),
            want
        );
    }

    #[test]
    fn serde_errors_say_what_was_expected() {
        let err = |text: &str| {
            serde_json::from_str::<Scenario>(text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(r#"{"size":"12 apples","bandwidth":"1MB/s","latency":"1s"}"#),
            r#"expected a size like "8KiB" or "512GiB", found "12 apples" at line 1 column 19"#
        );
        assert_eq!(
            err(r#"{"size":-1,"bandwidth":"1MB/s","latency":"1s"}"#),
            r#"expected a size with a unit, e.g. "4096B" or "8KiB", found -1 at line 1 column 10"#
        );
        assert_eq!(
            err(r#"{"size":"1B","bandwidth":100,"latency":"1s"}"#),
            r#"expected a rate with a unit, e.g. "100MB/s" or "1Gbit/s", found 100 at line 1 column 28"#
        );
        assert_eq!(
            err(r#"{"size":"1B","bandwidth":"1MB/s","latency":1.5}"#),
            r#"expected a duration with a unit, e.g. "20min" or "500ms", found 1.5 at line 1 column 46"#
        );
        assert_eq!(
            err(r#"{"size":"1B","bandwidth":"1MB/s","latency":true}"#),
            r#"invalid type: boolean `true`, expected a duration like "5ms" or "2h" at line 1 column 47"#
        );
        let toml_err =
            toml::from_str::<Scenario>("size = -4096\nbandwidth = \"1MB/s\"\nlatency = \"1s\"")
                .unwrap_err()
                .to_string();
        assert!(toml_err.contains("line 1, column 8"), "{toml_err}");
        assert!(
            toml_err.contains("expected a size with a unit"),
            "{toml_err}"
        );
    }

    proptest! {
        #[test]
        fn sizes_round_trip(value: u64) {
            prop_assert_eq!(Bytes(value).to_string().parse::<Bytes>(), Ok(Bytes(value)));
        }

        #[test]
        fn rates_round_trip(value: u64) {
            prop_assert_eq!(Rate(value).to_string().parse::<Rate>(), Ok(Rate(value)));
        }

        #[test]
        fn durations_round_trip(value: u64) {
            prop_assert_eq!(Nanos(value).to_string().parse::<Duration>(), Ok(Nanos(value)));
        }

        /// Round numbers are the common case and the ones that pick non-base units.
        #[test]
        fn round_values_round_trip(mantissa in 0u64..5_000, shift in 0u32..60, pow10 in 0u32..13) {
            for value in [mantissa << shift, mantissa.saturating_mul(10u64.pow(pow10))] {
                prop_assert_eq!(Bytes(value).to_string().parse::<Bytes>(), Ok(Bytes(value)));
                prop_assert_eq!(Rate(value).to_string().parse::<Rate>(), Ok(Rate(value)));
                prop_assert_eq!(Nanos(value).to_string().parse::<Duration>(), Ok(Nanos(value)));
            }
        }

        #[test]
        fn integer_with_unit_is_exact(n in 0u64..1_000_000, unit in 0usize..4) {
            let (suffix, mult) = [("KiB", KIB), ("MiB", MIB), ("GiB", GIB), ("MB", 1_000_000)][unit];
            prop_assert_eq!(format!("{n}{suffix}").parse::<Bytes>(), Ok(Bytes(n * mult)));
        }

        #[test]
        fn arbitrary_strings_never_panic(text in any::<String>()) {
            let _ = text.parse::<Bytes>();
            let _ = text.parse::<Rate>();
            let _ = text.parse::<Duration>();
        }

        #[test]
        fn unit_like_strings_never_panic(text in "[ 0-9.+-]{0,30}(B|KiB|GB|kB|MB/s|Gbit/s|bps|ns|µs|ms|s|min|h|x)?") {
            let _ = text.parse::<Bytes>();
            let _ = text.parse::<Rate>();
            let _ = text.parse::<Duration>();
        }
    }
}
