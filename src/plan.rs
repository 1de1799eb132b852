//! The plan of a run against the deployment's state and the live objects, as `strato
//! plan`, `provision` (before it asks) and `status` show it: text like `terraform plan`,
//! or one JSON document; with what the deployment costs per month (`CostView`).

use std::collections::{BTreeMap, BTreeSet};

use strato_graph::cost::{self, Category, Cents, Cost, Price, PriceTable};
use strato_graph::plan::{Action, Live, Plan, Planned};
use strato_graph::Graph;
use strato_state::State;

/// Options every command that plans takes.
#[derive(clap::Args, Clone, Default)]
pub struct PlanArgs {
    /// Read the live objects before planning (describe calls only); `--refresh=false`
    /// plans from the state alone, with no AWS call.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,
    /// Only this object and what it depends on (for removed objects: and what depends on
    /// them). Repeatable.
    #[arg(long = "target", value_name = "ADDRESS")]
    pub targets: Vec<String>,
}

/// Plans `graph` against `state` (and `live`, when refreshed), restricted to `targets`.
pub fn compute(
    graph: &Graph,
    tags: &[(String, String)],
    state: &State,
    live: &BTreeMap<String, Live>,
    targets: &[String],
) -> Result<Plan, String> {
    let recorded = strato_aws::apply::recorded(state);
    let attribute = |address: &str, attr: &str| state.objects.get(address)?.value(attr).map(str::to_string);
    let plan = strato_graph::plan::plan(graph, tags, &recorded, live, &attribute);
    restrict(plan, graph, state, targets)
}

/// The targeted part of a plan: each target, what it depends on (in the spec) and, for
/// objects the run deletes, what depends on them (in the state): AWS deletes dependents
/// first. Every target must name an object of the spec or of the state.
pub fn restrict(mut plan: Plan, graph: &Graph, state: &State, targets: &[String]) -> Result<Plan, String> {
    if targets.is_empty() {
        return Ok(plan);
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    for t in targets {
        let in_spec = graph.find(t);
        if in_spec.is_none() && !state.objects.contains_key(t) {
            let known =
                graph.nodes().iter().map(|n| n.address.as_str()).chain(state.objects.keys().map(String::as_str));
            let hint = strato_spec::diag::did_you_mean(t, known)
                .map(|a| format!(" (did you mean `{a}`?)"))
                .unwrap_or_default();
            return Err(format!("--target {t}: no object of that address in the spec or the state{hint}"));
        }
        keep.insert(t.clone());
        let mut stack: Vec<strato_graph::NodeId> = in_spec.into_iter().collect();
        while let Some(id) = stack.pop() {
            keep.insert(graph.node(id).address.to_string());
            stack.extend(graph.dependencies(id).map(|e| e.dependency));
        }
        // What the state records as depending on a removed target is deleted with it, first.
        keep.extend(dependents(state, t).into_iter().filter(|a| graph.find(a).is_none()));
    }
    plan.items.retain(|p| keep.contains(&p.address));
    Ok(plan)
}

/// Everything the state records as depending on `address`, directly or through others.
pub fn dependents(state: &State, address: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![address.to_string()];
    while let Some(a) = stack.pop() {
        for (other, o) in &state.objects {
            if o.depends_on.contains(&a) && found.insert(other.clone()) {
                stack.push(other.clone());
            }
        }
    }
    found
}

/// One line of an object's change, terraform-style: `instance_type: "t3.large" -> "m5.xlarge"`.
fn change_line(c: &strato_graph::plan::Change, p: &Planned) -> String {
    let show = |v: &Option<String>| v.as_ref().map_or("(none)".to_string(), |v| format!("{v:?}"));
    let mut line = if c.old == c.new {
        format!("{}: {} (its object is replaced)", c.attribute, show(&c.new))
    } else {
        format!("{}: {} -> {}", c.attribute, show(&c.old), show(&c.new))
    };
    if c.drifted {
        line += "  (changed outside strato)";
    }
    if c.effect == strato_graph::change::Effect::Replace && p.action == Action::Replace {
        line += "  # forces replacement";
    }
    line
}

/// What the action means for the operator.
fn headline(p: &Planned) -> String {
    match p.action {
        Action::Create if p.missing => "create (recorded, but gone from AWS)".into(),
        Action::Create => "create".into(),
        Action::Update if p.downtime => "update in place (the instance stops while its type changes)".into(),
        Action::Update => "update in place".into(),
        Action::Replace => {
            let how = if p.rolling {
                "rolling: the new one first, the old one retired once it is ready, no downtime".to_string()
            } else if p.downtime {
                "deleted first, then created: downtime".to_string()
            } else {
                "deleted first, then created".to_string()
            };
            format!("replace ({how}; because of {})", p.replace_because.join(", "))
        }
        Action::Delete if p.missing => "delete (already gone from AWS: forgotten)".into(),
        Action::Delete => "delete (no longer in the spec)".into(),
        Action::NoChange => "no change".into(),
    }
}

/// The plan as text.
pub fn to_text(plan: &Plan, name: &str, region: &str, refreshed: bool) -> String {
    let mut out = format!(
        "Plan for deployment `{name}` in {region}, against its state{}:\n",
        if refreshed { " and the live objects" } else { " alone (not refreshed)" }
    );
    let changes: Vec<&Planned> = plan.changes().collect();
    if changes.is_empty() {
        out += "\nNo changes: the deployment matches the spec.\n";
    }
    for p in &changes {
        out += &format!("\n  {} {}  {}\n", p.action.symbol(), p.address, headline(p));
        for c in &p.changes {
            out += &format!("      {}\n", change_line(c, p));
        }
        if let Some(why) = &p.refused {
            out += &format!("      refused: {why}\n");
        }
    }
    let drifted = plan.items.iter().filter(|p| p.drifted()).count();
    out += &format!(
        "\nPlan: {} to create, {} to update in place, {} to replace, {} to delete, {} unchanged{}.\n",
        plan.count(Action::Create),
        plan.count(Action::Update),
        plan.count(Action::Replace),
        plan.count(Action::Delete),
        plan.count(Action::NoChange),
        if drifted > 0 { format!("; {drifted} drifted from what was recorded") } else { String::new() }
    );
    out
}

/// The plan as JSON: every object with its action, changes and reasons.
pub fn to_json(plan: &Plan, graph: &Graph, refreshed: bool) -> serde_json::Value {
    let objects: Vec<serde_json::Value> = plan
        .items
        .iter()
        .map(|p| {
            let node = p.node.map(|n| graph.node(n));
            let deps: Vec<&str> = p
                .node
                .map(|n| graph.dependencies(n).map(|e| graph.node(e.dependency).address.as_str()).collect())
                .unwrap_or_default();
            let changes: Vec<serde_json::Value> = p
                .changes
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "attribute": c.attribute,
                        "old": c.old,
                        "new": c.new,
                        "forces_replacement": c.effect == strato_graph::change::Effect::Replace,
                        "drifted": c.drifted,
                    })
                })
                .collect();
            serde_json::json!({
                "address": p.address,
                "kind": p.kind.as_str(),
                "aws_name": node.map(|n| n.aws_name.clone()),
                "depends_on": deps,
                "action": p.action.as_str(),
                "changes": changes,
                "replace_because": p.replace_because,
                "rolling": p.rolling,
                "downtime": p.downtime,
                "missing": p.missing,
                "drifted": p.drifted(),
                "refused": p.refused,
            })
        })
        .collect();
    serde_json::json!({
        "refreshed": refreshed,
        "changes": plan.changes().next().is_some(),
        "summary": {
            "create": plan.count(Action::Create),
            "update": plan.count(Action::Update),
            "replace": plan.count(Action::Replace),
            "delete": plan.count(Action::Delete),
            "no_change": plan.count(Action::NoChange),
            "drifted": plan.items.iter().filter(|p| p.drifted()).count(),
        },
        "objects": objects,
    })
}

/// What the spec costs per month on demand and, against a deployment, what it costs now.
pub struct CostView {
    pub table: &'static PriceTable,
    /// The spec's cost: what the deployment costs once provisioned.
    pub after: Cost,
    /// What the deployment's state records, priced the same way (a day-two plan).
    pub now: Option<Cost>,
    /// The region the spec deploys to.
    pub region: String,
}

impl CostView {
    /// The view of `graph` (and of `state`, when the deployment has one); `None` when the
    /// bundled table does not read, which its own test rules out.
    pub fn new(graph: &Graph, state: Option<&State>, region: &str) -> Option<CostView> {
        let table = PriceTable::bundled().ok()?;
        let now = state.filter(|s| !s.objects.is_empty()).map(|s| state_cost(s, table));
        Some(CostView { table, after: cost::of_graph(graph, table), now, region: region.to_string() })
    }

    fn delta(&self) -> Option<Cents> {
        self.now.as_ref().map(|now| self.after.total() - now.total())
    }
}

/// The cost of what a state records, from each object's recorded inputs.
pub fn state_cost(state: &State, table: &PriceTable) -> Cost {
    let objects: Vec<(&str, strato_graph::Kind, &strato_graph::change::Inputs)> =
        state.objects.iter().filter_map(|(a, o)| Some((a.as_str(), o.kind.parse().ok()?, &o.inputs))).collect();
    cost::estimate(objects, table)
}

/// The "Cost" block after a plan's summary: one column for a first plan, now / after /
/// change against a deployment.
pub fn cost_text(v: &CostView) -> String {
    let t = v.table;
    let mut out = format!(
        "\nCost per month on demand, at {} prices of {} ({} hours a month):\n",
        t.region, t.as_of, t.hours_per_month
    );
    let after = v.after.by_category();
    let now = v.now.as_ref().map(Cost::by_category);
    let amount = |c: Category, of: &std::collections::BTreeMap<Category, (u32, Cents)>| match (c, of.get(&c)) {
        (Category::FileSystems, Some(_)) => "by use".to_string(),
        (_, Some((_, cents))) => cents.to_string(),
        (_, None) => "-".to_string(),
    };
    if let Some(now) = &now {
        out += &format!("  {:<30}{:>12}{:>12}{:>12}\n", "", "now", "after", "change");
        for c in Category::ALL {
            let (n, a) = (now.get(&c), after.get(&c));
            if n.is_none() && a.is_none() {
                continue;
            }
            let count = |x: Option<&(u32, Cents)>| x.map_or(0, |x| x.0);
            let units = match (count(n), count(a)) {
                (x, y) if x == y => format!("{x}"),
                (x, y) => format!("{x} -> {y}"),
            };
            let change = if c == Category::FileSystems {
                String::new()
            } else {
                (a.map_or(Cents(0), |a| a.1) - n.map_or(Cents(0), |n| n.1)).signed()
            };
            let label = format!("{} ({units})", c.label());
            let row = format!("  {label:<30}{:>12}{:>12}{change:>12}", amount(c, now), amount(c, &after));
            out += row.trim_end();
            out += "\n";
        }
        let (n, a) = (v.now.as_ref().map_or(Cents(0), Cost::total), v.after.total());
        out += &format!("  {:<30}{:>12}{:>12}{:>12}\n", "total", n.to_string(), a.to_string(), (a - n).signed());
    } else {
        for (c, (units, cents)) in &after {
            let shown = if *c == Category::FileSystems { "by use".to_string() } else { cents.to_string() };
            out += &format!("  {:<30}{shown:>14}\n", format!("{} ({units})", c.label()));
        }
        out += &format!("  {:<30}{:>14}\n", "total", v.after.total().to_string());
    }
    let all = v.after.lines.iter().chain(v.now.iter().flat_map(|c| c.lines.iter()));
    let mut unknown: Vec<String> = Vec::new();
    for l in all.filter(|l| l.price == Price::Unknown) {
        let s = format!("{} ({})", l.address, l.item);
        if !unknown.contains(&s) {
            unknown.push(s);
        }
    }
    if !unknown.is_empty() {
        out += &format!("  price unknown, not in the total: {}\n", unknown.join(", "));
    }
    let mut left_out: Vec<String> = Vec::new();
    for c in after.keys().chain(now.iter().flat_map(|n| n.keys())) {
        if let Some(s) = c.not_included() {
            if !left_out.iter().any(|x| x == s) {
                left_out.push(s.to_string());
            }
        }
    }
    if after.contains_key(&Category::FileSystems) {
        left_out.push(format!("EFS storage, billed by use (${:.2} per GB-month)", t.efs_standard_gb_month));
    }
    if !left_out.is_empty() {
        out += &wrapped("  not included: ", &left_out.join("; "));
    }
    if v.region != t.region {
        let note = format!("the deployment is in {}; these are {}'s prices, which may differ", v.region, t.region);
        out += &wrapped("  note: ", &note);
    }
    out
}

/// `text` after `lead`, wrapped at 80 columns, the following lines indented by four.
fn wrapped(lead: &str, text: &str) -> String {
    let mut out = String::new();
    let mut line = lead.to_string();
    for word in text.split(' ') {
        if line.len() + 1 + word.len() > 80 && line.trim().len() > lead.trim().len() {
            out += line.trim_end();
            out += "\n";
            line = "    ".to_string();
        }
        if !line.ends_with(' ') {
            line.push(' ');
        }
        line += word;
    }
    out += line.trim_end();
    out += "\n";
    out
}

fn lines_json(cost: &Cost) -> Vec<serde_json::Value> {
    cost.lines
        .iter()
        .map(|l| {
            let (basis, per_gb) = match &l.price {
                Price::Monthly(_) => ("monthly", None),
                Price::Unknown => ("unknown", None),
                Price::ByUse { per_gb_month } => ("by_use", Some(*per_gb_month)),
            };
            serde_json::json!({
                "address": l.address,
                "category": l.category.as_str(),
                "item": l.item,
                "quantity": l.quantity,
                "monthly": l.monthly().map(Cents::dollars),
                "basis": basis,
                "per_gb_month": per_gb,
                "note": l.note,
            })
        })
        .collect()
}

/// The `cost` object of plan JSON: per-item lines, total, currency, the table's date and
/// region and, against a deployment, what it costs now and the change.
pub fn cost_json(v: &CostView) -> serde_json::Value {
    let t = v.table;
    let unknown: Vec<&str> = v.after.unknown().map(|l| l.address.as_str()).collect();
    serde_json::json!({
        "currency": t.currency,
        "as_of": t.as_of,
        "region": t.region,
        "deployment_region": v.region,
        "hours_per_month": t.hours_per_month,
        "sources": t.sources,
        "total": v.after.total().dollars(),
        "lines": lines_json(&v.after),
        "unknown": unknown,
        "current_total": v.now.as_ref().map(|c| c.total().dollars()),
        "current_lines": v.now.as_ref().map(lines_json),
        "delta": v.delta().map(Cents::dollars),
    })
}
