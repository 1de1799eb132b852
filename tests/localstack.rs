//! strato against LocalStack's last free build (`localstack-core` 2026.3.0, run by
//! `scripts/local-aws localstack` as a Python process), unchanged: the endpoint override and
//! whatever account the endpoint says it is (LocalStack's is 000000000000, moto's another).
//! That build serves EC2, ACM, IAM, SSM, STS and S3 but not RDS, EFS or ELBv2, which answer
//! HTTP 501 (`InternalFailure`).
//!
//! - The network tier is provisioned, checked through the SDK, provisioned again (nothing
//!   created, no create call made) and destroyed (nothing tagged with it left).
//! - The whole reference architecture fails cleanly at the first service LocalStack lacks:
//!   exit 1, each failure naming object, call and code, no panic, every record a finished
//!   object; `strato destroy` then removes everything it created.
//! - With `--check-services` the same spec is refused before anything is created; where
//!   every service answers (moto), it finds nothing missing.
//!
//! `scripts/test` starts LocalStack and sets `STRATO_TEST_LOCALSTACK_ENDPOINT` (and moto,
//! `STRATO_TEST_AWS_ENDPOINT`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use aws_sdk_ec2::types::Filter;
use serde_json::Value;

mod common;

use common::events;

const NETWORK: &str = "deploy-specs/wso2-network.toml";
const REFERENCE: &str = "deploy-specs/wso2-apim-ei.toml";

fn endpoint() -> String {
    std::env::var("STRATO_TEST_LOCALSTACK_ENDPOINT").expect(
        "STRATO_TEST_LOCALSTACK_ENDPOINT is not set: run the suite with scripts/test, which starts LocalStack \
         (scripts/local-aws localstack PORT)",
    )
}

/// Runs strato against LocalStack with dummy credentials.
fn strato(args: &[&str], state_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .args(["--endpoint-url", &endpoint(), "--state-dir", state_dir.to_str().unwrap()])
        .current_dir(common::repo())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("strato runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A command's JSON document, or the summary of its event stream.
fn json(out: &Output) -> Value {
    assert!(!out.stdout.is_empty(), "no JSON on stdout:\n{}", stderr(out));
    events::document(&out.stdout)
}

/// No panic, whatever the exit code (a panic exits 101 and prints "panicked").
fn assert_no_panic(out: &Output) {
    assert_ne!(out.status.code(), Some(101), "{}", stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

async fn config() -> aws_config::SdkConfig {
    let creds = aws_sdk_ec2::config::Credentials::new("test", "test", None, None, "tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(creds)
        .load()
        .await
}

fn by_deployment(name: &str) -> Filter {
    Filter::builder().name("tag:strato:deployment").values(name).build()
}

/// The state file's objects: (address, kind, id, status).
fn recorded(state: &Path, deployment: &str) -> Vec<(String, String, Option<String>, String)> {
    let text = std::fs::read_to_string(state.join(deployment).join("state.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["objects"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(a, o)| {
            (
                a.clone(),
                o["kind"].as_str().unwrap().to_string(),
                o["id"].as_str().map(str::to_string),
                o["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// How many live EC2 objects of each kind carry the deployment's tag, from each kind's
/// own describe call (NAT gateways listed as `deleted` are gone).
async fn ec2_tagged(c: &aws_sdk_ec2::Client, deployment: &str) -> Vec<(&'static str, usize)> {
    let dep = || by_deployment(deployment);
    let nats = c.describe_nat_gateways().filter(dep()).send().await.unwrap();
    let nats = nats
        .nat_gateways()
        .iter()
        .filter(|n| n.tags().iter().any(|t| t.key() == Some("strato:deployment") && t.value() == Some(deployment)))
        .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
        .count();
    let instances = c.describe_instances().filters(dep()).send().await.unwrap();
    let instances = instances
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
        .count();
    vec![
        ("vpc", c.describe_vpcs().filters(dep()).send().await.unwrap().vpcs().len()),
        ("subnet", c.describe_subnets().filters(dep()).send().await.unwrap().subnets().len()),
        (
            "internet_gateway",
            c.describe_internet_gateways().filters(dep()).send().await.unwrap().internet_gateways().len(),
        ),
        ("elastic_ip", c.describe_addresses().filters(dep()).send().await.unwrap().addresses().len()),
        ("nat_gateway", nats),
        ("route_table", c.describe_route_tables().filters(dep()).send().await.unwrap().route_tables().len()),
        ("security_group", c.describe_security_groups().filters(dep()).send().await.unwrap().security_groups().len()),
        ("key_pair", c.describe_key_pairs().filters(dep()).send().await.unwrap().key_pairs().len()),
        ("instance", instances),
    ]
}

async fn assert_no_ec2_left(c: &aws_sdk_ec2::Client, deployment: &str) {
    let left: Vec<_> = ec2_tagged(c, deployment).await.into_iter().filter(|(_, n)| *n > 0).collect();
    assert!(left.is_empty(), "EC2 objects tagged with {deployment} are left: {left:?}");
}

#[tokio::test]
async fn network_tier_provisions_again_without_changes_and_is_destroyed() {
    let state = common::scratch_dir("localstack", "network");
    let conf = config().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);

    let up = strato(&["provision", NETWORK, "--output", "json"], &state);
    assert_no_panic(&up);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let summary = json(&up);
    let objects = recorded(&state, "wso2-network");
    assert!(summary["created"].as_u64().unwrap() > 0);
    assert_eq!(summary["created"].as_u64().unwrap() as usize, objects.len(), "{summary}");
    assert!(objects.iter().all(|(_, _, id, status)| id.is_some() && status == "ready"), "{objects:?}");

    // What the state records is what LocalStack holds: per kind, the same count through
    // each kind's describe call as in the state.
    let live = ec2_tagged(&ec2, "wso2-network").await;
    for (kind, n) in &live {
        let want = objects.iter().filter(|(_, k, _, _)| k == kind).count();
        assert_eq!(*n, want, "{kind}: {live:?}");
    }
    assert!(live.iter().all(|(k, n)| *k == "instance" || *n > 0), "every network kind was made: {live:?}");
    let vpc_id = objects.iter().find(|(a, ..)| a == "vpc.main").and_then(|(_, _, id, _)| id.clone()).unwrap();
    let vpcs = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
    assert_eq!(vpcs.vpcs()[0].cidr_block(), Some("10.0.0.0/16"));

    // Again: nothing to create, and no create call made.
    let again = strato(&["provision", NETWORK, "--output", "json"], &state);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let summary = json(&again);
    assert_eq!(summary["created"], 0, "{summary}");
    assert_eq!(summary["unchanged"].as_u64().unwrap() as usize, objects.len(), "{summary}");
    let calls = summary["api_calls_by_operation"].as_object().unwrap();
    let mutating: Vec<_> = calls
        .keys()
        .filter(|op| {
            ["Create", "Allocate", "Import", "Run", "Associate", "Attach", "Authorize"]
                .iter()
                .any(|p| op.starts_with(p))
        })
        .collect();
    assert!(mutating.is_empty(), "a run with nothing to do makes no mutating call: {mutating:?}");
    assert_eq!(ec2_tagged(&ec2, "wso2-network").await, live, "nothing new in LocalStack");
    let plan = strato(&["plan", NETWORK, "--detailed-exitcode"], &state);
    assert_eq!(plan.status.code(), Some(0), "no changes: {}", String::from_utf8_lossy(&plan.stdout));
    let status = strato(&["status", NETWORK, "--output", "json"], &state);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let statuses = json(&status)["objects"].as_array().unwrap().clone();
    assert_eq!(statuses.len(), objects.len());
    assert!(statuses.iter().all(|o| o["status"] == "in sync"), "{statuses:?}");

    let down = strato(&["destroy", NETWORK, "--yes", "--output", "json"], &state);
    assert_no_panic(&down);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(json(&down)["deleted"].as_u64().unwrap() as usize, objects.len());
    assert_no_ec2_left(&ec2, "wso2-network").await;
    assert!(!state.join("wso2-network/state.json").exists(), "no state is left");
}

/// The kinds LocalStack's free build has no service for.
fn unserved(kind: &str) -> bool {
    ["db_subnet_group", "db_instance", "file_system", "mount_target", "load_balancer", "target_group", "listener"]
        .iter()
        .any(|k| kind.starts_with(k))
}

#[tokio::test]
async fn the_reference_architecture_fails_cleanly_at_the_first_missing_service_and_is_destroyed_completely() {
    let state = common::scratch_dir("localstack", "reference");
    let conf = config().await;
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let deployment = "ls-wso2";

    let up = strato(&["provision", REFERENCE, "--deployment", deployment, "--output", "json"], &state);
    assert_no_panic(&up);
    assert_eq!(up.status.code(), Some(1), "{}", stderr(&up));
    let report = json(&up);
    let failed = report["failed"].as_array().unwrap();
    assert!(!failed.is_empty(), "{report}");
    for f in failed {
        let (address, error) = (f["address"].as_str().unwrap(), f["error"].as_str().unwrap());
        let prefix = address.split('.').next().unwrap();
        assert!(
            ["database", "db_subnet_group", "file_system", "load_balancer", "target_group"].contains(&prefix),
            "only what needs RDS, EFS or ELBv2 fails: {address}: {error}"
        );
        // "<object>: <Call> failed: InternalFailure: <LocalStack's message>"
        let (object, rest) = error.split_once(": ").unwrap();
        assert_eq!(object, address, "{error}");
        let (call, rest) = rest.split_once(" failed: ").unwrap_or_else(|| panic!("names the call: {error}"));
        assert!(call.starts_with("Create"), "{error}");
        assert!(rest.starts_with("InternalFailure: "), "names the code: {error}");
    }
    // The text summary says what to do next, and the first failure stopped new work.
    assert!(!report["not_started"].as_array().unwrap().is_empty(), "{report}");

    // Nothing half-recorded: every record is a finished object with its id, none of a
    // kind LocalStack cannot serve, and each one exists.
    let objects = recorded(&state, deployment);
    assert!(!objects.is_empty());
    assert!(objects.iter().all(|(_, _, id, status)| id.is_some() && status == "ready"), "{objects:?}");
    let bad: Vec<_> = objects.iter().filter(|(_, k, ..)| unserved(k)).collect();
    assert!(bad.is_empty(), "recorded although its service is missing: {bad:?}");
    let live = ec2_tagged(&ec2, deployment).await;
    for (kind, n) in &live {
        let want = objects.iter().filter(|(_, k, _, _)| k == kind).count();
        assert_eq!(*n, want, "{kind}: {live:?}");
    }

    // The objects of the other services strato made, read back before the destroy.
    let iam = aws_sdk_iam::Client::new(&conf);
    let acm = aws_sdk_acm::Client::new(&conf);
    let ssm = aws_sdk_ssm::Client::new(&conf);
    let roles: Vec<String> =
        objects.iter().filter(|(_, k, ..)| k == "instance_role").map(|(_, _, id, _)| id.clone().unwrap()).collect();
    let certificates: Vec<String> =
        objects.iter().filter(|(_, k, ..)| k == "certificate").map(|(_, _, id, _)| id.clone().unwrap()).collect();
    for role in &roles {
        iam.get_role().role_name(role).send().await.unwrap_or_else(|e| panic!("role {role}: {e:?}"));
    }
    for arn in &certificates {
        acm.describe_certificate().certificate_arn(arn).send().await.unwrap_or_else(|e| panic!("{arn}: {e:?}"));
    }

    let down = strato(&["destroy", REFERENCE, "--deployment", deployment, "--yes", "--output", "json"], &state);
    assert_no_panic(&down);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(json(&down)["deleted"].as_u64().unwrap() as usize, objects.len());
    assert!(!state.join(deployment).join("state.json").exists(), "no state is left");

    assert_no_ec2_left(&ec2, deployment).await;
    for role in &roles {
        let r = iam.get_role().role_name(role).send().await;
        assert!(
            r.is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_no_such_entity_exception())),
            "role {role} left"
        );
        let p = iam.get_instance_profile().instance_profile_name(role).send().await;
        assert!(p.is_err(), "instance profile {role} left");
    }
    let listed = acm.list_certificates().send().await.unwrap();
    let left: BTreeSet<&str> = listed.certificate_summary_list().iter().filter_map(|c| c.certificate_arn()).collect();
    for arn in &certificates {
        assert!(!left.contains(arn.as_str()), "certificate {arn} left");
    }
    let parameter = format!("/strato/{deployment}/csr-challenge");
    let p = ssm.get_parameter().name(&parameter).send().await;
    let gone = p.as_ref().is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_parameter_not_found()));
    assert!(gone, "{parameter} left: {p:?}");
}

/// `--check-services` asks each service the spec needs first: the same spec is refused
/// before its first mutating call, naming each missing service; the network tier, which
/// needs EC2 alone, is not.
#[tokio::test]
async fn check_services_refuses_before_anything_is_created() {
    let state = common::scratch_dir("localstack", "check");
    let ec2 = aws_sdk_ec2::Client::new(&config().await);
    let deployment = "ls-check";

    let out =
        strato(&["provision", REFERENCE, "--deployment", deployment, "--check-services", "--output", "json"], &state);
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json(&out);
    let problems: Vec<&str> =
        report["preflight"]["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for (service, call, object) in [
        ("RDS", "DescribeDBSubnetGroups", "database.apim-db"),
        ("EFS", "DescribeFileSystems", "file_system.apim-shared"),
        ("Elastic Load Balancing (v2)", "DescribeLoadBalancers", "load_balancer.apim-public"),
    ] {
        let p = problems
            .iter()
            .find(|p| p.starts_with(&format!("the endpoint does not serve {service} ")))
            .unwrap_or_else(|| panic!("{service} named: {problems:?}"));
        assert!(p.contains(&format!("{call} failed: InternalFailure")), "{p}");
        assert!(p.contains(object) || p.contains("more need"), "{p}");
    }
    assert_eq!(problems.len(), 3, "ACM and IAM are served: {problems:?}");
    assert!(!state.join(deployment).join("state.json").exists(), "nothing recorded");
    assert_no_ec2_left(&ec2, deployment).await;

    let net = "ls-check-net";
    let up = strato(&["provision", NETWORK, "--deployment", net, "--check-services"], &state);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let down = strato(&["destroy", NETWORK, "--deployment", net, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_no_ec2_left(&ec2, net).await;
}

/// The other side of `--check-services`: on an endpoint that serves every service (moto,
/// `STRATO_TEST_AWS_ENDPOINT`) it finds nothing missing, and the whole reference
/// architecture provisions and is destroyed.
#[test]
fn check_services_finds_nothing_missing_where_every_service_answers() {
    let moto = std::env::var("STRATO_TEST_AWS_ENDPOINT").expect(
        "STRATO_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the local emulator",
    );
    let state = common::scratch_dir("localstack", "moto-check");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_strato"))
            .args(args)
            .args(["--deployment", "ls-moto-check", "--endpoint-url", &moto, "--state-dir", state.to_str().unwrap()])
            .current_dir(common::repo())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("strato runs")
    };
    let up = run(&["provision", REFERENCE, "--check-services", "--output", "json"]);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert!(json(&up)["created"].as_u64().unwrap() > 100);
    let down = run(&["destroy", REFERENCE, "--yes"]);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
}
