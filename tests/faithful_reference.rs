//! The whole reference architecture against AWS's rules rather than the emulator's: the
//! AWS-faithful layer (`tests/aws/`) refuses every delete AWS refuses while its dependency
//! lasts, answers input AWS refuses as AWS does, runs every lifecycle through its
//! transitional states (scaled down), keeps deleted owners' network interfaces around for a
//! while, lags behind creates, meters calls in AWS's token buckets, and on top of that
//! throttles, fails and drops connections at random (seeded).
//!
//! Each run must end exactly like a clean one: every kind's count equal to the spec's,
//! counted by the layer from the emulator's own records (no duplicates, no untagged
//! leftovers), strato never sent what AWS would refuse, and nothing is left after destroy.

mod common;

use std::collections::BTreeMap;

use common::{all_rules, json_out, planned, stderr, temp_dir, Session};
use serde_json::json;

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";

/// AWS's time runs this many times faster on the layer: the twelve minutes of a Multi-AZ
/// database take 36 seconds.
const SCALE: f64 = 20.0;

/// What a faithful run must never see: a refusal of strato's order or input. Propagation
/// lags, throttling and injected faults are AWS's to send and strato's to absorb.
fn assert_never_refused(session: &Session, when: &str) {
    let refused = session.summary("refused");
    assert!(refused.values().all(|n| *n == 0), "{when}: the layer refused what AWS would refuse: {refused:?}");
}

/// Every kind of the spec, as many times as the spec has it, and nothing else.
fn assert_exactly_the_spec(session: &Session, spec: &BTreeMap<String, u64>, when: &str) {
    let counts = session.counts();
    for (kind, n) in spec {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), *n, "{when}: {kind} (layer counts {counts:?})");
    }
}

fn assert_nothing_left(session: &Session, spec: &BTreeMap<String, u64>, when: &str) {
    let counts = session.counts();
    for kind in spec.keys().map(String::as_str).chain(["network_interface", "ssm_parameter"]) {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), 0, "{when}: {kind} left (layer counts {counts:?})");
    }
}

/// One seed: provision and destroy the reference architecture through every rule and fault.
fn round_trip(seed: u64) -> String {
    let session = Session::new(json!({
        "seed": seed,
        "scale": SCALE,
        "rules": all_rules(),
        "durations": "sampled",
        "faults": { "throttle": 0.10, "http500": 0.02, "drop_before": 0.01, "drop_after": 0.01 },
    }));
    let spec = planned(SPEC);
    let state = temp_dir(&format!("reference-seed-{seed}"));

    let up = session.strato(&["provision", SPEC, "--output", "json"], &state);
    assert_eq!(up.status.code(), Some(0), "seed {seed}: provision failed:\n{}", stderr(&up));
    let summary = json_out(&up);
    assert_eq!(summary["created"], common::plan_len(SPEC), "seed {seed}");
    assert_never_refused(&session, &format!("seed {seed} provision"));
    assert_exactly_the_spec(&session, &spec, &format!("seed {seed} after provision"));
    // A fresh account's buckets are full: strato's meter keeps every call inside them.
    // (The destroy that follows shares the buckets this run drained, as a second process on
    // one account does on AWS, and may be throttled; it retries.)
    let buckets = session.summary("throttled");
    assert!(buckets.values().all(|n| *n == 0), "seed {seed}: AWS's buckets throttled strato: {buckets:?}");

    let faults = session.summary("fault").values().sum::<u64>();
    let lags = session.summary("lag").values().sum::<u64>();
    let throttled = session.summary("throttled").values().sum::<u64>();

    let down = session.strato(&["destroy", SPEC, "--yes", "--output", "json"], &state);
    assert_eq!(down.status.code(), Some(0), "seed {seed}: destroy failed:\n{}", stderr(&down));
    assert_never_refused(&session, &format!("seed {seed} destroy"));
    assert_nothing_left(&session, &spec, &format!("seed {seed} after destroy"));
    assert!(!state.join("wso2/state.json").exists());
    let log = session.log();
    let snapshots = json_out(&down)["notices"].as_array().map_or(0, |n| {
        n.iter().filter(|n| n["notice"].as_str().is_some_and(|m| m.starts_with("final snapshot"))).count()
    });
    assert_eq!(snapshots, 2, "seed {seed}: both databases get a final snapshot, named in the summary");
    format!(
        "seed {seed}: provision {:.1}s, destroy {:.1}s; the layer injected {faults} faults, {lags} lags, {throttled} throttles ({} events)",
        summary["elapsed_seconds"].as_f64().unwrap_or_default(),
        json_out(&down)["elapsed_seconds"].as_f64().unwrap_or_default(),
        log["events"].as_array().map_or(0, Vec::len),
    )
}

#[test]
fn the_reference_architecture_passes_awss_rules_under_faults() {
    // Seeds run side by side: each session is an account of its own.
    let runs: Vec<_> = [11, 23, 37].into_iter().map(|seed| std::thread::spawn(move || round_trip(seed))).collect();
    for r in runs {
        match r.join() {
            Ok(line) => eprintln!("{line}"),
            Err(e) => std::panic::resume_unwind(e),
        }
    }
}
