//! `[[target_group]]`: an ELB target group in its VPC, which it needs *created*, known to
//! AWS by its name, and one registration per instance node it targets (every node of a
//! `count` entry). A registration needs its group *created* and its instance *ready*
//! (running). Registrations are added in the second step, after the load balancers'
//! listeners, which keeps them last in a plan.

use strato_spec::Stage;

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind, TargetGroupSpec};

pub(super) const MODULE: Module =
    Module { declare, link: Some(link), kinds: &[Kind::TargetGroup, Kind::TargetRegistration], inputs, in_place };

/// The port targets receive traffic on when the spec gives none.
const DEFAULT_PORT: i64 = 443;

fn declare(lw: &mut Lowering) {
    let deployment = lw.deployment();
    let spec = lw.spec();
    for tg in &spec.target_groups {
        let id = lw.add(Address::whole(Kind::TargetGroup, &tg.name.value), tg.name.span);
        lw.name(id, tg.name_in_aws(deployment));
        lw.need(id, Kind::Vpc, &tg.vpc.value, Stage::Created, tg.vpc.span);
    }
    // Once every entry is named: two entries of one name (which validation refuses) share
    // a node, and the name is the last one's.
    for tg in &spec.target_groups {
        let (Some(id), Some(vpc)) = (lw.id(Kind::TargetGroup, &tg.name.value), lw.id(Kind::Vpc, &tg.vpc.value)) else {
            continue;
        };
        let hc = &tg.health_check;
        let d = TargetGroupSpec {
            name: lw.aws_name(id).to_string(),
            vpc,
            protocol: tg.protocol.value.clone(),
            port: tg.port.as_ref().map_or(DEFAULT_PORT, |p| p.value),
            health_protocol: hc.protocol.as_ref().map_or_else(|| tg.protocol.value.clone(), |p| p.value.clone()),
            health_path: hc.path.value.clone(),
            health_port: hc.port.as_ref().map(|p| p.value),
            health_interval: hc.interval,
            health_timeout: hc.timeout,
            healthy_threshold: hc.healthy_threshold,
            unhealthy_threshold: hc.unhealthy_threshold,
            matcher: hc.matcher.value.clone(),
            stickiness_seconds: tg.stickiness.as_ref().map(|s| s.value),
        };
        lw.desire(id, Desired::TargetGroup(Box::new(d)));
    }
}

fn link(lw: &mut Lowering) {
    let spec = lw.spec();
    for tg in &spec.target_groups {
        let Some(id) = lw.id(Kind::TargetGroup, &tg.name.value) else { continue };
        for target in &tg.targets {
            let nodes: Vec<String> =
                match spec.instances.iter().find(|i| i.name.value == target.value && i.count.is_some()) {
                    Some(entry) => entry.nodes().into_iter().map(|n| n.name).collect(),
                    None => vec![target.value.clone()],
                };
            for node in nodes {
                let Some(instance) = lw.id(Kind::Instance, &node) else { continue };
                let rid = lw.add(Address::target(&tg.name.value, &node), target.span);
                lw.edge(rid, id, Stage::Created, target.span);
                lw.edge(rid, instance, Stage::Ready, target.span);
                // The registrations of a group without a desired state (no VPC) have none.
                if lw.has_desired(id) {
                    lw.desire(rid, Desired::TargetRegistration { target_group: id, instance });
                }
            }
        }
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    match d {
        Desired::TargetGroup(t) => {
            r.put("name", &t.name);
            r.node("vpc", t.vpc);
            r.put("protocol", &t.protocol);
            r.put("port", t.port);
            r.put("health_protocol", &t.health_protocol);
            r.put("health_path", &t.health_path);
            r.put("health_port", t.health_port.map(|p| p.to_string()).unwrap_or_default());
            r.put("health_interval", t.health_interval);
            r.put("health_timeout", t.health_timeout);
            r.put("healthy_threshold", t.healthy_threshold);
            r.put("unhealthy_threshold", t.unhealthy_threshold);
            r.put("matcher", &t.matcher);
            r.put("stickiness_seconds", t.stickiness_seconds.map(|s| s.to_string()).unwrap_or_default());
        }
        Desired::TargetRegistration { target_group, instance } => {
            r.node("target_group", *target_group);
            r.node("instance", *instance);
        }
        _ => {}
    }
}

/// `ModifyTargetGroup` changes the health check and `ModifyTargetGroupAttributes` the
/// stickiness; name, protocol, port and VPC are fixed at `CreateTargetGroup`. A
/// registration is a target group and an instance: another one is another registration.
fn in_place(kind: Kind, attribute: &str) -> bool {
    kind == Kind::TargetGroup
        && (attribute.starts_with("health_")
            || matches!(attribute, "healthy_threshold" | "unhealthy_threshold" | "matcher" | "stickiness_seconds"))
}
