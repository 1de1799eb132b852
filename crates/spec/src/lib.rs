//! The strato deploy-spec language: one TOML file (plus the user-data templates next to it)
//! that describes a whole AWS deployment by name.
//!
//! [`load`] reads a spec and returns a [`Document`]: the model, every source file read, and
//! the diagnostics of reading and validation, all at once. [`load_with`] does the same for a
//! spec changed by an overlay file and `--set` overrides ([`overrides`]). Nothing here talks
//! to AWS; a spec with errors never gets further than this crate (and the cycle check in
//! `strato-graph`).

pub mod decode;
pub mod diag;
pub mod model;
pub mod names;
pub mod net;
pub mod overrides;
pub mod template;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::de::DeTable;

pub use diag::{Diagnostic, Diagnostics, FileId, Severity, SourceMap, Sp, Span};
pub use model::Spec;
pub use overrides::{Override, OverrideError};
pub use template::{Known, Reference, Stage};

/// A spec as read from disk, with everything known about it.
#[derive(Debug)]
pub struct Document {
    pub spec: Spec,
    pub sources: SourceMap,
    pub spec_file: FileId,
    /// Directory that relative paths in the spec start from.
    pub base_dir: PathBuf,
    /// Files the spec names (user-data templates, public keys), by the path written in the
    /// spec: the file, or why it can't be read.
    files: BTreeMap<String, Result<FileId, std::io::Error>>,
    pub diagnostics: Diagnostics,
    /// False when the TOML itself did not parse; the model is then empty.
    pub parsed: bool,
    /// The overlay file merged into the spec, as given, if any ([`load_with`]).
    pub overlay: Option<String>,
    /// The `--set` overrides applied to the spec, as written (`vpc.main.cidr=10.1.0.0/16`),
    /// in the order applied.
    pub overrides: Vec<String>,
}

impl Document {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// A file the spec names (template, public key), if it could be read.
    pub fn file(&self, path: &str) -> Option<FileId> {
        self.files.get(path).and_then(|r| r.as_ref().ok().copied())
    }

    /// The text of a file the spec names, if it could be read.
    pub fn file_text(&self, path: &str) -> Option<&str> {
        self.file(path).map(|f| self.sources.get(f).text.as_str())
    }

    /// Why a file the spec names could not be read.
    pub fn file_error(&self, path: &str) -> Option<&std::io::Error> {
        self.files.get(path).and_then(|r| r.as_ref().err())
    }

    /// The `${...}` references inside a string value of the spec, with spans pointing into
    /// the spec file where the value is written verbatim (no escapes), else at the value.
    pub fn references_in_value(&self, value: &Sp<String>) -> Vec<Reference> {
        let raw = self.sources.snippet(value.span);
        match raw.find(value.value.as_str()) {
            Some(at) if !value.value.is_empty() => {
                template::references(&value.value, value.span.file, value.span.start + at)
            }
            _ => template::references(&value.value, value.span.file, value.span.start)
                .into_iter()
                .map(|mut r| {
                    r.span = value.span;
                    r
                })
                .collect(),
        }
    }
}

/// Reads and validates a spec file. Only a file that cannot be read at all is an `Err`;
/// everything else wrong with it is in [`Document::diagnostics`].
pub fn load(path: &Path) -> std::io::Result<Document> {
    let text = std::fs::read_to_string(path)?;
    Ok(load_str(&path.display().to_string(), path, text))
}

/// Why [`load_with`] has no document: a file could not be read, or the overrides could not
/// be applied. Everything else wrong is in [`Document::diagnostics`], as with [`load`].
#[derive(Debug)]
pub enum LoadError {
    /// The spec or the overlay file could not be read.
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Override(OverrideError),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            LoadError::Override(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { error, .. } => Some(error),
            LoadError::Override(e) => Some(e),
        }
    }
}

/// Reads a spec, merges an overlay file into it, applies `--set` overrides in order, and
/// validates the result as if it were the spec file (templates are found next to the spec,
/// diagnostics point into the rewritten text under the spec's name). With no overlay and no
/// overrides this is exactly [`load`].
pub fn load_with(path: &Path, overlay: Option<&Path>, overrides: &[Override]) -> Result<Document, LoadError> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|error| LoadError::Io { path: p.to_path_buf(), error });
    if overlay.is_none() && overrides.is_empty() {
        return load(path).map_err(|error| LoadError::Io { path: path.to_path_buf(), error });
    }
    let text = read(path)?;
    let overlay_text = overlay.map(read).transpose()?;
    let overlay_name = overlay.map(|p| p.display().to_string());
    let name = path.display().to_string();
    let given = overlay_name.as_deref().zip(overlay_text.as_deref());
    let rewritten = match overrides::apply(&text, given, overrides) {
        Ok(rewritten) => rewritten,
        Err(e @ OverrideError::Spec { .. }) => {
            // A spec that is not TOML gets its usual syntax diagnostics, overrides or not.
            // Should the two parsers ever disagree, the overrides are not silently dropped.
            let doc = load_str(&name, path, text);
            return if doc.parsed { Err(LoadError::Override(e)) } else { Ok(doc) };
        }
        Err(e) => return Err(LoadError::Override(e)),
    };
    let mut doc = load_str(&name, path, rewritten);
    doc.overlay = overlay_name;
    doc.overrides = overrides.iter().map(|o| o.text.clone()).collect();
    Ok(doc)
}

/// Reads and validates spec text as if it were the file at `path` (templates and key files
/// are looked up next to it).
pub fn load_str(name: &str, path: &Path, text: String) -> Document {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut sources = SourceMap::default();
    let spec_file = sources.add(name, path, text.clone());
    let mut diagnostics = Diagnostics::default();
    let (root, errors) = DeTable::parse_recoverable(&text);
    for e in &errors {
        let span = Span::new(spec_file, e.span().unwrap_or(0..0));
        let msg = format!("invalid TOML: {}", e.message().trim_end());
        let mut d = Diagnostic::error("toml-syntax", span, msg);
        if let Some(hint) = unquoted_string_hint(&text, span.start) {
            d = d.help(hint);
        }
        diagnostics.push(d);
    }
    let mut doc = Document {
        spec: Spec::default(),
        sources,
        spec_file,
        base_dir,
        files: BTreeMap::new(),
        diagnostics,
        parsed: errors.is_empty(),
        overlay: None,
        overrides: Vec::new(),
    };
    if !doc.parsed {
        return doc;
    }
    let root_span = Span::new(spec_file, 0..0);
    {
        let mut cx = decode::Ctx { file: spec_file, diags: &mut doc.diagnostics };
        let mut table = decode::Table::new(root.get_ref(), root_span, "the spec");
        doc.spec = model::read_spec(&mut cx, &mut table);
        table.finish(&mut cx);
    }
    doc.load_files(name);
    let found = validate::check(&doc);
    doc.diagnostics.extend(found.into_sorted());
    doc.diagnostics.sort();
    doc
}

impl Document {
    /// Reads every file the spec names, once each, into the source map.
    fn load_files(&mut self, spec_name: &str) {
        let shown_dir = Path::new(spec_name).parent().map(Path::to_path_buf).unwrap_or_default();
        let templates = self.spec.instances.iter().filter_map(|i| i.user_data.as_ref()).map(|u| &u.template.value);
        let keys = self.spec.key_pairs.iter().filter_map(|k| k.public_key_file.as_ref()).map(|f| &f.value);
        let paths: Vec<String> = templates.chain(keys).filter(|p| !p.is_empty()).cloned().collect();
        for p in paths {
            if self.files.contains_key(&p) {
                continue;
            }
            let full = self.base_dir.join(&p);
            let entry = std::fs::read_to_string(&full)
                .map(|text| self.sources.add(shown_dir.join(&p).display().to_string(), &full, text));
            self.files.insert(p, entry);
        }
    }
}

/// A hint for the most common TOML mistake: a string value written without quotes
/// (`cidr = 10.0.0.0/16`, `type = t3.micro`), which the parser reports as a bad number or
/// boolean.
fn unquoted_string_hint(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let (key, value) = text.get(start..end)?.split_once('=')?;
    let (key, value) = (key.trim(), value.trim());
    let value = value.split(" #").next().unwrap_or(value).trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:*".contains(c);
    let is_literal = value.starts_with(['"', '\'', '[', '{'])
        || matches!(value, "true" | "false" | "inf" | "nan")
        || value.replace('_', "").parse::<f64>().is_ok();
    if key.is_empty() || value.is_empty() || is_literal || !value.chars().all(plain) {
        return None;
    }
    Some(format!("strings need quotes: `{key} = \"{value}\"`"))
}
