//! Keeps `docs/operations.md` honest: its troubleshooting section must explain every error
//! strato can print, and every command line it tells an operator to type must parse.
//!
//! - every diagnostic code the spec and graph crates can emit (found in their source, where
//!   a diagnostic is made) is in the documented list of `docs/spec-reference.md` and in the
//!   troubleshooting section;
//! - every `strato_state::Error` variant, rendered with placeholders (`<location>`,
//!   `<message>`), appears verbatim; the match over the variants is exhaustive, so a new
//!   variant does not compile until it is documented here and there;
//! - the fixed text of every error, warning, help and note line the binary prints (and of
//!   the preflight's, the state backends' and the ownership checks' messages) appears in
//!   the section;
//! - every exit code the binary can end with is explained;
//! - every `strato ...` line of the document's `sh` blocks names a subcommand whose
//!   `--help` succeeds and that takes each `--flag` the line uses.
//!
//! No AWS or emulator is needed: this reads the source and runs `strato ... --help`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn operations() -> String {
    read("docs/operations.md")
}

/// The troubleshooting section (from its heading to the end), whitespace collapsed.
fn troubleshooting() -> String {
    let doc = operations();
    let start = doc.find("\n## Troubleshooting").expect("docs/operations.md has a `## Troubleshooting` section");
    squeeze(&doc[start..])
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The source without its `#[cfg(test)]` module (unit tests build messages of their own).
fn without_tests(src: &str) -> &str {
    src.find("#[cfg(test)]").map_or(src, |i| &src[..i])
}

/// The string literal that starts at `s` (at its opening quote), as Rust reads it: escapes
/// resolved, a `\` at the end of a line joining it to the next line's first non-blank.
fn literal_at(s: &str) -> Option<String> {
    let mut chars = s.strip_prefix('"')?.chars().peekable();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '\n' => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The literals that follow each occurrence of `token` (after blanks and newlines).
fn literals_after(src: &str, token: &str) -> Vec<String> {
    let src = without_tests(src);
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(token) {
        rest = &rest[i + token.len()..];
        let trimmed = rest.trim_start();
        if trimmed.starts_with('"') {
            if let Some(l) = literal_at(trimmed) {
                out.push(l);
            }
        }
    }
    out
}

fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').count() >= 2
        && s.split('-').all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
}

/// Every diagnostic code the spec and graph crates can emit: the first argument of each
/// call that makes a diagnostic (`Diagnostic::error`, `Diagnostic::warning`, the checkers'
/// `err` and `error` helpers), and the codes chosen in a `match` before such a call.
fn emitted_codes() -> BTreeSet<String> {
    let mut codes = BTreeSet::new();
    for dir in ["crates/spec/src", "crates/graph/src"] {
        for file in rust_files(&repo().join(dir)) {
            let src = std::fs::read_to_string(&file).unwrap();
            for token in ["Diagnostic::error(", "Diagnostic::warning(", ".err(", ".error(", "=> (", "error("] {
                codes.extend(literals_after(&src, token).into_iter().filter(|l| is_code(l)));
            }
        }
    }
    codes
}

/// The codes of the table "Diagnostic codes" in docs/spec-reference.md.
fn documented_codes() -> BTreeSet<String> {
    let doc = read("docs/spec-reference.md");
    let table = doc.split("Diagnostic codes:").nth(1).expect("docs/spec-reference.md lists the diagnostic codes");
    table
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.split('|').nth(1))
        .map(|c| c.trim().trim_matches('`').to_string())
        .filter(|c| is_code(c))
        .collect()
}

#[test]
fn every_diagnostic_code_is_documented_and_troubleshot() {
    let emitted = emitted_codes();
    assert!(emitted.len() >= 30, "the source scan found only {} codes: {emitted:?}", emitted.len());
    for known in ["toml-syntax", "file-not-found", "dependency-cycle", "secret-not-granted", "unused-instance-role"] {
        assert!(emitted.contains(known), "the source scan misses `{known}`: {emitted:?}");
    }
    let documented = documented_codes();
    let undocumented: Vec<_> = emitted.difference(&documented).collect();
    assert!(undocumented.is_empty(), "codes emitted but not in docs/spec-reference.md: {undocumented:?}");
    let stale: Vec<_> = documented.difference(&emitted).collect();
    assert!(stale.is_empty(), "codes in docs/spec-reference.md that nothing emits: {stale:?}");
    let section = troubleshooting();
    let missing: Vec<_> = emitted.iter().filter(|c| !section.contains(&format!("`{c}`"))).collect();
    assert!(
        missing.is_empty(),
        "codes the troubleshooting section of docs/operations.md does not explain: {missing:?}"
    );
}

/// Every state error, with placeholders for what it names. The match is exhaustive: a new
/// variant must be added here (and to the document) before this compiles.
fn state_errors() -> Vec<strato_state::Error> {
    use strato_state::Error;
    let all = vec![
        Error::Io { path: "<path>".into(), action: "<action>", source: std::io::Error::other("<cause>") },
        Error::Corrupt { path: "<location>".into(), message: "<message>".into() },
        Error::Version { path: "<location>".into(), found: 999 },
        Error::Remote { location: "<location>".into(), call: "<call>", message: "<message>".into() },
        Error::LockLost { location: "<location>".into(), why: "<why>".into() },
        Error::Conflict { location: "<location>".into() },
    ];
    for e in &all {
        match e {
            Error::Io { .. }
            | Error::Corrupt { .. }
            | Error::Version { .. }
            | Error::Remote { .. }
            | Error::LockLost { .. }
            | Error::Conflict { .. } => {}
        }
    }
    all
}

#[test]
fn every_state_error_is_quoted() {
    let section = troubleshooting();
    let mut missing = Vec::new();
    for e in state_errors() {
        let text = e.to_string().replace("999", "<n>");
        if !section.contains(&squeeze(&text)) {
            missing.push(text);
        }
    }
    let held = strato_state::LockError::Held(Box::new(strato_state::LockInfo::ours("<command>", None)));
    let fixed = held.to_string();
    let fixed = fixed.split(" by ").next().unwrap_or_default();
    if !section.contains(fixed) {
        missing.push(fixed.to_string());
    }
    assert!(missing.is_empty(), "state errors the troubleshooting section does not quote: {missing:#?}");
}

/// The fixed text of a message: its longest piece between `{...}` placeholders, without the
/// `error: `-style prefix. `None` for a message that only passes another one on.
fn fixed_text(message: &str) -> Option<String> {
    let body =
        ["error: ", "warning: ", "help: ", "note: "].iter().find_map(|p| message.strip_prefix(p)).unwrap_or(message);
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut depth = 0;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, depth) {
            ('{', 0) if chars.peek() == Some(&'{') => {
                chars.next();
                piece.push('{');
            }
            ('}', 0) if chars.peek() == Some(&'}') => {
                chars.next();
                piece.push('}');
            }
            ('{', _) => {
                depth += 1;
                pieces.push(std::mem::take(&mut piece));
            }
            ('}', _) => depth -= 1,
            (c, 0) => piece.push(c),
            _ => {}
        }
    }
    pieces.push(piece);
    let longest = pieces.into_iter().map(|p| squeeze(&p)).max_by_key(|p| p.len())?;
    (longest.chars().filter(|c| c.is_alphanumeric()).count() >= 4).then_some(longest)
}

/// Where messages are made, and the token each one follows.
const MESSAGE_SITES: &[(&str, &str)] = &[
    ("src", "eprintln!("),
    ("src", "invalid(format!("),
    ("src", "Err(format!("),
    ("src", "problems.push(format!("),
    ("src", "vec![format!("),
    ("crates/aws/src/preflight.rs", "problems.push(format!("),
    ("crates/aws/src/preflight.rs", "notes.push("),
    ("crates/aws/src/preflight.rs", "=> format!("),
    ("crates/aws/src/state_s3.rs", "LockError::Failed(format!("),
    ("crates/aws/src/state_s3.rs", "LockError::Failed("),
    ("crates/aws/src/state_s3.rs", "Answer::Failed("),
    ("crates/aws/src/ownership.rs", "Some(format!("),
    ("crates/aws/src/ownership.rs", "let protected ="),
];

#[test]
fn every_message_strato_prints_is_explained() {
    let section = troubleshooting();
    let mut checked = 0;
    let mut missing = BTreeSet::new();
    for (place, token) in MESSAGE_SITES {
        let path = repo().join(place);
        let files = if path.is_dir() { rust_files(&path) } else { vec![path] };
        for file in files {
            let src = std::fs::read_to_string(&file).unwrap();
            for message in literals_after(&src, token) {
                // Progress and summary lines are not problems; only what starts like one,
                // or is handed to an error path, is checked.
                let problem = ["error: ", "warning: ", "help: ", "note: "].iter().any(|p| message.starts_with(p));
                if *token == "eprintln!(" && !problem {
                    continue;
                }
                let Some(fixed) = fixed_text(&message) else { continue };
                checked += 1;
                if !section.contains(&fixed) {
                    let rel = file.strip_prefix(repo()).unwrap().display().to_string();
                    missing.insert(format!("{rel}: {fixed:?} (from {message:?})"));
                }
            }
        }
    }
    assert!(checked >= 60, "only {checked} messages found: the scan no longer sees the source");
    assert!(
        missing.is_empty(),
        "messages the troubleshooting section of docs/operations.md does not explain:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_exit_code_is_explained() {
    let main = read("src/main.rs");
    let deploy = read("src/deploy.rs");
    let mut codes: BTreeSet<u32> = [0].into();
    // The `exit` module's constants, and the signal codes the run reports.
    let exits = main.split("mod exit {").nth(1).and_then(|m| m.split('}').next()).expect("src/main.rs has `mod exit`");
    for line in exits.lines().filter(|l| l.contains("pub const")) {
        let n = line.rsplit('=').next().unwrap().trim().trim_end_matches(';');
        codes.insert(n.parse().unwrap_or_else(|_| panic!("exit code `{n}`")));
    }
    for piece in deploy.split("code: ").skip(1) {
        let digits: String = piece.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            codes.insert(n);
        }
    }
    assert!(codes.is_superset(&[0, 1, 2, 129, 130, 143].into()), "exit codes found: {codes:?}");
    let section = troubleshooting();
    let table = section.split("Exit codes").nth(1).expect("the troubleshooting section has an `Exit codes` table");
    let missing: Vec<_> = codes.iter().filter(|c| !table.contains(&format!("| `{c}` |"))).collect();
    assert!(missing.is_empty(), "exit codes not in the table: {missing:?}");
}

/// `strato` command lines of the document's `sh` blocks.
fn command_lines() -> Vec<String> {
    let doc = operations();
    let mut lines = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in doc.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = !in_sh && t == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let t = t.split(" # ").next().unwrap_or(t).trim();
        pending.push_str(t.trim_end_matches('\\'));
        pending.push(' ');
        if t.ends_with('\\') {
            continue;
        }
        let whole = std::mem::take(&mut pending);
        // Pipelines and `VAR=value strato ...` both count.
        for part in whole.split(['|', ';']).flat_map(|p| p.split("&&")) {
            let words: Vec<&str> =
                part.split_whitespace().skip_while(|w| w.contains('=') && !w.starts_with('-')).collect();
            if words.first() == Some(&"strato") {
                lines.push(words.join(" "));
            }
        }
    }
    lines
}

#[test]
fn every_command_line_in_the_document_parses() {
    let lines = command_lines();
    assert!(lines.len() >= 15, "only {} strato command lines found: {lines:?}", lines.len());
    let mut problems = Vec::new();
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let Some(sub) = words.first() else { continue };
        let mut path = vec![*sub];
        if *sub == "state" {
            path.extend(words.get(1));
        }
        let out = Command::new(env!("CARGO_BIN_EXE_strato")).args(&path).arg("--help").output().expect("strato runs");
        if !out.status.success() {
            problems.push(format!("`{line}`: `strato {} --help` fails", path.join(" ")));
            continue;
        }
        let help = String::from_utf8_lossy(&out.stdout);
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            let name = flag.split('=').next().unwrap();
            if !help.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']').any(|w| w == name) {
                problems.push(format!("`{line}`: `strato {}` has no flag {name}", path.join(" ")));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readme_and_the_architecture_link_the_operations_guide() {
    assert!(read("README.md").contains("docs/operations.md"), "README.md does not link docs/operations.md");
    assert!(read("docs/ARCHITECTURE.md").contains("tests/docs.rs"), "docs/ARCHITECTURE.md does not list tests/docs.rs");
}
