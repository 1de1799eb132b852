//! The ingress rules of one security group, authorized in a single call (one permission per
//! protocol and port range, with every source) and revoked by rule id. Rules created by an
//! interrupted run are adopted when AWS reports them as duplicates.

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use strato_graph::Desired;
use strato_state::Object;

use super::security_group::group_filter;
use strato_graph::change::rule_key;
use strato_graph::plan::{Change, Live};

use super::{mismatch, Created, Cx, Driver, Updated};
use crate::error::{from_sdk, AwsError};

pub struct SecurityGroupRules;

#[async_trait]
impl Driver for SecurityGroupRules {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::SecurityGroupRules { group, rules } = desired else {
            return Err(mismatch("AuthorizeSecurityGroupIngress"));
        };
        let group_id = cx.id_of(*group)?;
        let mut permissions = Vec::new();
        for rule in rules {
            let mut p =
                IpPermission::builder().ip_protocol(&rule.protocol).from_port(rule.from_port).to_port(rule.to_port);
            for cidr in &rule.cidrs {
                p = p.ip_ranges(
                    IpRange::builder().cidr_ip(cidr.to_string()).set_description(rule.description.clone()).build(),
                );
            }
            for source in &rule.groups {
                let pair =
                    UserIdGroupPair::builder().group_id(cx.id_of(*source)?).set_description(rule.description.clone());
                p = p.user_id_group_pairs(pair.build());
            }
            permissions.push(p.build());
        }
        let result = cx
            .retry_fresh(|| async {
                cx.clients
                    .ec2
                    .authorize_security_group_ingress()
                    .group_id(group_id)
                    .set_ip_permissions(Some(permissions.clone()))
                    .tag_specifications(cx.tag_spec(ResourceType::SecurityGroupRule))
                    .send()
                    .await
                    .map_err(|e| from_sdk("AuthorizeSecurityGroupIngress", e))
            })
            .await;
        // One rule per source of each permission. An answer that lists fewer (some
        // emulators fill it only in part), or none (rules an interrupted run authorized are
        // adopted on `InvalidPermission.Duplicate`), is completed by reading the group's
        // rules: the group is this deployment's, and its ingress is exactly the spec's.
        let expected: usize = permissions.iter().map(|p| p.ip_ranges().len() + p.user_id_group_pairs().len()).sum();
        let answered: Vec<String> = match result {
            Ok(out) => out
                .security_group_rules()
                .iter()
                .filter_map(|r| r.security_group_rule_id())
                .map(str::to_string)
                .collect(),
            Err(e) if e.code_is(&["InvalidPermission.Duplicate"]) => Vec::new(),
            Err(e) => return Err(e),
        };
        let ids = if answered.len() == expected { answered } else { ingress_rule_ids(cx, group_id).await? };
        let mut c = Created::new(ids.join(",")).with("group_id", group_id);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        // `security_group.<name>.rules` belongs to `security_group.<name>`, a dependency.
        let own = cx.address.parse::<strato_graph::Address>().ok().and_then(|a| a.parent());
        let Some(group_id) = own.and_then(|a| cx.objects.get(a.as_str())).and_then(|o| o.id.as_deref()) else {
            return Ok(None);
        };
        let Some(ids) = super::found(ingress_rule_ids(cx, group_id).await)? else { return Ok(None) };
        Ok((!ids.is_empty()).then(|| Created::new(ids.join(",")).with("group_id", group_id)))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let Some(group_id) = obj.attribute("group_id") else {
            return Ok(false);
        };
        let wanted: Vec<&str> = obj.id.as_deref().unwrap_or_default().split(',').filter(|s| !s.is_empty()).collect();
        super::exists_from(ingress_rule_ids(cx, group_id).await, |present| {
            wanted.iter().all(|w| present.iter().any(|p| p == w))
        })
    }

    async fn read(&self, cx: &Cx<'_>, obj: &Object) -> Result<Live, AwsError> {
        let Some(group_id) = obj.attribute("group_id") else { return Ok(Live::default()) };
        let Some(rules) = super::found(ingress_rules(cx, group_id).await)? else { return Ok(Live::default()) };
        let mut inputs = strato_graph::change::Inputs::new();
        for r in rules {
            let source = cx.address_of_id(&r.source).unwrap_or(r.source);
            inputs.insert(rule_key(&r.protocol, &r.ports, &source), r.description);
        }
        // The group itself is not read here; its rules are what can drift.
        if let Some(g) = obj.inputs.get("group") {
            inputs.insert("group".into(), g.clone());
        }
        Ok(Live { exists: true, inputs, transition: None, sets: vec!["rule["] })
    }

    /// Authorizes the rules the spec has and the group lacks, and revokes, by id, the
    /// rules it has and the spec does not (a rule whose description changed is both):
    /// rule by rule, so every other rule stays in force throughout.
    async fn update(
        &self,
        cx: &Cx<'_>,
        _obj: &Object,
        desired: &Desired,
        _changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let Desired::SecurityGroupRules { group, rules } = desired else {
            return Err(mismatch("AuthorizeSecurityGroupIngress"));
        };
        let group_id = cx.id_of(*group)?;
        let live = ingress_rules(cx, group_id).await?;
        // Wanted: (protocol, ports, source id or CIDR) -> (permission, description).
        let mut wanted: Vec<(String, String, String, IpPermission)> = Vec::new();
        for rule in rules {
            let p =
                || IpPermission::builder().ip_protocol(&rule.protocol).from_port(rule.from_port).to_port(rule.to_port);
            for cidr in &rule.cidrs {
                let range = IpRange::builder().cidr_ip(cidr.to_string()).set_description(rule.description.clone());
                wanted.push((
                    rule.protocol.clone(),
                    ports(rule.from_port, rule.to_port),
                    cidr.to_string(),
                    p().ip_ranges(range.build()).build(),
                ));
            }
            for source in &rule.groups {
                let id = cx.id_of(*source)?.to_string();
                let pair = UserIdGroupPair::builder().group_id(&id).set_description(rule.description.clone());
                wanted.push((
                    rule.protocol.clone(),
                    ports(rule.from_port, rule.to_port),
                    id,
                    p().user_id_group_pairs(pair.build()).build(),
                ));
            }
        }
        let description_of = |p: &IpPermission| {
            p.ip_ranges()
                .first()
                .and_then(|r| r.description())
                .or_else(|| p.user_id_group_pairs().first().and_then(|g| g.description()))
                .unwrap_or_default()
                .to_string()
        };
        let same = |l: &LiveRule, w: &(String, String, String, IpPermission)| {
            l.protocol == w.0 && l.ports == w.1 && l.source == w.2 && l.description == description_of(&w.3)
        };
        let revoke: Vec<String> =
            live.iter().filter(|l| !wanted.iter().any(|w| same(l, w))).map(|l| l.id.clone()).collect();
        let add: Vec<IpPermission> =
            wanted.iter().filter(|w| !live.iter().any(|l| same(l, w))).map(|w| w.3.clone()).collect();
        if !revoke.is_empty() {
            cx.status(&format!("revoking {} rule(s)", revoke.len()));
            let r = cx
                .clients
                .ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_security_group_rule_ids(Some(revoke))
                .send()
                .await;
            r.map_err(|e| from_sdk("RevokeSecurityGroupIngress", e))?;
        }
        if !add.is_empty() {
            cx.status(&format!("authorizing {} rule(s)", add.len()));
            let r = cx
                .clients
                .ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(add))
                .tag_specifications(cx.tag_spec(ResourceType::SecurityGroupRule))
                .send()
                .await;
            match r.map_err(|e| from_sdk("AuthorizeSecurityGroupIngress", e)) {
                // Authorized meanwhile: what is there is what is wanted.
                Err(e) if e.code_is(&["InvalidPermission.Duplicate"]) => {}
                other => {
                    other?;
                }
            }
        }
        let ids = ingress_rule_ids(cx, group_id).await?;
        Ok(Updated { id: Some(ids.join(",")), ..Updated::default() })
    }

    /// Revokes the group's ingress rules: the group is this deployment's, and so is every
    /// rule on it; a rule left behind that names another group would keep that group from
    /// being deleted (`DependencyViolation`). RevokeSecurityGroupIngress by rule ids fails
    /// as a whole when one id is gone, so the ids are read first, and one that vanishes
    /// meanwhile makes it look again.
    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let Some(group_id) = obj.attribute("group_id") else {
            return Ok(());
        };
        for _ in 0..3 {
            let Some(ids) = super::found(ingress_rule_ids(cx, group_id).await)? else { return Ok(()) };
            if ids.is_empty() {
                return Ok(());
            }
            let r = cx
                .clients
                .ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_security_group_rule_ids(Some(ids))
                .send()
                .await
                .map_err(|e| from_sdk("RevokeSecurityGroupIngress", e));
            match r {
                Err(e) if e.is(crate::error::Class::NotFound) => continue,
                other => return other.map(|_| ()),
            }
        }
        Ok(())
    }
}

/// One ingress rule as AWS lists it: its id, and its key among the rules' inputs
/// ([`strato_graph::change::rule_key`]) with the source given by `source`.
struct LiveRule {
    id: String,
    protocol: String,
    ports: String,
    /// A CIDR block, or a group id.
    source: String,
    description: String,
}

fn ports(from: i32, to: i32) -> String {
    match (from, to) {
        (-1, _) => "all".to_string(),
        (f, t) if f == t => f.to_string(),
        (f, t) => format!("{f}-{t}"),
    }
}

/// The group's ingress rules, one per source. A rule whose description
/// `DescribeSecurityGroupRules` leaves out (some emulators do, for rules that name a group)
/// takes it from the group's `IpPermissions`, which AWS and emulators both fill.
async fn ingress_rules(cx: &Cx<'_>, group_id: &str) -> Result<Vec<LiveRule>, AwsError> {
    let mut rules: Vec<LiveRule> = ingress(cx, group_id)
        .await?
        .iter()
        .filter_map(|r| {
            let source = r
                .cidr_ipv4()
                .map(str::to_string)
                .or_else(|| r.referenced_group_info().and_then(|g| g.group_id()).map(str::to_string))?;
            Some(LiveRule {
                id: r.security_group_rule_id()?.to_string(),
                protocol: r.ip_protocol().unwrap_or("-1").to_string(),
                ports: ports(r.from_port().unwrap_or(-1), r.to_port().unwrap_or(-1)),
                source,
                description: r.description().unwrap_or_default().to_string(),
            })
        })
        .collect();
    if rules.iter().any(|r| r.description.is_empty()) {
        let out = cx.clients.ec2.describe_security_groups().group_ids(group_id).send().await;
        let out = out.map_err(|e| from_sdk("DescribeSecurityGroups", e))?;
        let mut described: Vec<(String, String, String, String)> = Vec::new();
        for p in out.security_groups().iter().flat_map(|g| g.ip_permissions()) {
            let protocol = p.ip_protocol().unwrap_or("-1").to_string();
            let ports = ports(p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
            for r in p.ip_ranges() {
                let (Some(c), Some(d)) = (r.cidr_ip(), r.description()) else { continue };
                described.push((protocol.clone(), ports.clone(), c.to_string(), d.to_string()));
            }
            for g in p.user_id_group_pairs() {
                let (Some(id), Some(d)) = (g.group_id(), g.description()) else { continue };
                described.push((protocol.clone(), ports.clone(), id.to_string(), d.to_string()));
            }
        }
        for r in rules.iter_mut().filter(|r| r.description.is_empty()) {
            if let Some((_, _, _, d)) =
                described.iter().find(|(p, ports, s, _)| *p == r.protocol && *ports == r.ports && *s == r.source)
            {
                r.description = d.clone();
            }
        }
    }
    Ok(rules)
}

/// The group's ingress rules as `DescribeSecurityGroupRules` lists them.
async fn ingress(cx: &Cx<'_>, group_id: &str) -> Result<Vec<aws_sdk_ec2::types::SecurityGroupRule>, AwsError> {
    let out = cx
        .clients
        .ec2
        .describe_security_group_rules()
        .filters(group_filter(group_id))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeSecurityGroupRules", e))?;
    Ok(out.security_group_rules().iter().filter(|r| r.is_egress() != Some(true)).cloned().collect())
}

/// The ids of a group's ingress rules.
async fn ingress_rule_ids(cx: &Cx<'_>, group_id: &str) -> Result<Vec<String>, AwsError> {
    Ok(ingress(cx, group_id).await?.iter().filter_map(|r| r.security_group_rule_id()).map(str::to_string).collect())
}
