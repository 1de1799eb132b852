//! Snapshot tests of the diagnostics for every spec in `tests/specs/invalid/`, and the
//! specs in `tests/specs/valid/` that must stay accepted.
//!
//! Each spec opens with `# expect: code, code, ...`: the exact set of diagnostic codes
//! `strato validate` must report (warnings included). Its full human output is compared with
//! the `.stderr` file beside it. A valid spec may expect warnings the same way. After an intended change of wording, regenerate the snapshots with
//! `STRATO_BLESS=1 cargo test --test spec_corpus` and review the diff.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn strato(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("strato runs")
}

fn invalid_specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/invalid");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/specs/invalid exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    specs.sort();
    specs
}

fn expected_codes(text: &str) -> Option<BTreeSet<String>> {
    let line = text.lines().find_map(|l| l.strip_prefix("# expect:"))?;
    Some(line.split(',').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect())
}

#[test]
fn every_invalid_spec_reports_exactly_its_expected_diagnostics() {
    let specs = invalid_specs();
    assert!(specs.len() >= 30, "only {} invalid specs", specs.len());
    let bless = std::env::var_os("STRATO_BLESS").is_some();
    let mut failures = Vec::new();
    for spec in &specs {
        let rel = spec.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(spec).unwrap();
        let Some(expected) = expected_codes(&text) else {
            failures.push(format!("{rel}: no `# expect:` line"));
            continue;
        };

        let human = strato(&["validate", &rel]);
        if human.status.code() != Some(2) {
            failures.push(format!(
                "{rel}: exit code {:?}, expected 2\n{}",
                human.status.code(),
                String::from_utf8_lossy(&human.stderr)
            ));
            continue;
        }
        let stderr = String::from_utf8(human.stderr).expect("utf-8 diagnostics");
        assert!(!stderr.contains("panicked"), "{rel} panicked:\n{stderr}");

        let json = strato(&["validate", &rel, "--output", "json"]);
        assert_eq!(json.status.code(), Some(2), "{rel} --output json");
        let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON report");
        assert_eq!(report["valid"], false, "{rel}");
        let got: BTreeSet<String> =
            report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().to_string()).collect();
        if got != expected {
            failures.push(format!("{rel}: codes {got:?}, expected {expected:?}\n{stderr}"));
        }
        for d in report["diagnostics"].as_array().unwrap() {
            let loc = &d["location"];
            if loc["line"].as_u64().unwrap_or(0) == 0 || loc["column"].as_u64().unwrap_or(0) == 0 {
                failures.push(format!("{rel}: diagnostic without a position: {d}"));
            }
        }

        let snapshot = spec.with_extension("stderr");
        if bless {
            std::fs::write(&snapshot, &stderr).unwrap();
        } else {
            match std::fs::read_to_string(&snapshot) {
                Ok(want) if want == stderr => {}
                Ok(want) => failures.push(format!(
                    "{rel}: output differs from {}\n--- expected\n{want}\n--- got\n{stderr}",
                    snapshot.display()
                )),
                Err(_) => failures.push(format!("{rel}: no snapshot {}; run with STRATO_BLESS=1", snapshot.display())),
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} specs failed:\n\n{}", failures.len(), specs.len(), failures.join("\n\n"));
}

/// The specs in `tests/specs/valid/` (edge cases that must stay accepted, such as an explicit
/// `open_to_world = true`) validate and plan. One without an `# expect:` line has no
/// diagnostic at all; one with it has exactly those warnings, no error, and its human output
/// in the `.stderr` file beside it.
#[test]
fn every_valid_spec_validates_and_plans() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/specs/valid");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/specs/valid exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    specs.sort();
    assert!(!specs.is_empty());
    let bless = std::env::var_os("STRATO_BLESS").is_some();
    for spec in specs {
        let path = spec.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(&spec).unwrap();
        let expected = expected_codes(&text).unwrap_or_default();
        let out = strato(&["validate", path]);
        let stderr = String::from_utf8(out.stderr).expect("utf-8 diagnostics");
        assert_eq!(out.status.code(), Some(0), "{path}:\n{stderr}");
        let json = strato(&["validate", path, "--output", "json"]);
        assert_eq!(json.status.code(), Some(0), "{path} --output json");
        let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON report");
        assert_eq!(report["valid"], true, "{path}");
        let diagnostics = report["diagnostics"].as_array().unwrap();
        let got: BTreeSet<String> = diagnostics.iter().map(|d| d["code"].as_str().unwrap().to_string()).collect();
        assert_eq!(got, expected, "{path}:\n{stderr}");
        assert!(diagnostics.iter().all(|d| d["severity"] == "warning"), "{path}: only warnings");
        let snapshot = spec.with_extension("stderr");
        if expected.is_empty() {
            assert!(stderr.is_empty(), "{path}:\n{stderr}");
        } else if bless {
            std::fs::write(&snapshot, &stderr).unwrap();
        } else {
            let want = std::fs::read_to_string(&snapshot)
                .unwrap_or_else(|_| panic!("{path}: no snapshot {}; run with STRATO_BLESS=1", snapshot.display()));
            assert_eq!(want, stderr, "{path}: output differs from {}", snapshot.display());
        }
        let plan = strato(&["plan", path, "--output", "json"]);
        assert_eq!(plan.status.code(), Some(0), "{path}");
        let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
        assert!(!plan["objects"].as_array().unwrap().is_empty(), "{path}: empty plan");
        assert!(plan["objects"].as_array().unwrap().iter().all(|o| o["action"] == "create"), "{path}");
    }
}

/// An invalid spec costs zero AWS calls: `provision` and `destroy` refuse it before they
/// connect (here to an endpoint nobody listens on, which any call would fail to reach) and
/// leave no state behind. `destroy` reads only the spec's `[deployment]`: a spec whose only
/// problem is a missing template or key file still names its deployment (and there, with no
/// state, the destroy looks for what is tagged with its name).
#[test]
fn provisioning_an_invalid_spec_sends_nothing() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let state = std::env::temp_dir().join(format!("strato-corpus-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    for spec in invalid_specs() {
        let rel = spec.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&spec).unwrap();
        let only_missing_files = expected_codes(&text).is_some_and(|codes| codes.iter().all(|c| c == "file-not-found"));
        for command in [&["provision", rel.as_str()][..], &["destroy", rel.as_str(), "--yes"][..]] {
            if command[0] == "destroy" && only_missing_files {
                continue;
            }
            let out = Command::new(env!("CARGO_BIN_EXE_strato"))
                .args(command)
                .args(["--endpoint-url", &endpoint, "--state-dir", state.to_str().unwrap()])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .output()
                .expect("strato runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{rel} {}: {stderr}", command[0]);
            assert!(stderr.contains("nothing was sent to AWS"), "{rel} {}: {stderr}", command[0]);
            assert!(!stderr.contains("cannot reach"), "{rel} {}: {stderr}", command[0]);
        }
    }
    assert!(!state.exists(), "no state for an invalid spec");
}
