//! Diagnostics: problems in a user's stack, each pointing at its source.
//!
//! Problems are collected, never first-error-wins: loading, checking and evaluating a stack
//! return values *and* a [`Diagnostics`] list, and the CLI renders them all together with miette
//! (file, line, column, the source span, a hint).

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};

/// Which source file a span is in: an index into [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub usize);

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// The file.
    pub file: FileId,
    /// The byte range in it.
    pub range: Range<usize>,
}

impl Span {
    /// A span in `file` over `range`.
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span { file, range }
    }
}

/// One source file of a stack.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as shown to users (relative to the working directory where possible).
    pub path: PathBuf,
    /// The file's text.
    pub text: Arc<str>,
}

/// The source files of a stack (and of inputs such as var files), addressed by [`FileId`].
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Adds a file and returns its id.
    pub fn add(&mut self, path: PathBuf, text: impl Into<Arc<str>>) -> FileId {
        self.files.push(SourceFile { path, text: text.into() });
        FileId(self.files.len() - 1)
    }

    /// The file with this id.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// Every file, in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i), f))
    }

    /// The 1-based line and column of a byte offset, for plain-text messages.
    pub fn line_col(&self, span: &Span) -> (usize, usize) {
        let text = &self.get(span.file).text;
        let upto = &text[..span.range.start.min(text.len())];
        let line = upto.matches('\n').count() + 1;
        let col = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The stack cannot be planned.
    Error,
    /// Worth a look; planning goes on.
    Warning,
}

/// One problem in a stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code for tests and docs (`lanestack::undefined_reference`).
    pub code: &'static str,
    /// One line saying what is wrong.
    pub summary: String,
    /// Where, if the problem has a place in the source.
    pub span: Option<Span>,
    /// The label on the span (what is wrong right there).
    pub label: Option<String>,
    /// More detail, if any.
    pub detail: Option<String>,
    /// What to do about it ("did you mean `var.region`?").
    pub hint: Option<String>,
    /// Further places that belong to the same problem (the other members of a cycle).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// An error with this code and summary.
    pub fn error(code: &'static str, summary: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            summary: summary.into(),
            span: None,
            label: None,
            detail: None,
            hint: None,
            related: Vec::new(),
        }
    }

    /// A warning with this code and summary.
    pub fn warning(code: &'static str, summary: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, summary) }
    }

    /// Points the diagnostic at a span, with a label.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    /// Adds detail.
    pub fn detail(mut self, detail: impl Into<String>) -> Diagnostic {
        self.detail = Some(detail.into());
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a related place.
    pub fn related(mut self, span: Span, label: impl Into<String>) -> Diagnostic {
        self.related.push((span, label.into()));
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// A miette report for rendering, with the source text attached. Related spans in other
    /// files than the main one are listed in the help text instead of being labelled.
    pub fn to_report(&self, sources: &Sources) -> miette::Report {
        miette::Report::new(Rendered::new(self, sources))
    }

    /// A one-line plain rendering: `file:line:col: summary`.
    pub fn one_line(&self, sources: &Sources) -> String {
        match &self.span {
            Some(span) => {
                let (line, col) = sources.line_col(span);
                format!("{}:{line}:{col}: {}", sources.get(span.file).path.display(), self.summary)
            }
            None => self.summary.clone(),
        }
    }
}

/// A collection of diagnostics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// Adds many.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.0.extend(other);
    }
    /// True when any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Iterates over them.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    /// Sorts them by file and position so output is deterministic.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.span.as_ref().map(|s| (s.file, s.range.start));
            key(a).cmp(&key(b)).then_with(|| a.summary.cmp(&b.summary))
        });
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A diagnostic bound to its source text, in the shape miette renders.
#[derive(Debug)]
struct Rendered {
    code: &'static str,
    summary: String,
    severity: Severity,
    help: Option<String>,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
}

impl Rendered {
    fn new(d: &Diagnostic, sources: &Sources) -> Rendered {
        let mut help = Vec::new();
        if let Some(detail) = &d.detail {
            help.push(detail.clone());
        }
        if let Some(hint) = &d.hint {
            help.push(hint.clone());
        }
        let mut labels = Vec::new();
        let mut source = None;
        if let Some(span) = &d.span {
            let file = sources.get(span.file);
            source = Some(NamedSource::new(file.path.display().to_string(), file.text.clone()));
            labels.push(LabeledSpan::new_primary_with_span(d.label.clone(), span.range.clone()));
            for (rel, label) in &d.related {
                if rel.file == span.file {
                    labels.push(LabeledSpan::new_with_span(Some(label.clone()), rel.range.clone()));
                } else {
                    let (line, col) = sources.line_col(rel);
                    help.push(format!("{label} at {}:{line}:{col}", sources.get(rel.file).path.display()));
                }
            }
        }
        Rendered {
            code: d.code,
            summary: d.summary.clone(),
            severity: d.severity,
            help: (!help.is_empty()).then(|| help.join("\n")),
            source,
            labels,
        }
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = _>>)
    }
}

/// Suggests the candidate closest to `name` (edit distance at most a third of its length, and
/// at least 1), for "did you mean" hints.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("regoin", ["region", "zone"]), Some("region"));
        assert_eq!(did_you_mean("xyz", ["region", "zone"]), None);
    }

    #[test]
    fn line_and_column_are_one_based() {
        let mut s = Sources::default();
        let f = s.add("a.hcl".into(), "ab\ncd");
        assert_eq!(s.line_col(&Span::new(f, 4..5)), (2, 2));
    }
}
