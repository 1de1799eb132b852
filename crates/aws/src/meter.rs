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
//! service and operation, and the HTTP client waits for the tokens before it sends. The wait
//! happens before the connection is used, so it never counts against the read timeout; the
//! SDK's upload throughput check, which would take a request waiting here for a stalled
//! upload, is off (`client::connect`): strato's request bodies are a few kilobytes.
//! Limits apply to API calls only; a task that waits for a database to become available
//! holds no token while it waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_types::config_bag::ConfigBag;
use tokio::time::Instant;

/// One of AWS's buckets: `burst` requests at once, refilled at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub name: &'static str,
    pub burst: f64,
    pub per_second: f64,
}

/// AWS's documented buckets at nine tenths of their burst and refill: the account's bucket
/// is shared with every other client of the account, and the two clocks drift.
pub const AWS_LIMITS: &[Limit] = &[
    // EC2: describe calls, mutating calls, and the calls with buckets of their own
    // (AWS: 100 and 20/s, 50 and 5/s, RunInstances 5 and 2/s, NAT gateways 10 and 1/s).
    Limit { name: "ec2-describe", burst: 90.0, per_second: 18.0 },
    Limit { name: "ec2-mutating", burst: 45.0, per_second: 4.5 },
    Limit { name: "ec2-run-instances", burst: 4.0, per_second: 1.8 },
    Limit { name: "ec2-nat-gateway", burst: 9.0, per_second: 0.9 },
    // ELBv2: CreateLoadBalancer has its own bucket (10 and 0.2/s) and also draws from the
    // shared one (40 and 10/s).
    Limit { name: "elb-create-load-balancer", burst: 9.0, per_second: 0.18 },
    Limit { name: "elb", burst: 36.0, per_second: 9.0 },
    // RDS: one bucket for every call (300 and 12/s).
    Limit { name: "rds", burst: 270.0, per_second: 10.8 },
];

/// The buckets a call draws from. `service` is the SDK's service name (`EC2`, `RDS`,
/// `Elastic Load Balancing v2`); services without documented buckets draw from none.
pub fn buckets(service: &str, operation: &str) -> &'static [&'static str] {
    match service {
        "EC2" => match operation {
            "RunInstances" => &["ec2-run-instances"],
            "CreateNatGateway" | "DeleteNatGateway" => &["ec2-nat-gateway"],
            op if op.starts_with("Describe") || op.starts_with("Get") => &["ec2-describe"],
            _ => &["ec2-mutating"],
        },
        "Elastic Load Balancing v2" => match operation {
            "CreateLoadBalancer" => &["elb-create-load-balancer", "elb"],
            _ => &["elb"],
        },
        "RDS" => &["rds"],
        _ => &[],
    }
}

#[derive(Debug)]
struct Bucket {
    limit: Limit,
    /// May go below zero: a negative balance is the queue of reservations not yet due.
    tokens: f64,
    at: Instant,
}

/// The buckets of one process.
#[derive(Debug)]
pub struct Meter {
    buckets: Mutex<HashMap<&'static str, Bucket>>,
}

impl Meter {
    pub fn new(limits: &[Limit]) -> Meter {
        let now = Instant::now();
        let buckets =
            limits.iter().map(|l| (l.name, Bucket { limit: *l, tokens: l.burst, at: now })).collect::<HashMap<_, _>>();
        Meter { buckets: Mutex::new(buckets) }
    }

    /// Takes one token from each bucket the call draws from and says how long to wait
    /// until all of them are due. Reservations are first come, first served.
    pub fn reserve(&self, service: &str, operation: &str) -> Duration {
        let now = Instant::now();
        let mut held = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for name in buckets(service, operation) {
            let Some(b) = held.get_mut(name) else { continue };
            let refill = now.saturating_duration_since(b.at).as_secs_f64() * b.limit.per_second;
            b.tokens = (b.tokens + refill).min(b.limit.burst) - 1.0;
            b.at = now;
            if b.tokens < 0.0 {
                wait = wait.max(Duration::from_secs_f64(-b.tokens / b.limit.per_second));
            }
        }
        wait
    }
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
        let wait = request.extension::<Call>().map_or(Duration::ZERO, |c| self.meter.reserve(&c.service, &c.operation));
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

    const TIGHT: &[Limit] = &[Limit { name: "ec2-run-instances", burst: 5.0, per_second: 2.0 }];

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_refill_rate() {
        let meter = Meter::new(TIGHT);
        let waits: Vec<Duration> = (0..9).map(|_| meter.reserve("EC2", "RunInstances")).collect();
        assert!(waits[..5].iter().all(|w| w.is_zero()), "{waits:?}");
        // The 6th to 9th wait for 0.5, 1.0, 1.5 and 2.0 s: 2 per second after the burst.
        let expected = [500, 1000, 1500, 2000];
        for (w, ms) in waits[5..].iter().zip(expected) {
            assert_eq!(w.as_millis(), ms);
        }
        // Calls that draw from no bucket never wait.
        assert!(meter.reserve("EC2", "DescribeVpcs").is_zero());
        assert!(meter.reserve("ACM", "ImportCertificate").is_zero());
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_refills_while_idle_up_to_its_burst() {
        let meter = Meter::new(TIGHT);
        for _ in 0..5 {
            assert!(meter.reserve("EC2", "RunInstances").is_zero());
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        // A minute later the bucket is full again, and no fuller.
        let waits: Vec<Duration> = (0..6).map(|_| meter.reserve("EC2", "RunInstances")).collect();
        assert!(waits[..5].iter().all(|w| w.is_zero()));
        assert_eq!(waits[5], Duration::from_millis(500));
    }

    #[test]
    fn calls_draw_from_awss_buckets() {
        assert_eq!(buckets("EC2", "DescribeInstances"), &["ec2-describe"]);
        assert_eq!(buckets("EC2", "CreateSubnet"), &["ec2-mutating"]);
        assert_eq!(buckets("EC2", "DeleteNatGateway"), &["ec2-nat-gateway"]);
        assert_eq!(buckets("Elastic Load Balancing v2", "CreateLoadBalancer"), &["elb-create-load-balancer", "elb"]);
        assert_eq!(buckets("RDS", "DescribeDBInstances"), &["rds"]);
        // Every bucket a call can name exists.
        for (s, o) in [("EC2", "RunInstances"), ("EC2", "CreateNatGateway"), ("Elastic Load Balancing v2", "X")] {
            for b in buckets(s, o) {
                assert!(AWS_LIMITS.iter().any(|l| l.name == *b), "{b}");
            }
        }
    }
}
