//! Client-side rate limits shaped like AWS's own: token buckets per account and region (EC2:
//! "Request throttling for the Amazon EC2 API",
//! https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html; ELB: "Request
//! throttling for the ELB API",
//! https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html;
//! RDS: "Throttling quotas in Amazon RDS"). strato keeps every request inside them instead of spending a burst on
//! throttling errors: twelve `RunInstances` calls go out at AWS's burst of 5 and then at its
//! refill rate, not in one second.
//!
//! Every attempt is metered, retries included: an interceptor tags each request with its
//! service and operation, and the HTTP client waits for the tokens before it sends. The
//! bucket maths is [`strato_engine::pace::Meter`] and the buckets [`strato_cloud::limits`],
//! which the simulated AWS uses too. The refill adapts to throttling as the AWS SDKs'
//! adaptive retry mode does ("Retry behavior", AWS SDKs and Tools Reference Guide,
//! https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html): every
//! throttled answer (other clients of the account share its buckets) empties the call's
//! buckets and cuts their refill, every answer after that grows it back along a cubic curve
//! to the documented rate ([`strato_engine::pace::Cubic`]). The wait
//! happens before the connection is used, so it never counts against the read timeout; the
//! SDK's upload throughput check, which would take a request waiting here for a stalled
//! upload, is off (`client::connect`): strato's request bodies are a few kilobytes.
//! Limits apply to API calls only; a task that waits for a database to become available
//! holds no token while it waits.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_types::config_bag::ConfigBag;

pub use strato_cloud::limits::{buckets, AWS_LIMITS};
pub use strato_engine::pace::{Limit, Meter};

/// The buckets a call of `service` and `operation` draws from, for the meter.
fn drawn(service: &str, operation: &str) -> &'static [&'static str] {
    buckets(service, operation)
}

/// The service and operation of a request, for the HTTP client to meter.
#[derive(Clone, Debug)]
struct Call {
    service: String,
    operation: String,
}

/// Tags every request with its service and operation.
#[derive(Debug)]
pub(crate) struct Tagging;

impl Intercept for Tagging {
    fn name(&self) -> &'static str {
        "strato-meter-tagging"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            let call = Call { service: m.service().to_string(), operation: m.name().to_string() };
            context.request_mut().add_extension(call);
        }
        Ok(())
    }
}

/// Tells the meter how each answer went: throttled (by its HTTP status, 429, or its error
/// code, [`strato_cloud::limits::THROTTLING_CODES`], which the SDK has read into memory by
/// now) or answered.
#[derive(Debug)]
pub(crate) struct Feedback(pub Arc<Meter>);

impl Intercept for Feedback {
    fn name(&self) -> &'static str {
        "strato-meter-feedback"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(m) = cfg.load::<Metadata>() else { return Ok(()) };
        let names = drawn(m.service(), m.name());
        if names.is_empty() {
            return Ok(());
        }
        let response = context.response();
        let status = response.status().as_u16();
        let body = response.body().bytes().unwrap_or_default();
        if throttled(status, body) {
            self.0.throttled(names);
        } else if status < 500 {
            self.0.succeeded(names);
        }
        Ok(())
    }
}

/// Whether an answer is a throttling error: HTTP 429, or an error status whose body names
/// a throttling code (`<Code>RequestLimitExceeded</Code>` in EC2's XML, `<Code>Throttling</Code>`
/// in ELB's and RDS's, `"__type": "ThrottlingException"` in JSON protocols).
fn throttled(status: u16, body: &[u8]) -> bool {
    if status == 429 {
        return true;
    }
    if status < 400 {
        return false;
    }
    let body = String::from_utf8_lossy(body);
    strato_cloud::limits::THROTTLING_CODES.iter().any(|code| {
        body.contains(&format!("<Code>{code}</Code>"))
            || body.contains(&format!("\"{code}\""))
            || body.contains(&format!("#{code}\""))
    })
}

/// An HTTP client that waits for the meter before it lets a request through.
#[derive(Clone, Debug)]
pub(crate) struct MeteredClient {
    pub inner: SharedHttpClient,
    pub meter: Arc<Meter>,
}

impl HttpClient for MeteredClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let inner = self.inner.http_connector(settings, components);
        SharedHttpConnector::new(MeteredConnector { inner, meter: self.meter.clone() })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(&self, runtime_components: &RuntimeComponents, cfg: &ConfigBag) -> Result<(), BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }
}

#[derive(Debug)]
struct MeteredConnector {
    inner: SharedHttpConnector,
    meter: Arc<Meter>,
}

impl HttpConnector for MeteredConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let wait =
            request.extension::<Call>().map_or(Duration::ZERO, |c| self.meter.reserve(drawn(&c.service, &c.operation)));
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn run_instances_go_out_at_awss_burst_then_its_refill() {
        let meter = Meter::new(AWS_LIMITS);
        let waits: Vec<Duration> = (0..6).map(|_| meter.reserve(drawn("EC2", "RunInstances"))).collect();
        assert!(waits[..4].iter().all(|w| w.is_zero()), "{waits:?}");
        assert_eq!(waits[4].as_millis(), 555);
        // Calls that draw from no bucket never wait.
        assert!(meter.reserve(drawn("ACM", "ImportCertificate")).is_zero());
    }

    #[test]
    fn throttling_answers_are_told_apart() {
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>";
        assert!(throttled(503, ec2));
        assert!(throttled(400, b"<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>"));
        assert!(throttled(400, br#"{"__type":"com.amazon#ThrottlingException","message":"Rate exceeded"}"#));
        assert!(throttled(429, b""));
        assert!(!throttled(
            400,
            b"<Response><Errors><Error><Code>InvalidVpcID.NotFound</Code></Error></Errors></Response>"
        ));
        assert!(!throttled(200, b"<Code>Throttling</Code>"));
    }
}
