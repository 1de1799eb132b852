//! `[[security_group]]`: a group in its VPC, which it needs *created*, and one node for all
//! its ingress rules. The rules need their own group and every group they admit *created*;
//! groups come first, so rules can admit groups defined after their own.

use strato_spec::model::{IngressRule, Spec};
use strato_spec::net::Cidr;
use strato_spec::Stage;

use super::Module;
use crate::change::{rule_key, Recorder};
use crate::lower::Lowering;
use crate::{Address, Desired, Kind, Permission};

pub(super) const MODULE: Module =
    Module { declare, link: None, kinds: &[Kind::SecurityGroup, Kind::SecurityGroupRules], inputs, in_place };

fn declare(lw: &mut Lowering) {
    let spec = lw.spec();
    for sg in &spec.security_groups {
        let id = lw.add(Address::whole(Kind::SecurityGroup, &sg.name.value), sg.name.span);
        lw.need(id, Kind::Vpc, &sg.vpc.value, Stage::Created, sg.vpc.span);
        if let Some(vpc) = lw.id(Kind::Vpc, &sg.vpc.value) {
            let description =
                sg.description.as_ref().map_or_else(|| format!("strato: {}", sg.name.value), |d| d.value.clone());
            lw.desire(id, Desired::SecurityGroup { vpc, description });
        }
    }
    for sg in &spec.security_groups {
        if let Some(first) = sg.ingress.first() {
            let id = lw.add(Address::rules(&sg.name.value), first.span);
            lw.need(id, Kind::SecurityGroup, &sg.name.value, Stage::Created, sg.name.span);
            for rule in &sg.ingress {
                for src in &rule.from_groups {
                    lw.need(id, Kind::SecurityGroup, &src.value, Stage::Created, src.span);
                }
            }
        }
    }
    // Once every entry has made its rules node: two entries of one name (which validation
    // refuses) share it, and the last one with a VPC says what it holds.
    for sg in &spec.security_groups {
        let group = lw.id(Kind::SecurityGroup, &sg.name.value);
        let (Some(_), Some(group), Some(id)) =
            (lw.id(Kind::Vpc, &sg.vpc.value), group, lw.find(&Address::rules(&sg.name.value)))
        else {
            continue;
        };
        let rules = permissions(lw, spec, &sg.ingress);
        lw.desire(id, Desired::SecurityGroupRules { group, rules });
    }
}

/// The permissions of a group's ingress rules: one per protocol and port range.
fn permissions(lw: &Lowering, spec: &Spec, rules: &[IngressRule]) -> Vec<Permission> {
    let mut out = Vec::new();
    for rule in rules {
        let groups = lw.ids(Kind::SecurityGroup, &rule.from_groups);
        let mut cidrs = Vec::new();
        for src in &rule.from_cidrs {
            match src.value.split_once('.') {
                Some(("vpc", name)) => cidrs.extend(
                    spec.vpcs.iter().filter(|v| v.name.value == name).filter_map(|v| v.cidr.as_ref().map(|c| c.value)),
                ),
                Some(("cidr_set", name)) => cidrs.extend(
                    spec.cidr_sets
                        .iter()
                        .filter(|s| s.name.value == name)
                        .flat_map(|s| s.blocks.iter().map(|b| b.value)),
                ),
                _ => cidrs.extend(src.value.parse::<Cidr>().ok()),
            }
        }
        let description = rule.description.as_ref().map(|d| d.value.clone());
        let protocol = match rule.protocol.value.as_str() {
            "all" => "-1".to_string(),
            p => p.to_string(),
        };
        let ranges: Vec<(i32, i32)> = if rule.ports.is_empty() {
            vec![(-1, -1)]
        } else {
            rule.ports.iter().map(|p| (i32::from(p.value.from), i32::from(p.value.to))).collect()
        };
        for (from_port, to_port) in ranges {
            out.push(Permission {
                protocol: protocol.clone(),
                from_port,
                to_port,
                groups: groups.clone(),
                cidrs: cidrs.clone(),
                description: description.clone(),
            });
        }
    }
    out
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    match d {
        Desired::SecurityGroup { vpc, description } => {
            r.node("vpc", *vpc);
            r.put("description", description);
        }
        Desired::SecurityGroupRules { group, rules } => {
            r.node("group", *group);
            for p in rules {
                let ports = match (p.from_port, p.to_port) {
                    (-1, _) => "all".to_string(),
                    (f, t) if f == t => f.to_string(),
                    (f, t) => format!("{f}-{t}"),
                };
                let description = p.description.clone().unwrap_or_default();
                let sources: Vec<String> =
                    p.cidrs.iter().map(ToString::to_string).chain(p.groups.iter().map(|n| r.address(*n))).collect();
                for source in sources {
                    r.put(&rule_key(&p.protocol, &ports, &source), &description);
                }
            }
        }
        _ => {}
    }
}

/// Rules are authorized and revoked one at a time (`AuthorizeSecurityGroupIngress`,
/// `RevokeSecurityGroupIngress`); a group's name, description and VPC are fixed at
/// `CreateSecurityGroup`.
fn in_place(kind: Kind, attribute: &str) -> bool {
    kind == Kind::SecurityGroupRules && attribute.starts_with("rule[")
}
