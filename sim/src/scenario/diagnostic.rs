//! The located diagnostics every check of a scenario reports through: [`Diagnostic`] and the
//! context [`Ctx`] that turns a byte span of the file into `line:column`. Its own module so
//! that parsing (which runs the checks) and the checks (which report here) do not import
//! each other.

use std::fmt;
use std::ops::Range;

/// One problem in a scenario file, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `str::floor_char_boundary` is unstable; this is the same for our use.
trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Where checks report: the file's text (for line and column) and the problems so far.
pub(super) struct Ctx<'a> {
    pub(super) text: &'a str,
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Ctx<'_> {
    /// A value as the file writes it (quotes taken off), for messages: the unit types print
    /// canonical forms, which can round or rename what the user wrote.
    pub(super) fn written(&self, span: Range<usize>) -> String {
        let raw = self.text.get(span).unwrap_or("");
        raw.trim().trim_matches('"').trim_matches('\'').to_string()
    }

    pub(super) fn err(&mut self, span: Range<usize>, message: impl fmt::Display) {
        let (line, column) = line_column(self.text, span.start);
        self.diagnostics.push(Diagnostic {
            line,
            column,
            message: message.to_string(),
        });
    }
}
