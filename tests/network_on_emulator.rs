//! The network tier end to end on the local emulator (moto server): `strato provision`
//! builds exactly what the reference architecture asks for, checked object by object through
//! the AWS SDK; a second run creates nothing; `strato destroy` leaves nothing tagged with the
//! deployment, checked with each service's own describe calls. Failures (an AWS error midway,
//! an unreachable endpoint, refused credentials) name the object, the call and the code, and
//! leave a state that a later `destroy` cleans up.
//!
//! `scripts/test` starts the emulators and sets `STRATO_TEST_AWS_ENDPOINT` (and
//! `STRATO_TEST_AWS_AUTH_ENDPOINT`, a second server that checks credentials).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aws_sdk_ec2::types::Filter;

mod common;

use common::events;

const DEPLOYMENT: &str = "wso2-network";

fn endpoint() -> String {
    std::env::var("STRATO_TEST_AWS_ENDPOINT")
        .expect("STRATO_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the local emulator")
}

/// Runs strato against `endpoint` with dummy credentials.
fn strato(args: &[&str], endpoint: &str, state_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .args(if endpoint.is_empty() { vec![] } else { vec!["--endpoint-url", endpoint] })
        .args(["--state-dir", state_dir.to_str().unwrap()])
        .current_dir(common::repo())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("strato runs")
}

/// A command's JSON document, or the summary of its event stream.
fn json(out: &Output) -> serde_json::Value {
    assert!(!out.stdout.is_empty(), "no JSON on stdout:\n{}", String::from_utf8_lossy(&out.stderr));
    events::document(&out.stdout)
}

async fn ec2(endpoint: &str) -> aws_sdk_ec2::Client {
    let creds = aws_sdk_ec2::config::Credentials::new("test", "test", None, None, "tests");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .load()
        .await;
    aws_sdk_ec2::Client::new(&conf)
}

fn by_deployment(name: &str) -> Filter {
    Filter::builder().name("tag:strato:deployment").values(name).build()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// Every tag strato promises: Name, the deployment, the address, and the spec's own tags.
fn assert_tags(tags: &[aws_sdk_ec2::types::Tag], address: &str) {
    assert_eq!(tag(tags, "strato:deployment"), Some(DEPLOYMENT), "{address}");
    assert_eq!(tag(tags, "strato:address"), Some(address));
    let rest = address.split_once('.').unwrap().1;
    assert_eq!(tag(tags, "Name"), Some(format!("{DEPLOYMENT}-{rest}").as_str()));
    assert_eq!(tag(tags, "Project"), Some("wso2-platform"), "{address}");
    assert_eq!(tag(tags, "Environment"), Some("production"), "{address}");
}

/// The ingress rules of the reference architecture: (group, protocol, from, to, source),
/// where a source is a group name or a CIDR.
fn expected_rules() -> BTreeSet<(String, String, i32, i32, String)> {
    let mut out = BTreeSet::new();
    let mut add = |group: &str, ports: &[i32], sources: &[&str]| {
        for p in ports {
            for s in sources {
                out.insert((group.to_string(), "tcp".to_string(), *p, *p, s.to_string()));
            }
        }
    };
    add("public-alb", &[443, 80], &["0.0.0.0/0"]);
    add("internal-alb", &[443], &["10.0.0.0/16", "198.51.100.0/24"]);
    add("bastion", &[22], &["203.0.113.0/24"]);
    add("apim", &[8243, 8280], &["public-alb"]);
    add("apim", &[9443], &["public-alb", "internal-alb"]);
    add("apim", &[9611, 9711, 5672], &["apim"]);
    add("apim", &[22], &["bastion"]);
    add("ei", &[8290, 8253, 9164], &["internal-alb"]);
    add("ei", &[22], &["bastion"]);
    add("analytics-worker", &[7612, 7712], &["apim", "ei"]);
    add("analytics-worker", &[9444], &["analytics-dashboard"]);
    add("analytics-worker", &[9893], &["analytics-worker"]);
    add("analytics-worker", &[22], &["bastion"]);
    add("analytics-dashboard", &[9643], &["internal-alb"]);
    add("analytics-dashboard", &[22], &["bastion"]);
    add("puppet", &[8140], &["apim", "ei", "analytics-worker", "analytics-dashboard"]);
    add("puppet", &[22], &["bastion"]);
    add("rds", &[3306], &["apim", "analytics-worker", "analytics-dashboard", "puppet"]);
    add("efs", &[2049], &["apim"]);
    out
}

async fn verify_network(c: &aws_sdk_ec2::Client) {
    let dep = || by_deployment(DEPLOYMENT);

    let vpcs = c.describe_vpcs().filters(dep()).send().await.unwrap();
    assert_eq!(vpcs.vpcs().len(), 1);
    let vpc = &vpcs.vpcs()[0];
    let vpc_id = vpc.vpc_id().unwrap();
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    assert_tags(vpc.tags(), "vpc.main");
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a = c.describe_vpc_attribute().vpc_id(vpc_id).attribute(attr.clone()).send().await.unwrap();
        let on = a.enable_dns_support().or(a.enable_dns_hostnames()).and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attr:?}");
    }

    let expected_subnets: BTreeMap<&str, (&str, &str)> = BTreeMap::from([
        ("public-a", ("10.0.0.0/24", "us-east-1a")),
        ("public-b", ("10.0.1.0/24", "us-east-1b")),
        ("public-c", ("10.0.2.0/24", "us-east-1c")),
        ("app-a", ("10.0.10.0/24", "us-east-1a")),
        ("app-b", ("10.0.11.0/24", "us-east-1b")),
        ("app-c", ("10.0.12.0/24", "us-east-1c")),
        ("db-a", ("10.0.20.0/24", "us-east-1a")),
        ("db-b", ("10.0.21.0/24", "us-east-1b")),
        ("db-c", ("10.0.22.0/24", "us-east-1c")),
        ("mgmt-c", ("10.0.30.0/24", "us-east-1c")),
    ]);
    let subnets = c.describe_subnets().filters(dep()).send().await.unwrap();
    let mut subnet_ids: BTreeMap<String, String> = BTreeMap::new();
    for s in subnets.subnets() {
        let address = tag(s.tags(), "strato:address").unwrap();
        let name = address.strip_prefix("subnet.").unwrap();
        let (cidr, zone) = expected_subnets[name];
        assert_eq!(s.cidr_block(), Some(cidr), "{name}");
        assert_eq!(s.availability_zone(), Some(zone), "{name}");
        assert_eq!(s.vpc_id(), Some(vpc_id));
        assert_tags(s.tags(), address);
        subnet_ids.insert(name.to_string(), s.subnet_id().unwrap().to_string());
    }
    assert_eq!(subnet_ids.len(), 10);
    let subnet_name = |id: &str| subnet_ids.iter().find(|(_, v)| v.as_str() == id).map(|(k, _)| k.clone()).unwrap();

    let igws = c.describe_internet_gateways().filters(dep()).send().await.unwrap();
    assert_eq!(igws.internet_gateways().len(), 1);
    let igw = &igws.internet_gateways()[0];
    assert_eq!(igw.attachments().first().and_then(|a| a.vpc_id()), Some(vpc_id), "the internet gateway is attached");
    assert_tags(igw.tags(), "internet_gateway.igw");
    let igw_id = igw.internet_gateway_id().unwrap();

    let eips = c.describe_addresses().filters(dep()).send().await.unwrap();
    assert_eq!(eips.addresses().len(), 3);
    let nats = c
        .describe_nat_gateways()
        .filter(dep())
        .filter(Filter::builder().name("state").values("available").build())
        .send()
        .await
        .unwrap();
    // The emulator ignores tag filters on this call: filter here as well.
    let nats: Vec<_> =
        nats.nat_gateways().iter().filter(|n| tag(n.tags(), "strato:deployment") == Some(DEPLOYMENT)).collect();
    assert_eq!(nats.len(), 3);
    let mut nat_of_zone: BTreeMap<char, String> = BTreeMap::new();
    let mut eips_used = BTreeSet::new();
    for n in nats {
        let subnet = subnet_name(n.subnet_id().unwrap());
        assert!(subnet.starts_with("public-"), "NAT gateway in {subnet}");
        let zone = subnet.chars().last().unwrap();
        let address = tag(n.tags(), "strato:address").unwrap();
        assert_eq!(address, format!("nat_gateway.nat-{zone}"));
        assert_tags(n.tags(), address);
        let alloc = n.nat_gateway_addresses().first().and_then(|a| a.allocation_id()).unwrap();
        assert!(eips.addresses().iter().any(|a| a.allocation_id() == Some(alloc)));
        eips_used.insert(alloc.to_string());
        nat_of_zone.insert(zone, n.nat_gateway_id().unwrap().to_string());
    }
    assert_eq!(eips_used.len(), 3, "each NAT gateway has its own Elastic IP");

    let tables = c.describe_route_tables().filters(dep()).send().await.unwrap();
    assert_eq!(tables.route_tables().len(), 4);
    for t in tables.route_tables() {
        let address = tag(t.tags(), "strato:address").unwrap();
        assert_tags(t.tags(), address);
        let name = address.strip_prefix("route_table.").unwrap();
        let default =
            t.routes().iter().find(|r| r.destination_cidr_block() == Some("0.0.0.0/0")).expect("a default route");
        let associated: BTreeSet<String> =
            t.associations().iter().filter_map(|a| a.subnet_id()).map(subnet_name).collect();
        let want: BTreeSet<String> = match name {
            "public" => {
                assert_eq!(default.gateway_id(), Some(igw_id));
                ["public-a", "public-b", "public-c"].map(String::from).into()
            }
            private => {
                let zone = private.chars().last().unwrap();
                assert_eq!(default.nat_gateway_id(), Some(nat_of_zone[&zone].as_str()), "{private}");
                let mut s: BTreeSet<String> = [format!("app-{zone}"), format!("db-{zone}")].into();
                if zone == 'c' {
                    s.insert("mgmt-c".into());
                }
                s
            }
        };
        assert_eq!(associated, want, "{name}");
    }

    let groups = c.describe_security_groups().filters(dep()).send().await.unwrap();
    assert_eq!(groups.security_groups().len(), 10);
    let mut group_names: BTreeMap<String, String> = BTreeMap::new();
    for g in groups.security_groups() {
        let address = tag(g.tags(), "strato:address").unwrap();
        assert_tags(g.tags(), address);
        assert_eq!(g.vpc_id(), Some(vpc_id));
        group_names
            .insert(g.group_id().unwrap().to_string(), address.strip_prefix("security_group.").unwrap().to_string());
    }
    let mut got = BTreeSet::new();
    for gid in group_names.keys() {
        let rules = c
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(gid).build())
            .send()
            .await
            .unwrap();
        for r in rules.security_group_rules().iter().filter(|r| r.is_egress() != Some(true)) {
            let source = match (r.cidr_ipv4(), r.referenced_group_info().and_then(|g| g.group_id())) {
                (Some(cidr), _) => cidr.to_string(),
                (None, Some(g)) => group_names[g].clone(),
                _ => panic!("rule without a source: {r:?}"),
            };
            got.insert((
                group_names[gid].clone(),
                r.ip_protocol().unwrap().to_string(),
                r.from_port().unwrap(),
                r.to_port().unwrap(),
                source,
            ));
        }
    }
    assert_eq!(got, expected_rules(), "every security-group rule, exactly");

    let keys = c.describe_key_pairs().filters(dep()).send().await.unwrap();
    assert_eq!(keys.key_pairs().len(), 1);
    assert_eq!(keys.key_pairs()[0].key_name(), Some("wso2-network-operators"));
    assert_tags(keys.key_pairs()[0].tags(), "key_pair.operators");
}

/// Nothing tagged with `deployment` is left, asked of each kind's own describe call.
async fn assert_nothing_left(c: &aws_sdk_ec2::Client, deployment: &str) {
    let dep = || by_deployment(deployment);
    assert_eq!(c.describe_vpcs().filters(dep()).send().await.unwrap().vpcs().len(), 0, "VPCs");
    assert_eq!(c.describe_subnets().filters(dep()).send().await.unwrap().subnets().len(), 0, "subnets");
    assert_eq!(
        c.describe_internet_gateways().filters(dep()).send().await.unwrap().internet_gateways().len(),
        0,
        "IGWs"
    );
    assert_eq!(c.describe_addresses().filters(dep()).send().await.unwrap().addresses().len(), 0, "Elastic IPs");
    let nats = c.describe_nat_gateways().filter(dep()).send().await.unwrap();
    let live: Vec<_> = nats
        .nat_gateways()
        .iter()
        .filter(|n| tag(n.tags(), "strato:deployment") == Some(deployment))
        .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
        .collect();
    assert!(live.is_empty(), "NAT gateways not deleted: {live:?}");
    assert_eq!(c.describe_route_tables().filters(dep()).send().await.unwrap().route_tables().len(), 0, "route tables");
    assert_eq!(c.describe_security_groups().filters(dep()).send().await.unwrap().security_groups().len(), 0, "groups");
    assert_eq!(c.describe_key_pairs().filters(dep()).send().await.unwrap().key_pairs().len(), 0, "key pairs");
}

#[tokio::test]
async fn network_tier_round_trip() {
    let endpoint = endpoint();
    let state = common::scratch_dir("it", "round-trip");
    let spec = "deploy-specs/wso2-network.toml";

    let out = strato(&["provision", spec, "--output", "json"], &endpoint, &state);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = json(&out);
    assert_eq!(summary["created"], 57);
    assert_eq!(summary["unchanged"], 0);
    lifecycles(&out.stdout, "created", 57);
    let state_file = state.join(DEPLOYMENT).join("state.json");
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert_eq!(recorded["version"], 1);
    assert_eq!(recorded["objects"].as_object().unwrap().len(), 57);
    assert!(recorded["objects"].as_object().unwrap().values().all(|o| o["status"] == "ready" && o["id"].is_string()));

    let c = ec2(&endpoint).await;
    verify_network(&c).await;

    let again = strato(&["provision", spec, "--output", "json"], &endpoint, &state);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    let summary = json(&again);
    assert_eq!(summary["created"], 0, "a second run creates nothing new");
    assert_eq!(summary["unchanged"], 57);
    lifecycles(&again.stdout, "unchanged", 57);
    verify_network(&c).await;
    // For people, a run that changes nothing is a short summary, not a line per object.
    let text = strato(&["provision", spec], &endpoint, &state);
    assert_eq!(text.status.code(), Some(0), "{}", String::from_utf8_lossy(&text.stderr));
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.lines().count() <= 3, "{stderr}");
    assert!(stderr.contains("no changes (57 unchanged)"), "{stderr}");
    assert!(!stderr.contains("✓"), "{stderr}");

    // status reads every recorded object back: all in sync.
    let status = strato(&["status", spec, "--output", "json"], &endpoint, &state);
    assert_eq!(status.status.code(), Some(0), "{}", String::from_utf8_lossy(&status.stdout));
    let objects = json(&status)["objects"].as_array().unwrap().clone();
    assert_eq!(objects.len(), 57);
    assert!(objects.iter().all(|o| o["status"] == "in sync"), "{objects:?}");
    let plan = strato(&["plan", spec, "--detailed-exitcode"], &endpoint, &state);
    assert_eq!(plan.status.code(), Some(0), "no changes: {}", String::from_utf8_lossy(&plan.stdout));

    let down = strato(&["destroy", spec, "--yes", "--output", "json"], &endpoint, &state);
    assert_eq!(down.status.code(), Some(0), "{}", String::from_utf8_lossy(&down.stderr));
    assert_eq!(json(&down)["deleted"], 57);
    lifecycles(&down.stdout, "deleted", 57);
    assert_nothing_left(&c, DEPLOYMENT).await;
    assert!(!state_file.exists(), "no state is left");
}

/// The event stream of a run that did `result` to `n` objects: each object started once
/// and finished once with that result, its status and created events in between, and
/// nothing failed or skipped.
fn lifecycles(stdout: &[u8], result: &str, n: usize) {
    let events = events::parse(stdout);
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &events[..events.len() - 1] {
        let address = e["address"].as_str().unwrap().to_string();
        seen.entry(address).or_default().push(e["event"].as_str().unwrap().to_string());
        if e["event"] == "finished" {
            assert_eq!(e["result"], result, "{e}");
            assert!(e["duration_seconds"].as_f64().is_some(), "{e}");
        }
        if e["event"] == "status" {
            assert!(e["status"].is_string(), "{e}");
        }
    }
    assert_eq!(seen.len(), n, "{seen:?}");
    for (address, kinds) in &seen {
        assert_eq!(kinds.first().map(String::as_str), Some("started"), "{address}: {kinds:?}");
        assert_eq!(kinds.last().map(String::as_str), Some("finished"), "{address}: {kinds:?}");
        assert_eq!(kinds.iter().filter(|k| *k == "started" || *k == "finished").count(), 2, "{address}: {kinds:?}");
        assert!(
            kinds.iter().all(|k| ["started", "status", "created", "finished"].contains(&k.as_str())),
            "{address}: {kinds:?}"
        );
    }
}

/// A copy of the network spec under another deployment name, with one line changed.
fn variant(name: &str, from: &str, to: &str) -> PathBuf {
    let dir = common::scratch_dir("it", name);
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::copy(common::repo().join("deploy-specs/keys/operators.pub"), dir.join("keys/operators.pub")).unwrap();
    let text = std::fs::read_to_string(common::repo().join("deploy-specs/wso2-network.toml")).unwrap();
    assert!(text.contains(from), "{from}");
    let text = text.replacen("name = \"wso2-network\"", &format!("name = \"{name}\""), 1).replacen(from, to, 1);
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A zone the region does not offer (`us-east-1z` is well formed, so validation accepts
/// it) is found by the preflight: the run stops before its first create and names it.
#[test]
fn a_zone_the_region_lacks_is_refused_before_anything_is_created() {
    let endpoint = endpoint();
    let spec = variant(
        "midway",
        "zones = [\"us-east-1a\", \"us-east-1b\", \"us-east-1c\"]",
        "zones = [\"us-east-1a\", \"us-east-1b\", \"us-east-1c\", \"us-east-1z\"]",
    );
    let text = std::fs::read_to_string(&spec).unwrap().replacen(
        "zone = \"us-east-1c\"\ncidr = \"10.0.30.0/24\"",
        "zone = \"us-east-1z\"\ncidr = \"10.0.30.0/24\"",
        1,
    );
    std::fs::write(&spec, text).unwrap();
    let state = spec.parent().unwrap().join("state");
    let spec = spec.to_str().unwrap();

    let out = strato(&["provision", spec, "--keep-going"], &endpoint, &state);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: zone us-east-1z is not an available zone of us-east-1"), "{stderr}");
    assert!(stderr.contains("nothing was created"), "{stderr}");
    assert!(!state.join("midway/state.json").exists(), "no state: nothing was created");
}

#[test]
fn an_unreachable_endpoint_is_a_clear_error_and_leaves_a_clean_state() {
    let spec = variant("unreachable", "tier = \"mgmt\"", "tier = \"mgmt\"");
    let state = spec.parent().unwrap().join("state");
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://127.0.0.1:{port}");
    let out = strato(&["provision", spec.to_str().unwrap()], &url, &state);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one clear line: {stderr}");
    assert!(errors[0].contains(&format!("cannot reach AWS at {url}")), "names the endpoint: {stderr}");
    assert!(errors[0].contains("Connection refused"), "{stderr}");
    // The preflight found it: nothing was recorded, and a destroy has nothing to do.
    assert!(!state.join("unreachable/state.json").exists());
    let down = strato(&["destroy", spec.to_str().unwrap(), "--yes"], &endpoint(), &state);
    assert_eq!(down.status.code(), Some(0), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(!state.join("unreachable/state.json").exists());
}

#[test]
fn refused_credentials_are_a_clear_error() {
    let auth_endpoint = std::env::var("STRATO_TEST_AWS_AUTH_ENDPOINT")
        .expect("STRATO_TEST_AWS_AUTH_ENDPOINT is not set: run the suite with scripts/test");
    let spec = variant("badcreds", "tier = \"mgmt\"", "tier = \"mgmt\"");
    let state = spec.parent().unwrap().join("state");
    let out = strato(&["provision", spec.to_str().unwrap()], &auth_endpoint, &state);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one clear line: {stderr}");
    assert!(errors[0].contains("AWS refused the credentials"), "{stderr}");
    assert!(errors[0].contains("the default credential chain"), "says where the credentials came from: {stderr}");
    assert!(!state.join("badcreds/state.json").exists());
}

#[test]
fn destroy_refuses_without_confirmation_when_not_interactive() {
    let spec = variant("confirm", "tier = \"mgmt\"", "tier = \"mgmt\"");
    let state = spec.parent().unwrap().join("state");
    let up = strato(&["provision", spec.to_str().unwrap()], &endpoint(), &state);
    assert_eq!(up.status.code(), Some(0), "{}", String::from_utf8_lossy(&up.stderr));
    // Standard input is not a terminal here: no --yes, no destroy.
    let out = strato(&["destroy", spec.to_str().unwrap()], &endpoint(), &state);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --yes"));
    assert!(state.join("confirm/state.json").exists(), "nothing was deleted");
    let down = strato(&["destroy", spec.to_str().unwrap(), "--yes"], &endpoint(), &state);
    assert_eq!(down.status.code(), Some(0));
}

/// A deployment destroyed and provisioned again in the same account starts afresh: what
/// the first one left listed for a while (moto keeps the tags of deleted resources; EC2
/// lists terminated instances and deleted NAT gateways for an hour) is not taken for
/// objects in the way.
#[test]
fn a_destroyed_deployment_can_be_provisioned_again() {
    let spec = variant("again", "tier = \"mgmt\"", "tier = \"mgmt\"");
    let state = spec.parent().unwrap().join("state");
    let spec = spec.to_str().unwrap();
    for round in 1..=2 {
        let up = strato(&["provision", spec], &endpoint(), &state);
        assert_eq!(up.status.code(), Some(0), "round {round}: {}", String::from_utf8_lossy(&up.stderr));
        let down = strato(&["destroy", spec, "--yes"], &endpoint(), &state);
        assert_eq!(down.status.code(), Some(0), "round {round}: {}", String::from_utf8_lossy(&down.stderr));
    }
}
