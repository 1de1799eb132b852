//! The whole reference architecture on the local emulator: `strato provision
//! deploy-specs/wso2-apim-ei.toml`, then every object checked through each service's own SDK
//! calls against the reference architecture the spec describes; a second provision changes nothing; the
//! outputs are filled; `strato destroy --yes` leaves nothing of the deployment in any service
//! and takes the final database snapshots.
//!
//! `scripts/test` starts the emulator and sets `STRATO_TEST_AWS_ENDPOINT`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};

use aws_sdk_ec2::types::Filter;

mod common;

use common::events;

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";
const DEPLOYMENT: &str = "wso2";

fn endpoint() -> String {
    std::env::var("STRATO_TEST_AWS_ENDPOINT")
        .expect("STRATO_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the local emulator")
}

fn strato(args: &[&str], state: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .args(["--endpoint-url", &endpoint(), "--state-dir", state.to_str().unwrap(), "--output", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("strato runs")
}

fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    events::summary(&out.stdout)
}

struct Aws {
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    efs: aws_sdk_efs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    acm: aws_sdk_acm::Client,
}

async fn aws() -> Aws {
    let creds = aws_sdk_ec2::config::Credentials::new("test", "test", None, None, "tests");
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(creds)
        .load()
        .await;
    Aws {
        ec2: aws_sdk_ec2::Client::new(&conf),
        rds: aws_sdk_rds::Client::new(&conf),
        efs: aws_sdk_efs::Client::new(&conf),
        elb: aws_sdk_elasticloadbalancingv2::Client::new(&conf),
        acm: aws_sdk_acm::Client::new(&conf),
    }
}

fn deployment_filter() -> Filter {
    Filter::builder().name("tag:strato:deployment").values(DEPLOYMENT).build()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// Spec name of each of the deployment's subnets, by id, and its zone.
async fn subnets(c: &Aws) -> BTreeMap<String, (String, String)> {
    let out = c.ec2.describe_subnets().filters(deployment_filter()).send().await.unwrap();
    out.subnets()
        .iter()
        .map(|s| {
            let name = tag(s.tags(), "strato:address").unwrap().trim_start_matches("subnet.").to_string();
            (s.subnet_id().unwrap().to_string(), (name, s.availability_zone().unwrap().to_string()))
        })
        .collect()
}

/// Spec name of each of the deployment's security groups, by id.
async fn groups(c: &Aws) -> BTreeMap<String, String> {
    let out = c.ec2.describe_security_groups().filters(deployment_filter()).send().await.unwrap();
    out.security_groups()
        .iter()
        .map(|g| {
            let name = tag(g.tags(), "strato:address").unwrap().trim_start_matches("security_group.").to_string();
            (g.group_id().unwrap().to_string(), name)
        })
        .collect()
}

async fn verify_instances(c: &Aws) -> BTreeMap<String, String> {
    let subnets = subnets(c).await;
    let groups = groups(c).await;
    let out = c
        .ec2
        .describe_instances()
        .filters(deployment_filter())
        .filters(Filter::builder().name("instance-state-name").values("running").build())
        .send()
        .await
        .unwrap();
    let instances: Vec<_> = out.reservations().iter().flat_map(|r| r.instances()).collect();
    assert_eq!(instances.len(), 12);
    // name -> (type, subnet, group)
    let expected: BTreeMap<&str, (&str, &str, &str)> = BTreeMap::from([
        ("bastion", ("t3.micro", "public-a", "bastion")),
        ("puppet", ("t3.medium", "mgmt-c", "puppet")),
        ("apim-1", ("t2.large", "app-a", "apim")),
        ("apim-2", ("t2.large", "app-b", "apim")),
        ("ei-1", ("c5.xlarge", "app-a", "ei")),
        ("ei-2", ("c5.xlarge", "app-b", "ei")),
        ("apim-analytics-worker-1", ("c5.xlarge", "app-a", "analytics-worker")),
        ("apim-analytics-worker-2", ("c5.xlarge", "app-b", "analytics-worker")),
        ("apim-analytics-dashboard", ("c5.large", "app-c", "analytics-dashboard")),
        ("ei-analytics-worker-1", ("c5.xlarge", "app-a", "analytics-worker")),
        ("ei-analytics-worker-2", ("c5.xlarge", "app-b", "analytics-worker")),
        ("ei-analytics-dashboard", ("c5.large", "app-c", "analytics-dashboard")),
    ]);
    let mut ids = BTreeMap::new();
    for i in instances {
        let name = tag(i.tags(), "strato:address").unwrap().trim_start_matches("instance.").to_string();
        let (ty, subnet, group) = expected[name.as_str()];
        assert_eq!(i.instance_type().map(|t| t.as_str()), Some(ty), "{name}");
        let (subnet_name, zone) = &subnets[i.subnet_id().unwrap()];
        assert_eq!(subnet_name, subnet, "{name}");
        assert_eq!(i.placement().and_then(|p| p.availability_zone()), Some(zone.as_str()), "{name}");
        // The emulator reports groups given through the network interface on the interface.
        let eni_groups: BTreeSet<&str> = i
            .network_interfaces()
            .iter()
            .flat_map(|n| n.groups())
            .chain(i.security_groups())
            .filter_map(|g| g.group_id())
            .map(|g| groups[g].as_str())
            .collect();
        assert_eq!(eni_groups, BTreeSet::from([group]), "{name}");
        assert_eq!(
            i.metadata_options().and_then(|m| m.http_tokens()).map(|t| t.as_str()),
            Some("required"),
            "{name}: IMDSv2"
        );
        assert_eq!(i.key_name(), Some("wso2-operators"), "{name}");
        assert_eq!(i.public_ip_address().is_some(), name == "bastion", "{name}: public IP only on the bastion");
        if name == "puppet" {
            assert_eq!(i.private_ip_address(), Some("10.0.30.10"));
        }
        let volumes = c
            .ec2
            .describe_volumes()
            .filters(Filter::builder().name("attachment.instance-id").values(i.instance_id().unwrap()).build())
            .send()
            .await
            .unwrap();
        assert!(!volumes.volumes().is_empty(), "{name}: a root volume");
        for v in volumes.volumes() {
            assert_eq!(v.encrypted(), Some(true), "{name}: encrypted root volume");
            assert_eq!(v.volume_type().map(|t| t.as_str()), Some("gp3"), "{name}");
        }
        ids.insert(i.instance_id().unwrap().to_string(), name);
    }
    ids
}

async fn verify_data(c: &Aws) {
    let subnets = subnets(c).await;
    let groups = groups(c).await;
    for db in ["wso2-apim-db", "wso2-analytics-db"] {
        let out = c.rds.describe_db_instances().db_instance_identifier(db).send().await.unwrap();
        let i = &out.db_instances()[0];
        assert_eq!(i.engine(), Some("mysql"), "{db}");
        assert!(i.engine_version().unwrap().starts_with("8.4"), "{db}");
        assert_eq!(i.db_instance_class(), Some("db.m5.large"));
        assert_eq!(i.multi_az(), Some(true), "{db}");
        assert_eq!(i.storage_encrypted(), Some(true), "{db}");
        assert_eq!(i.allocated_storage(), Some(100));
        assert_eq!(i.backup_retention_period(), Some(7));
        assert!(i.master_user_secret().is_some(), "{db}: RDS manages the master password");
        let sg = i.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).map(|g| groups[g].as_str());
        assert_eq!(sg.collect::<Vec<_>>(), ["rds"]);
        let group = i.db_subnet_group().unwrap();
        assert_eq!(group.db_subnet_group_name(), Some("wso2-wso2-db"));
        let names: BTreeSet<&str> =
            group.subnets().iter().filter_map(|s| s.subnet_identifier()).map(|id| subnets[id].0.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["db-a", "db-b", "db-c"]), "{db}");
    }

    let fss = c.efs.describe_file_systems().send().await.unwrap();
    let ours: Vec<_> = fss
        .file_systems()
        .iter()
        .filter(|f| f.tags().iter().any(|t| t.key() == "strato:deployment" && t.value() == DEPLOYMENT))
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].encrypted(), Some(true));
    let mts = c.efs.describe_mount_targets().file_system_id(ours[0].file_system_id()).send().await.unwrap();
    let mut mt_subnets = BTreeSet::new();
    for mt in mts.mount_targets() {
        mt_subnets.insert(subnets[mt.subnet_id()].0.clone());
        let sg =
            c.efs.describe_mount_target_security_groups().mount_target_id(mt.mount_target_id()).send().await.unwrap();
        let names: Vec<&str> = sg.security_groups().iter().map(|g| groups[g.as_str()].as_str()).collect();
        assert_eq!(names, ["efs"]);
    }
    assert_eq!(mt_subnets, BTreeSet::from(["app-a".to_string(), "app-b".to_string(), "app-c".to_string()]));
}

async fn verify_load_balancing(c: &Aws, instances: &BTreeMap<String, String>) {
    let subnets = subnets(c).await;
    let lbs = c.elb.describe_load_balancers().send().await.unwrap();
    let ours: BTreeMap<String, _> = lbs
        .load_balancers()
        .iter()
        .filter_map(|l| Some((l.load_balancer_name()?.strip_prefix("wso2-")?.to_string(), l)))
        .collect();
    assert_eq!(ours.len(), 5);
    let mut listeners_total = 0;
    let mut rules: BTreeSet<(String, String, String)> = BTreeSet::new();
    let tgs = c.elb.describe_target_groups().send().await.unwrap();
    let tg_name: BTreeMap<&str, &str> = tgs
        .target_groups()
        .iter()
        .filter_map(|t| Some((t.target_group_arn()?, t.target_group_name()?.strip_prefix("wso2-")?)))
        .collect();
    for (name, lb) in &ours {
        let public = name == "apim-public";
        assert_eq!(
            lb.scheme().map(|s| s.as_str()),
            Some(if public { "internet-facing" } else { "internal" }),
            "{name}"
        );
        let tier = if public { "public-" } else { "app-" };
        let lb_subnets: BTreeSet<&str> =
            lb.availability_zones().iter().filter_map(|z| z.subnet_id()).map(|s| subnets[s].0.as_str()).collect();
        let want: BTreeSet<String> = ["a", "b", "c"].iter().map(|z| format!("{tier}{z}")).collect();
        assert_eq!(lb_subnets, want.iter().map(String::as_str).collect(), "{name}");
        let listeners =
            c.elb.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await.unwrap();
        for l in listeners.listeners() {
            listeners_total += 1;
            let action = &l.default_actions()[0];
            match l.port() {
                Some(80) => {
                    assert!(public, "only the public ALB listens on 80");
                    let r = action.redirect_config().unwrap();
                    assert_eq!((r.protocol(), r.port()), (Some("HTTPS"), Some("443")));
                }
                Some(443) => {
                    assert_eq!(l.protocol().map(|p| p.as_str()), Some("HTTPS"));
                    assert_eq!(l.certificates().len(), 1, "{name}: the certificate");
                    let forward = tg_name[action.target_group_arn().unwrap()];
                    let want = match name.as_str() {
                        "apim-public" => "apim-gateway",
                        "apim-internal" => "apim-management",
                        "ei-services" => "ei-services",
                        "ei-internal" => "ei-management",
                        _ => "apim-analytics-dashboard",
                    };
                    assert_eq!(forward, want, "{name}");
                    let described =
                        c.elb.describe_rules().listener_arn(l.listener_arn().unwrap()).send().await.unwrap();
                    for r in described.rules().iter().filter(|r| r.is_default() != Some(true)) {
                        let host = r.conditions()[0].host_header_config().unwrap().values()[0].clone();
                        let to = tg_name[r.actions()[0].target_group_arn().unwrap()].to_string();
                        rules.insert((name.clone(), host, to));
                    }
                }
                other => panic!("{name}: unexpected listener port {other:?}"),
            }
        }
    }
    assert_eq!(listeners_total, 6);
    assert_eq!(
        rules,
        BTreeSet::from([
            ("apim-public".to_string(), "devportal.wso2.example.com".to_string(), "apim-devportal".to_string()),
            (
                "analytics-internal".to_string(),
                "ei-analytics.wso2.example.com".to_string(),
                "ei-analytics-dashboard".to_string()
            ),
        ])
    );

    // name -> (port, health path, sticky, targets)
    let expected: BTreeMap<&str, (i32, &str, bool, &[&str])> = BTreeMap::from([
        ("apim-gateway", (8243, "/services/Version", false, &["apim-1", "apim-2"][..])),
        ("apim-devportal", (9443, "/devportal", true, &["apim-1", "apim-2"][..])),
        ("apim-management", (9443, "/carbon/admin/login.jsp", true, &["apim-1", "apim-2"][..])),
        ("ei-services", (8253, "/healthz", false, &["ei-1", "ei-2"][..])),
        ("ei-management", (9164, "/management", false, &["ei-1", "ei-2"][..])),
        ("apim-analytics-dashboard", (9643, "/portal", true, &["apim-analytics-dashboard"][..])),
        ("ei-analytics-dashboard", (9643, "/portal", true, &["ei-analytics-dashboard"][..])),
    ]);
    let mut seen = 0;
    for t in tgs.target_groups() {
        let Some(name) = t.target_group_name().and_then(|n| n.strip_prefix("wso2-")) else { continue };
        seen += 1;
        let (port, path, sticky, targets) = expected[name];
        assert_eq!(t.port(), Some(port), "{name}");
        assert_eq!(t.protocol().map(|p| p.as_str()), Some("HTTPS"), "{name}");
        assert_eq!(t.health_check_path(), Some(path), "{name}");
        let arn = t.target_group_arn().unwrap();
        let attrs = c.elb.describe_target_group_attributes().target_group_arn(arn).send().await.unwrap();
        let stickiness =
            attrs.attributes().iter().any(|a| a.key() == Some("stickiness.enabled") && a.value() == Some("true"));
        assert_eq!(stickiness, sticky, "{name}: stickiness");
        let health = c.elb.describe_target_health().target_group_arn(arn).send().await.unwrap();
        let registered: BTreeSet<&str> = health
            .target_health_descriptions()
            .iter()
            .filter_map(|d| d.target()?.id())
            .map(|id| instances[id].as_str())
            .collect();
        assert_eq!(registered, targets.iter().copied().collect(), "{name}: registered targets");
    }
    assert_eq!(seen, 7);
}

async fn assert_nothing_left(c: &Aws, deployment: &str, certificate: &str) {
    let f = || Filter::builder().name("tag:strato:deployment").values(deployment).build();
    let prefix = format!("{deployment}-");
    assert!(c.ec2.describe_vpcs().filters(f()).send().await.unwrap().vpcs().is_empty(), "VPCs");
    assert!(c.ec2.describe_subnets().filters(f()).send().await.unwrap().subnets().is_empty(), "subnets");
    assert!(c.ec2.describe_addresses().filters(f()).send().await.unwrap().addresses().is_empty(), "Elastic IPs");
    assert!(c.ec2.describe_key_pairs().filters(f()).send().await.unwrap().key_pairs().is_empty(), "key pairs");
    assert!(c.ec2.describe_security_groups().filters(f()).send().await.unwrap().security_groups().is_empty(), "groups");
    assert!(c.ec2.describe_route_tables().filters(f()).send().await.unwrap().route_tables().is_empty(), "route tables");
    assert!(
        c.ec2.describe_internet_gateways().filters(f()).send().await.unwrap().internet_gateways().is_empty(),
        "IGWs"
    );
    let live = c
        .ec2
        .describe_instances()
        .filters(f())
        .filters(
            Filter::builder().name("instance-state-name").values("pending").values("running").values("stopped").build(),
        )
        .send()
        .await
        .unwrap();
    assert!(live.reservations().iter().all(|r| r.instances().is_empty()), "instances");
    let nats = c.ec2.describe_nat_gateways().filter(f()).send().await.unwrap();
    // The emulator ignores tag filters on this call: filter here.
    let live = nats
        .nat_gateways()
        .iter()
        .filter(|n| tag(n.tags(), "strato:deployment") == Some(deployment))
        .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"));
    assert_eq!(live.count(), 0, "NAT gateways");
    let dbs = c.rds.describe_db_instances().send().await.unwrap();
    assert!(
        dbs.db_instances().iter().all(|d| !d.db_instance_identifier().unwrap_or("").starts_with(&prefix)),
        "databases"
    );
    let groups = c.rds.describe_db_subnet_groups().send().await.unwrap();
    assert!(
        groups.db_subnet_groups().iter().all(|g| !g.db_subnet_group_name().unwrap_or("").starts_with(&prefix)),
        "DB subnet groups"
    );
    let fss = c.efs.describe_file_systems().send().await.unwrap();
    assert!(
        fss.file_systems()
            .iter()
            .all(|fs| !fs.tags().iter().any(|t| t.key() == "strato:deployment" && t.value() == deployment)),
        "file systems"
    );
    let lbs = c.elb.describe_load_balancers().send().await.unwrap();
    assert!(
        lbs.load_balancers().iter().all(|l| !l.load_balancer_name().unwrap_or("").starts_with(&prefix)),
        "load balancers"
    );
    let tgs = c.elb.describe_target_groups().send().await.unwrap();
    assert!(
        tgs.target_groups().iter().all(|t| !t.target_group_name().unwrap_or("").starts_with(&prefix)),
        "target groups"
    );
    assert!(
        c.acm.describe_certificate().certificate_arn(certificate).send().await.is_err(),
        "the imported certificate"
    );
    let certs = c.acm.list_certificates().send().await.unwrap();
    assert!(certs.certificate_summary_list().iter().all(|s| s.certificate_arn() != Some(certificate)), "certificates");
}

#[tokio::test]
async fn the_reference_architecture_round_trip() {
    let state = std::env::temp_dir().join(format!("strato-it-reference-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);

    let up = summary(&strato(&["provision", SPEC], &state));
    assert_eq!(up["created"], 111);
    let outputs = up["outputs"].as_object().unwrap();
    assert_eq!(outputs.len(), 11);
    for (k, v) in outputs {
        assert!(v.as_str().is_some_and(|s| !s.is_empty() && !s.contains("${")), "output {k} is filled: {v}");
    }
    assert!(outputs["ssh"].as_str().unwrap().ends_with("ec2-user@10.0.30.10"));

    let c = aws().await;
    let instances = verify_instances(&c).await;
    verify_data(&c).await;
    verify_load_balancing(&c, &instances).await;

    let state_file: PathBuf = state.join(DEPLOYMENT).join("state.json");
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let text = std::fs::read_to_string(&state_file).unwrap();
    assert!(!text.to_lowercase().contains("password"), "no password in the state");
    assert!(!text.contains("csr_challenge") && !text.contains("#!/bin/bash"), "no challenge or user data in the state");
    let certificate = recorded["objects"]["certificate.wso2"]["id"].as_str().unwrap().to_string();

    let again = summary(&strato(&["provision", SPEC], &state));
    assert_eq!(again["created"], 0, "provisioning again changes nothing");
    assert_eq!(again["unchanged"], 111);

    let outputs = Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(["outputs", SPEC, "--state-dir", state.to_str().unwrap(), "--output", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let outputs: serde_json::Value = serde_json::from_slice(&outputs.stdout).unwrap();
    assert_eq!(outputs.as_object().unwrap().len(), 11);
    assert!(outputs["apim_db_endpoint"].as_str().unwrap().starts_with("wso2-apim-db."));

    let down = summary(&strato(&["destroy", SPEC, "--yes"], &state));
    assert_eq!(down["deleted"], 111);
    assert_nothing_left(&c, DEPLOYMENT, &certificate).await;
    // What AWS deletes with its parent is not deleted on its own: the listeners and their
    // rules go with the load balancers, the registrations with the target groups, the
    // groups' rules with the groups, but for the database group's: the groups its rules
    // name would otherwise wait for the databases' delete.
    let by_call = &down["api_calls_by_operation"];
    for call in ["DeleteListener", "DeleteRule", "DeregisterTargets"] {
        assert!(by_call.get(call).is_none(), "a whole destroy sent {call}: {by_call}");
    }
    assert_eq!(by_call["RevokeSecurityGroupIngress"], 1, "{by_call}");
    assert!(by_call["DeleteLoadBalancer"] == 5 && by_call["DeleteTargetGroup"] == 7, "{by_call}");
    assert!(!state_file.exists());
    let snapshots = c.rds.describe_db_snapshots().send().await.unwrap();
    for db in ["wso2-apim-db", "wso2-analytics-db"] {
        assert!(
            snapshots
                .db_snapshots()
                .iter()
                .any(|s| s.db_snapshot_identifier().unwrap_or("").starts_with(&format!("{db}-final-"))),
            "a final snapshot of {db}"
        );
    }
}

const GUARDED: &str = r#"
[deployment]
name = "guarded"
region = "us-east-1"
zones = ["us-east-1a", "us-east-1b"]

[[vpc]]
name = "main"
cidr = "10.1.0.0/16"

[[subnet]]
name = "db-a"
vpc = "main"
tier = "db"
zone = "us-east-1a"
cidr = "10.1.20.0/24"

[[subnet]]
name = "db-b"
vpc = "main"
tier = "db"
zone = "us-east-1b"
cidr = "10.1.21.0/24"

[[security_group]]
name = "rds"
vpc = "main"

[[db_subnet_group]]
name = "db"
subnets = { tier = "db" }

[[database]]
name = "main-db"
engine = "mysql"
engine_version = "8.4"
instance_class = "db.t3.micro"
storage_gb = 20
deletion_protection = true
subnet_group = "db"
security_groups = ["rds"]
"#;

/// A database with deletion protection is refused with a clear message, and deleted only
/// when the operator lifts the protection explicitly; `--skip-final-snapshot` takes none.
#[tokio::test]
async fn deletion_protection_is_refused_unless_lifted() {
    let dir = std::env::temp_dir().join(format!("strato-it-guarded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, GUARDED).unwrap();
    let spec = spec.to_str().unwrap();
    let state = dir.join("state");
    summary(&strato(&["provision", spec], &state));

    let before = std::fs::read_to_string(state.join("guarded/state.json")).unwrap();
    let refused = strato(&["destroy", spec, "--yes"], &state);
    assert_eq!(refused.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(report["deleted"], 0, "refused before anything is deleted: {report}");
    let refusal = report["refused"][0].as_str().unwrap();
    assert!(refusal.starts_with("database.main-db: database guarded-main-db has deletion protection"), "{refusal}");
    assert!(refusal.contains("--lift-deletion-protection"), "{refusal}");
    assert_eq!(std::fs::read_to_string(state.join("guarded/state.json")).unwrap(), before, "the state is untouched");
    let c = aws().await;
    let db = c.rds.describe_db_instances().db_instance_identifier("guarded-main-db").send().await.unwrap();
    assert_eq!(db.db_instances().len(), 1, "the database is still there");

    let down =
        summary(&strato(&["destroy", spec, "--yes", "--lift-deletion-protection", "--skip-final-snapshot"], &state));
    assert_eq!(down["remaining"], 0);
    assert!(c.rds.describe_db_instances().db_instance_identifier("guarded-main-db").send().await.is_err());
    let snapshots = c.rds.describe_db_snapshots().send().await.unwrap();
    assert!(
        !snapshots
            .db_snapshots()
            .iter()
            .any(|s| s.db_snapshot_identifier().unwrap_or("").starts_with("guarded-main-db")),
        "no final snapshot when told not to"
    );
}

/// Forgets every answer AWS gave: each object is recorded only as the intent written before
/// its create call, as if the run had been killed after sending every call.
fn forget_answers(state_file: &std::path::Path) {
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(state_file).unwrap()).unwrap();
    for o in state["objects"].as_object_mut().unwrap().values_mut() {
        let o = o.as_object_mut().unwrap();
        o.insert("status".into(), "pending".into());
        o.remove("id");
        o.remove("attributes");
        o.remove("created_at");
    }
    std::fs::write(state_file, serde_json::to_string_pretty(&state).unwrap()).unwrap();
}

/// A run killed after its create calls left only intents in the state: the next provision
/// finds every object instead of creating a second one, and a destroy from such a state
/// finds and deletes them all.
#[tokio::test]
async fn a_run_killed_after_its_create_calls_resumes_without_duplicates() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("strato-it-resume-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["bootstrap", "keys"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for f in std::fs::read_dir(root.join("deploy-specs").join(sub)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, dir.join(sub).join(f.file_name().unwrap())).unwrap();
        }
    }
    let text = std::fs::read_to_string(root.join(SPEC)).unwrap().replacen("name = \"wso2\"", "name = \"resume\"", 1);
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, text).unwrap();
    let spec = spec.to_str().unwrap();
    let state = dir.join("state");
    let state_file = state.join("resume/state.json");

    assert_eq!(summary(&strato(&["provision", spec], &state))["created"], 111);
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    let certificate = recorded["objects"]["certificate.wso2"]["id"].as_str().unwrap().to_string();

    forget_answers(&state_file);
    let again = summary(&strato(&["provision", spec], &state));
    assert_eq!(again["created"], 111, "every object is adopted (counted as created by this run)");
    let c = aws().await;
    let dep = || Filter::builder().name("tag:strato:deployment").values("resume").build();
    assert_eq!(c.ec2.describe_vpcs().filters(dep()).send().await.unwrap().vpcs().len(), 1);
    assert_eq!(c.ec2.describe_subnets().filters(dep()).send().await.unwrap().subnets().len(), 10);
    assert_eq!(c.ec2.describe_addresses().filters(dep()).send().await.unwrap().addresses().len(), 3);
    let running = c
        .ec2
        .describe_instances()
        .filters(dep())
        .filters(Filter::builder().name("instance-state-name").values("running").build())
        .send()
        .await
        .unwrap();
    assert_eq!(running.reservations().iter().map(|r| r.instances().len()).sum::<usize>(), 12, "no second instance");
    let lbs = c.elb.describe_load_balancers().send().await.unwrap();
    let ours: Vec<_> =
        lbs.load_balancers().iter().filter(|l| l.load_balancer_name().unwrap_or("").starts_with("resume-")).collect();
    assert_eq!(ours.len(), 5);
    let mut listeners = 0;
    for lb in &ours {
        listeners += c
            .elb
            .describe_listeners()
            .load_balancer_arn(lb.load_balancer_arn().unwrap())
            .send()
            .await
            .unwrap()
            .listeners()
            .len();
    }
    assert_eq!(listeners, 6, "no second listener");
    let certs = c.acm.list_certificates().send().await.unwrap();
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert_eq!(
        recorded["objects"]["certificate.wso2"]["id"].as_str(),
        Some(certificate.as_str()),
        "the same certificate"
    );
    assert!(certs.certificate_summary_list().iter().any(|s| s.certificate_arn() == Some(certificate.as_str())));

    forget_answers(&state_file);
    let down = summary(&strato(&["destroy", spec, "--yes", "--skip-final-snapshot"], &state));
    assert_eq!(down["remaining"], 0);
    assert_nothing_left(&c, "resume", &certificate).await;
}
