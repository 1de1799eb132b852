//! `[[load_balancer]]`: an Application Load Balancer, known to AWS by its name, with one
//! node per listener and one per listener rule. The load balancer needs its subnets and
//! security groups *created*, and an internet-facing one the internet gateway of its VPC.
//! A listener needs its load balancer and the target group it forwards to *created*, and
//! its certificate *ready* (issued); a rule needs its listener and its target group
//! *created*. Target groups are added after load balancers, so the listeners come once
//! every kind has added its nodes.

use strato_spec::model::{Action, Listener, LoadBalancer, Spec, DEFAULT_SSL_POLICY};
use strato_spec::Stage;

use super::{internet_gateway, subnet, Module};
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind, ListenerAction, NodeId};

pub(super) const MODULE: Module = Module {
    declare,
    link: Some(link),
    kinds: &[Kind::LoadBalancer, Kind::Listener, Kind::ListenerRule],
    inputs,
    in_place,
};

fn declare(lw: &mut Lowering) {
    let deployment = lw.deployment();
    for lb in &lw.spec().load_balancers {
        let id = lw.add(Address::whole(Kind::LoadBalancer, &lb.name.value), lb.name.span);
        lw.name(id, lb.name_in_aws(deployment));
    }
}

fn link(lw: &mut Lowering) {
    let spec = lw.spec();
    for lb in &spec.load_balancers {
        let Some(id) = lw.id(Kind::LoadBalancer, &lb.name.value) else { continue };
        let subnets = subnet::select(spec, &lb.subnets);
        for (name, span) in &subnets {
            lw.need(id, Kind::Subnet, name, Stage::Created, *span);
        }
        for sg in &lb.security_groups {
            lw.need(id, Kind::SecurityGroup, &sg.value, Stage::Created, sg.span);
        }
        if lb.internet_facing() {
            let vpc = subnets.first().and_then(|(s, _)| subnet::vpc_of(spec, s));
            if let Some(igw) = vpc.and_then(|v| internet_gateway::of_vpc(lw, v)) {
                lw.edge(id, igw, Stage::Created, lb.scheme.span);
            }
        }
        let d = Desired::LoadBalancer {
            internet_facing: lb.internet_facing(),
            subnets: subnet::selected(lw, &lb.subnets),
            security_groups: lw.ids(Kind::SecurityGroup, &lb.security_groups),
            idle_timeout: lb.idle_timeout.as_ref().map(|t| t.value),
            deletion_protection: lb.deletion_protection,
        };
        lw.desire(id, d);
        for l in &lb.listeners {
            listener(lw, lb, id, l);
        }
    }
}

/// The listener `l` of the load balancer `lb` (node `id`) and its rules.
fn listener(lw: &mut Lowering, lb: &LoadBalancer, id: NodeId, l: &Listener) {
    let Some(port) = &l.port else { return };
    let lid = lw.add(Address::listener(&lb.name.value, port.value), l.span);
    lw.edge(lid, id, Stage::Created, port.span);
    if let Some(Action::Forward(tg)) = &l.action {
        lw.need(lid, Kind::TargetGroup, &tg.value, Stage::Created, tg.span);
    }
    if let Some(c) = &l.certificate {
        lw.need(lid, Kind::Certificate, &c.value, Stage::Ready, c.span);
    }
    // A listener without an action it can take has no desired state, nor have its rules.
    let action = match &l.action {
        None => None,
        Some(Action::Forward(tg)) => lw.id(Kind::TargetGroup, &tg.value).map(ListenerAction::Forward),
        Some(Action::Redirect { protocol, port, status_code }) => Some(ListenerAction::Redirect {
            protocol: protocol.value.clone(),
            port: port.as_ref().map(|p| p.value),
            status_code: status_code.value.clone(),
        }),
    };
    let listener_desired = action.is_some();
    if let Some(action) = action {
        let d = Desired::Listener {
            load_balancer: id,
            port: port.value,
            protocol: l.protocol.value.clone(),
            certificate: l.certificate.as_ref().and_then(|c| lw.id(Kind::Certificate, &c.value)),
            // HTTPS listeners get a current TLS policy unless the spec names one; HTTP
            // listeners have none.
            ssl_policy: (l.protocol.value == "HTTPS")
                .then(|| l.ssl_policy.as_ref().map_or_else(|| DEFAULT_SSL_POLICY.to_string(), |p| p.value.clone())),
            action,
        };
        lw.desire(lid, d);
    }
    for rule in &l.rules {
        let Some(p) = &rule.priority else { continue };
        let rid = lw.add(Address::listener_rule(&lb.name.value, port.value, p.value), rule.span);
        lw.edge(rid, lid, Stage::Created, p.span);
        lw.need(rid, Kind::TargetGroup, &rule.forward.value, Stage::Created, rule.forward.span);
        let forward = lw.id(Kind::TargetGroup, &rule.forward.value);
        if let Some(forward) = forward.filter(|_| listener_desired) {
            let d = Desired::ListenerRule {
                listener: lid,
                priority: p.value,
                hosts: rule.hosts.iter().map(|h| static_text(lw.spec(), &h.value)).collect(),
                paths: rule.paths.iter().map(|p| p.value.clone()).collect(),
                forward,
            };
            lw.desire(rid, d);
        }
    }
}

/// A string whose references are all known from the spec (listener-rule hosts).
fn static_text(spec: &Spec, text: &str) -> String {
    strato_spec::template::render(text, |r| spec.deployment_value(r))
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    match d {
        Desired::LoadBalancer { internet_facing, subnets, security_groups, idle_timeout, deletion_protection } => {
            r.put("internet_facing", internet_facing);
            r.nodes("subnets", subnets);
            r.nodes("security_groups", security_groups);
            r.put("idle_timeout", idle_timeout.map(|t| t.to_string()).unwrap_or_default());
            r.put("deletion_protection", deletion_protection);
        }
        Desired::Listener { load_balancer, port, protocol, certificate, ssl_policy, action } => {
            r.node("load_balancer", *load_balancer);
            r.put("port", port);
            r.put("protocol", protocol);
            r.opt_node("certificate", *certificate);
            r.put("ssl_policy", ssl_policy.as_deref().unwrap_or_default());
            let action = match action {
                ListenerAction::Forward(tg) => format!("forward {}", r.address(*tg)),
                ListenerAction::Redirect { protocol, port, status_code } => format!(
                    "redirect {protocol}:{} {status_code}",
                    port.map_or_else(|| "#{port}".to_string(), |p| p.to_string())
                ),
            };
            r.put("action", action);
        }
        Desired::ListenerRule { listener, priority, hosts, paths, forward } => {
            r.node("listener", *listener);
            r.put("priority", priority);
            r.put("hosts", hosts.join(","));
            r.put("paths", paths.join(","));
            r.node("forward", *forward);
        }
        _ => {}
    }
}

/// `SetSecurityGroups`, `SetSubnets` and `ModifyLoadBalancerAttributes` on a load balancer,
/// `ModifyListener` on a listener, `ModifyRule` on a rule; the scheme is fixed at
/// `CreateLoadBalancer`, and a listener's port and a rule's priority are their addresses.
fn in_place(kind: Kind, attribute: &str) -> bool {
    match kind {
        Kind::LoadBalancer => {
            matches!(attribute, "security_groups" | "subnets" | "idle_timeout" | "deletion_protection")
        }
        Kind::Listener => matches!(attribute, "protocol" | "certificate" | "ssl_policy" | "action"),
        Kind::ListenerRule => matches!(attribute, "hosts" | "paths" | "forward"),
        _ => false,
    }
}
