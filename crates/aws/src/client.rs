//! AWS clients: the standard credential chain, a region, an optional profile and endpoint
//! (for emulators), deliberate retry and timeout settings, and a count of every request
//! sent, per operation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where and as whom to connect.
#[derive(Clone, Debug, Default)]
pub struct Connection {
    pub region: String,
    /// A named profile of the shared AWS config files.
    pub profile: Option<String>,
    /// An endpoint for every service (an emulator such as moto or LocalStack). Without it,
    /// `AWS_ENDPOINT_URL` and the real AWS endpoints apply.
    pub endpoint_url: Option<String>,
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
    pub calls: Arc<CallCounter>,
    pub region: String,
}

/// Retries: the SDK's standard mode with more attempts than its default of 3 and a short
/// first backoff, since strato issues many calls in parallel and throttling is expected;
/// waits for slow resources are the poller's job, not the retry loop's.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(200))
        .with_max_backoff(Duration::from_secs(20))
}

fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build()
}

pub async fn connect(c: &Connection) -> Clients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(c.region.clone()))
        .retry_config(retry_config())
        .timeout_config(timeout_config());
    if let Some(profile) = &c.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &c.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let shared = loader.load().await;
    let calls = Arc::new(CallCounter::default());
    let counting = || Counting(calls.clone());
    Clients {
        ec2: aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::from(&shared).interceptor(counting()).build(),
        ),
        rds: aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&shared).interceptor(counting()).build(),
        ),
        efs: aws_sdk_efs::Client::from_conf(
            aws_sdk_efs::config::Builder::from(&shared).interceptor(counting()).build(),
        ),
        elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(&shared).interceptor(counting()).build(),
        ),
        acm: aws_sdk_acm::Client::from_conf(
            aws_sdk_acm::config::Builder::from(&shared).interceptor(counting()).build(),
        ),
        ssm: aws_sdk_ssm::Client::from_conf(
            aws_sdk_ssm::config::Builder::from(&shared).interceptor(counting()).build(),
        ),
        calls: calls.clone(),
        region: c.region.clone(),
    }
}
