//! The engine tasks strato runs: one per graph node to provision, one per recorded object
//! to destroy, and the per-service concurrency limits they run under.

use std::collections::HashMap;
use std::time::Duration;

use strato_engine::{Need, Task, TaskId};
use strato_graph::{Durations, Graph, Kind, NodeId};
use strato_state::{Object, State};

/// The concurrency class of a kind: AWS throttles some calls much harder than others
/// ([`Kind::service`]).
pub fn service(kind: Kind) -> &'static str {
    kind.service()
}

/// Per-service concurrency limits, from the token buckets AWS documents: a burst that
/// refills slowly is better spent a few at a time than in a burst of throttling errors.
pub fn service_limits() -> HashMap<&'static str, usize> {
    HashMap::from([("ec2", 20), ("nat", 5), ("elb", 8), ("rds", 10), ("efs", 5), ("acm", 5), ("iam", 4)])
}

/// One engine task per graph node, with the graph's edges and AWS's typical durations
/// (the estimates the engine ranks by: [`Durations`], from each kind's row of
/// [`strato_graph::KINDS`]).
pub fn provision_tasks(graph: &Graph) -> Vec<Task> {
    let d = Durations::default();
    graph
        .nodes()
        .iter()
        .enumerate()
        .map(|(i, n)| Task {
            name: n.address.to_string(),
            service: service(n.kind),
            estimate: Duration::from_secs(u64::from(d.until(n, strato_spec::Stage::Ready))),
            deps: graph
                .dependencies(NodeId(i))
                .map(|e| {
                    let need = match e.needs {
                        strato_spec::Stage::Created => Need::Created,
                        strato_spec::Stage::Ready => Need::Ready,
                    };
                    (TaskId(e.dependency.0), need)
                })
                .collect(),
        })
        .collect()
}

/// Destroy tasks from the state alone: task `i` deletes `addresses[i]`.
///
/// Beyond "after everything that depends on it", AWS refuses to detach an internet gateway
/// while public addresses are mapped in its VPC ("Detach an internet gateway", Amazon VPC
/// User Guide), so internet gateways go after every NAT gateway, Elastic IP, public instance
/// and internet-facing load balancer. Databases are estimated longest, so their deletes
/// start first.
pub fn destroy_tasks(state: &State) -> (Vec<Task>, Vec<String>) {
    let addresses: Vec<String> = state.objects.keys().cloned().collect();
    let index: HashMap<&str, usize> = addresses.iter().enumerate().map(|(i, a)| (a.as_str(), i)).collect();
    let kinds: Vec<Option<Kind>> = state.objects.values().map(|o| o.kind.parse().ok()).collect();
    let mut tasks: Vec<Task> = addresses
        .iter()
        .zip(&kinds)
        .map(|(a, k)| {
            let estimate = k.map_or(2, |k| k.destroy_secs());
            Task {
                name: a.clone(),
                service: k.map_or("ec2", service),
                estimate: Duration::from_secs(u64::from(estimate)),
                deps: Vec::new(),
            }
        })
        .collect();
    for (i, obj) in state.objects.values().enumerate() {
        for dep in &obj.depends_on {
            if let Some(&j) = index.get(dep.as_str()) {
                tasks[j].deps.push((TaskId(i), Need::Ready));
            }
        }
    }
    let objects: Vec<&Object> = state.objects.values().collect();
    let public_addresses: Vec<usize> =
        (0..addresses.len()).filter(|&i| kinds[i].is_some_and(|k| maps_public_address(k, objects[i]))).collect();
    for (j, kind) in kinds.iter().enumerate() {
        if *kind == Some(Kind::InternetGateway) {
            for &i in &public_addresses {
                if !tasks[j].deps.iter().any(|(t, _)| t.0 == i) {
                    tasks[j].deps.push((TaskId(i), Need::Ready));
                }
            }
        }
    }
    (tasks, addresses)
}

/// Whether the recorded object maps a public address in its VPC: NAT gateways and their
/// Elastic IPs, instances with a public IP, internet-facing load balancers.
pub fn maps_public_address(kind: Kind, obj: &Object) -> bool {
    match kind {
        Kind::NatGateway | Kind::ElasticIp => true,
        Kind::Instance => obj.attribute("public_ip").is_some_and(|ip| !ip.is_empty()),
        Kind::LoadBalancer => obj.attribute("scheme") == Some("internet-facing"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strato_state::Status;

    fn object(kind: &str, deps: &[&str], attrs: &[(&str, &str)]) -> Object {
        let mut o = Object::new(kind);
        o.status = Status::Ready;
        o.id = Some(format!("{kind}-id"));
        o.depends_on = deps.iter().map(|d| d.to_string()).collect();
        o.attributes = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        o
    }

    /// The destroy order follows the deletion rules of AWS's API references, not only
    /// the reversed dependencies.
    #[test]
    fn destroy_order_keeps_awss_rules() {
        let mut state = State::new("d", "us-east-1");
        let objects = [
            ("vpc.main", object("vpc", &[], &[])),
            ("internet_gateway.igw", object("internet_gateway", &["vpc.main"], &[])),
            ("subnet.pub", object("subnet", &["vpc.main"], &[])),
            ("elastic_ip.nat", object("elastic_ip", &[], &[])),
            ("nat_gateway.nat", object("nat_gateway", &["elastic_ip.nat", "subnet.pub", "internet_gateway.igw"], &[])),
            ("instance.bastion", object("instance", &["subnet.pub"], &[("public_ip", "1.2.3.4")])),
            ("instance.private", object("instance", &["subnet.pub"], &[("private_ip", "10.0.0.9")])),
            ("load_balancer.web", object("load_balancer", &["subnet.pub"], &[("scheme", "internet-facing")])),
            ("load_balancer.inner", object("load_balancer", &["subnet.pub"], &[("scheme", "internal")])),
            ("database.db", object("db_instance", &[], &[])),
        ];
        for (a, o) in objects {
            state.objects.insert(a.to_string(), o);
        }
        let (tasks, addresses) = destroy_tasks(&state);
        let task = |a: &str| &tasks[addresses.iter().position(|x| x == a).unwrap()];
        let waits_for = |a: &str, b: &str| {
            let j = addresses.iter().position(|x| x == b).unwrap();
            task(a).deps.iter().any(|(t, n)| t.0 == j && *n == Need::Ready)
        };
        // Its NAT gateway must be deleted before an Elastic IP is released.
        assert!(waits_for("elastic_ip.nat", "nat_gateway.nat"));
        // The internet gateway goes after everything that maps a public address.
        for public in ["nat_gateway.nat", "elastic_ip.nat", "instance.bastion", "load_balancer.web"] {
            assert!(waits_for("internet_gateway.igw", public), "igw after {public}");
        }
        assert!(!waits_for("internet_gateway.igw", "instance.private"));
        assert!(!waits_for("internet_gateway.igw", "load_balancer.inner"));
        // Subnets after what is in them, the VPC after everything in it.
        for inside in ["instance.bastion", "nat_gateway.nat", "load_balancer.inner"] {
            assert!(waits_for("subnet.pub", inside), "subnet after {inside}");
        }
        assert!(waits_for("vpc.main", "subnet.pub") && waits_for("vpc.main", "internet_gateway.igw"));
        // Database deletes are the long pole: they carry the longest estimate.
        let longest = tasks.iter().max_by_key(|t| t.estimate).unwrap();
        assert_eq!(longest.name, "database.db");
    }
}
