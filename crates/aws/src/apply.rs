//! A plan as engine tasks: one per graph node (create, update, replace or leave it), and
//! one per object the run deletes (removed from the spec, or the old object of a
//! replacement), with the orderings that keep AWS's rules and the platform in service.
//!
//! - Deletions among themselves follow the destroy order ([`destroy_tasks`]): a target is
//!   deregistered before its instance goes, an instance before its subnet.
//! - A removed object goes after the objects that used it have been updated away from it
//!   (a rule that named a removed group is revoked first).
//! - A replacement without rolling deletes the old object before the new one is made (its
//!   name, address or place is taken until then); with rolling, the old object, kept as
//!   `<address>~retiring`, is deleted only once its successor is ready, and a registration's
//!   successor only counts as ready when its target is healthy.
//! - Within a group (the nodes of one `[[instance]]` entry), a member is taken out of
//!   service only after the previous one is back: never both nodes of a pair at once.

use std::collections::{BTreeMap, BTreeSet};

use strato_engine::{Need, Task, TaskId};
use strato_graph::plan::{Action, Plan, Planned};
use strato_graph::{Graph, NodeId};
use strato_state::State;

use crate::provision::{destroy_tasks, provision_tasks};

/// The state address of the old object of a rolling replacement while its successor
/// comes up.
pub fn retired(address: &str) -> String {
    format!("{address}~retiring")
}

pub fn is_retired(address: &str) -> bool {
    address.ends_with("~retiring")
}

/// A plan ready to run.
#[derive(Debug)]
pub struct Apply {
    pub plan: Plan,
    by_node: BTreeMap<NodeId, usize>,
    /// The state addresses deleted by tasks `n..`, in task order.
    pub extras: Vec<String>,
    /// Addresses replaced by rolling.
    rolling: BTreeSet<String>,
    /// Deleted objects AWS deletes with another deleted object, by state address, with that
    /// object's ([`crate::implied_deletes`]).
    pub implied: BTreeMap<String, String>,
    /// The plan covers only some of the graph's nodes (`--target`): the others are left
    /// alone.
    restricted: bool,
    tasks: Vec<Task>,
}

impl Apply {
    pub fn new(graph: &Graph, plan: Plan, state: &State) -> Apply {
        let by_node = plan.items.iter().enumerate().filter_map(|(i, p)| Some((p.node?, i))).collect();
        let rolling: BTreeSet<String> =
            plan.items.iter().filter(|p| p.action == Action::Replace && p.rolling).map(|p| p.address.clone()).collect();
        let restricted = plan.items.iter().filter(|p| p.node.is_some()).count() < graph.nodes().len();
        let mut apply = Apply {
            plan,
            by_node,
            extras: Vec::new(),
            rolling,
            implied: BTreeMap::new(),
            restricted,
            tasks: Vec::new(),
        };
        apply.tasks = apply.build(graph, state);
        apply
    }

    pub fn planned(&self, node: NodeId) -> Option<&Planned> {
        self.by_node.get(&node).map(|&i| &self.plan.items[i])
    }

    /// Whether the run leaves node `node` alone (it is not targeted).
    pub fn skips(&self, node: NodeId) -> bool {
        self.restricted && !self.by_node.contains_key(&node)
    }

    /// Whether `address` is replaced by rolling in this run.
    pub fn rolls(&self, address: &str) -> bool {
        self.rolling.contains(address)
    }

    pub fn tasks(&self) -> Vec<Task> {
        self.tasks.clone()
    }

    fn build(&mut self, graph: &Graph, state: &State) -> Vec<Task> {
        let mut tasks = provision_tasks(graph);
        let n = tasks.len();
        // What the run deletes, as a state of its own for the destroy order.
        let mut doomed = State::new(&state.deployment, &state.region);
        for p in &self.plan.items {
            let Some(obj) = state.objects.get(&p.address) else { continue };
            match (p.action, p.node) {
                (Action::Delete, _) => {
                    doomed.objects.insert(p.address.clone(), obj.clone());
                }
                (Action::Replace, Some(_)) if obj.id.is_some() || obj.status != strato_state::Status::Pending => {
                    let key = if p.rolling { retired(&p.address) } else { p.address.clone() };
                    let mut obj = obj.clone();
                    obj.depends_on = obj.depends_on.iter().map(|d| self.retired_name(d)).collect();
                    doomed.objects.insert(key, obj);
                }
                _ => {}
            }
        }
        let (extra_tasks, addresses, implied) = destroy_tasks(&doomed);
        self.implied = implied;
        let offset = |t: TaskId| TaskId(t.0 + n);
        let extra_index: BTreeMap<String, usize> =
            addresses.iter().enumerate().map(|(i, a)| (a.clone(), n + i)).collect();
        for mut t in extra_tasks {
            t.deps = t.deps.into_iter().map(|(d, need)| (offset(d), need)).collect();
            tasks.push(t);
        }
        let node_task = |address: &str| graph.find(address).map(|id| id.0);
        for (k, address) in addresses.iter().enumerate() {
            let me = n + k;
            if let Some(base) = address.strip_suffix("~retiring") {
                // Retired only once its successor is ready (a registration: healthy), and
                // what uses it has moved to the successor (a listener to a new certificate).
                if let Some(t) = node_task(base) {
                    tasks[me].deps.push((TaskId(t), Need::Ready));
                    for user in graph.users(NodeId(t)) {
                        tasks[me].deps.push((TaskId(user.0), Need::Ready));
                    }
                }
            } else if let Some(t) = node_task(address) {
                // Replaced without rolling: the new object waits for the old one to go.
                tasks[t].deps.push((TaskId(me), Need::Ready));
            } else {
                // Removed: what used it is updated away from it first.
                for (other, obj) in &state.objects {
                    if obj.depends_on.iter().any(|d| d == address) {
                        if let Some(t) = node_task(other) {
                            tasks[me].deps.push((TaskId(t), Need::Ready));
                        }
                    }
                }
            }
        }
        self.serialise_groups(&mut tasks, &extra_index);
        self.extras = addresses;
        tasks
    }

    /// Within each group, member `k + 1` is taken out of service only once member `k` is
    /// back in it.
    fn serialise_groups(&self, tasks: &mut [Task], extra_index: &BTreeMap<String, usize>) {
        let mut groups: BTreeMap<&str, Vec<&Planned>> = BTreeMap::new();
        for p in &self.plan.items {
            let disruptive = p.action == Action::Replace || (p.action == Action::Update && p.downtime);
            if let (Some(g), true) = (&p.group, disruptive) {
                groups.entry(g.as_str()).or_default().push(p);
            }
        }
        for members in groups.values() {
            let mut previous_end: Option<usize> = None;
            for p in members {
                let node = p.node.map(|n| n.0);
                let (start, end) = match (p.action, p.rolling) {
                    (Action::Replace, true) => (node, extra_index.get(&retired(&p.address)).copied().or(node)),
                    (Action::Replace, false) => (extra_index.get(&p.address).copied().or(node), node),
                    _ => (node, node),
                };
                if let (Some(start), Some(prev)) = (start, previous_end) {
                    if !tasks[start].deps.iter().any(|(t, _)| t.0 == prev) {
                        tasks[start].deps.push((TaskId(prev), Need::Ready));
                    }
                }
                previous_end = end.or(previous_end);
            }
        }
    }

    /// The address a dependency's old object has in this run.
    pub fn retired_name(&self, address: &str) -> String {
        if self.rolls(address) {
            retired(address)
        } else {
            address.to_string()
        }
    }
}

/// Reads every recorded object that has an id, through its driver's `read` (describe
/// calls only), sixteen at a time. An object whose service does not answer is left out,
/// with the error: the plan then trusts its record.
pub async fn refresh(
    clients: &crate::Clients,
    state: &State,
    deployment: &crate::Deployment,
) -> (BTreeMap<String, strato_graph::plan::Live>, Vec<String>) {
    use std::sync::Arc;
    let objects = Arc::new(state.objects.clone());
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    let mut set = tokio::task::JoinSet::new();
    for (address, obj) in state.objects.iter() {
        if obj.id.is_none() {
            continue;
        }
        let Ok(kind) = obj.kind.parse::<strato_graph::Kind>() else { continue };
        let Some(driver) = crate::drivers::driver(kind) else { continue };
        let (clients, objects, gate) = (clients.clone(), objects.clone(), gate.clone());
        let (address, obj, deployment) = (address.clone(), obj.clone(), deployment.clone());
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let cancel = strato_engine::Cancel::default();
            let progress = strato_engine::Progress::detached();
            let run = crate::drivers::RunContext::default();
            let aws_name = crate::provision::recorded_name(&deployment.name, &address, &obj);
            let cx = crate::drivers::Cx {
                clients: &clients,
                deployment: &deployment.name,
                deployment_id: &deployment.id,
                aws_name: &aws_name,
                tags: &deployment.tags,
                address: &address,
                objects: &objects,
                graph: None,
                cancel: &cancel,
                progress: &progress,
                fresh: false,
                run: &run,
            };
            let r = driver.read(&cx, &obj).await;
            (address, r)
        });
    }
    let mut live = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some(done) = set.join_next().await {
        match done {
            Ok((address, Ok(l))) => {
                live.insert(address, l);
            }
            Ok((address, Err(e))) => errors.push(format!("{address}: cannot read it: {e}")),
            Err(e) => errors.push(format!("a read failed: {e}")),
        }
    }
    if let Err(e) = live_ec2_tags(clients, state, &mut live).await {
        errors.push(format!("the tags of EC2 objects: cannot read them: {e}"));
    }
    errors.sort();
    (live, errors)
}

/// The spec's tags of every EC2 object read, all in a few `DescribeTags` calls
/// ([`crate::ownership::ec2_tags`]).
async fn live_ec2_tags(
    clients: &crate::Clients,
    state: &State,
    live: &mut BTreeMap<String, strato_graph::plan::Live>,
) -> Result<(), crate::error::AwsError> {
    use strato_graph::Kind;
    let ec2_kinds = [
        Kind::Vpc,
        Kind::Subnet,
        Kind::InternetGateway,
        Kind::ElasticIp,
        Kind::NatGateway,
        Kind::RouteTable,
        Kind::SecurityGroup,
        Kind::KeyPair,
        Kind::Instance,
    ];
    let by_id: BTreeMap<String, String> = state
        .objects
        .iter()
        .filter(|(a, _)| live.get(*a).is_some_and(|l| l.exists))
        .filter(|(_, o)| o.kind.parse::<Kind>().is_ok_and(|k| ec2_kinds.contains(&k)))
        .filter_map(|(a, o)| Some((o.id.clone()?, a.clone())))
        .collect();
    let ids: Vec<String> = by_id.keys().cloned().collect();
    let tags = crate::ownership::ec2_tags(clients, &ids).await?;
    for (id, address) in &by_id {
        let Some(l) = live.get_mut(address) else { continue };
        l.inputs.retain(|k, _| !k.starts_with("tag:"));
        l.inputs.extend(crate::drivers::spec_tags(tags.get(id).map_or(&[][..], Vec::as_slice)));
        if !l.sets.contains(&"tag:") {
            l.sets.push("tag:");
        }
    }
    Ok(())
}

/// The plan's view of the state.
pub fn recorded(state: &State) -> BTreeMap<String, strato_graph::plan::Recorded> {
    state
        .objects
        .iter()
        .map(|(a, o)| {
            let r = strato_graph::plan::Recorded {
                kind: o.kind.clone(),
                inputs: (!o.inputs.is_empty()).then(|| o.inputs.clone()),
                complete: o.id.is_some(),
            };
            (a.clone(), r)
        })
        .collect()
}
