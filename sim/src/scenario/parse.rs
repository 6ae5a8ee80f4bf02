//! Reading a scenario: TOML syntax and serde errors, then the checks of [`super::validate`],
//! all reported as `file:line:column: message`.

use super::diagnostic::{line_column, Ctx, Diagnostic};
use super::file::ScenarioFile;
use super::validate::validate;
use super::Scenario;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}", format_diagnostics(.path, .diagnostics))]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

fn format_diagnostics(path: &Path, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{}:{}:{}: {}", path.display(), d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// serde names the Rust type where it expected a table (`expected struct WorkloadFile with 12
/// elements`); this names the table as the file writes it.
fn plain_serde(message: &str) -> String {
    const TABLES: [(&str, &str); 12] = [
        ("ScenarioFile", "the scenario's top-level table"),
        ("ReplayFile", "a [replay] table"),
        ("OutputFile", "an [output] table"),
        ("ProtocolFile", "a [protocol] table"),
        ("StorageFile", "a [[storage]] table"),
        (
            "VolumeFile",
            "a volume table like { id = \"105a\", size = \"1GiB\" }",
        ),
        ("LinkFile", "a [[link]] table"),
        ("HostFile", "a [[host]] table"),
        (
            "WorkloadFile",
            "a workload table like { poisson = 100, size = \"8KiB\", volume = \"64001:105a\" }",
        ),
        ("SizeWeight", "a table like { size = \"8KiB\", weight = 3 }"),
        ("PairFile", "a [[mirror]] or [defaults] table"),
        ("CommandFile", "a [[command]] table"),
    ];
    let Some(at) = message.find("expected struct ") else {
        return message.to_string();
    };
    let rest = &message[at + "expected struct ".len()..];
    let name_end = rest
        .find(|c: char| !c.is_alphanumeric())
        .unwrap_or(rest.len());
    let Some((_, table)) = TABLES.iter().find(|(n, _)| *n == &rest[..name_end]) else {
        return message.to_string();
    };
    // "with N elements" counts the struct's fields, which is no length the file could match.
    let after = &rest[name_end..];
    let after = after
        .strip_prefix(" with ")
        .and_then(|a| a.split_once(" elements"))
        .map_or(after, |(_, tail)| tail);
    let before = message[..at].replace("invalid length ", "found an array of length ");
    format!("{before}expected {table}{after}")
}

impl ScenarioError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ScenarioError::Invalid { diagnostics, .. } => diagnostics,
            ScenarioError::Read { .. } => &[],
        }
    }
}

/// Reads, parses and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(&text, path)
}

/// Parses and validates scenario `text`; `path` names it in messages and anchors relative
/// trace paths (tried relative to its directory first, then to the current directory).
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let invalid = |diagnostics| ScenarioError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    };
    let file: ScenarioFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
        invalid(vec![Diagnostic {
            line,
            column,
            message: plain_serde(e.message().trim()),
        }])
    })?;
    let mut ctx = Ctx {
        text,
        diagnostics: Vec::new(),
    };
    let scenario = validate(file, path, &mut ctx);
    if ctx.diagnostics.is_empty() {
        Ok(scenario)
    } else {
        Err(invalid(ctx.diagnostics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let t = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_column(t, 0), (1, 1));
        assert_eq!(line_column(t, 6), (2, 1));
        assert_eq!(line_column(t, 11), (2, 5));
    }
}
