//! `${kind.name.attribute}` references in user-data templates, outputs and host names.
//!
//! A reference names an attribute of another resource (`${database.apim-db.endpoint}`) and
//! is therefore an edge of the dependency graph. Shell syntax must keep working inside
//! templates, so only `${...}` with at least one dot and nothing but name characters between
//! the dots is a reference: `${HOME}` and `${x%.*}` are left for the shell, and `$${` writes a
//! literal `${`.

use crate::diag::{FileId, Span};

/// How far a resource must have come before an attribute of it can be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// The object exists and its id is known.
    Created,
    /// The object is available (a database accepts connections, a NAT gateway routes).
    Ready,
}

/// When an attribute's value is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// From the spec alone: no edge.
    Statically,
    /// Once the resource reaches this stage: an edge.
    At(Stage),
}

use Known::{At, Statically};
use Stage::{Created, Ready};

/// The namespaces a reference can start with, and their attributes.
pub const NAMESPACES: &[(&str, &[(&str, Known)])] = &[
    (
        "deployment",
        &[
            ("name", Statically),
            ("region", Statically),
            ("domain", Statically),
            ("csr_challenge_parameter", Statically),
        ],
    ),
    ("vpc", &[("id", At(Created)), ("cidr", Statically)]),
    ("subnet", &[("id", At(Created)), ("cidr", Statically), ("zone", Statically)]),
    ("security_group", &[("id", At(Created))]),
    ("nat_gateway", &[("id", At(Created)), ("public_ip", At(Created))]),
    ("key_pair", &[("name", Statically)]),
    ("certificate", &[("arn", At(Created))]),
    (
        "database",
        &[("endpoint", At(Ready)), ("port", At(Ready)), ("identifier", Statically), ("master_secret_arn", At(Ready))],
    ),
    ("file_system", &[("id", At(Created)), ("dns_name", At(Created))]),
    ("load_balancer", &[("dns_name", At(Created)), ("arn", At(Created)), ("zone_id", At(Created))]),
    ("target_group", &[("arn", At(Created))]),
    (
        "instance",
        &[("id", At(Created)), ("private_ip", At(Created)), ("public_ip", At(Created)), ("private_dns", At(Created))],
    ),
    // Only inside user-data templates: the node being rendered and its `vars`.
    (
        "node",
        &[
            ("name", Statically),
            ("index", Statically),
            ("count", Statically),
            ("zone", Statically),
            ("subnet", Statically),
            ("os", Statically),
        ],
    ),
    ("var", &[]),
];

/// The attributes of a namespace, if it is one.
pub fn attributes(namespace: &str) -> Option<&'static [(&'static str, Known)]> {
    NAMESPACES.iter().find(|(n, _)| *n == namespace).map(|(_, a)| *a)
}

/// One `${...}` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The dotted parts: `["database", "apim-db", "endpoint"]`.
    pub parts: Vec<String>,
    /// Where the whole `${...}` is written.
    pub span: Span,
}

impl Reference {
    pub fn text(&self) -> String {
        self.parts.join(".")
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Finds the references in `text`, which starts at byte `offset` of `file`.
pub fn references(text: &str, file: FileId, offset: usize) -> Vec<Reference> {
    let mut out = Vec::new();
    scan(text, |start, inner| {
        out.push(Reference {
            parts: inner.split('.').map(str::to_string).collect(),
            span: Span::new(file, offset + start..offset + start + inner.len() + 3),
        });
        None
    });
    out
}

/// Replaces every reference with what `resolve` gives for its dotted text; `$${` becomes `${`.
/// A reference `resolve` does not know is kept as written.
pub fn render(text: &str, mut resolve: impl FnMut(&str) -> Option<String>) -> String {
    scan(text, |_, inner| resolve(inner))
}

/// Walks `text`, calling `on_ref(byte offset of "${", inner text)` for each reference and
/// building the rendered text from its answers.
fn scan(text: &str, mut on_ref: impl FnMut(usize, &str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        if text[i..].starts_with("$${") {
            out.push_str("${");
            i += 3;
            continue;
        }
        if text[i..].starts_with("${") {
            if let Some(len) = text[i + 2..].find('}') {
                let inner = &text[i + 2..i + 2 + len];
                let is_ref =
                    inner.contains('.') && inner.split('.').all(|p| !p.is_empty() && p.chars().all(is_name_char));
                if is_ref {
                    match on_ref(i, inner) {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&text[i..i + len + 3]),
                    }
                    i += len + 3;
                    continue;
                }
            }
        }
        let ch_len = utf8_len(bytes[i]);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_and_leaves_shell_alone() {
        let text = "host=${database.apim-db.endpoint} home=${HOME} ext=${f%.*} lit=$${x.y} ${var.role}";
        let refs = references(text, FileId(0), 10);
        let names: Vec<_> = refs.iter().map(Reference::text).collect();
        assert_eq!(names, ["database.apim-db.endpoint", "var.role"]);
        assert_eq!(refs[0].span.start, 10 + 5);
        assert_eq!(&text[refs[0].span.start - 10..refs[0].span.end - 10], "${database.apim-db.endpoint}");
    }

    #[test]
    fn renders_known_references_only() {
        let out = render("a=${var.x} b=${var.y} c=$${var.x} d=${PATH} é", |r| (r == "var.x").then(|| "1".into()));
        assert_eq!(out, "a=1 b=${var.y} c=${var.x} d=${PATH} é");
    }
}
