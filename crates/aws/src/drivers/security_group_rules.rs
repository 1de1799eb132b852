//! The ingress rules of one security group, authorized in a single call (one permission per
//! protocol and port range, with every source) and revoked by rule id. Rules created by an
//! interrupted run are adopted when AWS reports them as duplicates.

use async_trait::async_trait;
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use strato_graph::Desired;
use strato_state::Object;

use super::security_group::group_filter;
use super::{mismatch, Created, Cx, Driver};
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
        let own = cx.address.trim_end_matches(".rules");
        let Some(group_id) = cx.objects.get(own).and_then(|o| o.id.as_deref()) else { return Ok(None) };
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

/// The ids of a group's ingress rules.
async fn ingress_rule_ids(cx: &Cx<'_>, group_id: &str) -> Result<Vec<String>, AwsError> {
    let out = cx
        .clients
        .ec2
        .describe_security_group_rules()
        .filters(group_filter(group_id))
        .send()
        .await
        .map_err(|e| from_sdk("DescribeSecurityGroupRules", e))?;
    Ok(out
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() != Some(true))
        .filter_map(|r| r.security_group_rule_id())
        .map(str::to_string)
        .collect())
}
