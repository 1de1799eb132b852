//! The graph built from small specs: which edges exist, which stage they need, cycles, order
//! and estimates.

use std::path::PathBuf;

use strato_graph::{check, Durations, Graph, Kind};
use strato_spec::Stage;

const BASE: &str = r#"
[deployment]
name = "t"
region = "us-east-1"
zones = ["us-east-1a", "us-east-1b"]

[image]
al = { ami = "ami-0123456789abcdef0" }

[[vpc]]
name = "v"
cidr = "10.0.0.0/16"

[[subnet]]
name = "pub-a"
vpc = "v"
tier = "public"
zone = "us-east-1a"
cidr = "10.0.0.0/24"

[[subnet]]
name = "app-a"
vpc = "v"
tier = "app"
zone = "us-east-1a"
cidr = "10.0.1.0/24"

[[internet_gateway]]
name = "igw"
vpc = "v"

[[nat_gateway]]
name = "nat"
subnet = "pub-a"

[[route_table]]
name = "public"
vpc = "v"
subnets = ["pub-a"]
route = [{ destination = "0.0.0.0/0", internet_gateway = "igw" }]

[[route_table]]
name = "private"
vpc = "v"
subnets = ["app-a"]
route = [{ destination = "0.0.0.0/0", nat_gateway = "nat" }]

[[security_group]]
name = "web"
vpc = "v"
"#;

/// Writes a spec and its templates into a fresh directory and loads it.
fn load(extra: &str, templates: &[(&str, &str)]) -> (strato_spec::Document, Graph) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "strato-graph-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in templates {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path = dir.join("spec.toml");
    let text = format!("{BASE}{extra}");
    std::fs::write(&path, &text).unwrap();
    let doc = strato_spec::load(&path).unwrap();
    let graph = Graph::from_document(&doc);
    (doc, graph)
}

fn edge(g: &Graph, from: &str, to: &str) -> Option<Stage> {
    let id = g.find(from).unwrap_or_else(|| panic!("no node {from}"));
    g.dependencies(id).find(|e| g.node(e.dependency).address.as_str() == to).map(|e| e.needs)
}

fn instance(name: &str, extra: &str) -> String {
    format!("\n[[instance]]\nname = \"{name}\"\nsubnet = \"app-a\"\ntype = \"t3.micro\"\nimage = \"al\"\n{extra}\n")
}

#[test]
fn edges_carry_the_stage_the_dependent_needs() {
    let (doc, g) = load(&instance("a", ""), &[]);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    assert_eq!(edge(&g, "subnet.app-a", "vpc.v"), Some(Stage::Created));
    assert_eq!(edge(&g, "nat_gateway.nat", "elastic_ip.nat"), Some(Stage::Created));
    assert_eq!(edge(&g, "nat_gateway.nat", "internet_gateway.igw"), Some(Stage::Created));
    assert_eq!(edge(&g, "route_table.private.route[0.0.0.0/0]", "nat_gateway.nat"), Some(Stage::Ready));
    assert_eq!(edge(&g, "instance.a", "route_table.private.association[app-a]"), Some(Stage::Created));
    assert_eq!(edge(&g, "instance.a", "route_table.private.route[0.0.0.0/0]"), Some(Stage::Created));
    assert_eq!(edge(&g, "instance.a", "vpc.v"), None);
    assert_eq!(g.node(g.find("elastic_ip.nat").unwrap()).kind, Kind::ElasticIp);
}

#[test]
fn template_references_become_edges_unless_known_statically() {
    let spec = format!(
        "{}{}{}",
        instance("db-user", "user_data = { template = \"u.sh\" }"),
        instance("fixed", "private_ip = \"10.0.1.10\"\nuser_data = { template = \"f.sh\" }"),
        instance("plain", "user_data = { template = \"p.sh\", vars = { x = \"${instance.db-user.private_ip}\" } }"),
    );
    let (doc, g) = load(
        &spec,
        &[
            ("u.sh", "echo ${instance.fixed.private_ip} ${subnet.app-a.cidr} ${HOME}"),
            ("f.sh", "echo ${instance.fixed.private_ip} ${node.name}"),
            ("p.sh", "echo ${var.x}"),
        ],
    );
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    // A fixed address and a CIDR are in the spec: no waiting.
    assert_eq!(edge(&g, "instance.db-user", "instance.fixed"), None);
    assert_eq!(edge(&g, "instance.db-user", "subnet.app-a"), Some(Stage::Created));
    // Its own fixed address: no self edge, so no cycle.
    assert_eq!(edge(&g, "instance.fixed", "instance.fixed"), None);
    // A variable that refers to another instance's assigned address waits for it.
    assert_eq!(edge(&g, "instance.plain", "instance.db-user"), Some(Stage::Created));
    assert!(check(&g).is_empty());
    // Edges made only by user data order creation, not deletion; an edge that the
    // object's own settings make too (its subnet) stays a real dependency.
    let via_template = |from: &str, to: &str| {
        let id = g.find(from).unwrap();
        g.dependencies(id).find(|e| g.node(e.dependency).address.as_str() == to).map(|e| e.via_template)
    };
    assert_eq!(via_template("instance.plain", "instance.db-user"), Some(true));
    assert_eq!(via_template("instance.db-user", "subnet.app-a"), Some(false));
    assert_eq!(via_template("instance.plain", "subnet.app-a"), Some(false));
}

#[test]
fn every_cycle_is_reported_once_in_a_stable_order() {
    let spec = format!(
        "{}{}{}{}",
        instance("a", "user_data = { template = \"a.sh\" }"),
        instance("b", "user_data = { template = \"b.sh\" }"),
        instance("c", "user_data = { template = \"c.sh\" }"),
        instance("d", "user_data = { template = \"d.sh\" }"),
    );
    let templates = [
        ("a.sh", "${instance.b.private_ip}"),
        ("b.sh", "${instance.a.private_ip} ${instance.c.private_ip}"),
        ("c.sh", "${instance.a.id}"),
        ("d.sh", "${instance.d.id}"),
    ];
    let (doc, g) = load(&spec, &templates);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    let messages: Vec<String> = check(&g).into_iter().map(|d| d.message).collect();
    assert_eq!(
        messages,
        [
            "dependency cycle: instance.a -> instance.b -> instance.a",
            "dependency cycle: instance.a -> instance.b -> instance.c -> instance.a",
            "dependency cycle: instance.d -> instance.d",
        ]
    );
    assert!(g.topological_order().is_none());
    assert!(g.estimate(&Durations::default()).is_none());
    // The same input gives the same report.
    let (_, g2) = load(&spec, &templates);
    let again: Vec<String> = check(&g2).into_iter().map(|d| d.message).collect();
    assert_eq!(messages, again);
}

#[test]
fn estimate_counts_each_object_until_the_stage_its_dependents_need() {
    let (doc, g) = load(&instance("a", ""), &[]);
    assert!(doc.diagnostics.is_empty());
    let d = Durations::default();
    let est = g.estimate(&d).unwrap();
    let path: Vec<&str> = est.critical_path.iter().map(|&id| g.node(id).address.as_str()).collect();
    // The NAT gateway must be available before the private route, and the instance waits
    // for the route: vpc 2 + subnet 2 + igw 4 + nat ready 100 + route 2 + instance created 3.
    assert_eq!(
        path,
        ["vpc.v", "internet_gateway.igw", "nat_gateway.nat", "route_table.private.route[0.0.0.0/0]", "instance.a"]
    );
    assert_eq!(est.parallel_secs, 2 + 4 + 100 + 2 + 3);
    let serial: u32 = g
        .nodes()
        .iter()
        .map(|n| d.until(n, if n.kind == Kind::NatGateway { Stage::Ready } else { Stage::Created }))
        .sum();
    assert_eq!(est.serial_secs, serial);
}

#[test]
fn topological_order_puts_dependencies_first() {
    let (_, g) = load(&instance("a", ""), &[]);
    let order = g.topological_order().unwrap();
    let pos = |a: &str| order.iter().position(|&id| g.node(id).address.as_str() == a).unwrap();
    for e in g.edges() {
        assert!(
            pos(g.node(e.dependency).address.as_str()) < pos(g.node(e.dependent).address.as_str()),
            "{} before {}",
            g.node(e.dependent).address,
            g.node(e.dependency).address
        );
    }
}
