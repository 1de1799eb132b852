//! Failures as AWS produces them, on the AWS-faithful layer (`tests/aws/`): a permanent
//! refusal midway, a service that stops answering during a destroy, a NAT gateway that ends
//! `failed`, and a run stopped while its databases are still `creating`. Each ends with a
//! clear message and a state from which a later run finishes the job.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{all_rules, json_out, planned, stderr, temp_dir, Session};
use serde_json::{json, Value};

const REFERENCE: &str = "deploy-specs/wso2-apim-ei.toml";
const NETWORK: &str = "deploy-specs/wso2-network.toml";
const SCALE: f64 = 20.0;

fn session(extra: Value) -> Session {
    let mut config = json!({ "seed": 5, "scale": SCALE, "rules": all_rules() });
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Session::new(config)
}

/// The state's objects: (address, kind, id) of each one with an id.
fn recorded(state: &std::path::Path, deployment: &str) -> Vec<(String, String, Option<String>)> {
    let text = std::fs::read_to_string(state.join(deployment).join("state.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["objects"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(a, o)| (a.clone(), o["kind"].as_str().unwrap().to_string(), o["id"].as_str().map(str::to_string)))
        .collect()
}

fn assert_nothing_left(session: &Session, spec: &BTreeMap<String, u64>) {
    let counts = session.counts();
    for kind in spec.keys().map(String::as_str).chain(["network_interface"]) {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), 0, "{kind} left: {counts:?}");
    }
}

/// `AccessDenied` on CreateDBInstance: the run stops cleanly, naming object, call and code;
/// what depends on the databases is skipped; what was under way finishes and is recorded.
/// A destroy while ELB does not answer removes everything it can and names what it could
/// not reach; once ELB answers again, the next destroy removes the rest.
#[test]
fn a_permanent_failure_stops_cleanly_and_destroy_removes_everything() {
    let s = session(json!({ "deny": [{ "operation": "CreateDBInstance", "code": "AccessDenied" }] }));
    let spec = planned(REFERENCE);
    let state = temp_dir("denied");

    let up = s.strato(&["provision", REFERENCE, "--output", "json"], &state);
    assert_eq!(up.status.code(), Some(1), "{}", stderr(&up));
    let report = json_out(&up);
    let failed: Vec<(&str, &str)> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["address"].as_str().unwrap(), f["error"].as_str().unwrap()))
        .collect();
    assert!(!failed.is_empty());
    for (address, error) in &failed {
        assert!(address.starts_with("database."), "only the databases fail: {failed:?}");
        assert!(
            error.starts_with(&format!("{address}: CreateDBInstance failed: AccessDenied: ")),
            "names object, call and code: {error}"
        );
    }
    let skipped: Vec<&str> =
        report["skipped"].as_array().unwrap().iter().map(|s| s["address"].as_str().unwrap()).collect();
    assert!(skipped.contains(&"instance.puppet"), "the Puppet server needs the databases: {skipped:?}");
    // The state is consistent: what was under way finished, every recorded object exists
    // and is ready, and a refused create left no record behind.
    let text = std::fs::read_to_string(state.join("wso2/state.json")).unwrap();
    let statuses: Value = serde_json::from_str(&text).unwrap();
    for (address, o) in statuses["objects"].as_object().unwrap() {
        assert_eq!(o["status"], "ready", "{address}: {o}");
    }
    let objects = recorded(&state, "wso2");
    assert!(objects.iter().all(|(_, _, id)| id.is_some()), "{objects:?}");
    assert!(!objects.iter().any(|(a, _, _)| a.starts_with("database.")));
    let counts = s.counts();
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, kind, _) in &objects {
        // An instance role is an IAM role, counted by the layer as such.
        let kind = if kind == "instance_role" { "iam_role" } else { kind.as_str() };
        *by_kind.entry(kind).or_default() += 1;
    }
    for (kind, n) in &by_kind {
        assert_eq!(counts.get(*kind).copied().unwrap_or(0), *n, "{kind}: recorded {n}, the account has {counts:?}");
    }
    assert!(s.summary("refused").values().all(|n| *n == 0), "{:?}", s.summary("refused"));

    // ELB stops answering: destroy deletes what does not depend on it and names the rest.
    s.patch(json!({ "unavailable": ["elasticloadbalancing"] }));
    let partial = s.strato(&["destroy", REFERENCE, "--yes"], &state);
    assert_eq!(partial.status.code(), Some(1));
    let text = stderr(&partial);
    assert!(text.contains("ServiceUnavailable"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("error: load_balancer.") || l.starts_with("error: target_group.")),
        "names what it could not reach:\n{text}"
    );
    assert!(text.contains("run `strato destroy` again to resume"), "{text}");
    let left = recorded(&state, "wso2");
    assert!(left.len() < objects.len(), "what does not depend on ELB is deleted: {} of {}", left.len(), objects.len());
    assert!(!left.iter().any(|(_, kind, _)| kind == "file_system"), "the file system does not depend on ELB: {left:?}");

    s.patch(json!({ "unavailable": [] }));
    let rest = s.strato(&["destroy", REFERENCE, "--yes"], &state);
    assert_eq!(rest.status.code(), Some(0), "{}", stderr(&rest));
    assert_nothing_left(&s, &spec);
    assert!(!state.join("wso2/state.json").exists());
    assert!(s.summary("refused").values().all(|n| *n == 0), "{:?}", s.summary("refused"));
}

/// A NAT gateway that ends `failed` (AWS says it can) fails the run with AWS's failure
/// code; the next provision deletes it, freeing its Elastic IP, and creates a new one.
#[test]
fn a_failed_nat_gateway_is_deleted_and_replaced() {
    let s = session(json!({ "fail_nat_gateways": 1 }));
    let spec = planned(NETWORK);
    let state = temp_dir("failed-nat");
    let up = s.strato(&["provision", NETWORK], &state);
    assert_eq!(up.status.code(), Some(1));
    let text = stderr(&up);
    assert!(
        text.lines().any(|l| l.starts_with("error: nat_gateway.") && l.contains("`failed`")),
        "names the gateway and its state:\n{text}"
    );

    let again = s.strato(&["provision", NETWORK, "--output", "json"], &state);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let counts = s.counts();
    for (kind, n) in &spec {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), *n, "{kind}: {counts:?}");
    }
    assert!(
        !s.inventory()["transitional"].as_array().unwrap().iter().any(|o| o["state"] == "failed"),
        "the failed gateway is deleted, not forgotten"
    );

    let down = s.strato(&["destroy", NETWORK, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_nothing_left(&s, &spec);
    assert!(s.summary("refused").values().all(|n| *n == 0), "{:?}", s.summary("refused"));
}

/// Stopped while the databases are still `creating` (by SIGTERM, as a CI runner or `timeout`
/// stops a job: as gracefully as Ctrl-C, exit 143): RDS refuses a final snapshot of a
/// database in that state, so destroy deletes them without one and says so.
#[test]
fn databases_stopped_while_creating_are_deleted_without_a_snapshot() {
    let s = session(json!({}));
    let spec = planned(REFERENCE);
    let state = temp_dir("stopped");
    let mut child = s.command(&["provision", REFERENCE], &state).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Until both databases are recorded as created (their wait has begun).
    let start = Instant::now();
    let state_file = state.join("wso2/state.json");
    loop {
        assert!(start.elapsed() < Duration::from_secs(120), "the databases were never created");
        let created = std::fs::read_to_string(&state_file)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| {
                ["database.apim-db", "database.analytics-db"].iter().all(|d| v["objects"][d]["status"] == "created")
            });
        if created {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "stopped gracefully, not killed");
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert!(recorded["objects"]["database.apim-db"]["id"].is_string(), "the state is kept");
    let creating = s.inventory()["transitional"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "db_instance" && o["state"] == "creating")
        .count();
    assert_eq!(creating, 2, "both databases are still creating");

    let down = s.strato(&["destroy", REFERENCE, "--yes", "--output", "json"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let notices: Vec<String> = json_out(&down)["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{}: {}", n["address"].as_str().unwrap(), n["notice"].as_str().unwrap()))
        .collect();
    for db in ["database.apim-db", "database.analytics-db"] {
        assert!(
            notices.iter().any(|n| n.starts_with(db)
                && n.contains("never became available")
                && n.contains("without a final snapshot")),
            "{db}: {notices:?}"
        );
    }
    assert_nothing_left(&s, &spec);
    assert_eq!(s.counts().get("db_snapshot").copied().unwrap_or(0), 0, "no snapshot of an empty database");
    assert!(s.summary("refused").values().all(|n| *n == 0), "{:?}", s.summary("refused"));
}
