//! Diagnostics: what is wrong with a spec, where, and what to do about it.
//!
//! Every problem found while reading or validating a spec becomes one [`Diagnostic`] with a
//! stable code, a position in a source file, the offending text and, where there is one, a
//! hint. Checks push diagnostics into a [`Diagnostics`] list and keep going, so that one run
//! reports every problem at once. Rendering (human text or JSON) lives here too, so that the
//! CLI and the snapshot tests print exactly the same thing.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span { file, start: range.start, end: range.end.max(range.start) }
    }
}

/// A value together with where it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Sp<T> {
        Sp { value, span }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// One source file: the spec itself or a template next to it.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as the operator wrote it (or as it was found), for messages.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(name: String, path: PathBuf, text: String) -> SourceFile {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile { name, path, text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let col = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count());
        (line + 1, col + 1)
    }

    fn line_text(&self, line: usize) -> &str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).copied().unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// Every file read for one spec, so that spans can be turned into `file:line:column`.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, name: impl Into<String>, path: impl AsRef<Path>, text: String) -> FileId {
        let id = FileId(self.files.len() as u32);
        self.files.push(SourceFile::new(name.into(), path.as_ref().to_path_buf(), text));
        id
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(|i| FileId(i as u32))
    }

    /// The text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        let text = &self.get(span.file).text;
        text.get(span.start..span.end).unwrap_or("")
    }

    /// `file:line:column` of the start of a span.
    pub fn location(&self, span: Span) -> String {
        let file = self.get(span.file);
        let (line, col) = file.line_col(span.start);
        format!("{}:{line}:{col}", file.name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable, kebab-case identifier of the kind of problem (`unknown-field`, ...).
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    /// Further positions that explain the problem (the first definition of a duplicate, the
    /// other edges of a cycle).
    pub notes: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, code, message: message.into(), span, notes: Vec::new(), help: None }
    }

    /// Something an operator should know, which does not stop the spec from being used.
    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, span: Span, note: impl Into<String>) -> Diagnostic {
        self.notes.push((span, note.into()));
        self
    }
}

/// The problems found so far; checks append and never stop early.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.list.iter()
    }

    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.list.extend(other);
    }

    /// Sorts by file and position and drops exact duplicates: the order operators read
    /// them in and the order snapshot tests compare.
    pub fn sort(&mut self) {
        sort(&mut self.list);
    }

    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.sort();
        self.list
    }
}

/// Sorts diagnostics by file and position and drops exact duplicates.
pub fn sort(list: &mut Vec<Diagnostic>) {
    list.sort_by(|a, b| {
        (a.span.file, a.span.start, a.code, &a.message).cmp(&(b.span.file, b.span.start, b.code, &b.message))
    });
    list.dedup();
}

/// Renders diagnostics the way compilers do: a headline, the location, the source line with
/// the offending text underlined, notes and a hint.
pub fn render_human(map: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{level}[{}]: {}", d.code, d.message);
        // One gutter width for the whole diagnostic, wide enough for its largest line number.
        let gutter = std::iter::once(d.span)
            .chain(d.notes.iter().map(|(s, _)| *s))
            .map(|s| map.get(s.file).line_col(s.start).0.to_string().len())
            .max()
            .unwrap_or(1);
        render_location(map, d.span, None, gutter, &mut out);
        for (span, note) in &d.notes {
            render_location(map, *span, Some(note), gutter, &mut out);
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{:gutter$} = help: {help}", "");
        }
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.severity == Severity::Error).count();
    if errors > 0 {
        let s = if errors == 1 { "" } else { "s" };
        let _ = writeln!(out, "error: the spec has {errors} problem{s}; nothing was sent to AWS");
    }
    out
}

fn render_location(map: &SourceMap, span: Span, note: Option<&str>, gutter: usize, out: &mut String) {
    let file = map.get(span.file);
    let (line, col) = file.line_col(span.start);
    let _ = writeln!(out, "{:gutter$}--> {}:{line}:{col}", "", file.name);
    let text = file.line_text(line);
    let _ = writeln!(out, "{:gutter$} |", "");
    let _ = writeln!(out, "{line:>gutter$} | {text}");
    // Underline the span on its first line only.
    let width = map.snippet(span).lines().next().map_or(1, |s| s.chars().count()).max(1);
    let width = width.min(text.chars().count().saturating_sub(col - 1).max(1));
    let label = note.map(|n| format!(" {n}")).unwrap_or_default();
    // Keep tabs in the padding so the carets line up under tab-indented text.
    let pad: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    let _ = writeln!(out, "{:gutter$} | {pad}{}{label}", "", "^".repeat(width));
}

/// Renders diagnostics as one JSON document for scripts.
pub fn render_json(map: &SourceMap, diags: &[Diagnostic]) -> serde_json::Value {
    let position = |span: Span| {
        let file = map.get(span.file);
        let (line, column) = file.line_col(span.start);
        serde_json::json!({
            "file": file.name,
            "line": line,
            "column": column,
            "text": map.snippet(span),
        })
    };
    let items: Vec<_> = diags
        .iter()
        .map(|d| {
            serde_json::json!({
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "code": d.code,
                "message": d.message,
                "location": position(d.span),
                "notes": d.notes.iter().map(|(s, n)| {
                    let mut p = position(*s);
                    p["note"] = n.clone().into();
                    p
                }).collect::<Vec<_>>(),
                "help": d.help,
            })
        })
        .collect();
    serde_json::json!({
        "valid": !diags.iter().any(|d| d.severity == Severity::Error),
        "diagnostics": items,
    })
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::normalized_damerau_levenshtein(word, c), c))
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}
