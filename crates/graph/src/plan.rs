//! The plan of a run against a live deployment: for every object of the spec, and every
//! recorded object the spec no longer has, what a provision would do and why.
//!
//! Three views of each object meet here: what the spec asks for now (its [`Inputs`]), what
//! the state recorded it was last asked for, and, when the plan was refreshed, what AWS
//! reports. A difference between the first two is a change; a difference between the
//! recorded and the live value is drift, which the plan repairs like a change. Whether a
//! change is made in place or needs a new object is [`effect`]'s per-kind rule; a new
//! object's dependents that embed its id follow it (an instance in a replaced subnet is
//! replaced too, a rule that names a replaced group is updated).
//!
//! Instances behind target groups, and every member of a group of instances (the nodes of
//! one `[[instance]]` entry), are replaced by rolling: the new node first, then the old one
//! retired, one member at a time, so a pair is never out of service at once. That needs the
//! old and the new node side by side, which a fixed private address kept unchanged, or a
//! dependency that must itself be deleted first, does not allow: those replacements take
//! the node down and the plan says so.

use std::collections::{BTreeMap, BTreeSet};

use crate::change::{effect, inputs, Effect, Inputs, UNKNOWN};
use crate::{Desired, Graph, Kind, NodeId};

/// What a run does to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
    NoChange,
}

impl Action {
    /// The word of `strato plan` and its JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::NoChange => "no-change",
        }
    }

    /// The symbol terraform users know: `+`, `~`, `-/+`, `-`.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
            Action::NoChange => " ",
        }
    }
}

/// One attribute that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub attribute: String,
    /// The value now (live when known and different from the record, else recorded).
    pub old: Option<String>,
    /// The value the spec asks for.
    pub new: Option<String>,
    pub effect: Effect,
    /// The live value differs from what was recorded (changed outside strato).
    pub drifted: bool,
}

/// What a run does to one object, and why.
#[derive(Clone, Debug)]
pub struct Planned {
    pub address: String,
    pub kind: Kind,
    /// The graph node; `None` for a recorded object the spec no longer has.
    pub node: Option<NodeId>,
    pub action: Action,
    pub changes: Vec<Change>,
    /// Why the object is replaced (an attribute, or a dependency that is replaced).
    pub replace_because: Vec<String>,
    /// Recorded, but AWS no longer has it: it is created again.
    pub missing: bool,
    /// The new object is made before the old one is retired, one member of its group at a
    /// time ([`Planned::group`]).
    pub rolling: bool,
    /// The object is out of service for a while (replaced without rolling, or an instance
    /// stopped to change its type).
    pub downtime: bool,
    /// Why the run must not do this (a database replaced without the spec's consent).
    pub refused: Option<String>,
    /// The objects that must never be out of service together with this one (the nodes of
    /// one `[[instance]]` entry): changes that stop or replace them go one at a time.
    pub group: Option<String>,
    /// In the state before this run (also for `Create` after `missing`).
    pub recorded: bool,
    /// A refresh read it, and AWS has it: the run need not ask again.
    pub seen: bool,
}

impl Planned {
    pub fn drifted(&self) -> bool {
        self.missing || self.changes.iter().any(|c| c.drifted)
    }
}

/// What a recorded object is, as the plan needs it.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub kind: String,
    /// The inputs it was created or last updated with; `None` for a state written before
    /// inputs were recorded.
    pub inputs: Option<Inputs>,
    /// Its creation finished (it has an id).
    pub complete: bool,
}

/// What AWS reports of a recorded object.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub exists: bool,
    /// The attributes AWS reports, for those inputs the kind can read back.
    pub inputs: Inputs,
    /// The object is changing (a database `modifying`, an instance `stopping`).
    pub transition: Option<String>,
    /// Prefixes of the inputs read in full (`rule[`, `tag:`): a recorded input with such a
    /// prefix that AWS does not report is gone.
    pub sets: Vec<&'static str>,
}

impl Live {
    /// The live value of input `key`: `None` when it was not read, `Some(None)` when AWS
    /// reports it absent.
    pub fn value(&self, key: &str) -> Option<Option<&String>> {
        match self.inputs.get(key) {
            Some(v) => Some(Some(v)),
            None if self.sets.iter().any(|p| key.starts_with(p)) => Some(None),
            None => None,
        }
    }

    /// The inputs where AWS differs from `recorded`: (attribute, recorded, live).
    pub fn drift<'a>(&'a self, recorded: &'a Inputs) -> Vec<(&'a str, Option<&'a String>, Option<&'a String>)> {
        let keys: BTreeSet<&String> = recorded.keys().chain(self.inputs.keys()).collect();
        keys.into_iter()
            .filter_map(|k| {
                let live = self.value(k)?;
                let was = recorded.get(k);
                (live != was).then_some((k.as_str(), was, live))
            })
            .collect()
    }
}

/// The whole plan: the spec's objects in dependency order, then the deletions.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub items: Vec<Planned>,
}

impl Plan {
    pub fn changes(&self) -> impl Iterator<Item = &Planned> {
        self.items.iter().filter(|p| p.action != Action::NoChange)
    }

    pub fn count(&self, action: Action) -> usize {
        self.items.iter().filter(|p| p.action == action).count()
    }

    pub fn get(&self, address: &str) -> Option<&Planned> {
        self.items.iter().find(|p| p.address == address)
    }
}

/// Plans a run. `recorded` is the state by address, `live` what a refresh read (absent for
/// an object not read: its record is trusted), `tags` the spec's tags for every object,
/// `attribute` a recorded attribute of an object (user data renders from them).
pub fn plan(
    g: &Graph,
    tags: &[(String, String)],
    recorded: &BTreeMap<String, Recorded>,
    live: &BTreeMap<String, Live>,
    attribute: &dyn Fn(&str, &str) -> Option<String>,
) -> Plan {
    let order = g.topological_order().unwrap_or_else(|| (0..g.nodes().len()).map(NodeId).collect());
    // Nodes whose id changes in this run: what embeds it must follow.
    let mut renewed: BTreeSet<NodeId> = BTreeSet::new();
    let mut items: Vec<Planned> = Vec::new();
    let groups = groups(g);
    for id in order {
        let node = g.node(id);
        let address = node.address.to_string();
        let mut p = Planned {
            address: address.clone(),
            kind: node.kind,
            node: Some(id),
            action: Action::NoChange,
            changes: Vec::new(),
            replace_because: Vec::new(),
            missing: false,
            rolling: false,
            downtime: false,
            refused: None,
            group: groups.get(&id).cloned(),
            recorded: false,
            seen: false,
        };
        let rec = recorded.get(&address).filter(|r| r.complete);
        let seen = live.get(&address);
        if rec.is_none() || seen.is_some_and(|l| !l.exists) {
            p.recorded = rec.is_some();
            p.missing = rec.is_some();
            p.action = Action::Create;
            renewed.insert(id);
            items.push(p);
            continue;
        }
        p.recorded = true;
        p.seen = seen.is_some_and(|l| l.exists);
        let rec = rec.expect("checked above");
        let lookup = |n: NodeId, attr: &str| -> Option<String> {
            if renewed.contains(&n) {
                return None;
            }
            attribute(g.node(n).address.as_str(), attr)
        };
        let wanted = inputs(g, id, tags, &lookup);
        let seen_inputs = seen.map(|l| &l.inputs);
        if let Some(was) = &rec.inputs {
            let read: Vec<&String> = seen_inputs.map(|l| l.keys().collect()).unwrap_or_default();
            let keys: BTreeSet<&String> = was.keys().chain(wanted.keys()).chain(read).collect();
            for k in keys {
                let recorded_value = was.get(k);
                let live_value = seen.and_then(|l| l.value(k));
                let drifted = live_value.is_some_and(|l| l != recorded_value);
                let old = if drifted { live_value.flatten() } else { recorded_value };
                let new = wanted.get(k);
                if old != new || new.is_some_and(|v| v == UNKNOWN) {
                    p.changes.push(Change {
                        attribute: k.clone(),
                        old: old.cloned(),
                        new: new.cloned(),
                        effect: effect(node.kind, k),
                        drifted,
                    });
                }
            }
        } else if let Some(l) = seen_inputs {
            // No record of what was asked for: only what AWS reports can differ.
            for (k, v) in l {
                if wanted.get(k).is_some_and(|w| w != v) {
                    p.changes.push(Change {
                        attribute: k.clone(),
                        old: Some(v.clone()),
                        new: wanted.get(k).cloned(),
                        effect: effect(node.kind, k),
                        drifted: true,
                    });
                }
            }
        }
        // Dependencies that get a new id: an attribute that names one changes.
        for e in g.dependencies(id) {
            if !renewed.contains(&e.dependency) {
                continue;
            }
            let dep = g.node(e.dependency).address.to_string();
            let named: Vec<String> = wanted.iter().filter(|(_, v)| names(v, &dep)).map(|(k, _)| k.clone()).collect();
            for k in named {
                if p.changes.iter().any(|c| c.attribute == k) {
                    continue;
                }
                let v = wanted.get(&k).cloned();
                let effect = effect(node.kind, &k);
                p.changes.push(Change { attribute: k, old: v.clone(), new: v, effect, drifted: false });
                if effect == Effect::Replace {
                    p.replace_because.push(format!("{dep} is replaced"));
                }
            }
        }
        for c in &p.changes {
            if c.effect == Effect::Replace && !p.replace_because.iter().any(|r| r.ends_with("is replaced")) {
                let reason = c.attribute.clone();
                if !p.replace_because.contains(&reason) {
                    p.replace_because.push(reason);
                }
            }
        }
        p.changes.sort_by(|a, b| a.attribute.cmp(&b.attribute));
        p.action = if p.changes.iter().any(|c| c.effect == Effect::Replace) {
            Action::Replace
        } else if p.changes.is_empty() {
            Action::NoChange
        } else {
            Action::Update
        };
        if p.action == Action::Replace {
            renewed.insert(id);
        }
        items.push(p);
    }
    rolling(g, &mut items);
    // What the state records and the spec no longer has, and retired objects an
    // interrupted run left behind.
    for (address, rec) in recorded {
        if g.find(address).is_some() {
            continue;
        }
        let Ok(kind) = rec.kind.parse::<Kind>() else { continue };
        items.push(Planned {
            address: address.clone(),
            kind,
            node: None,
            action: Action::Delete,
            changes: Vec::new(),
            replace_because: Vec::new(),
            missing: live.get(address).is_some_and(|l| !l.exists),
            rolling: false,
            downtime: false,
            refused: None,
            group: None,
            recorded: true,
            seen: false,
        });
    }
    Plan { items }
}

/// Whether an input's value names `address` (a reference, a list of them, `forward <tg>`).
fn names(value: &str, address: &str) -> bool {
    value.split([',', ' ']).any(|t| t == address)
}

/// Decides how replacements go: by rolling where the old and the new object can live side
/// by side and the object serves behind target groups or in a group of nodes, with downtime
/// otherwise; and refuses to replace databases the spec does not let go.
fn rolling(g: &Graph, items: &mut [Planned]) {
    let index: BTreeMap<String, usize> = items.iter().enumerate().map(|(i, p)| (p.address.clone(), i)).collect();
    for i in 0..items.len() {
        let p = items[i].clone();
        let Some(id) = p.node else { continue };
        if p.action != Action::Replace {
            if p.action == Action::Update
                && p.kind == Kind::Instance
                && p.changes.iter().any(|c| c.attribute == "instance_type")
            {
                items[i].downtime = true;
            }
            continue;
        }
        match (&g.node(id).desired, p.kind) {
            (Some(Desired::Instance(spec)), _) => {
                // Side by side needs two addresses: a fixed one kept unchanged cannot be.
                let fixed_kept = spec.private_ip.is_some() && !p.changes.iter().any(|c| c.attribute == "private_ip");
                // A dependency deleted before it is made again takes the node with it.
                let follows = p.replace_because.iter().any(|r| r.ends_with("is replaced"));
                let can_roll = !fixed_kept && !follows;
                items[i].rolling = can_roll;
                items[i].downtime = !can_roll;
            }
            (Some(Desired::DbInstance(db)), _) => {
                items[i].downtime = true;
                if !db.allow_replacement {
                    items[i].refused = Some(format!(
                        "replacing database `{}` (because of {}) would lose its data; set `allow_replacement = true` on it in the spec to let strato replace it",
                        p.address,
                        p.replace_because.join(", ")
                    ));
                }
            }
            (_, Kind::TargetRegistration) => {
                // A registration follows its instance: register the new node beside the
                // old one when the instance rolls.
                let instance = match &g.node(id).desired {
                    Some(Desired::TargetRegistration { instance, .. }) => Some(g.node(*instance).address.to_string()),
                    _ => None,
                };
                let rolls = instance.and_then(|a| index.get(&a)).is_some_and(|&j| items[j].rolling);
                items[i].rolling = rolls;
                items[i].downtime = !rolls;
            }
            // ACM certificates have no unique name: the new one is imported beside the old,
            // the listeners move to it in place, and the old one goes after them.
            (_, Kind::Certificate) => items[i].rolling = true,
            (_, kind) => {
                items[i].downtime = matches!(
                    kind,
                    Kind::LoadBalancer | Kind::Listener | Kind::NatGateway | Kind::FileSystem | Kind::MountTarget
                );
            }
        }
    }
    // An object deleted before it is made again cannot go while objects that are kept use
    // it: AWS refuses to delete a security group an instance or a rule still names, a target
    // group a listener forwards to (`DependencyViolation`, `ResourceInUse`).
    for i in 0..items.len() {
        let p = &items[i];
        let (Some(id), Action::Replace, false) = (p.node, p.action, p.rolling) else { continue };
        let users: Vec<String> = g
            .users(id)
            .map(|n| g.node(n).address.to_string())
            .filter(|a| index.get(a).is_some_and(|&j| matches!(items[j].action, Action::NoChange | Action::Update)))
            .collect();
        if !users.is_empty() && items[i].refused.is_none() {
            let shown: Vec<&str> = users.iter().take(5).map(String::as_str).collect();
            let more = if users.len() > 5 { format!(" and {} more", users.len() - 5) } else { String::new() };
            items[i].refused = Some(format!(
                "replacing `{}` (because of {}) means deleting it first, and AWS refuses that while {}{more} use it; change it back, or replace what uses it too",
                p.address,
                p.replace_because.join(", "),
                shown.join(", ")
            ));
        }
    }
}

/// The group of each instance node: the `[[instance]]` entry it comes from (its nodes share
/// the entry's span), when the entry has more than one node.
fn groups(g: &Graph) -> BTreeMap<NodeId, String> {
    let mut by_span: BTreeMap<(usize, usize), Vec<NodeId>> = BTreeMap::new();
    for (i, n) in g.nodes().iter().enumerate() {
        if n.kind == Kind::Instance {
            by_span.entry((n.span.start, n.span.end)).or_default().push(NodeId(i));
        }
    }
    let mut out = BTreeMap::new();
    for members in by_span.values().filter(|m| m.len() > 1) {
        let name = members.iter().map(|m| g.node(*m).address.to_string()).collect::<Vec<_>>().join(",");
        for m in members {
            out.insert(*m, name.clone());
        }
    }
    out
}
