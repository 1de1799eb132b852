//! The engine tasks strato runs: one per graph node to provision, one per recorded object
//! to destroy, and the per-service concurrency limits they run under.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use strato_engine::{Need, Task, TaskId};
use strato_graph::{Address, Durations, Graph, Kind, NodeId};
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

/// Destroy tasks from the state alone, one delete call (or more) per object: task `i`
/// deletes `addresses[i]`.
///
/// Beyond "after everything that depends on it", AWS refuses to detach an internet gateway
/// while public addresses are mapped in its VPC ("Detach an internet gateway", Amazon VPC
/// User Guide), so internet gateways go after every NAT gateway, Elastic IP, public instance
/// and internet-facing load balancer. Databases are estimated longest, so their deletes
/// start first.
pub fn explicit_destroy_tasks(state: &State) -> (Vec<Task>, Vec<String>) {
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

/// Destroy tasks from the state alone: task `i` deletes `addresses[i]`, in the order of
/// [`explicit_destroy_tasks`], except that an object AWS deletes together with another one
/// the run deletes ([`implied_deletes`], the third value: child address to parent address)
/// costs no call: its task follows that object's.
pub fn destroy_tasks(state: &State) -> (Vec<Task>, Vec<String>, BTreeMap<String, String>) {
    let (mut tasks, addresses) = explicit_destroy_tasks(state);
    let index: HashMap<&str, usize> = addresses.iter().enumerate().map(|(i, a)| (a.as_str(), i)).collect();
    let implied = implied_deletes(state);
    for (child, parent) in &implied {
        let (c, p) = (index[child.as_str()], index[parent.as_str()]);
        rewire(&mut tasks, c, p, &free_of(state, &index, child));
    }
    (tasks, addresses, implied)
}

/// The tasks of the dependencies of `child` that need not wait for it once its delete goes
/// with its parent's: a registration's instance may be terminated while registered
/// ("Deleting a target group does not affect the targets registered with the target
/// group. If you no longer need a registered EC2 instance, you can stop or terminate it",
/// "Delete an Application Load Balancer target group", ALB User Guide).
fn free_of(state: &State, index: &HashMap<&str, usize>, child: &str) -> Vec<usize> {
    let Some(obj) = state.objects.get(child) else { return Vec::new() };
    if obj.kind.parse::<Kind>().ok() != Some(Kind::TargetRegistration) {
        return Vec::new();
    }
    obj.depends_on
        .iter()
        .filter(|d| state.objects.get(d.as_str()).is_some_and(|o| o.kind.parse::<Kind>().ok() == Some(Kind::Instance)))
        .filter_map(|d| index.get(d.as_str()).copied())
        .collect()
}

/// The object whose delete, by AWS's API reference, deletes an object of `kind` with it:
/// - a target group's registrations: "Deleting a target group does not affect its
///   registered targets" (`DeleteTargetGroup`, ELBv2 API Reference): the targets stay, the
///   registrations go with the group;
/// - a load balancer's listeners: "your listener is deleted when you delete the load
///   balancer it is attached to" (`DeleteListener`, ELBv2 API Reference);
/// - a listener's rules: "When you delete a listener, all its rules are deleted" ("Delete a
///   listener rule", ALB User Guide);
/// - a security group's ingress rules: they are part of the group (`DeleteSecurityGroup`).
///   A rule that names another group keeps that group from being deleted
///   (`DependencyViolation`, "Delete a security group", Amazon VPC User Guide), so the
///   other group's delete waits for this group's, as it waited for the revoke.
///
/// terraform-provider-aws deletes each of these on its own (`DeregisterTargets`,
/// `DeleteListener`, `DeleteRule`, `RevokeSecurityGroupIngress`): a call per object (and a
/// read before a revoke) that a whole destroy does not need.
pub fn goes_with(kind: Kind) -> Option<Kind> {
    match kind {
        Kind::TargetRegistration => Some(Kind::TargetGroup),
        Kind::Listener => Some(Kind::LoadBalancer),
        Kind::ListenerRule => Some(Kind::Listener),
        Kind::SecurityGroupRules => Some(Kind::SecurityGroup),
        _ => None,
    }
}

/// The objects of `state` that AWS deletes with another object of `state` ([`goes_with`]),
/// each with that object's address: when both go in one run, the child's delete is that
/// of its parent. Only when the parent's delete can come first (a child whose other
/// dependencies must outlive it would wait for itself) and the destroy's estimated
/// critical path is no longer for it: otherwise the child is deleted on its own.
pub fn implied_deletes(state: &State) -> BTreeMap<String, String> {
    let (mut tasks, addresses) = explicit_destroy_tasks(state);
    let index: HashMap<&str, usize> = addresses.iter().enumerate().map(|(i, a)| (a.as_str(), i)).collect();
    let mut implied = BTreeMap::new();
    let mut span = estimated_span(&tasks);
    for (address, obj) in &state.objects {
        let Some(parent) = parent_going(address, obj) else { continue };
        if !state.objects.contains_key(&parent) {
            continue;
        }
        let (c, p) = (index[address.as_str()], index[parent.as_str()]);
        let mut rewired = tasks.clone();
        rewire(&mut rewired, c, p, &free_of(state, &index, address));
        if waits_for(&rewired, p, c) {
            continue;
        }
        // What waited for the child now waits for its parent: worth a call only when that
        // does not lengthen the whole destroy (a group named by the rules of the database
        // group would wait for the databases' delete).
        let longest = estimated_span(&rewired);
        if longest <= span {
            tasks = rewired;
            span = longest;
            implied.insert(address.clone(), parent);
        }
    }
    implied
}

/// The longest chain of estimates through `tasks`, which wait for no task of their own.
fn estimated_span(tasks: &[Task]) -> Duration {
    let mut waiting: Vec<usize> = tasks.iter().map(|t| t.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        for (d, _) in &t.deps {
            dependents[d.0].push(i);
        }
    }
    let mut start = vec![Duration::ZERO; tasks.len()];
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| waiting[i] == 0).collect();
    let mut longest = Duration::ZERO;
    while let Some(t) = ready.pop() {
        let finish = start[t] + tasks[t].estimate;
        longest = longest.max(finish);
        for &u in &dependents[t] {
            start[u] = start[u].max(finish);
            waiting[u] -= 1;
            if waiting[u] == 0 {
                ready.push(u);
            }
        }
    }
    longest
}

/// The address of the object whose delete deletes the object at `address` ([`goes_with`]):
/// the object it is part of ([`Address::parent`]), when it depends on it.
pub fn parent_going(address: &str, obj: &Object) -> Option<String> {
    let kind = obj.kind.parse::<Kind>().ok()?;
    let parent = address.parse::<Address>().ok()?.parent()?;
    let ok = goes_with(kind) == Some(parent.kind()) && obj.depends_on.iter().any(|d| d == parent.as_str());
    ok.then(|| parent.as_str().to_string())
}

/// Task `child` follows task `parent` instead of preceding it, takes no time of its own,
/// and the tasks `free` no longer wait for it.
fn rewire(tasks: &mut [Task], child: usize, parent: usize, free: &[usize]) {
    tasks[child].estimate = Duration::ZERO;
    for &t in free.iter().chain([&parent]) {
        tasks[t].deps.retain(|(d, _)| d.0 != child);
    }
    if !tasks[child].deps.iter().any(|(t, _)| t.0 == parent) {
        tasks[child].deps.push((TaskId(parent), Need::Ready));
    }
}

/// Whether task `from` waits, directly or not, for task `to`.
fn waits_for(tasks: &[Task], from: usize, to: usize) -> bool {
    let mut seen = vec![false; tasks.len()];
    let mut stack = vec![from];
    while let Some(t) = stack.pop() {
        for (d, _) in &tasks[t].deps {
            if d.0 == to {
                return true;
            }
            if !std::mem::replace(&mut seen[d.0], true) {
                stack.push(d.0);
            }
        }
    }
    false
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

    /// What AWS deletes with its parent costs no call and follows the parent; what must
    /// outlive it still waits for it; a pair of groups whose rules name each other keeps
    /// one revoke, or each group would wait for the other.
    #[test]
    fn what_goes_with_its_parent_follows_it() {
        let mut state = State::new("d", "us-east-1");
        let objects = [
            ("load_balancer.web", object("load_balancer", &[], &[])),
            ("target_group.app", object("target_group", &[], &[])),
            ("certificate.web", object("certificate", &[], &[])),
            ("instance.app-1", object("instance", &[], &[])),
            (
                "load_balancer.web.listener[443]",
                object("listener", &["load_balancer.web", "target_group.app", "certificate.web"], &[]),
            ),
            (
                "load_balancer.web.listener[443].rule[10]",
                object("listener_rule", &["load_balancer.web.listener[443]", "target_group.app"], &[]),
            ),
            (
                "target_group.app.target[app-1]",
                object("target_registration", &["target_group.app", "instance.app-1"], &[]),
            ),
            ("security_group.a", object("security_group", &[], &[])),
            ("security_group.b", object("security_group", &[], &[])),
            ("security_group.a.rules", object("security_group_rules", &["security_group.a", "security_group.b"], &[])),
            ("security_group.b.rules", object("security_group_rules", &["security_group.b", "security_group.a"], &[])),
        ];
        for (a, o) in objects {
            state.objects.insert(a.to_string(), o);
        }
        let implied = implied_deletes(&state);
        assert_eq!(implied.get("load_balancer.web.listener[443]").map(String::as_str), Some("load_balancer.web"));
        assert_eq!(
            implied.get("load_balancer.web.listener[443].rule[10]").map(String::as_str),
            Some("load_balancer.web.listener[443]")
        );
        assert_eq!(implied.get("target_group.app.target[app-1]").map(String::as_str), Some("target_group.app"));
        let rules: Vec<&str> = ["security_group.a.rules", "security_group.b.rules"]
            .into_iter()
            .filter(|r| implied.contains_key(*r))
            .collect();
        assert_eq!(rules.len(), 1, "one of the two revokes is kept: {implied:?}");

        let (tasks, addresses, _) = destroy_tasks(&state);
        let at = |a: &str| addresses.iter().position(|x| x == a).unwrap();
        let waits = |a: &str, b: &str| waits_for(&tasks, at(a), at(b));
        // The child follows its parent.
        assert!(waits("load_balancer.web.listener[443]", "load_balancer.web"));
        assert!(!waits("load_balancer.web", "load_balancer.web.listener[443]"));
        assert!(waits("target_group.app.target[app-1]", "target_group.app"));
        // A target group in use by a listener or rule, a certificate by a listener: they
        // still go after them, so after the load balancer.
        assert!(waits("target_group.app", "load_balancer.web.listener[443].rule[10]"));
        assert!(waits("target_group.app", "load_balancer.web"));
        assert!(waits("certificate.web", "load_balancer.web"));
        // An instance may go while registered.
        assert!(!waits("instance.app-1", "target_group.app.target[app-1]"));
        // No task waits for itself.
        for (i, address) in addresses.iter().enumerate() {
            assert!(!waits_for(&tasks, i, i), "{address} waits for itself");
        }
        // Without the parent in the run, the child is deleted on its own.
        state.objects.remove("load_balancer.web");
        assert!(!implied_deletes(&state).contains_key("load_balancer.web.listener[443]"));
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
        let (tasks, addresses, _) = destroy_tasks(&state);
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
