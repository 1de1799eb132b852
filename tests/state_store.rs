//! State and locks, locally and on S3 (the emulator's, through the AWS-faithful layer):
//! one lock per deployment, taken by exactly one of two racing runs; a dead holder's lock
//! broken with `strato unlock`; a lost state swept by tags without touching another
//! deployment; ten deployments of one spec provisioned at once with their states on S3.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{all_rules, json_out, planned, reference_copy, stderr, temp_dir, Session};
use serde_json::{json, Value};

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";

fn session(seed: u64) -> Session {
    Session::new(json!({ "seed": seed, "scale": 600.0, "rules": all_rules() }))
}

/// A spec of one VPC: cheap enough to race a hundred times.
fn one_vpc(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let spec = dir.join("race.toml");
    let text = r#"
[deployment]
name = "race"
region = "us-east-1"
zones = ["us-east-1a"]

[[vpc]]
name = "main"
cidr = "10.9.0.0/16"
"#;
    std::fs::write(&spec, text).unwrap();
    spec
}

/// A bucket of the session's account, for states.
fn bucket(s: &Session, name: &str) -> String {
    let name = format!("{name}-{}", std::process::id());
    common::runtime().block_on(async {
        let sdk = s.sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        s3.create_bucket().bucket(&name).send().await.expect("the state bucket is made");
    });
    name
}

/// The keys under `prefix` in `bucket`.
fn keys(s: &Session, bucket: &str, prefix: &str) -> Vec<String> {
    common::runtime().block_on(async {
        let sdk = s.sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        let out = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.expect("ListObjectsV2");
        out.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect()
    })
}

fn put(s: &Session, bucket: &str, key: &str, body: &str) {
    common::runtime().block_on(async {
        let sdk = s.sdk().await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        s3.put_object().bucket(bucket).key(key).body(body.as_bytes().to_vec().into()).send().await.expect("PutObject");
    });
}

/// strato as the session's caller, with the state at `state` (a directory or an S3 URL).
fn strato(s: &Session, args: &[&str], state: &str) -> Command {
    s.command_at(args, state)
}

fn vpcs(s: &Session) -> u64 {
    s.counts().get("vpc").copied().unwrap_or(0)
}

/// Two provisions of one deployment started together, `rounds` times (a destroy between
/// rounds): exactly one provisions it, the other is refused naming the winner and changes
/// nothing.
fn race(s: &Session, spec: &Path, state: &str, rounds: usize) {
    let spec = spec.to_str().unwrap();
    for round in 0..rounds {
        let args = ["provision", spec, "--yes", "--output", "json"];
        let spawn = || strato(s, &args, state).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (a, b) = (spawn(), spawn());
        let pids = [a.id(), b.id()];
        let outs: Vec<Output> = [a, b].into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let winners = outs.iter().filter(|o| o.status.success()).count();
        let shown: Vec<String> =
            outs.iter().map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o))).collect();
        assert_eq!(winners, 1, "round {round}: exactly one wins: {shown:?}");
        let loser = outs.iter().find(|o| !o.status.success()).unwrap();
        assert_eq!(loser.status.code(), Some(1), "round {round}: {shown:?}");
        let said = json_out(loser);
        assert_eq!(said["success"], false, "round {round}");
        let holder = said["locked_by"]["pid"].as_u64();
        assert!(
            holder.is_some_and(|h| pids.contains(&(h as u32))),
            "round {round}: the loser names the other run ({pids:?}) as the holder: {said}"
        );
        assert!(
            said["locked_by"]["command"].as_str().unwrap_or_default().contains("provision"),
            "round {round}: {said}"
        );
        // The loser made nothing: the one VPC is the winner's.
        assert_eq!(vpcs(s), 1, "round {round}: exactly one VPC");
        let out = strato(s, &["destroy", spec, "--yes"], state).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", stderr(&out));
        assert_eq!(vpcs(s), 0, "round {round}");
    }
}

#[test]
fn two_runs_racing_for_a_local_lock_one_wins_every_time() {
    let s = session(300);
    let dir = temp_dir("race-local");
    let spec = one_vpc(&dir.join("spec"));
    race(&s, &spec, dir.join("state").to_str().unwrap(), 100);
}

#[test]
fn two_runs_racing_for_an_s3_lock_one_wins_every_time() {
    let s = session(301);
    let dir = temp_dir("race-s3");
    let spec = one_vpc(&dir.join("spec"));
    let b = bucket(&s, "strato-race");
    race(&s, &spec, &format!("s3://{b}/states"), 100);
    // No state, backup or lock left behind.
    let keys = keys(&s, &b, "states/");
    assert!(keys.is_empty(), "{keys:?}");
}

#[test]
fn a_killed_holders_s3_lock_is_refused_then_broken_and_an_expired_lease_too() {
    let s = session(302);
    let dir = temp_dir("lease");
    let spec = one_vpc(&dir.join("spec"));
    let spec = spec.to_str().unwrap();
    let b = bucket(&s, "strato-lease");
    let url = format!("s3://{b}/states");
    // Killed at its first mutating call, with its lock held.
    let out = strato(&s, &["provision", spec, "--yes"], &url).env("STRATO_KILL_AT_CALL", "1").output().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(9), "{}", stderr(&out));
    assert!(keys(&s, &b, "states/race/").iter().any(|k| k.ends_with("lock.json")), "the dead run's lock is left");
    let refused = strato(&s, &["provision", spec, "--yes"], &url).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let text = stderr(&refused);
    assert!(
        text.contains("is locked by") && text.contains("strato unlock"),
        "names the holder and the way out: {text}"
    );
    // Its process is gone from this host: the lock may be broken at once.
    let unlock = strato(&s, &["unlock", spec, "--yes"], &url).output().unwrap();
    assert_eq!(unlock.status.code(), Some(0), "{}", stderr(&unlock));
    let again = strato(&s, &["provision", spec, "--yes"], &url).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(vpcs(&s), 1, "the resumed run found the killed run's VPC");

    // A holder on another host: only its lease tells; it is not broken before it expires.
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3;
    let lock = json!({ "user": "ci", "host": "runner-17", "pid": 4242, "command": "strato provision x", "since": expires - 60, "expires": expires });
    put(&s, &b, "states/race/lock.json", &lock.to_string());
    let refused = strato(&s, &["unlock", spec, "--yes"], &url).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "a live lease is not broken: {}", stderr(&refused));
    let blocked = strato(&s, &["destroy", spec, "--yes"], &url).output().unwrap();
    assert_eq!(blocked.status.code(), Some(1), "{}", stderr(&blocked));
    assert!(stderr(&blocked).contains("runner-17"), "{}", stderr(&blocked));
    std::thread::sleep(std::time::Duration::from_secs(5));
    let unlock = strato(&s, &["unlock", spec, "--yes"], &url).output().unwrap();
    assert_eq!(unlock.status.code(), Some(0), "an expired lease is broken: {}", stderr(&unlock));
    let done = strato(&s, &["destroy", spec, "--yes"], &url).output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", stderr(&done));
    assert_eq!(vpcs(&s), 0);
    assert!(keys(&s, &b, "states/race/").is_empty(), "state, backup and lock are gone with the deployment");
}

/// An overlay moving a deployment's network to `10.<n>.0.0/16`.
fn cidr_overlay(dir: &Path, n: u32) -> PathBuf {
    let text = std::fs::read_to_string(common::repo().join(SPEC)).unwrap();
    let mut overlay = format!("[[vpc]]\nname = \"main\"\ncidr = \"10.{n}.0.0/16\"\n");
    let mut name = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("name = \"") {
            name = v.split('"').next().map(str::to_string);
        }
        if let (Some(c), Some(sn)) = (line.strip_prefix("cidr = \"10.0."), &name) {
            if sn != "main" {
                let third = c.split('.').next().unwrap();
                overlay += &format!("\n[[subnet]]\nname = \"{sn}\"\ncidr = \"10.{n}.{third}.0/24\"\n");
            }
        }
    }
    overlay += &format!("\n[[instance]]\nname = \"puppet\"\nprivate_ip = \"10.{n}.30.10\"\n");
    let path = dir.join(format!("net-{n}.toml"));
    std::fs::write(&path, overlay).unwrap();
    path
}

#[test]
fn ten_deployments_of_one_spec_at_once_with_their_states_on_s3() {
    let spec = planned(SPEC);
    // Every AWS rule but the account's shared API buckets: ten runs at once in one account
    // need 1,330 mutating calls, which EC2's bucket (5 a second) spreads over four and a
    // half minutes, here and on AWS alike. Each run still keeps to AWS's limits itself.
    let mut rules = all_rules();
    rules["buckets"] = json!(false);
    let s = Session::new(json!({ "seed": 303, "scale": 600.0, "rules": rules }));
    let dir = temp_dir("ten");
    let b = bucket(&s, "strato-ten");
    let url = format!("s3://{b}/teams");
    let overlays: Vec<PathBuf> = (1..=10).map(|n| cidr_overlay(&dir, n)).collect();
    let run = |verb: &str| {
        let children: Vec<_> = (1..=10)
            .map(|n| {
                let name = format!("team-{n}");
                let overlay = overlays[n - 1].to_str().unwrap().to_string();
                let args = [verb, SPEC, "--deployment", &name, "--overlay", &overlay, "--yes", "--output", "json"];
                strato(&s, &args, &url).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        children.into_iter().map(|c| c.wait_with_output().unwrap()).collect::<Vec<Output>>()
    };
    let provisions = run("provision");
    let mut ids = std::collections::BTreeSet::new();
    for (i, out) in provisions.iter().enumerate() {
        let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out));
        assert_eq!(out.status.code(), Some(0), "team-{}: {shown}", i + 1);
        let v = json_out(out);
        assert_eq!(v["created"], 111, "team-{}: everything created, nothing adopted from another team", i + 1);
        ids.insert(v["deployment_id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 10, "ten deployment ids");
    let counts = s.counts();
    for (kind, n) in &spec {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), n * 10, "{kind}: ten of each (the layer counts {counts:?})");
    }
    let states: Vec<String> = keys(&s, &b, "teams/").into_iter().filter(|k| k.ends_with("/state.json")).collect();
    assert_eq!(states.len(), 10, "{states:?}");
    let listed = strato(&s, &["list", "--output", "json"], &url).output().unwrap();
    let listed = json_out(&listed);
    assert_eq!(listed["deployments"].as_array().unwrap().len(), 10, "{listed}");
    let vpc_cidrs: BTreeMap<String, String> = common::runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&s.sdk().await);
        let out = ec2.describe_vpcs().send().await.unwrap();
        out.vpcs()
            .iter()
            .filter_map(|v| {
                let team = v.tags().iter().find(|t| t.key() == Some("strato:deployment"))?.value()?.to_string();
                Some((team, v.cidr_block()?.to_string()))
            })
            .collect()
    });
    for n in 1..=10 {
        assert_eq!(vpc_cidrs.get(&format!("team-{n}")).map(String::as_str), Some(format!("10.{n}.0.0/16").as_str()));
    }
    for (i, out) in run("destroy").iter().enumerate() {
        assert_eq!(out.status.code(), Some(0), "team-{}: {}", i + 1, stderr(out));
    }
    let counts = s.counts();
    for kind in spec.keys() {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), 0, "{kind} left: {counts:?}");
    }
    assert!(keys(&s, &b, "teams/").is_empty(), "no state or lock left on S3");
}

#[test]
fn a_sweep_after_the_state_is_deleted_removes_that_deployment_and_nothing_else() {
    let spec = planned(SPEC);
    let s = session(304);
    let state = temp_dir("sweep");
    let st = state.to_str().unwrap();
    let (_dir, other) = reference_copy("sweep-other", |t| t.replacen("name = \"wso2\"", "name = \"wso2-b\"", 1));
    let other = other.to_str().unwrap().to_string();
    for spec_path in [SPEC, other.as_str()] {
        let out = strato(&s, &["provision", spec_path, "--yes"], st).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    std::fs::remove_dir_all(state.join("wso2")).unwrap();
    // Without its state, a plain destroy refuses to guess.
    let refused = strato(&s, &["destroy", SPEC, "--yes"], st).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--sweep"), "{}", stderr(&refused));
    let swept = strato(&s, &["destroy", SPEC, "--sweep", "--yes", "--output", "json"], st).output().unwrap();
    let v: Value = json_out(&swept);
    assert_eq!(swept.status.code(), Some(0), "{v}\n{}", stderr(&swept));
    assert_eq!(v["deleted"], 111, "{v}");
    let counts = s.counts();
    for (kind, n) in &spec {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), *n, "{kind}: the other deployment is intact ({counts:?})");
    }
    let out = strato(&s, &["plan", &other, "--detailed-exitcode"], st).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the other deployment is untouched: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = strato(&s, &["destroy", &other, "--yes"], st).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let counts = s.counts();
    for kind in spec.keys() {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), 0, "{kind} left: {counts:?}");
    }
}

#[test]
fn a_damaged_state_is_recovered_from_the_previous_good_one_never_answered_by_a_second_copy() {
    let s = session(305);
    let dir = temp_dir("recover");
    let spec = one_vpc(&dir.join("spec"));
    let spec = spec.to_str().unwrap();
    let state = dir.join("state");
    let st = state.to_str().unwrap();
    let run = |args: &[&str]| strato(&s, args, st).output().unwrap();
    assert_eq!(run(&["provision", spec, "--yes"]).status.code(), Some(0));
    // A second run that writes: the state it found is kept as the previous good one.
    let tagged = run(&["provision", spec, "--yes", "--set", "deployment.tags.Owner=ops"]);
    assert_eq!(tagged.status.code(), Some(0), "{}", stderr(&tagged));
    let file = state.join("race").join("state.json");
    std::fs::write(&file, "{ damaged").unwrap();
    let refused = run(&["provision", spec, "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("strato state recover"), "{}", stderr(&refused));
    assert_eq!(vpcs(&s), 1, "no second VPC for a damaged state");
    let listed = run(&["state", "list", spec, "--output", "json"]);
    assert_eq!(listed.status.code(), Some(1), "a damaged state cannot be listed: {}", stderr(&listed));
    let recovered = run(&["state", "recover", spec, "--yes"]);
    assert_eq!(recovered.status.code(), Some(0), "{}", stderr(&recovered));
    let listed = json_out(&run(&["state", "list", spec, "--output", "json"]));
    let addresses: Vec<&str> =
        listed["objects"].as_array().unwrap().iter().filter_map(|o| o["address"].as_str()).collect();
    assert_eq!(addresses, ["vpc.main"], "{listed}");
    let again = run(&["provision", spec, "--yes"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(vpcs(&s), 1, "the recovered state knows the VPC");
    assert_eq!(run(&["destroy", spec, "--yes"]).status.code(), Some(0));
    assert_eq!(vpcs(&s), 0);
}

#[test]
fn a_local_run_killed_mid_call_leaves_no_lock_and_is_listed_as_interrupted() {
    let s = session(306);
    let dir = temp_dir("interrupted");
    let spec = one_vpc(&dir.join("spec"));
    let spec = spec.to_str().unwrap();
    let st = dir.join("state");
    let st = st.to_str().unwrap();
    let out = strato(&s, &["provision", spec, "--yes"], st).env("STRATO_KILL_AT_CALL", "1").output().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&out.status), Some(9), "{}", stderr(&out));
    let listed = json_out(&strato(&s, &["list", "--output", "json"], st).output().unwrap());
    let row = &listed["deployments"][0];
    assert_eq!(row["deployment"], "race", "{listed}");
    assert!(row["status"].as_str().unwrap().starts_with("interrupted"), "{listed}");
    assert!(row["locked_by"].is_null(), "the OS released the dead run's lock: {listed}");
    let unlock = strato(&s, &["unlock", spec, "--yes"], st).output().unwrap();
    assert_eq!(unlock.status.code(), Some(0), "{}", stderr(&unlock));
    assert!(stderr(&unlock).contains("is not locked"), "{}", stderr(&unlock));
    let state = json_out(&strato(&s, &["state", "list", spec, "--output", "json"], st).output().unwrap());
    assert_eq!(state["journal"][0]["call"], "CreateVpc", "the unanswered call is journaled: {state}");
    let again = strato(&s, &["provision", spec, "--yes"], st).output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("CreateVpc vpc.main"),
        "the resumed run names what it reconciles: {}",
        stderr(&again)
    );
    assert_eq!(vpcs(&s), 1, "the killed run's VPC, found, not a second one");
    let listed = json_out(&strato(&s, &["list", "--output", "json"], st).output().unwrap());
    assert_eq!(listed["deployments"][0]["status"], "settled", "{listed}");
    assert_eq!(strato(&s, &["destroy", spec, "--yes"], st).output().unwrap().status.code(), Some(0));
    assert_eq!(vpcs(&s), 0);
}

#[test]
fn a_state_bucket_that_does_not_exist_stops_the_run_before_anything_is_made() {
    let s = session(307);
    let dir = temp_dir("no-bucket");
    let spec = one_vpc(&dir.join("spec"));
    let url = format!("s3://strato-no-such-bucket-{}/x", std::process::id());
    let out = strato(&s, &["provision", spec.to_str().unwrap(), "--yes"], &url).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("NoSuchBucket"), "names the problem: {}", stderr(&out));
    assert_eq!(vpcs(&s), 0, "nothing made");
}
