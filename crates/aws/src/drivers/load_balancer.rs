//! Application load balancer: CreateLoadBalancer named `<deployment>-<name>`, then a wait
//! until `active` (about two minutes). Deletion protection and the idle timeout are set only
//! when the spec differs from AWS's defaults. Its network interfaces outlive it for a while;
//! the subnet and group deletes wait for them.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerStateEnum, LoadBalancerTypeEnum, Tag,
};
use strato_graph::Desired;
use strato_state::Object;

use strato_graph::plan::{Change, Live};

use super::{id, mismatch, Attributes, Created, Cx, Driver, Updated, LOAD_BALANCER};
use crate::error::{from_sdk, AwsError, Class};
use crate::poll::Check;

pub struct LoadBalancer;

pub(super) fn elb_tags(cx: &Cx<'_>) -> Vec<Tag> {
    cx.tag_list().into_iter().filter_map(|t| Some(Tag::builder().key(t.key()?).value(t.value()?).build())).collect()
}

/// Whether the ELB resource `arn` carries this object's tags: only then may an object that
/// already exists under the name strato chose be taken for its own.
/// The tags of a load balancer or target group.
pub(super) async fn elb_tags_of(cx: &Cx<'_>, arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let out =
        cx.clients.elb.describe_tags().resource_arns(arn).send().await.map_err(|e| from_sdk("DescribeTags", e))?;
    Ok(elb_pairs(out.tag_descriptions().iter().flat_map(|d| d.tags())))
}

/// ELB tags as pairs.
pub fn elb_pairs<'t>(tags: impl IntoIterator<Item = &'t Tag>) -> Vec<(String, String)> {
    tags.into_iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect()
}

/// `Ok(())` when the load balancer or target group `arn`, found by this object's name,
/// carries this object's tags; the error naming its owner otherwise.
pub(super) async fn adoptable(cx: &Cx<'_>, call: &str, what: &str, arn: &str) -> Result<(), AwsError> {
    let tags = elb_tags_of(cx, arn).await?;
    if cx.is_this(&tags) {
        Ok(())
    } else {
        Err(cx.foreign(call, what, &tags))
    }
}

#[async_trait]
impl Driver for LoadBalancer {
    async fn finish(&self, cx: &Cx<'_>, desired: &Desired, arn: &str) -> Result<(), AwsError> {
        let Desired::LoadBalancer { deletion_protection, idle_timeout, .. } = desired else {
            return Err(mismatch("ModifyLoadBalancerAttributes"));
        };
        let mut attributes = Vec::new();
        if *deletion_protection {
            attributes.push(attribute("deletion_protection.enabled", "true"));
        }
        if let Some(t) = idle_timeout {
            attributes.push(attribute("idle_timeout.timeout_seconds", &t.to_string()));
        }
        if !attributes.is_empty() {
            cx.clients
                .elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| from_sdk("ModifyLoadBalancerAttributes", e))?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::LoadBalancer { internet_facing, subnets, security_groups, deletion_protection, .. } = desired
        else {
            return Err(mismatch("CreateLoadBalancer"));
        };
        let subnet_ids: Vec<String> = cx.ids_of(subnets)?;
        let groups: Vec<String> = cx.ids_of(security_groups)?;
        let scheme =
            if *internet_facing { LoadBalancerSchemeEnum::InternetFacing } else { LoadBalancerSchemeEnum::Internal };
        // Creating a load balancer that exists with the same settings returns it: idempotent.
        cx.until_visible(&subnet_ids, &groups).await?;
        // ELB sees a security group created moments ago late (`InvalidSecurityGroup`).
        let group_lag = |e: &AwsError| e.code_is(&["InvalidSecurityGroup"]);
        let result = cx
            .retry_fresh_when(group_lag, || async {
                cx.clients
                    .elb
                    .create_load_balancer()
                    .name(cx.name())
                    .r#type(LoadBalancerTypeEnum::Application)
                    .scheme(scheme.clone())
                    .set_subnets(Some(subnet_ids.clone()))
                    .set_security_groups(Some(groups.clone()))
                    .set_tags(Some(elb_tags(cx)))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateLoadBalancer", e))
            })
            .await;
        // CreateLoadBalancer with the same settings returns the existing one; a name taken
        // with other settings is adopted only when it carries this object's tags.
        let existing;
        let lb = match &result {
            Ok(out) => out.load_balancers().first(),
            Err(e) if e.code_is(&["DuplicateLoadBalancerName"]) => {
                existing = describe_named(cx).await?;
                if let Some(lb) = &existing {
                    adoptable(cx, "CreateLoadBalancer", "load balancer", lb.load_balancer_arn().unwrap_or_default())
                        .await?;
                }
                existing.as_ref()
            }
            Err(e) => return Err(e.clone()),
        };
        let lb =
            lb.ok_or_else(|| AwsError::new("CreateLoadBalancer", Class::Fatal, "no load balancer in the answer"))?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        self.finish(cx, desired, &arn).await?;
        let mut c = Created::new(arn)
            .with("dns_name", lb.dns_name().unwrap_or_default())
            .with("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default())
            .with("scheme", scheme.as_str())
            .with("deletion_protection", deletion_protection.to_string());
        c.ready = lb.state().and_then(|s| s.code()) == Some(&LoadBalancerStateEnum::Active);
        Ok(c)
    }

    async fn wait_ready(&self, cx: &Cx<'_>, obj: &Object) -> Result<Attributes, AwsError> {
        let arn = id(obj)?;
        cx.wait("the load balancer to be active", &LOAD_BALANCER, || async {
            let Some(lb) = described(cx, arn).await? else { return Ok(Check::Pending("not visible yet".into())) };
            match lb.state().and_then(|s| s.code()) {
                Some(LoadBalancerStateEnum::Active) => Ok(Check::Done(Attributes::new())),
                Some(LoadBalancerStateEnum::Failed) => {
                    let why = lb.state().and_then(|s| s.reason()).unwrap_or("");
                    Err(AwsError::new("CreateLoadBalancer", Class::Fatal, format!("the load balancer failed: {why}")))
                }
                other => Ok(Check::Pending(other.map_or("provisioning", |s| s.as_str()).to_string())),
            }
        })
        .await
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let Some(lb) = describe_named(cx).await? else { return Ok(None) };
        if !cx.is_this(&elb_tags_of(cx, lb.load_balancer_arn().unwrap_or_default()).await?) {
            return Ok(None);
        }
        Ok(Some(lb).map(|lb| {
            Created::new(lb.load_balancer_arn().unwrap_or_default())
                .with("dns_name", lb.dns_name().unwrap_or_default())
                .with("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default())
                .with("scheme", lb.scheme().map_or("", |s| s.as_str()))
        }))
    }

    /// A load balancer that ended `failed` counts as gone: the next provision deletes it
    /// and creates it again, instead of waiting on it for ever.
    /// Groups, subnets, deletion protection, idle timeout and the spec's tags, as ELB
    /// reports them. An input the spec leaves to AWS's default (no idle timeout) is not
    /// compared.
    async fn read(&self, cx: &Cx<'_>, obj: &Object) -> Result<Live, AwsError> {
        let arn = id(obj)?;
        let Some(lb) = describe(cx, arn).await? else { return Ok(Live::default()) };
        let mut live = Live { exists: true, sets: vec!["tag:"], ..Live::default() };
        let addresses = |ids: Vec<&str>| -> Option<String> {
            let mut v: Vec<String> = ids.iter().map(|id| cx.address_of_id(id)).collect::<Option<_>>()?;
            v.sort();
            Some(v.join(","))
        };
        if let Some(groups) = addresses(lb.security_groups().iter().map(String::as_str).collect()) {
            live.inputs.insert("security_groups".into(), groups);
        }
        if let Some(subnets) = addresses(lb.availability_zones().iter().filter_map(|z| z.subnet_id()).collect()) {
            live.inputs.insert("subnets".into(), subnets);
        }
        let out = cx.clients.elb.describe_load_balancer_attributes().load_balancer_arn(arn).send().await;
        let out = out.map_err(|e| from_sdk("DescribeLoadBalancerAttributes", e))?;
        for a in out.attributes() {
            match (a.key(), a.value()) {
                (Some("deletion_protection.enabled"), Some(v)) => {
                    live.inputs.insert("deletion_protection".into(), v.to_string());
                }
                (Some("idle_timeout.timeout_seconds"), Some(v))
                    if obj.inputs.get("idle_timeout").is_some_and(|t| !t.is_empty()) =>
                {
                    live.inputs.insert("idle_timeout".into(), v.to_string());
                }
                _ => {}
            }
        }
        live.inputs.extend(super::spec_tags(&elb_tags_of(cx, arn).await?));
        if lb.state().and_then(|s| s.code()) != Some(&LoadBalancerStateEnum::Active) {
            live.transition = lb.state().and_then(|s| s.code()).map(|c| c.as_str().to_string());
        }
        Ok(live)
    }

    /// `SetSecurityGroups`, `SetSubnets` and `ModifyLoadBalancerAttributes` (deletion
    /// protection, idle timeout): all on the live load balancer, which keeps serving.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let Desired::LoadBalancer { subnets, security_groups, idle_timeout, deletion_protection, .. } = desired else {
            return Err(mismatch("ModifyLoadBalancerAttributes"));
        };
        let arn = id(obj)?;
        let changed = |a: &str| changes.iter().any(|c| c.attribute == a);
        let elb = &cx.clients.elb;
        if changed("security_groups") {
            let r =
                elb.set_security_groups().load_balancer_arn(arn).set_security_groups(Some(cx.ids_of(security_groups)?));
            r.send().await.map_err(|e| from_sdk("SetSecurityGroups", e))?;
        }
        if changed("subnets") {
            let r = elb.set_subnets().load_balancer_arn(arn).set_subnets(Some(cx.ids_of(subnets)?));
            r.send().await.map_err(|e| from_sdk("SetSubnets", e))?;
        }
        let mut attributes = Vec::new();
        if changed("deletion_protection") {
            attributes.push(attribute("deletion_protection.enabled", &deletion_protection.to_string()));
        }
        if changed("idle_timeout") {
            // AWS's default when the spec names none (ELB User Guide, "Connection idle timeout").
            attributes.push(attribute("idle_timeout.timeout_seconds", &idle_timeout.unwrap_or(60).to_string()));
        }
        if !attributes.is_empty() {
            let r = elb.modify_load_balancer_attributes().load_balancer_arn(arn).set_attributes(Some(attributes));
            r.send().await.map_err(|e| from_sdk("ModifyLoadBalancerAttributes", e))?;
        }
        let mut updated = Updated::default();
        updated.attributes.insert("deletion_protection".into(), deletion_protection.to_string());
        Ok(updated)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let lb = describe(cx, id(obj)?).await?;
        Ok(lb.is_some_and(|lb| lb.state().and_then(|s| s.code()) != Some(&LoadBalancerStateEnum::Failed)))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let arn = id(obj)?;
        if obj.attribute("deletion_protection") == Some("true") {
            if !cx.run.destroy.lift_deletion_protection {
                let msg = "the load balancer has deletion protection; run destroy with --lift-deletion-protection to turn it off and delete it";
                return Err(AwsError::new("DeleteLoadBalancer", Class::InvalidInput, msg));
            }
            let r = cx
                .clients
                .elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(arn)
                .attributes(attribute("deletion_protection.enabled", "false"))
                .send()
                .await;
            super::gone_ok(r.map_err(|e| from_sdk("ModifyLoadBalancerAttributes", e)))?;
        }
        let r = cx.clients.elb.delete_load_balancer().load_balancer_arn(arn).send().await;
        super::gone_ok(r.map_err(|e| from_sdk("DeleteLoadBalancer", e)))
    }

    async fn wait_gone(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let arn = id(obj)?;
        cx.wait("the load balancer to be deleted", &LOAD_BALANCER, || async {
            Ok(if describe(cx, arn).await?.is_none() { Check::Done(()) } else { Check::Pending("deleting".into()) })
        })
        .await
    }
}

/// The load balancer with this object's name.
async fn describe_named(cx: &Cx<'_>) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>, AwsError> {
    let r = cx.clients.elb.describe_load_balancers().names(cx.name()).send().await;
    Ok(super::found(r.map_err(|e| from_sdk("DescribeLoadBalancers", e)))?
        .and_then(|o| o.load_balancers().first().cloned()))
}

fn attribute(key: &str, value: &str) -> LoadBalancerAttribute {
    LoadBalancerAttribute::builder().key(key).value(value).build()
}

/// [`describe`], with the waits of other load balancers at about the same time answered by
/// the same call: `DescribeLoadBalancers` takes up to 20 ARNs (ELBv2 API Reference). One
/// ARN it does not know yet (a create is eventually consistent) fails the whole call with
/// `LoadBalancerNotFound`: then that chunk is asked one by one.
async fn described(
    cx: &Cx<'_>,
    arn: &str,
) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>, AwsError> {
    let elb = cx.clients.elb.clone();
    cx.run
        .load_balancers
        .get(arn, "DescribeLoadBalancers", move |arns| {
            let elb = elb.clone();
            async move {
                let mut found = Vec::new();
                let list = |out: aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput| {
                    out.load_balancers()
                        .iter()
                        .filter_map(|lb| Some((lb.load_balancer_arn()?.to_string(), lb.clone())))
                        .collect::<Vec<_>>()
                };
                for chunk in arns.chunks(20) {
                    let r = elb.describe_load_balancers().set_load_balancer_arns(Some(chunk.to_vec())).send().await;
                    match r.map_err(|e| from_sdk("DescribeLoadBalancers", e)) {
                        Ok(out) => found.extend(list(out)),
                        Err(e) if e.is(Class::NotFound) && chunk.len() > 1 => {
                            for one in chunk {
                                let r = elb.describe_load_balancers().load_balancer_arns(one).send().await;
                                if let Some(out) = super::found(r.map_err(|e| from_sdk("DescribeLoadBalancers", e)))? {
                                    found.extend(list(out));
                                }
                            }
                        }
                        Err(e) if e.is(Class::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(found)
            }
        })
        .await
}

async fn describe(
    cx: &Cx<'_>,
    arn: &str,
) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>, AwsError> {
    let r = cx.clients.elb.describe_load_balancers().load_balancer_arns(arn).send().await;
    Ok(super::found(r.map_err(|e| from_sdk("DescribeLoadBalancers", e)))?
        .and_then(|o| o.load_balancers().first().cloned()))
}
