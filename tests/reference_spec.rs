//! The flagship spec, `deploy-specs/wso2-apim-ei.toml`, through `validate`, `plan` and
//! `graph`: it must describe the reference architecture object for object.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::Command;

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";

fn strato(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("strato runs");
    assert!(out.status.success(), "strato {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn plan() -> Vec<serde_json::Value> {
    let out = strato(&["plan", SPEC, "--output", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    plan["objects"].as_array().expect("a list of objects").clone()
}

#[test]
fn validates() {
    let out = strato(&["validate", SPEC, "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["diagnostics"].as_array().unwrap().len(), 0);
}

#[test]
fn plan_has_every_object_of_the_reference_architecture() {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for item in plan() {
        *counts.entry(item["kind"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let expected = [
        ("vpc", 1),
        ("subnet", 10),
        ("internet_gateway", 1),
        ("elastic_ip", 3),
        ("nat_gateway", 3),
        ("route_table", 4),
        ("route", 4),
        ("route_table_association", 10),
        ("security_group", 10),
        ("security_group_rules", 10),
        ("key_pair", 1),
        ("certificate", 1),
        ("instance_role", 2),
        ("db_subnet_group", 1),
        ("db_instance", 2),
        ("file_system", 1),
        ("mount_target", 3),
        ("instance", 12),
        ("load_balancer", 5),
        ("target_group", 7),
        ("listener", 6),
        ("listener_rule", 2),
        // apim-gateway, apim-devportal, apim-management: apim-1/2 each (6); ei-services,
        // ei-management: ei-1/2 each (4); the two analytics dashboards (2).
        ("target_registration", 12),
    ];
    let expected: BTreeMap<String, usize> = expected.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(counts, expected);
}

#[test]
fn plan_lists_every_object_after_its_dependencies() {
    let plan = plan();
    let mut seen = HashSet::new();
    for item in &plan {
        for dep in item["depends_on"].as_array().unwrap() {
            let dep = dep.as_str().unwrap();
            assert!(seen.contains(dep), "{} is listed before its dependency {dep}", item["address"]);
        }
        assert!(seen.insert(item["address"].as_str().unwrap().to_string()), "duplicate {}", item["address"]);
    }
}

fn depends_on(plan: &[serde_json::Value], address: &str) -> Vec<String> {
    let item = plan.iter().find(|i| i["address"] == address).unwrap_or_else(|| panic!("{address} not in plan"));
    item["depends_on"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
}

#[test]
fn only_the_puppet_server_waits_for_the_databases() {
    let plan = plan();
    let db_waiters: Vec<&str> = plan
        .iter()
        .filter(|i| i["kind"] == "instance")
        .filter(|i| i["depends_on"].as_array().unwrap().iter().any(|d| d.as_str().unwrap().starts_with("database.")))
        .map(|i| i["address"].as_str().unwrap())
        .collect();
    assert_eq!(db_waiters, ["instance.puppet"]);
    // Agents reach the server at its fixed address: no edge to it.
    assert!(!depends_on(&plan, "instance.apim-1").iter().any(|d| d == "instance.puppet"));
    // API Manager nodes mount the file system, so they need it created.
    assert!(depends_on(&plan, "instance.apim-1").iter().any(|d| d == "file_system.apim-shared"));
}

#[test]
fn the_puppet_server_and_the_wso2_nodes_run_with_their_roles() {
    let plan = plan();
    assert!(depends_on(&plan, "instance.puppet").contains(&"instance_role.puppet-server".to_string()));
    for node in ["apim-1", "ei-2", "apim-analytics-worker-1", "ei-analytics-dashboard"] {
        let deps = depends_on(&plan, &format!("instance.{node}"));
        assert!(deps.contains(&"instance_role.wso2-node".to_string()), "{node}: {deps:?}");
    }
    assert!(!depends_on(&plan, "instance.bastion").iter().any(|d| d.starts_with("instance_role.")));
    // The server's role may read both databases' secrets, whose ARNs RDS gives on create.
    assert_eq!(depends_on(&plan, "instance_role.puppet-server"), ["database.apim-db", "database.analytics-db"]);
    assert!(depends_on(&plan, "instance_role.wso2-node").is_empty());
    let role = plan.iter().find(|i| i["address"] == "instance_role.puppet-server").unwrap();
    assert_eq!(role["aws_name"], "wso2-puppet-server-us-east-1", "IAM names carry the region");
}

#[test]
fn the_plan_shows_the_names_aws_knows_objects_by() {
    let text = String::from_utf8(strato(&["plan", SPEC]).stdout).unwrap();
    for line in [
        "  + target_group.apim-analytics-dashboard (wso2-apim-analytics-dashboard)\n",
        "  + load_balancer.apim-public (wso2-apim-public)\n",
        "  + database.apim-db (wso2-apim-db)\n",
        "  + db_subnet_group.wso2-db (wso2-wso2-db)\n",
        "  + key_pair.operators (wso2-operators)\n",
        "  + instance_role.wso2-node (wso2-wso2-node-us-east-1)\n",
        // Objects AWS knows by id: their address only.
        "  + vpc.main\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
    for item in plan() {
        assert!(item["aws_name"].as_str().is_some_and(|n| n.starts_with("wso2-")), "{item}");
    }
}

#[test]
fn private_instances_wait_for_their_zone_nat_route() {
    let plan = plan();
    let deps = depends_on(&plan, "instance.ei-2");
    assert!(deps.contains(&"subnet.app-b".to_string()));
    assert!(deps.contains(&"route_table.private-b.route[0.0.0.0/0]".to_string()));
    let route = depends_on(&plan, "route_table.private-b.route[0.0.0.0/0]");
    assert!(route.contains(&"nat_gateway.nat-b".to_string()));
    let nat = depends_on(&plan, "nat_gateway.nat-b");
    for d in ["elastic_ip.nat-b", "subnet.public-b", "internet_gateway.igw"] {
        assert!(nat.contains(&d.to_string()), "nat-b needs {d}");
    }
}

#[test]
fn text_plan_shows_counts_and_the_critical_path() {
    let out = strato(&["plan", SPEC]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("111 objects to create"), "{text}");
    assert!(text.contains("\nsubnet (10)\n"), "{text}");
    assert!(text.contains("\ntarget_registration (12)\n"), "{text}");
    let path = text.lines().find(|l| l.trim_start().starts_with("critical path:")).expect("critical path line");
    assert!(
        path.contains("vpc.main -> subnet.db-") && path.contains("-> db_subnet_group.wso2-db -> database."),
        "{path}"
    );
    let minutes = |label: &str| -> u32 {
        let line = text.lines().find(|l| l.contains(label)).unwrap_or_else(|| panic!("no {label} line"));
        line.split(':').nth(1).unwrap().trim().split('m').next().unwrap().parse().unwrap()
    };
    // Multi-AZ RDS behind VPC, subnet and subnet group: about 12 minutes; serial about 33.
    assert!((11..=13).contains(&minutes("in parallel")), "{text}");
    assert!((30..=38).contains(&minutes("at a time")), "{text}");
}

#[test]
fn graph_formats_describe_the_same_graph() {
    let json: serde_json::Value = serde_json::from_slice(&strato(&["graph", SPEC, "--format", "json"]).stdout).unwrap();
    let nodes = json["nodes"].as_array().unwrap().len();
    let edges = json["edges"].as_array().unwrap().len();
    assert_eq!(nodes, plan().len());
    let dot = String::from_utf8(strato(&["graph", SPEC, "--format", "dot"]).stdout).unwrap();
    assert_eq!(dot.matches(" -> ").count(), edges);
    let mermaid = String::from_utf8(strato(&["graph", SPEC, "--format", "mermaid"]).stdout).unwrap();
    assert!(mermaid.starts_with("flowchart LR\n"));
    assert_eq!(mermaid.matches(" --> ").count() + mermaid.matches(" -.-> ").count(), edges);
    for e in json["edges"].as_array().unwrap() {
        assert!(matches!(e["needs"].as_str(), Some("created" | "ready")), "{e}");
    }
}

/// Graphviz must accept the DOT output. `.ci/run` installs Graphviz; without it this fails
/// with a message saying so rather than passing silently.
#[test]
fn dot_output_renders_with_graphviz() {
    let dot = strato(&["graph", SPEC, "--format", "dot"]).stdout;
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("Graphviz `dot` on PATH (apt-get install graphviz; .ci/run installs it)");
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(&dot).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dot rejected the graph:\n{}", String::from_utf8_lossy(&out.stderr));
    let svg = String::from_utf8(out.stdout).unwrap();
    assert!(svg.contains("<svg") && svg.contains("database.apim&#45;db"), "SVG lacks nodes");
}

/// The Mermaid output is well formed: every node declared once with a quoted label, every
/// edge between declared nodes.
#[test]
fn mermaid_output_is_well_formed() {
    let text = String::from_utf8(strato(&["graph", SPEC, "--format", "mermaid"]).stdout).unwrap();
    let mut declared = HashSet::new();
    for line in text.lines().skip(1) {
        let line = line.trim();
        if line.starts_with("classDef ") {
            continue;
        }
        if let Some((from, to)) = line.split_once(" --> ").or_else(|| line.split_once(" -.-> ")) {
            assert!(declared.contains(from) && declared.contains(to), "edge between undeclared nodes: {line}");
            continue;
        }
        let (id, rest) = line.split_once("[\"").unwrap_or_else(|| panic!("unexpected line: {line}"));
        assert!(rest.contains("\"]:::"), "label not closed: {line}");
        assert!(!rest[..rest.find("\"]").unwrap()].contains('"'), "unescaped quote: {line}");
        assert!(declared.insert(id.to_string()), "node {id} declared twice");
    }
    assert_eq!(declared.len(), plan().len());
}

/// A state location strato does not understand (a URL other than `s3://`, a bucket name
/// S3 would refuse) is an error, never taken for a local directory named `gs:`; nothing is
/// sent anywhere.
#[test]
fn a_state_url_strato_does_not_understand_is_refused_not_made_a_directory() {
    let dir = std::env::temp_dir().join(format!("strato-state-url-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SPEC);
    for (url, says) in [("gs://bucket/strato", "not at `gs://` URLs"), ("s3://Bad_Bucket/x", "not an S3 bucket name")] {
        for command in ["provision", "plan", "status", "destroy", "list"] {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_strato"));
            c.arg(command);
            if command != "list" {
                c.arg(spec.to_str().unwrap());
            }
            let out =
                c.args(["--state", url, "--endpoint-url", "http://127.0.0.1:9"]).current_dir(&dir).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{command} {url}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(says),
                "{command} {url}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(!dir.join("gs:").exists(), "no local directory named after the URL");
}
