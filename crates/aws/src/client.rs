//! AWS clients: the standard credential chain, a region, an optional profile and endpoint
//! (for emulators), deliberate retry and timeout settings, client-side rate limits shaped
//! like AWS's buckets ([`crate::meter`]), and a count of every request sent, per operation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_smithy_types::config_bag::ConfigBag;

use crate::meter::{Feedback, Meter, MeteredClient, Tagging, AWS_LIMITS};

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct Connection {
    pub region: String,
    /// A named profile of the shared AWS config files.
    pub profile: Option<String>,
    /// An endpoint for every service (an emulator such as moto or LocalStack). Without it,
    /// `AWS_ENDPOINT_URL` and the real AWS endpoints apply.
    pub endpoint_url: Option<String>,
    /// How many times faster than AWS the endpoint lets time pass (an emulator that
    /// scales AWS's durations down); 1 for AWS itself. Waits, retry windows and deadlines
    /// shrink by this factor; API rate limits do not.
    pub time_scale: f64,
    /// Keep every call inside AWS's API rate limits ([`crate::meter`]). AWS enforces them;
    /// an emulator usually does not, and there they would only slow the run down.
    pub api_limits: bool,
}

impl Default for Connection {
    fn default() -> Connection {
        Connection { region: String::new(), profile: None, endpoint_url: None, time_scale: 1.0, api_limits: true }
    }
}

/// Requests sent, per operation; retries count as requests.
#[derive(Debug, Default)]
pub struct CallCounter {
    total: AtomicU64,
    by_operation: Mutex<BTreeMap<String, u64>>,
}

impl CallCounter {
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    pub fn by_operation(&self) -> BTreeMap<String, u64> {
        self.by_operation.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

#[derive(Debug)]
struct Counting(Arc<CallCounter>);

impl Intercept for Counting {
    fn name(&self) -> &'static str {
        "strato-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.total.fetch_add(1, Ordering::SeqCst);
        let op = cfg.load::<Metadata>().map_or_else(|| "unknown".to_string(), |m| m.name().to_string());
        if let Ok(mut m) = self.0.by_operation.lock() {
            *m.entry(op).or_default() += 1;
        }
        Ok(())
    }
}

/// One client per service, sharing configuration and the call counter.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub efs: aws_sdk_efs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub acm: aws_sdk_acm::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    pub calls: Arc<CallCounter>,
    pub region: String,
    /// See [`Connection::time_scale`].
    pub time_scale: f64,
    /// See [`Connection::api_limits`].
    pub api_limits: bool,
}

impl Clients {
    /// A duration of AWS's time, on the endpoint's clock (see [`Connection::time_scale`]).
    pub fn scaled(&self, d: Duration) -> Duration {
        d.div_f64(self.time_scale.max(1.0))
    }
}

/// How many attempts the SDK makes of a call before strato sees its error
/// ([`strato_cloud::waits::RETRY`]).
pub const SDK_ATTEMPTS: u32 = strato_cloud::waits::RETRY.max_attempts;

/// Retries: the SDK's standard mode with more attempts than its default of 3 (TF
/// configures 25 for EC2), exponential backoff with full jitter from 0.5 s up to 20 s
/// (the SDK's cap). The SDK's retry quota is lifted (an
/// unlimited token bucket per service): strato's meter already paces every attempt, and a
/// quota drained by a throttling burst would turn the next throttle into a failed run.
/// Waits for slow resources are the poller's job, not the retry loop's; creates without an
/// idempotency token opt out of SDK retries per call (see `drivers::create_untokened`).
pub(crate) fn retry_config() -> RetryConfig {
    let policy = strato_cloud::waits::RETRY;
    RetryConfig::standard()
        .with_max_attempts(policy.max_attempts)
        .with_initial_backoff(policy.initial)
        .with_max_backoff(policy.max)
}

fn retry_partition(service: &'static str) -> RetryPartition {
    RetryPartition::custom(service).token_bucket(TokenBucket::unlimited()).build()
}

/// A read timeout rather than an attempt timeout: an attempt may wait for the meter before
/// it is sent, and that wait must not count as AWS's slowness.
fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).read_timeout(Duration::from_secs(60)).build()
}

/// The SDK's default HTTPS client (hyper with rustls on aws-lc, proxies from the
/// environment), built here so that the meter can wrap it.
fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(move |settings, runtime_components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

pub async fn connect(c: &Connection) -> Clients {
    let meter = Arc::new(Meter::new(if c.api_limits { AWS_LIMITS } else { &[] }));
    let http = MeteredClient { inner: https_client(), meter: meter.clone() };
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(c.region.clone()))
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        // The meter holds a request before it is sent; the upload check must not take that
        // for a stalled upload. Downloads stay protected.
        .stalled_stream_protection(StalledStreamProtectionConfig::enabled().upload_enabled(false).build())
        .http_client(http);
    if let Some(profile) = &c.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &c.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let shared = loader.load().await;
    let calls = Arc::new(CallCounter::default());
    let mutating = Arc::new(AtomicU64::new(0));
    macro_rules! client {
        ($sdk:ident, $partition:literal) => {
            $sdk::Client::from_conf(
                $sdk::config::Builder::from(&shared)
                    .retry_partition(retry_partition($partition))
                    .interceptor(Counting(calls.clone()))
                    .interceptor(Tagging)
                    .interceptor(Feedback(meter.clone()))
                    .interceptor(crate::journal::Journaling::new(mutating.clone()))
                    .build(),
            )
        };
    }
    Clients {
        ec2: client!(aws_sdk_ec2, "strato-ec2"),
        rds: client!(aws_sdk_rds, "strato-rds"),
        efs: client!(aws_sdk_efs, "strato-efs"),
        elb: client!(aws_sdk_elasticloadbalancingv2, "strato-elb"),
        acm: client!(aws_sdk_acm, "strato-acm"),
        ssm: client!(aws_sdk_ssm, "strato-ssm"),
        iam: client!(aws_sdk_iam, "strato-iam"),
        sts: client!(aws_sdk_sts, "strato-sts"),
        quotas: client!(aws_sdk_servicequotas, "strato-servicequotas"),
        calls: calls.clone(),
        region: c.region.clone(),
        time_scale: c.time_scale.max(1.0),
        api_limits: c.api_limits,
    }
}
