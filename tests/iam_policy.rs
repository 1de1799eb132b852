//! `strato iam-policy` against an emulator that enforces IAM: the network spec provisioned
//! and destroyed by a user who holds only the generated policy, and refused when one
//! statement is taken away.
//!
//! What moto (5.2.1, `moto/iam/access_control.py`, `moto/core/responses.py`) enforces, with
//! `INITIAL_NO_AUTH_ACTION_COUNT=0` (scripts/test's `STRATO_TEST_AWS_IAM_ENDPOINT`):
//! - every request's signature, and the caller's policies by **action**: an action no
//!   statement allows is refused (`AccessDenied`, naming the action);
//! - **resources** only for S3 (the bucket's and the object's ARN) and IAM roles that
//!   exist; every other service is authorized against the resource `*`, which an ARN pattern
//!   never matches, so EC2's, RDS's, SSM's ARNs cannot be checked;
//! - **conditions** not at all outside role trust policies (a condition with no request
//!   value passes).
//!
//! So this test proves that the policy allows every action a provision and a destroy make,
//! that its S3 statements allow the state's reads and writes by their ARNs, that moto's
//! policy validator accepts the document as generated, and that taking one statement away
//! stops the run at the call it allowed. The user holds the document as generated with the
//! resources of its non-S3 statements widened to `*` (what moto can evaluate); the ARNs and
//! the tag conditions are checked by the unit tests of `strato_aws::drivers::policy`.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_ec2::types::Filter;
use serde_json::Value;

mod common;

use common::events;

fn endpoint() -> String {
    std::env::var("STRATO_TEST_AWS_IAM_ENDPOINT").expect(
        "STRATO_TEST_AWS_IAM_ENDPOINT is not set: run the suite with scripts/test, which starts an emulator that \
         enforces IAM",
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

struct Keys {
    id: String,
    secret: String,
}

fn strato(args: &[&str], keys: &Keys) -> Output {
    // STRATO_BIN: another build of strato to test (cargo's by default).
    Command::new(std::env::var("STRATO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_strato").to_string()))
        .args(args)
        .current_dir(common::repo())
        .env("AWS_ACCESS_KEY_ID", &keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("strato runs")
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The next `n` requests the emulator authorizes pass without credentials (moto's
/// `/moto-api/reset-auth`); the requests after them are checked again. The emulator has no
/// root user: this is how its first IAM users are made.
fn allow_unchecked(endpoint: &str, n: u32) {
    let host = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).expect("the emulator answers");
    let body = n.to_string();
    let req = format!(
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"), "{answer}");
}

async fn sdk(endpoint: &str, keys: &Keys) -> aws_config::SdkConfig {
    let creds = aws_sdk_ec2::config::Credentials::new(&keys.id, &keys.secret, None, None, "tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await
}

/// The document as moto can evaluate it: every statement but the state's (S3) authorized
/// against `*`, as moto authorizes those services' requests.
fn as_moto_evaluates(doc: &Value) -> Value {
    let mut doc = doc.clone();
    for s in doc["Statement"].as_array_mut().unwrap() {
        if !s["Sid"].as_str().unwrap().starts_with("State") {
            s["Resource"] = "*".into();
        }
    }
    doc
}

fn without(doc: &Value, sid: &str) -> Value {
    let mut doc = doc.clone();
    let statements = doc["Statement"].as_array_mut().unwrap();
    let before = statements.len();
    statements.retain(|s| s["Sid"] != sid);
    assert_eq!(statements.len(), before - 1, "the policy has a statement {sid}");
    doc
}

fn actions(doc: &Value) -> BTreeSet<String> {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()))
        .collect()
}

/// Makes the state bucket, checks that moto's validator accepts the exact document, and
/// makes one user per policy; returns their keys.
fn setup(endpoint: &str, bucket: &str, exact: &Value, users: &[(&str, &Value)]) -> Vec<Keys> {
    let anyone = Keys { id: "test".into(), secret: "test".into() };
    allow_unchecked(endpoint, 2 + 3 * users.len() as u32);
    runtime().block_on(async {
        let conf = sdk(endpoint, &anyone).await;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
        s3.create_bucket().bucket(bucket).send().await.expect("the state bucket is made");
        let iam = aws_sdk_iam::Client::new(&conf);
        let name = format!("strato-exact-{}", std::process::id());
        iam.create_policy()
            .policy_name(&name)
            .policy_document(exact.to_string())
            .send()
            .await
            .expect("moto's policy validator accepts the generated document");
        let mut keys = Vec::new();
        for (user, policy) in users {
            iam.create_user().user_name(*user).send().await.expect("CreateUser");
            iam.put_user_policy()
                .user_name(*user)
                .policy_name("strato")
                .policy_document(policy.to_string())
                .send()
                .await
                .expect("PutUserPolicy");
            let key = iam.create_access_key().user_name(*user).send().await.expect("CreateAccessKey");
            let key = key.access_key().expect("a key");
            keys.push(Keys { id: key.access_key_id().to_string(), secret: key.secret_access_key().to_string() });
        }
        keys
    })
}

/// What is left in EC2 tagged with the deployment's name, and whether its state is on S3.
fn leftovers(endpoint: &str, keys: &Keys, deployment: &str, bucket: &str) -> Vec<String> {
    runtime().block_on(async {
        let conf = sdk(endpoint, keys).await;
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let tagged = Filter::builder().name("tag:strato:deployment").values(deployment).build();
        let mut left = Vec::new();
        let vpcs = ec2.describe_vpcs().filters(tagged.clone()).send().await.expect("DescribeVpcs");
        left.extend(vpcs.vpcs().iter().filter_map(|v| v.vpc_id().map(str::to_string)));
        let subnets = ec2.describe_subnets().filters(tagged.clone()).send().await.expect("DescribeSubnets");
        left.extend(subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_string)));
        let groups = ec2.describe_security_groups().filters(tagged.clone()).send().await.expect("groups");
        left.extend(groups.security_groups().iter().filter_map(|g| g.group_id().map(str::to_string)));
        let eips = ec2.describe_addresses().filters(tagged.clone()).send().await.expect("DescribeAddresses");
        left.extend(eips.addresses().iter().filter_map(|a| a.allocation_id().map(str::to_string)));
        let nats = ec2.describe_nat_gateways().filter(tagged.clone()).send().await.expect("DescribeNatGateways");
        left.extend(
            nats.nat_gateways()
                .iter()
                // moto ignores this filter for NAT gateways: the tag is checked here too.
                .filter(|n| {
                    n.tags().iter().any(|t| t.key() == Some("strato:deployment") && t.value() == Some(deployment))
                })
                .filter(|n| !matches!(n.state().map(|s| s.as_str()), Some("deleted" | "deleting")))
                .filter_map(|n| n.nat_gateway_id().map(str::to_string)),
        );
        let igws = ec2.describe_internet_gateways().filters(tagged.clone()).send().await.expect("igws");
        left.extend(igws.internet_gateways().iter().filter_map(|g| g.internet_gateway_id().map(str::to_string)));
        let tables = ec2.describe_route_tables().filters(tagged.clone()).send().await.expect("route tables");
        left.extend(tables.route_tables().iter().filter_map(|t| t.route_table_id().map(str::to_string)));
        let key_pairs = ec2.describe_key_pairs().filters(tagged).send().await.expect("DescribeKeyPairs");
        left.extend(key_pairs.key_pairs().iter().filter_map(|k| k.key_name().map(str::to_string)));
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
        // The state object itself (a listing's query string is re-encoded by moto as a form
        // body is, and fails its signature check).
        let key = format!("states/{deployment}/state.json");
        match s3.get_object().bucket(bucket).key(&key).send().await {
            Ok(_) => left.push(format!("s3://{bucket}/{key}")),
            Err(e) => assert_eq!(
                aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
                Some("NoSuchKey"),
                "{}",
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ),
        }
        left
    })
}

/// Every operation a run counted is the table's, and every action the table says it needs is
/// in the policy.
fn allowed(run: &Output, policy: &BTreeSet<String>) {
    assert!(!run.stdout.is_empty(), "no JSON: {}", text(run));
    let v = events::summary(&run.stdout);
    let by_operation = v["api_calls_by_operation"].as_object().unwrap_or_else(|| panic!("no call counts: {v}"));
    assert!(!by_operation.is_empty(), "{v}");
    for op in by_operation.keys() {
        let rows: Vec<_> = strato_aws::drivers::policy::CALLS.iter().filter(|c| c.operation == op).collect();
        assert!(!rows.is_empty(), "{op} was made but is not in drivers::policy::CALLS");
        let covered = rows.iter().any(|c| c.grants.iter().all(|(a, _)| policy.contains(*a)));
        assert!(covered, "{op} needs {:?}, not all in the policy", rows[0].grants);
    }
}

/// The network spec with no space in its descriptions. moto checks a signature over its own
/// re-encoding of the form body (`moto/core/responses.py` keeps no raw body for a form
/// request, and botocore encodes a space as `+` where the SDK sends `%20`): a value with a
/// space fails moto's signature check (`AuthFailure`), though AWS accepts it.
fn network_spec_without_spaces() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strato-it-iam-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(common::repo().join("deploy-specs/keys/operators.pub"), dir.join("keys/operators.pub")).unwrap();
    let text = std::fs::read_to_string(common::repo().join("deploy-specs/wso2-network.toml")).unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("description = ") {
            Some(value) => format!("description = {}", value.replace(' ', "-")),
            None => l.to_string(),
        })
        .collect();
    let path = dir.join("wso2-network.toml");
    std::fs::write(&path, text.join("\n")).unwrap();
    path
}

#[test]
fn provision_and_destroy_need_exactly_the_generated_policy() {
    let endpoint = endpoint();
    let pid = std::process::id();
    let deployment = format!("iam-net-{pid}");
    let bucket = format!("strato-iam-{pid}");
    let spec = network_spec_without_spaces();
    let spec = spec.to_str().unwrap();
    let state = format!("s3://{bucket}/states");
    let common = ["--deployment", &deployment, "--state", &state];

    let nobody = Keys { id: "unused".into(), secret: "unused".into() };
    let generated = strato(&[&["iam-policy", spec], &common[..]].concat(), &nobody);
    assert_eq!(generated.status.code(), Some(0), "{}", text(&generated));
    let exact: Value = serde_json::from_slice(&generated.stdout).expect("the policy is JSON");
    let full = as_moto_evaluates(&exact);
    // The statement of EC2's creates: the VPC, the internet gateway, the Elastic IPs and the
    // key pair are refused by AWS at their create calls (the creates of subnets, groups,
    // route tables and NAT gateways are allowed on the parents they use too, and are skipped
    // after the VPC's failure). The statement of EC2's changes: CreateVpc succeeds and the
    // ModifyVpcAttribute after it is refused, so the VPC exists though its create failed,
    // and must be recorded for destroy to remove it.
    let removed = ["Ec2CreateWithDeploymentTag", "Ec2ChangeDeploymentResources"];
    let partials: Vec<Value> = removed.iter().map(|r| without(&full, r)).collect();
    let names: Vec<String> = std::iter::once(format!("strato-full-{pid}"))
        .chain(removed.iter().map(|r| format!("strato-{r}-{pid}")))
        .collect();
    let users: Vec<(&str, &Value)> =
        names.iter().map(String::as_str).zip(std::iter::once(&full).chain(partials.iter())).collect();
    let keys = setup(&endpoint, &bucket, &exact, &users);
    let full_keys = &keys[0];
    let at = ["--endpoint-url", endpoint.as_str()];

    // With the whole policy: provision and destroy succeed, and nothing is left.
    let up = strato(&[&["provision", spec, "--output", "json"], &common[..], &at[..]].concat(), full_keys);
    assert_eq!(up.status.code(), Some(0), "provision with the generated policy: {}", text(&up));
    allowed(&up, &actions(&exact));
    assert!(!leftovers(&endpoint, full_keys, &deployment, &bucket).is_empty(), "the provision made objects");
    let down = strato(&[&["destroy", spec, "--yes", "--output", "json"], &common[..], &at[..]].concat(), full_keys);
    assert_eq!(down.status.code(), Some(0), "destroy with the generated policy: {}", text(&down));
    allowed(&down, &actions(&exact));
    let left = leftovers(&endpoint, full_keys, &deployment, &bucket);
    assert!(left.is_empty(), "left after destroy: {left:?}");

    for ((removed, partial), partial_keys) in removed.iter().zip(&partials).zip(&keys[1..]) {
        // Without one statement: the provision stops at a call only that statement allowed,
        // named with AWS's refusal.
        let only_there: BTreeSet<String> = actions(&full).difference(&actions(partial)).cloned().collect();
        assert!(!only_there.is_empty());
        let refused = strato(&[&["provision", spec], &common[..], &at[..]].concat(), partial_keys);
        assert_ne!(refused.status.code(), Some(0), "provision without {removed}: {}", text(&refused));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        let denied: Vec<&str> = stderr.lines().filter(|l| l.contains("AccessDenied")).collect();
        assert!(!denied.is_empty(), "an access-denied error: {stderr}");
        assert!(
            denied.iter().all(|l| only_there.iter().any(|a| l.contains(a.split_once(':').unwrap().1))),
            "each refusal names a call of {removed} ({only_there:?}): {denied:?}"
        );
        // What it made, the whole policy destroys.
        let down = strato(&[&["destroy", spec, "--yes"], &common[..], &at[..]].concat(), full_keys);
        assert_eq!(down.status.code(), Some(0), "destroy after the refusal: {}", text(&down));
        let left = leftovers(&endpoint, full_keys, &deployment, &bucket);
        assert!(left.is_empty(), "left after destroy without {removed}: {left:?}\n{}\n{}", text(&refused), text(&down));
    }
}
