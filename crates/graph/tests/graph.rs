//! The graph built from small specs: which edges exist, which stage they need, cycles, order
//! and estimates.

use std::path::PathBuf;

use strato_graph::{check, Address, Desired, Durations, Graph, Kind};
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
    let value_only = |from: &str, to: &str| {
        let id = g.find(from).unwrap();
        g.dependencies(id).find(|e| g.node(e.dependency).address.as_str() == to).map(|e| e.value_only)
    };
    assert_eq!(value_only("instance.plain", "instance.db-user"), Some(true));
    assert_eq!(value_only("instance.db-user", "subnet.app-a"), Some(false));
    assert_eq!(value_only("instance.plain", "subnet.app-a"), Some(false));
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

/// A second zone, a database and a file system on top of `BASE`.
const DATA: &str = r#"
[[subnet]]
name = "app-b"
vpc = "v"
tier = "app"
zone = "us-east-1b"
cidr = "10.0.2.0/24"

[[db_subnet_group]]
name = "dbs"
subnets = ["app-a", "app-b"]

[[database]]
name = "db"
instance_class = "db.t3.medium"
subnet_group = "dbs"

[[file_system]]
name = "fs"
mount_targets = ["app-a"]
"#;

fn desired<'g>(g: &'g Graph, address: &str) -> &'g Desired {
    let id = g.find(address).unwrap_or_else(|| panic!("no node {address}"));
    g.node(id).desired.as_ref().unwrap_or_else(|| panic!("{address} has no desired state"))
}

#[test]
fn instance_roles_wait_for_their_secrets_and_instances_for_their_role() {
    let spec = format!(
        "{DATA}{}{}\n[[instance_role]]\nname = \"reader\"\ndatabase_secrets = [\"db\"]\ncsr_challenge = true\n",
        instance("a", "role = \"reader\"\nuser_data = { template = \"a.sh\" }"),
        instance("b", ""),
    );
    let (doc, g) =
        load(&spec, &[("a.sh", "echo ${database.db.master_secret_arn} ${deployment.csr_challenge_parameter}")]);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    let role = g.find("instance_role.reader").unwrap();
    assert_eq!(g.node(role).kind, Kind::InstanceRole);
    // RDS answers CreateDBInstance with the secret's ARN: the role needs the database created.
    assert_eq!(edge(&g, "instance_role.reader", "database.db"), Some(Stage::Created));
    // EC2 takes an instance profile only once IAM has it ready.
    assert_eq!(edge(&g, "instance.a", "instance_role.reader"), Some(Stage::Ready));
    assert_eq!(edge(&g, "instance.b", "instance_role.reader"), None);
    let Desired::InstanceRole { name, secrets, csr_challenge } = desired(&g, "instance_role.reader") else {
        panic!("not a role")
    };
    assert_eq!(name, "t-reader-us-east-1");
    assert_eq!(name, &g.node(role).aws_name);
    assert_eq!(secrets, &[g.find("database.db").unwrap()]);
    assert!(csr_challenge);
    let Desired::Instance(a) = desired(&g, "instance.a") else { panic!() };
    assert_eq!(a.role, Some(role));
    let Desired::Instance(b) = desired(&g, "instance.b") else { panic!() };
    assert_eq!(b.role, None);
    // The parameter's name is static; nothing secret is left to render.
    let ud = a.user_data.as_ref().unwrap();
    let text = ud.render(|_, attr| Some(format!("<{attr}>"))).unwrap();
    assert_eq!(text, "echo <master_secret_arn> /strato/t/csr-challenge");
}

#[test]
fn every_node_has_an_aws_name_that_fits_or_the_one_the_spec_gives() {
    let spec = format!(
        r#"{DATA}{}
[[database]]
name = "named-db"
instance_class = "db.t3.medium"
subnet_group = "dbs"
aws_name = "legacy-db"

[[target_group]]
name = "a-target-group-name-that-is-long"
vpc = "v"
port = 8080
protocol = "HTTP"

[[target_group]]
name = "named"
vpc = "v"
port = 8080
protocol = "HTTP"
aws_name = "Legacy-TG"

[[key_pair]]
name = "ops"
public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID2h7gCiNoQ3jCHVYbAmgmlk3jKyi2QjIdnAjuplkOwX demo"
"#,
        instance("a", "user_data = { template = \"a.sh\" }"),
    );
    let (doc, g) =
        load(&spec, &[("a.sh", "echo ${database.db.identifier} ${database.named-db.identifier} ${key_pair.ops.name}")]);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    let aws_name = |address: &str| g.node(g.find(address).unwrap()).aws_name.clone();
    assert_eq!(aws_name("vpc.v"), "t-v");
    assert_eq!(aws_name("route_table.private.route[0.0.0.0/0]"), "t-private.route[0.0.0.0/0]");
    assert_eq!(aws_name("database.db"), "t-db");
    assert_eq!(aws_name("database.named-db"), "legacy-db");
    assert_eq!(aws_name("target_group.named"), "Legacy-TG");
    let long = aws_name("target_group.a-target-group-name-that-is-long");
    assert_eq!(long.len(), 32, "{long}");
    assert!(long.starts_with("t-a-target-group-name-th"), "{long}");
    let Desired::TargetGroup(tg) = desired(&g, "target_group.a-target-group-name-that-is-long") else { panic!() };
    assert_eq!(tg.name, long);
    let Desired::DbInstance(db) = desired(&g, "database.named-db") else { panic!() };
    assert_eq!(db.identifier, "legacy-db");
    // Templates are told the same names.
    let Desired::Instance(a) = desired(&g, "instance.a") else { panic!() };
    assert_eq!(a.user_data.as_ref().unwrap().render(|_, _| None).unwrap(), "echo t-db legacy-db t-ops");
}

#[test]
fn secure_defaults_reach_the_desired_state() {
    let spec = format!(
        r#"{DATA}
[[database]]
name = "public-db"
instance_class = "db.t3.medium"
subnet_group = "dbs"
publicly_accessible = true
engine_version = "8.4.3"

[[file_system]]
name = "scratch"
mount_targets = ["app-b"]
backup = false

[[certificate]]
name = "c"
self_signed = true
domains = ["example.com"]

[[load_balancer]]
name = "lb"
subnets = ["app-a", "app-b"]

[[load_balancer.listener]]
port = 80
forward = "tg"

[[load_balancer.listener]]
port = 443
protocol = "HTTPS"
certificate = "c"
forward = "tg"

[[load_balancer.listener]]
port = 8443
protocol = "HTTPS"
certificate = "c"
ssl_policy = "ELBSecurityPolicy-TLS13-1-3-2021-06"
forward = "tg"

[[target_group]]
name = "tg"
vpc = "v"
port = 8080
protocol = "HTTP"
"#
    );
    let (doc, g) = load(&spec, &[]);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    let Desired::DbInstance(db) = desired(&g, "database.db") else { panic!() };
    assert!(!db.publicly_accessible);
    assert_eq!((db.engine.as_str(), db.engine_version.as_str()), ("mysql", "8.4"));
    let Desired::DbInstance(public) = desired(&g, "database.public-db") else { panic!() };
    assert!(public.publicly_accessible);
    assert_eq!(public.engine_version, "8.4.3");
    assert!(matches!(desired(&g, "file_system.fs"), Desired::FileSystem { backup: true, .. }));
    assert!(matches!(desired(&g, "file_system.scratch"), Desired::FileSystem { backup: false, .. }));
    let policy = |port: u16| match desired(&g, &format!("load_balancer.lb.listener[{port}]")) {
        Desired::Listener { ssl_policy, .. } => ssl_policy.clone(),
        _ => panic!(),
    };
    assert_eq!(policy(80), None);
    assert_eq!(policy(443).as_deref(), Some("ELBSecurityPolicy-TLS13-1-2-2021-06"));
    assert_eq!(policy(8443).as_deref(), Some("ELBSecurityPolicy-TLS13-1-3-2021-06"));
}

#[test]
fn node_os_comes_from_the_image() {
    let spec = format!(
        r#"
[image.al23]
ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-minimal-kernel-default-arm64"

[image.rhel]
ami = "ami-0123456789abcdef1"
os = "el-9"
{}{}"#,
        instance("a", "user_data = { template = \"os.sh\" }").replace("image = \"al\"", "image = \"al23\""),
        instance("b", "user_data = { template = \"os.sh\" }").replace("image = \"al\"", "image = \"rhel\""),
    );
    let (doc, g) = load(&spec, &[("os.sh", "${node.os}")]);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    let render = |address: &str| match desired(&g, address) {
        Desired::Instance(i) => i.user_data.as_ref().unwrap().render(|_, _| None),
        _ => panic!(),
    };
    assert_eq!(render("instance.a").as_deref(), Ok("amazon-2023"));
    assert_eq!(render("instance.b").as_deref(), Ok("el-9"));
}

/// The reference spec with the longest deployment name strato takes: it validates, and
/// every name fits AWS's limits.
#[test]
fn the_reference_spec_fits_a_32_character_deployment_name() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let long = "wso2-staging-eu-west-1-team-blue";
    assert_eq!(long.len(), strato_spec::names::DEPLOYMENT_MAX);
    let text = text.replacen("name = \"wso2\"", &format!("name = \"{long}\""), 1);
    let doc = strato_spec::load_str("long.toml", &path, text);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    let g = Graph::from_document(&doc);
    assert!(check(&g).is_empty());
    let mut seen = std::collections::BTreeSet::new();
    for n in g.nodes() {
        assert!(n.aws_name.starts_with(&long[..20]), "{}: {}", n.address, n.aws_name);
        let limit = match n.kind {
            Kind::LoadBalancer | Kind::TargetGroup => 32,
            Kind::DbInstance => 63,
            Kind::InstanceRole => 64,
            _ => continue,
        };
        assert!(n.aws_name.len() <= limit, "{}: {} is longer than {limit}", n.address, n.aws_name);
        assert!(seen.insert((n.kind, n.aws_name.clone())), "{} shares its name", n.address);
        match &n.desired {
            Some(Desired::TargetGroup(tg)) => assert_eq!(tg.name, n.aws_name),
            Some(Desired::DbInstance(db)) => assert_eq!(db.identifier, n.aws_name),
            Some(Desired::InstanceRole { name, .. }) => assert_eq!(name, &n.aws_name),
            _ => {}
        }
    }
    assert_eq!(seen.len(), 5 + 7 + 2 + 2);
}

/// The Puppet server's role waits for the databases whose secrets its policy names, but
/// destroy need not: nothing in AWS ties a role to a database.
#[test]
fn a_role_waits_for_its_secrets_only_to_create() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml");
    let doc = strato_spec::load(&path).unwrap();
    let g = Graph::from_document(&doc);
    let role = g.find("instance_role.puppet-server").unwrap();
    let edges: Vec<_> = g.dependencies(role).collect();
    assert_eq!(edges.len(), 2, "the two databases");
    for e in edges {
        assert_eq!(g.node(e.dependency).kind, Kind::DbInstance);
        assert_eq!(e.needs, Stage::Created, "the secret's ARN is known once the database is created");
        assert!(e.value_only, "destroy does not wait for the role");
    }
    let puppet = g.find("instance.puppet").unwrap();
    let to_role = g.dependencies(puppet).find(|e| e.dependency == role).unwrap();
    assert_eq!(to_role.needs, Stage::Ready);
    assert!(!to_role.value_only, "the instance holds the profile: it goes first");
}

/// Every address of every valid spec reads back as the same kind, name and part, and the
/// graph finds its node by the address and by the text.
#[test]
fn every_address_of_the_valid_specs_reads_back_as_itself() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut specs = 0;
    for dir in ["tests/specs/valid", "deploy-specs"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            specs += 1;
            let doc = strato_spec::load(&path).unwrap();
            let g = Graph::from_document(&doc);
            assert!(!g.nodes().is_empty(), "{}", path.display());
            for (i, n) in g.nodes().iter().enumerate() {
                let back: Address = n.address.to_string().parse().unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((back.kind(), back.name(), back.part()), (n.kind, n.address.name(), n.address.part()));
                assert_eq!(back.as_str(), n.address.as_str());
                assert_eq!(g.find_address(&back).map(|id| id.0), Some(i));
                assert_eq!(g.find(n.address.as_str()).map(|id| id.0), Some(i));
                if let Some(parent) = n.address.parent() {
                    assert!(g.find_address(&parent).is_some(), "{} has no {parent}", n.address);
                }
            }
        }
    }
    assert!(specs >= 4);
}
