//! Target group: CreateTargetGroup named `<deployment>-<name>` with its health check, then
//! load-balancer-cookie stickiness where the spec asks for it.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Matcher, ProtocolEnum, TargetGroupAttribute, TargetTypeEnum};
use strato_graph::Desired;
use strato_state::Object;

use super::load_balancer::{adoptable, elb_tags, elb_tags_of};
use strato_graph::plan::{Change, Live};

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver, Updated};
use crate::error::{from_sdk, AwsError};

/// The group's health check as the spec says, on a `CreateTargetGroup` or
/// `ModifyTargetGroup` call (the same setters on two builder types).
macro_rules! health_check {
    ($call:expr, $tg:expr) => {
        $call
            .health_check_protocol(ProtocolEnum::from($tg.health_protocol.as_str()))
            .health_check_path(&$tg.health_path)
            .health_check_port($tg.health_port.map_or_else(|| "traffic-port".to_string(), |p| p.to_string()))
            .health_check_interval_seconds($tg.health_interval as i32)
            .health_check_timeout_seconds($tg.health_timeout as i32)
            .healthy_threshold_count($tg.healthy_threshold as i32)
            .unhealthy_threshold_count($tg.unhealthy_threshold as i32)
            .matcher(Matcher::builder().http_code(&$tg.matcher).build())
    };
}

pub struct TargetGroup;

/// See [`TargetGroup::delete`].
const IN_USE_WINDOW: std::time::Duration = std::time::Duration::from_secs(2 * 60);

#[async_trait]
impl Driver for TargetGroup {
    async fn finish(&self, cx: &Cx<'_>, desired: &Desired, arn: &str) -> Result<(), AwsError> {
        let Desired::TargetGroup(tg) = desired else { return Err(mismatch("ModifyTargetGroupAttributes")) };
        if tg.stickiness_seconds.is_some() {
            set_stickiness(cx, arn, tg.stickiness_seconds).await?;
        }
        Ok(())
    }

    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::TargetGroup(tg) = desired else { return Err(mismatch("CreateTargetGroup")) };
        let vpc_id = cx.id_of(tg.vpc)?;
        // ELB sees a VPC created moments ago late: "ValidationError: The VPC ID ... is not
        // found".
        let vpc_lag = |e: &AwsError| e.code_is(&["ValidationError"]) && e.message.contains("not found");
        let result = cx
            .retry_fresh_when(vpc_lag, || async {
                let call = cx
                    .clients
                    .elb
                    .create_target_group()
                    .name(&tg.name)
                    .protocol(ProtocolEnum::from(tg.protocol.as_str()))
                    .port(tg.port as i32)
                    .vpc_id(vpc_id)
                    .target_type(TargetTypeEnum::Instance)
                    .health_check_enabled(true);
                health_check!(call, tg)
                    .set_tags(Some(elb_tags(cx)))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateTargetGroup", e))
            })
            .await;
        // CreateTargetGroup with the same settings returns the existing group (ELB API
        // reference: "idempotent"); a name taken with other settings is adopted only when it
        // carries this object's tags.
        let arn = match result {
            Ok(out) => out.target_groups().first().and_then(|t| t.target_group_arn()).unwrap_or_default().to_string(),
            Err(e) if e.code_is(&["DuplicateTargetGroupName"]) => {
                let arn = named(cx).await?.ok_or(e)?;
                adoptable(cx, "CreateTargetGroup", "target group", &arn).await?;
                arn
            }
            Err(e) => return Err(e),
        };
        self.finish(cx, desired, &arn).await?;
        let mut c = Created::new(arn).with("name", tg.name.as_str());
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let Some(arn) = named(cx).await? else { return Ok(None) };
        if !cx.is_this(&elb_tags_of(cx, &arn).await?) {
            return Ok(None);
        }
        Ok(Some(Created::new(arn).with("name", cx.name())))
    }

    /// `ModifyTargetGroup` for the health check, `ModifyTargetGroupAttributes` for
    /// stickiness; both take effect on the live group.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let Desired::TargetGroup(tg) = desired else { return Err(mismatch("ModifyTargetGroup")) };
        let arn = id(obj)?;
        if changes.iter().any(|c| {
            c.attribute.starts_with("health_") || c.attribute.ends_with("_threshold") || c.attribute == "matcher"
        }) {
            let call = cx.clients.elb.modify_target_group().target_group_arn(arn);
            health_check!(call, tg).send().await.map_err(|e| from_sdk("ModifyTargetGroup", e))?;
        }
        if changes.iter().any(|c| c.attribute == "stickiness_seconds") {
            set_stickiness(cx, arn, tg.stickiness_seconds).await?;
        }
        Ok(Updated::default())
    }

    /// The health check, stickiness and the spec's tags, as ELB reports them. A health-check
    /// port the spec leaves to AWS (`traffic-port`) reads as none.
    async fn read(&self, cx: &Cx<'_>, obj: &Object) -> Result<Live, AwsError> {
        let arn = id(obj)?;
        let r = cx.clients.elb.describe_target_groups().target_group_arns(arn).send().await;
        let Some(out) = super::found(r.map_err(|e| from_sdk("DescribeTargetGroups", e)))? else {
            return Ok(Live::default());
        };
        let Some(g) = out.target_groups().first() else { return Ok(Live::default()) };
        let mut live = Live { exists: true, sets: vec!["tag:"], ..Live::default() };
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                live.inputs.insert(k.to_string(), v);
            }
        };
        put("health_protocol", g.health_check_protocol().map(|p| p.as_str().to_string()));
        put("health_path", g.health_check_path().map(str::to_string));
        put(
            "health_port",
            g.health_check_port().map(|p| if p == "traffic-port" { String::new() } else { p.to_string() }),
        );
        put("health_interval", g.health_check_interval_seconds().map(|v| v.to_string()));
        put("health_timeout", g.health_check_timeout_seconds().map(|v| v.to_string()));
        put("healthy_threshold", g.healthy_threshold_count().map(|v| v.to_string()));
        put("unhealthy_threshold", g.unhealthy_threshold_count().map(|v| v.to_string()));
        put("matcher", g.matcher().and_then(|m| m.http_code()).map(str::to_string));
        let out = cx.clients.elb.describe_target_group_attributes().target_group_arn(arn).send().await;
        let out = out.map_err(|e| from_sdk("DescribeTargetGroupAttributes", e))?;
        let attr = |k: &str| out.attributes().iter().find(|a| a.key() == Some(k)).and_then(|a| a.value());
        let sticky = match (attr("stickiness.enabled"), attr("stickiness.lb_cookie.duration_seconds")) {
            (Some("true"), Some(secs)) => secs.to_string(),
            _ => String::new(),
        };
        live.inputs.insert("stickiness_seconds".into(), sticky);
        live.inputs.extend(super::spec_tags(&elb_tags_of(cx, arn).await?));
        Ok(live)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.elb.describe_target_groups().target_group_arns(id(obj)?).send().await;
        exists_from(r.map_err(|e| from_sdk("DescribeTargetGroups", e)), |o| !o.target_groups().is_empty())
    }

    /// The reference of a just-deleted listener or rule can outlive `DeleteListener` for a
    /// moment: `ResourceInUse` is retried for 2 minutes, as TF does
    /// (internal/service/elbv2/target_group.go, delete). Then the error names the load
    /// balancers ELB says still use the group.
    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let arn = id(obj)?;
        let in_use = |e: &AwsError| e.code_is(&["ResourceInUse"]);
        let r = cx
            .retry_refused(IN_USE_WINDOW, in_use, || async {
                let r = cx.clients.elb.delete_target_group().target_group_arn(arn).send().await;
                gone_ok(r.map_err(|e| from_sdk("DeleteTargetGroup", e)))
            })
            .await;
        match r {
            Err(e) if in_use(&e) => {
                let out = cx.clients.elb.describe_target_groups().target_group_arns(arn).send().await.ok();
                let users: Vec<String> = out
                    .map(|o| o.target_groups().iter().flat_map(|t| t.load_balancer_arns().to_vec()).collect())
                    .unwrap_or_default();
                Err(e.naming("used by", &users))
            }
            other => other,
        }
    }
}

/// The ARN of the target group with this object's name.
async fn named(cx: &Cx<'_>) -> Result<Option<String>, AwsError> {
    let r = cx.clients.elb.describe_target_groups().names(cx.name()).send().await;
    let Some(o) = super::found(r.map_err(|e| from_sdk("DescribeTargetGroups", e)))? else { return Ok(None) };
    Ok(o.target_groups().first().and_then(|t| t.target_group_arn()).map(str::to_string))
}

/// Load-balancer-cookie stickiness for `seconds`, or none.
async fn set_stickiness(cx: &Cx<'_>, arn: &str, seconds: Option<i64>) -> Result<(), AwsError> {
    let attrs = match seconds {
        Some(seconds) => vec![
            ("stickiness.enabled", "true".to_string()),
            ("stickiness.type", "lb_cookie".to_string()),
            ("stickiness.lb_cookie.duration_seconds", seconds.to_string()),
        ],
        None => vec![("stickiness.enabled", "false".to_string())],
    };
    cx.clients
        .elb
        .modify_target_group_attributes()
        .target_group_arn(arn)
        .set_attributes(Some(
            attrs.iter().map(|(k, v)| TargetGroupAttribute::builder().key(*k).value(v).build()).collect(),
        ))
        .send()
        .await
        .map_err(|e| from_sdk("ModifyTargetGroupAttributes", e))?;
    Ok(())
}
