//! The command line as a whole: completions and the manual page generated from its
//! definition name every command (read from `strato --help`, so a new command is checked
//! without touching this file), and output into a closed pipe ends quietly instead of
//! panicking.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn strato(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_strato")).args(args).current_dir(repo()).output().expect("strato runs");
    assert!(out.status.success(), "strato {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn stdout(args: &[&str]) -> String {
    String::from_utf8(strato(args).stdout).unwrap()
}

/// The entries of one section of `strato --help` ("Commands:", "Options:"): each line
/// indented by two spaces begins one entry (its continuation lines are indented deeper).
fn help_section(help: &str, heading: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .map(|l| l.trim().to_string())
        .collect()
}

/// Every command of `strato --help` but clap's own `help`.
fn commands() -> Vec<String> {
    let help = stdout(&["--help"]);
    let names: Vec<String> = help_section(&help, "Commands:")
        .iter()
        .map(|e| e.split_whitespace().next().unwrap().to_string())
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 10, "too few commands read from --help:\n{help}");
    names
}

/// The long options of `strato --help`: the options every invocation takes.
fn global_options() -> Vec<String> {
    let help = stdout(&["--help"]);
    let options: Vec<String> = help_section(&help, "Options:")
        .iter()
        .flat_map(|e| e.split(|c: char| c == ',' || c.is_whitespace()).map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.starts_with("--"))
        .collect();
    assert!(options.contains(&"--help".to_string()), "{help}");
    options
}

#[test]
fn bash_completion_knows_every_command() {
    let script = stdout(&["completions", "bash"]);
    assert!(script.contains("complete -F _strato"), "not a bash completion script:\n{script}");
    // The list of words completed after `strato`, and a case for each command's own options.
    let top = script.lines().find(|l| l.trim_start().starts_with("opts=\"-h -V")).expect("the top-level words");
    for c in commands() {
        assert!(top.split(['"', ' ']).any(|w| w == c), "`{c}` is not completed after `strato`: {top}");
        assert!(script.contains(&format!("strato,{c})")), "`{c}` has no completion of its own options");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let s = stdout(&["completions", shell]);
        assert!(s.contains("strato") && s.contains("provision"), "{shell} completion:\n{s}");
    }
}

#[test]
fn the_manual_page_names_every_command_and_global_option() {
    let roff = stdout(&["man"]);
    assert!(roff.starts_with(".ie") || roff.contains(".TH strato 1"), "not a roff page:\n{roff}");
    // roff writes a hyphen as `\-`.
    let text = roff.replace("\\-", "-");
    for c in commands() {
        assert!(text.contains(&format!("strato-{c}(1)")), "`{c}` is missing from the manual page");
    }
    for o in global_options() {
        assert!(text.contains(&o), "`{o}` is missing from the manual page");
    }
    // A command's own page lists its options.
    let plan = stdout(&["man", "plan"]).replace("\\-", "-");
    for o in ["--refresh", "--target", "--detailed-exitcode", "--state"] {
        assert!(plan.contains(o), "`strato man plan` lacks {o}");
    }
    // An unknown command is refused by name.
    let out = Command::new(env!("CARGO_BIN_EXE_strato")).args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no command `nope`"));

    // It renders, where man(1) is installed (`man -l -` reads the page from stdin).
    if let Ok(mut man) = Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        use std::io::Write as _;
        man.stdin.take().unwrap().write_all(roff.as_bytes()).unwrap();
        let out = man.wait_with_output().unwrap();
        assert!(out.status.success(), "man -l - failed: {}", String::from_utf8_lossy(&out.stderr));
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains("provision"), "man shows:\n{shown}");
    }
}

#[test]
fn every_page_can_be_written_to_a_directory() {
    let dir = std::env::temp_dir().join(format!("strato-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    strato(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(dir.join("strato.1").is_file());
    for c in commands() {
        assert!(dir.join(format!("strato-{c}.1")).is_file(), "no page for `{c}`");
    }
}

/// Runs strato with stdout (and, with `stderr_too`, stderr) a pipe whose reader is already
/// gone: every write fails with EPIPE.
fn into_closed_pipe(args: &[&str], stderr_too: bool) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strato"));
    cmd.args(args).current_dir(repo()).stdout(writer);
    if stderr_too {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        cmd.stderr(writer);
    }
    cmd.output().expect("strato runs")
}

#[test]
fn a_closed_pipe_ends_the_output_without_a_panic() {
    let state = std::env::temp_dir().join(format!("strato-pipe-{}", std::process::id()));
    let state = state.to_str().unwrap();
    let writers: [&[&str]; 8] = [
        &["completions", "bash"],
        &["man"],
        &["graph", SPEC],
        &["graph", SPEC, "--format", "json"],
        &["plan", SPEC, "--state", state],
        &["plan", SPEC, "--state", state, "--output", "json"],
        &["validate", SPEC],
        // No state: status answers from the state alone, without AWS.
        &["status", SPEC, "--state", state, "--output", "json"],
    ];
    for args in writers {
        let out = into_closed_pipe(args, false);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "strato {args:?} panicked:\n{err}");
        assert!(!err.contains("Broken pipe"), "strato {args:?} complained:\n{err}");
        assert_eq!(out.status.code(), Some(141), "strato {args:?}: {:?}\n{err}", out.status);

        // With stderr closed too nothing can be said, and nothing panics (exit 101).
        let out = into_closed_pipe(args, true);
        assert_eq!(out.status.code(), Some(141), "strato {args:?} with stderr closed: {:?}", out.status);
    }
    // An error with its output closed keeps its own exit code.
    let out = into_closed_pipe(&["validate", "no/such/spec.toml"], true);
    assert_eq!(out.status.code(), Some(2), "{:?}", out.status);
}
