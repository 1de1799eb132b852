//! Target registration: RegisterTargets of one running instance in one target group. It
//! has no id of its own; strato records `<target group arn>|<instance id>`.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthReasonEnum, TargetHealthStateEnum};
use strato_graph::{Desired, Kind};
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
        let key = format!("{tg_arn}|{instance_id}");
        cx.retry_refused(REGISTER_WINDOW, lag, || register(cx, &key)).await?;
        let mut c = Created::new(format!("{tg_arn}|{instance_id}"))
            .with("target_group_arn", tg_arn)
            .with("instance_id", instance_id);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(tg), Some(instance)) =
            (cx.dependency_id(obj, Kind::TargetGroup), cx.dependency_id(obj, Kind::Instance))
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

/// The target's health in its group: `None` when the group does not list it.
async fn target_state(cx: &Cx<'_>, tg: &str, instance: &str) -> Result<Option<(String, String)>, AwsError> {
    let out = cx.clients.elb.describe_target_health().target_group_arn(tg).send().await;
    let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeTargetHealth", e)))? else { return Ok(None) };
    Ok(out.target_health_descriptions().iter().find(|t| t.target().and_then(|t| t.id()) == Some(instance)).map(|t| {
        let h = t.target_health();
        let state = h.and_then(|h| h.state()).map_or("", |s| s.as_str()).to_string();
        let reason = h.and_then(|h| h.reason()).map_or("", |r| r.as_str()).to_string();
        (state, reason)
    }))
}

/// How long a new target of a rolling replacement may take to pass its health checks
/// before the replacement stops (the old target stays in service): AWS's default
/// `HealthCheckGracePeriod` of an Auto Scaling group is 300 s, and WSO2 nodes take minutes
/// to start, so twice that.
const HEALTHY: crate::poll::Backoff = crate::poll::Backoff::new(
    std::time::Duration::from_secs(5),
    std::time::Duration::from_secs(15),
    std::time::Duration::from_secs(10 * 60),
);

/// Waits until the registered target is `healthy`. Where health cannot be known (the
/// group answers `unused` or `unavailable` for a target it does not check: no listener
/// forwards to it, or an emulator that runs no checks), a grace of the group's interval
/// times its healthy threshold stands in for it, as a load balancer needs at least that
/// long to call a new target healthy ("Health checks for your target groups", ELB User
/// Guide).
pub(crate) async fn wait_healthy(cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
    let (Some(tg), Some(instance)) = (obj.attribute("target_group_arn"), obj.attribute("instance_id")) else {
        return Ok(());
    };
    let grace = grace(cx, tg).await?;
    let unknown_since: std::sync::Mutex<Option<tokio::time::Instant>> = std::sync::Mutex::new(None);
    cx.wait("its target to be healthy", &HEALTHY, || async {
        match target_state(cx, tg, instance).await? {
            Some((s, _)) if s == "healthy" => Ok(crate::poll::Check::Done(())),
            Some((s, reason)) if s == "unused" || s == "unavailable" => {
                let since = *unknown_since
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert_with(tokio::time::Instant::now);
                if since.elapsed() >= cx.scaled(grace) {
                    return Ok(crate::poll::Check::Done(()));
                }
                Ok(crate::poll::Check::Pending(format!("{s} ({reason}): health unknown, grace period")))
            }
            Some((s, reason)) => Ok(crate::poll::Check::Pending(format!("{s} {reason}").trim().to_string())),
            None => Ok(crate::poll::Check::Pending("not listed yet".into())),
        }
    })
    .await
}

/// The group's interval times its healthy threshold.
async fn grace(cx: &Cx<'_>, tg: &str) -> Result<std::time::Duration, AwsError> {
    let out = cx.clients.elb.describe_target_groups().target_group_arns(tg).send().await;
    let out = out.map_err(|e| from_sdk("DescribeTargetGroups", e))?;
    let g = out.target_groups().first();
    let interval = g.and_then(|g| g.health_check_interval_seconds()).unwrap_or(30);
    let threshold = g.and_then(|g| g.healthy_threshold_count()).unwrap_or(5);
    Ok(std::time::Duration::from_secs((interval.max(1) * threshold.max(1)) as u64))
}

/// After a deregistration, waits until the target has drained (it leaves the group's
/// health list once the group's deregistration delay has passed: "Deregistration delay",
/// ELB User Guide), so connections to it end before its instance does.
pub(crate) async fn wait_drained(cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
    let (Some(tg), Some(instance)) = (obj.attribute("target_group_arn"), obj.attribute("instance_id")) else {
        return Ok(());
    };
    let drain = crate::poll::Backoff::new(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(15),
        std::time::Duration::from_secs(60 * 60),
    );
    cx.wait("its target to drain", &drain, || async {
        Ok(match target_state(cx, tg, instance).await? {
            None => crate::poll::Check::Done(()),
            Some((s, _)) if s == "draining" => crate::poll::Check::Pending("draining".into()),
            Some((s, reason)) if s == "unused" && reason != "Target.DeregistrationInProgress" => {
                crate::poll::Check::Done(())
            }
            Some((s, _)) => crate::poll::Check::Pending(s),
        })
    })
    .await
}

/// Registers `key` (`<target group arn>|<instance id>`) in a batch of this run.
async fn register(cx: &Cx<'_>, key: &str) -> Result<(), AwsError> {
    let elb = cx.clients.elb.clone();
    let answer = cx
        .run
        .registrations
        .get(key, "RegisterTargets", move |keys| {
            let elb = elb.clone();
            async move {
                let mut by_group: std::collections::BTreeMap<String, Vec<String>> = Default::default();
                for k in &keys {
                    if let Some((tg, instance)) = k.split_once('|') {
                        by_group.entry(tg.to_string()).or_default().push(instance.to_string());
                    }
                }
                let mut answers = Vec::new();
                for (tg, instances) in by_group {
                    let targets = instances.iter().map(|i| TargetDescription::builder().id(i).build()).collect();
                    let r = elb.register_targets().target_group_arn(&tg).set_targets(Some(targets)).send().await;
                    let r = r.map(|_| ()).map_err(|e| from_sdk("RegisterTargets", e));
                    answers.extend(instances.into_iter().map(|i| (format!("{tg}|{i}"), r.clone())));
                }
                Ok(answers)
            }
        })
        .await?;
    answer.unwrap_or_else(|| {
        Err(AwsError::new("RegisterTargets", crate::error::Class::Fatal, "no answer for the target"))
    })
}
