//! Target registration: RegisterTargets of one running instance in one target group. It
//! has no id of its own; strato records `<target group arn>|<instance id>`.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthReasonEnum, TargetHealthStateEnum};
use strato_graph::Desired;
use strato_state::Object;

use super::{gone_ok, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct TargetRegistration;

/// See [`TargetRegistration::create`].
const REGISTER_WINDOW: std::time::Duration = std::time::Duration::from_secs(10 * 60);

#[async_trait]
impl Driver for TargetRegistration {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::TargetRegistration { target_group, instance } = desired else {
            return Err(mismatch("RegisterTargets"));
        };
        let tg_arn = cx.id_of(*target_group)?;
        let instance_id = cx.id_of(*instance)?;
        // ELB's view of EC2 lags: an instance that just became `running` is refused with
        // `InvalidTarget` ("not in a running state") for a while. Retried for 10 minutes on
        // this call only, as TF does (internal/service/elbv2/target_group_attachment.go).
        let lag = |e: &AwsError| e.code_is(&["InvalidTarget"]) || e.is(crate::error::Class::NotFound) && cx.fresh;
        cx.retry_refused(REGISTER_WINDOW, lag, || async {
            cx.clients
                .elb
                .register_targets()
                .target_group_arn(tg_arn)
                .targets(TargetDescription::builder().id(instance_id).build())
                .send()
                .await
                .map_err(|e| from_sdk("RegisterTargets", e))
        })
        .await?;
        let mut c = Created::new(format!("{tg_arn}|{instance_id}"))
            .with("target_group_arn", tg_arn)
            .with("instance_id", instance_id);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(tg), Some(instance)) = (cx.dependency_id(obj, "target_group."), cx.dependency_id(obj, "instance."))
        else {
            return Ok(None);
        };
        let probe = Object {
            attributes: [("target_group_arn", tg), ("instance_id", instance)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..obj.clone()
        };
        if !self.exists(cx, &probe).await? {
            return Ok(None);
        }
        Ok(Some(Created::new(format!("{tg}|{instance}")).with("target_group_arn", tg).with("instance_id", instance)))
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let (Some(tg), Some(instance)) = (obj.attribute("target_group_arn"), obj.attribute("instance_id")) else {
            return Ok(false);
        };
        let r = cx.clients.elb.describe_target_health().target_group_arn(tg).send().await;
        // A target on its way out (`draining`, `unused` after a deregistration) is not
        // registered (TF filters the same states).
        super::exists_from(r.map_err(|e| from_sdk("DescribeTargetHealth", e)), |o| {
            o.target_health_descriptions().iter().any(|t| {
                let leaving = t.target_health().and_then(|h| h.state()).is_some_and(|s| {
                    matches!(s, TargetHealthStateEnum::Draining)
                        || matches!(s, TargetHealthStateEnum::Unused)
                            && t.target_health().and_then(|h| h.reason())
                                == Some(&TargetHealthReasonEnum::DeregistrationInProgress)
                });
                t.target().and_then(|t| t.id()) == Some(instance) && !leaving
            })
        })
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let (Some(tg), Some(instance)) = (obj.attribute("target_group_arn"), obj.attribute("instance_id")) else {
            return Ok(());
        };
        let r = cx
            .clients
            .elb
            .deregister_targets()
            .target_group_arn(tg)
            .targets(TargetDescription::builder().id(instance).build())
            .send()
            .await
            .map_err(|e| from_sdk("DeregisterTargets", e));
        match r {
            Err(e) if e.code_is(&["InvalidTarget"]) => Ok(()),
            other => gone_ok(other),
        }
    }
}
