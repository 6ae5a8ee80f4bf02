//! Scenario files written by code rather than by hand: the write benchmark's and the tests'.
//!
//! They are built as TOML text, not as [`crate::Scenario`] values, so that a generated scenario
//! goes through the same parser and validation as a user's file and a test can still change
//! one line of it to see that line refused. The builder knows the section layout (`[[storage]]`,
//! `[[link]]`, `[[host]]`, `[[mirror]]`, `[[command]]`) and quotes strings; which keys a
//! section takes is the parser's business, so [`ScenarioText::key`] and
//! [`ScenarioText::string`] add any key to the section opened last.

use std::fmt::{Display, Write as _};
use std::path::Path;

/// A scenario file being written, section by section, in the order of the calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioText {
    text: String,
}

impl ScenarioText {
    /// The two keys every scenario needs.
    pub fn new(name: &str, duration: &str) -> ScenarioText {
        ScenarioText {
            text: String::new(),
        }
        .string("name", name)
        .string("duration", duration)
    }

    /// Storage systems 1 and 2 with one volume `1` of 1 GiB each, joined by the link `wan`:
    /// the smallest topology a remote mirror (`1:1` -> `2:1`) needs.
    pub fn two_sites(self, bandwidth: &str, latency: &str) -> ScenarioText {
        self.storage(1, &[("1", "1GiB")])
            .storage(2, &[("1", "1GiB")])
            .link("wan", [1, 2], bandwidth, latency)
    }

    /// `key = value` in the section opened last (at the top before any); `value` is TOML as
    /// it is, e.g. a number or an inline table.
    pub fn key(mut self, key: &str, value: impl Display) -> ScenarioText {
        let _ = writeln!(self.text, "{key} = {value}");
        self
    }

    /// `key = "value"`, quoted.
    pub fn string(self, key: &str, value: &str) -> ScenarioText {
        self.key(key, quote(value))
    }

    /// Opens a table such as `[defaults]` or `[protocol]`.
    pub fn table(self, name: &str) -> ScenarioText {
        self.open(&format!("[{name}]"))
    }

    /// A `[[storage]]` with `volumes` as (id, size).
    pub fn storage(self, serial: u64, volumes: &[(&str, &str)]) -> ScenarioText {
        let volumes: Vec<String> = volumes
            .iter()
            .map(|(id, size)| format!("{{ id = {}, size = {} }}", quote(id), quote(size)))
            .collect();
        self.open("[[storage]]")
            .key("serial", serial)
            .key("volumes", format!("[{}]", volumes.join(", ")))
    }

    pub fn link(
        self,
        name: &str,
        between: [u64; 2],
        bandwidth: &str,
        latency: &str,
    ) -> ScenarioText {
        self.open("[[link]]")
            .string("name", name)
            .key("between", format!("[{}, {}]", between[0], between[1]))
            .string("bandwidth", bandwidth)
            .string("latency", latency)
    }

    /// A `[[host]]` attached to `storage`; `workload` is an inline table, see [`poisson`] and
    /// [`trace`].
    pub fn host(self, name: &str, role: &str, storage: u64, workload: &str) -> ScenarioText {
        self.open("[[host]]")
            .string("name", name)
            .string("role", role)
            .key("storage", storage)
            .key("workload", workload)
    }

    /// A `[[mirror]]` in PAIR at t = 0; its mode and options follow as keys.
    pub fn mirror(self, group: &str, pvol: &str, svol: &str) -> ScenarioText {
        self.open("[[mirror]]")
            .string("group", group)
            .string("pvol", pvol)
            .string("svol", svol)
    }

    /// A `[[command]]` at a time of the run.
    pub fn command(self, at: &str, run: &str) -> ScenarioText {
        self.open("[[command]]").string("at", at).string("run", run)
    }

    /// A `[[command]]` once the previous one has completed, `delay` later.
    pub fn command_after(self, delay: Option<&str>, run: &str) -> ScenarioText {
        let command = self.open("[[command]]").string("after", "previous");
        match delay {
            Some(delay) => command.string("delay", delay),
            None => command,
        }
        .string("run", run)
    }

    /// The file's text.
    pub fn build(self) -> String {
        self.text
    }

    /// A blank line, then the section header.
    fn open(mut self, header: &str) -> ScenarioText {
        let _ = write!(self.text, "\n{header}\n");
        self
    }
}

/// A synthetic workload: `rate` writes per second of `size` onto `volume`, uniform addresses.
pub fn poisson(rate: u64, size: &str, volume: &str) -> String {
    format!(
        "{{ poisson = {rate}, size = {}, volume = {} }}",
        quote(size),
        quote(volume)
    )
}

/// A trace replayed onto `volume` (`format` as `workload.format` names it).
pub fn trace(path: &Path, format: &str, volume: &str) -> String {
    format!(
        "{{ trace = {}, format = {}, volume = {} }}",
        quote(&path.display().to_string()),
        quote(format),
        quote(volume)
    )
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_scenario_parses_and_paths_are_quoted() {
        let text = ScenarioText::new("built", "10s")
            .key("seed", 3)
            .table("defaults")
            .string("chunk", "16KiB")
            .two_sites("10MB/s", "1ms")
            .host("prod", "production", 1, &poisson(10, "4KiB", "1:1"))
            .host(
                "replay",
                "production",
                1,
                &trace(Path::new(r#"C:\traces\"odd".trace"#), "disksim", "1:1"),
            )
            .mirror("R", "1:1", "2:1")
            .string("mode", "async")
            .command("2s", "pairsplit R")
            .command_after(Some("1s"), "pairresync R")
            .build();
        assert!(
            text.contains(r#"trace = "C:\\traces\\\"odd\".trace""#),
            "{text}"
        );
        let s = crate::scenario::parse(&text, Path::new("built.toml"));
        let e = s.err().map(|e| e.to_string()).unwrap_or_default();
        // Everything but the trace, which does not exist, is valid.
        assert!(e.contains("not found"), "{e}\n{text}");
    }
}
