//! Listener: CreateListener on its load balancer, forwarding to a target group or
//! redirecting (HTTP to HTTPS), with the certificate on HTTPS.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum,
};
use strato_graph::plan::Change;
use strato_graph::{Desired, Kind, ListenerAction, Part};
use strato_state::Object;

use super::load_balancer::elb_tags;
use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver, Updated};
use crate::error::{from_sdk, AwsError};

pub struct Listener;

#[async_trait]
impl Driver for Listener {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::Listener { load_balancer, port, protocol, certificate, ssl_policy, action } = desired else {
            return Err(mismatch("CreateListener"));
        };
        let lb_arn = cx.id_of(*load_balancer)?;
        let action = default_action(cx, action)?;
        let certificates = match certificate {
            Some(c) => Some(vec![Certificate::builder().certificate_arn(cx.id_of(*c)?).build()]),
            None => None,
        };
        let result = cx
            .retry_fresh(|| async {
                cx.clients
                    .elb
                    .create_listener()
                    .load_balancer_arn(lb_arn)
                    .protocol(ProtocolEnum::from(protocol.as_str()))
                    .port(*port as i32)
                    .set_certificates(certificates.clone())
                    .set_ssl_policy(ssl_policy.clone())
                    .default_actions(action.clone())
                    .set_tags(Some(elb_tags(cx)))
                    .send()
                    .await
                    .map_err(|e| from_sdk("CreateListener", e))
            })
            .await;
        // The port of this deployment's load balancer is taken: by this listener, created by
        // an attempt whose answer was lost.
        let arn = match result {
            Ok(out) => out.listeners().first().and_then(|l| l.listener_arn()).unwrap_or_default().to_string(),
            Err(e) if e.code_is(&["DuplicateListener"]) => match listener_on(cx, lb_arn, &port.to_string()).await? {
                Some(arn) => arn,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        let mut c = Created::new(arn).with("load_balancer_arn", lb_arn);
        c.ready = true;
        Ok(c)
    }

    async fn find(&self, cx: &Cx<'_>, obj: &Object) -> Result<Option<Created>, AwsError> {
        let (Some(lb_arn), Some(Part::Listener { port })) = (cx.dependency_id(obj, Kind::LoadBalancer), cx.part())
        else {
            return Ok(None);
        };
        Ok(listener_on(cx, lb_arn, &port.to_string())
            .await?
            .map(|arn| Created::new(arn).with("load_balancer_arn", lb_arn)))
    }

    /// `ModifyListener`: protocol, certificate, TLS policy and default action, on the live
    /// listener.
    async fn update(
        &self,
        cx: &Cx<'_>,
        obj: &Object,
        desired: &Desired,
        _changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let Desired::Listener { protocol, certificate, ssl_policy, action, .. } = desired else {
            return Err(mismatch("ModifyListener"));
        };
        let certificates = match certificate {
            Some(c) => Some(vec![Certificate::builder().certificate_arn(cx.id_of(*c)?).build()]),
            None => None,
        };
        cx.clients
            .elb
            .modify_listener()
            .listener_arn(id(obj)?)
            .protocol(ProtocolEnum::from(protocol.as_str()))
            .set_certificates(certificates)
            .set_ssl_policy(ssl_policy.clone())
            .default_actions(default_action(cx, action)?)
            .send()
            .await
            .map_err(|e| from_sdk("ModifyListener", e))?;
        Ok(Updated::default())
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.elb.describe_listeners().listener_arns(id(obj)?).send().await;
        exists_from(r.map_err(|e| from_sdk("DescribeListeners", e)), |o| !o.listeners().is_empty())
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        let r = cx.clients.elb.delete_listener().listener_arn(id(obj)?).send().await;
        gone_ok(r.map_err(|e| from_sdk("DeleteListener", e)))
    }
}

/// The listener on `port` of a load balancer.
async fn listener_on(cx: &Cx<'_>, lb_arn: &str, port: &str) -> Result<Option<String>, AwsError> {
    let out = cx.clients.elb.describe_listeners().load_balancer_arn(lb_arn).send().await;
    let Some(out) = super::found(out.map_err(|e| from_sdk("DescribeListeners", e)))? else { return Ok(None) };
    Ok(out
        .listeners()
        .iter()
        .find(|l| l.port().map(|p| p.to_string()).as_deref() == Some(port))
        .and_then(|l| l.listener_arn().map(str::to_string)))
}

/// The listener's default action.
fn default_action(cx: &Cx<'_>, action: &ListenerAction) -> Result<Action, AwsError> {
    Ok(match action {
        ListenerAction::Forward(tg) => {
            Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(cx.id_of(*tg)?).build()
        }
        ListenerAction::Redirect { protocol, port, status_code } => {
            let redirect = RedirectActionConfig::builder()
                .protocol(protocol)
                .set_port(port.map(|p| p.to_string()))
                .status_code(RedirectActionStatusCodeEnum::from(status_code.as_str()))
                .build();
            Action::builder().r#type(ActionTypeEnum::Redirect).redirect_config(redirect).build()
        }
    })
}
