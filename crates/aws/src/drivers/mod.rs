//! One module per kind of AWS object, each behind the [`Driver`] trait, and the registry
//! that maps a kind to its driver. Adding a kind adds a module and a line in [`driver`]; the
//! engine and the provisioner never change.
//!
//! The contract every driver keeps:
//! - `create` sets tags at creation and uses the API's idempotency token where it has one;
//! - `wait_ready` waits on the real condition through the shared poller, never a bare sleep;
//! - `exists` and `find` read: the first checks a recorded id, the second finds an object
//!   an interrupted run created but never recorded (by its `strato:address` tag, or token);
//! - `delete` treats "already gone" as success; `wait_gone` waits until AWS agrees.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use strato_engine::{Cancel, Progress};
use strato_graph::plan::{Change, Live};
use strato_graph::{Address, Desired, Graph, Kind, NodeId, Part};
use strato_state::Object;

use crate::batch::Coalescer;
use crate::client::Clients;
use crate::error::{AwsError, Class};
use crate::poll::Backoff;

mod certificate;
mod db_instance;
mod db_subnet_group;
mod elastic_ip;
mod file_system;
mod instance;
pub mod instance_role;
mod internet_gateway;
mod key_pair;
mod listener;
mod listener_rule;
mod load_balancer;
mod mount_target;
mod nat_gateway;
pub mod policy;
mod route;
mod route_table;
mod route_table_association;
mod security_group;
mod security_group_rules;
mod subnet;
pub mod tags;
mod target_group;
pub(crate) mod target_registration;
mod vpc;

pub use db_subnet_group::{pairs as rds_pairs, rds_tags_of};
pub use load_balancer::elb_pairs;

pub type Attributes = BTreeMap<String, String>;

/// What `destroy` may do beyond deleting.
#[derive(Clone, Copy, Debug, Default)]
pub struct DestroyOptions {
    /// Delete databases without a final snapshot.
    pub skip_final_snapshot: bool,
    /// Turn deletion protection off (databases, load balancers) instead of refusing.
    pub lift_deletion_protection: bool,
}

/// Run-wide facts a driver may need.
#[derive(Debug, Default)]
pub struct RunContext {
    /// The account strato works in, from the preflight; empty when unknown.
    pub account: Account,
    pub destroy: DestroyOptions,
    /// Image ids already resolved from SSM parameters in this run.
    pub images: std::sync::Mutex<BTreeMap<String, String>>,
    /// Held while an image is resolved, so that a dozen instances launched at once make
    /// one `GetParameter`, not one each.
    pub image_lookup: tokio::sync::Mutex<()>,
    /// What the operator should hear about after the run, by address.
    pub notices: std::sync::Mutex<Vec<(String, String)>>,
    /// The describes of this run's waits, coalesced ([`crate::batch`]): of instances (by
    /// `instance-id`), of the network interfaces in subnets (by `subnet-id`) and groups (by
    /// `group-id`) before their deletes ([`interfaces_in`]), of load balancers waited for to
    /// be active (by ARN), of NAT gateways (by `nat-gateway-id`), of mount targets (by file
    /// system): the objects of a spec's zones come up and go down together.
    pub instances: Coalescer<aws_sdk_ec2::types::Instance>,
    pub subnet_interfaces: Coalescer<Vec<aws_sdk_ec2::types::NetworkInterface>>,
    pub group_interfaces: Coalescer<Vec<aws_sdk_ec2::types::NetworkInterface>>,
    pub load_balancers: Coalescer<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>,
    pub nat_gateways: Coalescer<aws_sdk_ec2::types::NatGateway>,
    pub mount_targets: Coalescer<aws_sdk_efs::types::LifeCycleState>,
    /// This run's target registrations that start at about the same time (the instances of
    /// a pair, seen `running` by one describe), in one `RegisterTargets` per target group,
    /// which takes many targets ("RegisterTargets", ELBv2 API Reference). Each
    /// registration's intent is journaled before it joins a batch; each gets its own
    /// group's answer.
    pub registrations: Coalescer<Result<(), AwsError>>,
}

/// Where the network interfaces a wait is about sit.
#[derive(Clone, Copy, Debug)]
pub enum Within<'a> {
    Subnet(&'a str),
    Group(&'a str),
}

/// The AWS account and partition the credentials belong to (`GetCallerIdentity`).
#[derive(Clone, Debug, Default)]
pub struct Account {
    pub id: String,
    /// `aws`, `aws-cn`, `aws-us-gov`, ...: the second field of the caller's ARN.
    pub partition: String,
    /// The caller's ARN.
    pub arn: String,
}

/// An object just created (or found): its id and what to record about it.
#[derive(Clone, Debug, Default)]
pub struct Created {
    pub id: String,
    pub attributes: BTreeMap<String, String>,
    /// The create answer already says the object is usable: no wait needed.
    pub ready: bool,
}

impl Created {
    pub fn new(id: impl Into<String>) -> Created {
        Created { id: id.into(), attributes: BTreeMap::new(), ready: false }
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Created {
        self.attributes.insert(key.to_string(), value.into());
        self
    }
}

/// What an update in place changed beyond the inputs: a new composite id (a group's rule
/// ids), attributes learnt.
#[derive(Clone, Debug, Default)]
pub struct Updated {
    pub id: Option<String>,
    pub attributes: Attributes,
}

/// Tag key holding the deployment name.
pub const TAG_DEPLOYMENT: &str = "strato:deployment";
/// Tag key holding the object's logical address in the spec.
pub const TAG_ADDRESS: &str = "strato:address";
/// Tag key holding the deployment's unique id, given when it is first provisioned and kept
/// in its state: two deployments of the same name (two state directories, or a state that
/// was lost) tell their objects apart by it. strato adopts or deletes an object only when it
/// carries this deployment's id.
pub const TAG_DEPLOYMENT_ID: &str = "strato:deployment-id";

/// The value of tag `key`.
pub fn tag<'t>(tags: &'t [(String, String)], key: &str) -> Option<&'t str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// EC2 tags as pairs.
pub fn ec2_pairs(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect()
}

/// The spec's tags among an object's tags, as inputs (`tag:<key>`): strato's own (`Name`,
/// `strato:*`) and AWS's (`aws:*`) are not the spec's.
pub fn spec_tags(tags: &[(String, String)]) -> Vec<(String, String)> {
    tags.iter()
        .filter(|(k, _)| k != "Name" && !k.starts_with("strato:") && !k.starts_with("aws:"))
        .map(|(k, v)| (format!("tag:{k}"), v.clone()))
        .collect()
}

/// Whose an object is, as its tags say: `deployment `wso2` (id 3f2a...)`, or `nobody known
/// to strato (no strato tags; Name=...)`.
pub fn owner_of(tags: &[(String, String)]) -> String {
    let tag = |k: &str| tag(tags, k);
    match (tag(TAG_DEPLOYMENT), tag(TAG_DEPLOYMENT_ID)) {
        (Some(d), Some(id)) => format!("strato deployment `{d}` with id {id}"),
        (Some(d), None) => format!("strato deployment `{d}`, without a deployment id"),
        (None, _) => match tag("Name") {
            Some(name) => format!("something not made by strato (no strato tags; Name={name})"),
            None => "something not made by strato (no strato tags)".to_string(),
        },
    }
}

/// Everything a driver call may use.
pub struct Cx<'a> {
    pub clients: &'a Clients,
    pub deployment: &'a str,
    /// The deployment's unique id ([`TAG_DEPLOYMENT_ID`]).
    pub deployment_id: &'a str,
    /// The object's name in AWS and its `Name` tag.
    pub aws_name: &'a str,
    /// The spec's own tags.
    pub tags: &'a [(String, String)],
    pub address: &'a str,
    /// Recorded dependencies (and, for destroy, the object itself), by address.
    pub objects: &'a BTreeMap<String, Object>,
    /// The graph, to name dependencies; absent when destroying from state alone.
    pub graph: Option<&'a Graph>,
    pub cancel: &'a Cancel,
    pub progress: &'a Progress,
    /// A dependency was created moments ago: AWS may not know it everywhere yet, so
    /// "not found" answers about it are retried for a while.
    pub fresh: bool,
    pub run: &'a RunContext,
}

impl Cx<'_> {
    /// The recorded id of a dependency.
    pub fn id_of(&self, node: NodeId) -> Result<&str, AwsError> {
        let address = self
            .graph
            .map(|g| g.node(node).address.as_str())
            .ok_or_else(|| AwsError::new("resolve dependency", Class::Fatal, "no graph"))?;
        self.objects
            .get(address)
            .and_then(|o| o.id.as_deref())
            .ok_or_else(|| AwsError::new("resolve dependency", Class::Fatal, format!("`{address}` has no recorded id")))
    }

    /// The recorded ids of several dependencies, in order.
    pub fn ids_of(&self, nodes: &[NodeId]) -> Result<Vec<String>, AwsError> {
        nodes.iter().map(|n| self.id_of(*n).map(str::to_string)).collect()
    }

    /// A recorded attribute of a dependency: `id` and `arn` are its id, anything else an
    /// attribute recorded for it.
    pub fn attribute_of(&self, node: NodeId, attribute: &str) -> Option<String> {
        let address = self.graph?.node(node).address.as_str();
        self.objects.get(address)?.value(attribute).map(str::to_string)
    }

    /// The recorded id of the dependency of `obj` of kind `kind`: how `find` reaches the
    /// parents of an object recorded only as an intent, in provision and destroy alike.
    pub fn dependency_id(&self, obj: &Object, kind: Kind) -> Option<&str> {
        let address = obj.depends_on.iter().find(|a| a.parse::<Address>().is_ok_and(|a| a.kind() == kind))?;
        self.objects.get(address)?.id.as_deref()
    }

    /// What picks this object out of its owner: a route's destination, a listener's port,
    /// a rule's priority.
    pub fn part(&self) -> Option<Part> {
        self.address.parse::<Address>().ok().map(|a| a.part().clone())
    }

    /// When a dependency was recorded as created (seconds since the Unix epoch).
    pub fn created_at_of(&self, node: NodeId) -> Option<u64> {
        let address = self.graph?.node(node).address.as_str();
        self.objects.get(address)?.created_at
    }

    /// The address of the object with AWS id `id`, among the recorded objects this call
    /// sees (a refresh sees them all).
    pub fn address_of_id(&self, id: &str) -> Option<String> {
        self.objects.iter().find(|(_, o)| o.id.as_deref() == Some(id)).map(|(a, _)| a.clone())
    }

    pub fn kind_of(&self, node: NodeId) -> Option<Kind> {
        self.graph.map(|g| g.node(node).kind)
    }

    /// The object's name in AWS (and its `Name` tag).
    pub fn name(&self) -> String {
        self.aws_name.to_string()
    }

    /// Every tag strato puts on the object: its name, the deployment's name and id, its
    /// address, and the spec's own tags.
    pub fn tag_pairs(&self) -> Vec<(String, String)> {
        let mut tags = vec![
            ("Name".to_string(), self.name()),
            (TAG_DEPLOYMENT.to_string(), self.deployment.to_string()),
            (TAG_DEPLOYMENT_ID.to_string(), self.deployment_id.to_string()),
            (TAG_ADDRESS.to_string(), self.address.to_string()),
        ];
        tags.extend(self.tags.iter().cloned());
        tags
    }

    pub fn tag_list(&self) -> Vec<Tag> {
        self.tag_pairs().into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
    }

    /// Whether tags say the object is this very object of this deployment: its id and its
    /// address. Only such an object is adopted.
    pub fn is_this(&self, tags: &[(String, String)]) -> bool {
        tag(tags, TAG_DEPLOYMENT_ID) == Some(self.deployment_id) && tag(tags, TAG_ADDRESS) == Some(self.address)
    }

    /// The error for a name AWS says is taken, by an object that is not this one: it names
    /// the object and whose it is. Never adopted.
    pub fn foreign(&self, call: &str, what: &str, tags: &[(String, String)]) -> AwsError {
        let msg = format!(
            "a {what} named `{}` already exists and is not this deployment's: it belongs to {}",
            self.name(),
            owner_of(tags)
        );
        AwsError::new(call, Class::Foreign, msg)
    }

    pub fn tag_spec(&self, resource: ResourceType) -> TagSpecification {
        TagSpecification::builder().resource_type(resource).set_tags(Some(self.tag_list())).build()
    }

    /// Filters that find this object by its tags.
    pub fn tag_filters(&self) -> Vec<Filter> {
        vec![
            Filter::builder().name(format!("tag:{TAG_DEPLOYMENT_ID}")).values(self.deployment_id).build(),
            Filter::builder().name(format!("tag:{TAG_ADDRESS}")).values(self.address).build(),
        ]
    }

    pub fn status(&self, s: &str) {
        self.progress.status(s);
    }

    /// Something the operator should know about this object after the run (a database
    /// deleted without a final snapshot, the name of the snapshot taken).
    pub fn notice(&self, message: impl Into<String>) {
        if let Ok(mut n) = self.run.notices.lock() {
            n.push((self.address.to_string(), message.into()));
        }
    }

    /// A duration of AWS's time on the endpoint's clock.
    pub fn scaled(&self, d: Duration) -> Duration {
        self.clients.scaled(d)
    }

    /// Waits until `check` is done, through the one poller, with `backoff` on the
    /// endpoint's clock.
    pub async fn wait<T, F, Fut>(&self, what: &str, backoff: &Backoff, check: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<crate::poll::Check<T>, AwsError>>,
    {
        let backoff = backoff.scaled(self.clients.time_scale);
        self.progress.waiting();
        let seed = crate::poll::waiter_seed(&[self.address, what]);
        crate::poll::until_seeded(what, &backoff, seed, self.cancel, |s| self.status(s), check).await
    }

    /// Before a call AWS meters tightly (`CreateLoadBalancer`: 10 at once, then one every
    /// five seconds; `RunInstances`: 5, then 2 a second; see [`crate::meter`]), waits until
    /// EC2 shows the just-created subnets and security groups it names. Right after a
    /// create, AWS may not know them yet ("Eventual consistency in the Amazon EC2 API"),
    /// and every refused attempt would spend one of the call's few tokens; describe calls
    /// are metered loosely. Nothing to wait for unless a dependency is fresh and calls are
    /// metered at all.
    pub async fn until_visible(&self, subnets: &[String], groups: &[String]) -> Result<(), AwsError> {
        if !self.fresh || !self.clients.api_limits {
            return Ok(());
        }
        let visible = Backoff::new(REFUSAL.first, REFUSAL.max, PROPAGATION);
        self.wait("its new subnets and security groups to be visible", &visible, || async {
            if !subnets.is_empty() {
                let r = self.clients.ec2.describe_subnets().set_subnet_ids(Some(subnets.to_vec())).send().await;
                if found(r.map_err(|e| crate::error::from_sdk("DescribeSubnets", e)))?.is_none() {
                    return Ok(crate::poll::Check::Pending("not visible yet".into()));
                }
            }
            if !groups.is_empty() {
                let r = self.clients.ec2.describe_security_groups().set_group_ids(Some(groups.to_vec())).send().await;
                if found(r.map_err(|e| crate::error::from_sdk("DescribeSecurityGroups", e)))?.is_none() {
                    return Ok(crate::poll::Check::Pending("not visible yet".into()));
                }
            }
            Ok(crate::poll::Check::Done(()))
        })
        .await
    }

    /// Runs `call`, retrying "not found" answers about just-created dependencies:
    /// EC2 is eventually consistent ("Eventual consistency in the Amazon EC2 API"), and for
    /// a while after a create other calls may not see the new object. Retried for
    /// [`PROPAGATION`], as TF does
    /// (`ec2PropagationTimeout`, internal/service/ec2/consts.go), and only when a
    /// dependency was created moments ago; anywhere else "not found" is a real error.
    pub async fn retry_fresh<T, F, Fut>(&self, call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        self.retry_fresh_when(|_| false, call).await
    }

    /// [`Cx::retry_fresh`], also retrying the errors `also` accepts: services other than
    /// EC2 see a just-created EC2 object late and say so in their own words
    /// (`InvalidParameterValue ... does not exist`, `InvalidSubnet`, `ValidationError ...
    /// not found`).
    pub async fn retry_fresh_when<T, F, Fut>(&self, also: impl Fn(&AwsError) -> bool, call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let fresh = self.fresh;
        self.retry_refused(PROPAGATION, |e| fresh && (e.is(Class::NotFound) || also(e)), call).await
    }

    /// Runs `call`, retrying the refusal `refused` recognises for at most `window` of AWS's
    /// time, with backoff: for refusals AWS documents as passing (a propagation lag), on the
    /// one call where they happen. When the window closes, the last refusal is the error.
    pub async fn retry_refused<T, F, Fut>(
        &self,
        window: Duration,
        refused: impl Fn(&AwsError) -> bool,
        mut call: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let window = self.scaled(window);
        let backoff = REFUSAL.scaled(self.clients.time_scale);
        let start = tokio::time::Instant::now();
        let mut delay = backoff.first;
        loop {
            match call().await {
                Err(e) if refused(&e) && start.elapsed() < window && !self.cancel.is_cancelled() => {
                    self.status(&format!("AWS answered {}; retrying", e.code.as_deref().unwrap_or("not yet")));
                    tokio::time::sleep(delay.min(window.saturating_sub(start.elapsed()))).await;
                    delay = (delay * 2).min(backoff.max);
                }
                other => return other,
            }
        }
    }
}

/// How long EC2's eventual consistency may hide a new object from other calls (TF
/// `ec2PropagationTimeout`).
pub const PROPAGATION: Duration = Duration::from_secs(5 * 60);

/// How often a refused call is tried again: from a quarter second up to eight seconds.
const REFUSAL: Backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(8), Duration::ZERO);

/// How many times a create without an idempotency token is sent at most.
const UNTOKENED_ATTEMPTS: u32 = crate::client::SDK_ATTEMPTS;

/// Creates an object with a call that has no idempotency token (`CreateVpc`,
/// `CreateSubnet`, `AllocateAddress`, `CreateInternetGateway`, `ImportCertificate`,
/// `CreateRule`: their API references take no `ClientToken`). The SDK would repeat such a
/// call after a timeout or a server error and make a second object, so these calls opt
/// out of SDK retries ([`ec2_once`] and its siblings) and come here instead:
/// - throttled: AWS refused the request, so it is sent again after a backoff;
/// - no answer or a server error: the object may exist although nobody was told, so
///   `find` looks for it (by its tags, or under its parent) before anything is sent again;
/// - any other error, or the last attempt: the error. An error after an unanswered
///   attempt (`InvalidSubnet.Conflict`, `PriorityInUse`) may be that attempt's object, so
///   `find` is asked once more first.
pub async fn create_untokened<T, C, CFut, F, FFut>(cx: &Cx<'_>, mut create: C, mut find: F) -> Result<T, AwsError>
where
    C: FnMut() -> CFut,
    CFut: Future<Output = Result<T, AwsError>>,
    F: FnMut() -> FFut,
    FFut: Future<Output = Result<Option<T>, AwsError>>,
{
    let mut unanswered = false;
    for attempt in 1..=UNTOKENED_ATTEMPTS {
        let e = match create().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let last = attempt == UNTOKENED_ATTEMPTS || cx.cancel.is_cancelled();
        if e.is(Class::Throttled) && !last {
            cx.status(&format!("{} throttled; trying again", e.call));
            tokio::time::sleep(sdk_backoff(attempt)).await;
            continue;
        }
        if e.is_ambiguous() || unanswered {
            // Describe calls lag a little behind creates: give the object a moment to show.
            tokio::time::sleep(cx.scaled(Duration::from_secs(2)).max(crate::poll::MIN_DELAY)).await;
            cx.status(&format!("{} got no answer; looking for the object before trying again", e.call));
            match find().await {
                Ok(Some(found)) => return Ok(found),
                Ok(None) => {}
                // The create is what failed; the look-up only could not tell more.
                Err(f) => {
                    let message = format!("{}; looking for what it may have created failed too: {f}", e.message);
                    return Err(AwsError { message, ..e });
                }
            }
        }
        if !e.is_ambiguous() || last {
            return Err(e);
        }
        unanswered = true;
        tokio::time::sleep(sdk_backoff(attempt)).await;
    }
    unreachable!("the last attempt returns")
}

/// The SDK's backoff before attempt `attempt + 1` ([`strato_cloud::waits::RETRY`], as
/// `client::retry_config` gives the SDK): jittered, from 0.5 s, doubling, at most 20 s. Real
/// time: throttling is counted on AWS's clock.
fn sdk_backoff(attempt: u32) -> Duration {
    let seed = strato_engine::pace::mix(u64::from(std::process::id()), u64::from(attempt));
    strato_cloud::waits::RETRY.delay(attempt, 0.5 + strato_engine::pace::unit(seed) / 2.0)
}

/// Config overrides that turn the SDK's own retries off for one call (see
/// [`create_untokened`]).
pub fn ec2_once() -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

pub fn acm_once() -> aws_sdk_acm::config::Builder {
    aws_sdk_acm::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

pub fn elb_once() -> aws_sdk_elasticloadbalancingv2::config::Builder {
    aws_sdk_elasticloadbalancingv2::config::Builder::default().retry_config(aws_config::retry::RetryConfig::disabled())
}

/// How long to wait for each kind, and how often to look: [`strato_cloud::waits`], which
/// the simulated AWS replays. `SLOW` is the instances' wait.
pub use strato_cloud::waits::{
    INSTANCE as SLOW, INTERFACES_GONE, LOAD_BALANCER, NAT_GONE, NAT_READY, QUICK, RDS_GONE, RDS_READY,
};

#[async_trait]
pub trait Driver: Send + Sync {
    /// Creates the object as `desired` says; `token` is the run's idempotency token for it.
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError>;

    /// The calls that complete an object after the one that creates it (a VPC's DNS
    /// attributes, a target group's stickiness), idempotent: made after the create, and
    /// again after an object an interrupted run created is found, which may lack them.
    async fn finish(&self, _cx: &Cx<'_>, _desired: &Desired, _id: &str) -> Result<(), AwsError> {
        Ok(())
    }

    /// Waits until the object is usable; returns attributes learnt on the way (a database
    /// endpoint is known only once it is available).
    async fn wait_ready(&self, _cx: &Cx<'_>, _obj: &Object) -> Result<Attributes, AwsError> {
        Ok(Attributes::new())
    }

    /// Whether the recorded object still exists.
    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError>;

    /// Finds the object if an interrupted run created it without recording it.
    async fn find(&self, _cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        Ok(None)
    }

    /// Deletes the object; already gone is success.
    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError>;

    /// Waits until AWS no longer has the object.
    async fn wait_gone(&self, _cx: &Cx<'_>, _obj: &Object) -> Result<(), AwsError> {
        Ok(())
    }

    /// What AWS reports of the recorded object: whether it exists and, for the inputs this
    /// kind reads back (see [`strato_graph::change::inputs`]), their live values; read
    /// calls only. The default reads existence alone.
    async fn read(&self, cx: &Cx<'_>, obj: &Object) -> Result<Live, AwsError> {
        Ok(Live { exists: self.exists(cx, obj).await?, ..Live::default() })
    }

    /// Changes the live object to `desired` for `changes`, each of which
    /// [`strato_graph::change::effect`] says AWS changes in place (tags aside: see
    /// [`tags::retag`]); returns attributes to record. Kinds with no attribute updated in
    /// place keep the default, which refuses.
    async fn update(
        &self,
        _cx: &Cx<'_>,
        _obj: &Object,
        _desired: &Desired,
        changes: &[Change],
    ) -> Result<Updated, AwsError> {
        let names: Vec<&str> = changes.iter().map(|c| c.attribute.as_str()).collect();
        Err(AwsError::new("update", Class::Fatal, format!("strato cannot change {} in place", names.join(", "))))
    }
}

/// The driver of a kind; `None` for kinds strato cannot provision yet.
pub fn driver(kind: Kind) -> Option<&'static dyn Driver> {
    Some(match kind {
        Kind::Vpc => &vpc::Vpc,
        Kind::Subnet => &subnet::Subnet,
        Kind::InternetGateway => &internet_gateway::InternetGateway,
        Kind::ElasticIp => &elastic_ip::ElasticIp,
        Kind::NatGateway => &nat_gateway::NatGateway,
        Kind::RouteTable => &route_table::RouteTable,
        Kind::Route => &route::Route,
        Kind::RouteTableAssociation => &route_table_association::RouteTableAssociation,
        Kind::SecurityGroup => &security_group::SecurityGroup,
        Kind::SecurityGroupRules => &security_group_rules::SecurityGroupRules,
        Kind::KeyPair => &key_pair::KeyPair,
        Kind::Certificate => &certificate::Certificate,
        Kind::InstanceRole => &instance_role::InstanceRole,
        Kind::DbSubnetGroup => &db_subnet_group::DbSubnetGroup,
        Kind::DbInstance => &db_instance::DbInstance,
        Kind::FileSystem => &file_system::FileSystem,
        Kind::MountTarget => &mount_target::MountTarget,
        Kind::Instance => &instance::Instance,
        Kind::LoadBalancer => &load_balancer::LoadBalancer,
        Kind::TargetGroup => &target_group::TargetGroup,
        Kind::Listener => &listener::Listener,
        Kind::ListenerRule => &listener_rule::ListenerRule,
        Kind::TargetRegistration => &target_registration::TargetRegistration,
    })
}

/// Ok(()) when `result` failed only because the object is already gone.
pub fn gone_ok<T>(result: Result<T, AwsError>) -> Result<(), AwsError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is(Class::NotFound) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A network interface as the operator needs to see it to know what holds an object:
/// `eni-0abc (ELB app/wso2-public/50dc6c495c0c9188, requester amazon-elb, public IP
/// 3.1.2.4)`.
pub fn describe_interface(n: &aws_sdk_ec2::types::NetworkInterface) -> String {
    let mut parts = vec![n.description().filter(|d| !d.is_empty()).unwrap_or("no description").to_string()];
    if let Some(i) = n.attachment().and_then(|a| a.instance_id()) {
        parts.push(format!("attached to {i}"));
    }
    if let Some(r) = n.requester_id().filter(|_| n.requester_managed() == Some(true)) {
        parts.push(format!("requester {r}"));
    }
    if let Some(ip) = n.association().and_then(|a| a.public_ip()) {
        parts.push(format!("public IP {ip}"));
    }
    format!("{} ({})", n.network_interface_id().unwrap_or("?"), parts.join(", "))
}

/// The network interfaces matching `filter` that `holds` picks, described.
pub async fn interfaces(
    cx: &Cx<'_>,
    filter: &Filter,
    holds: impl Fn(&aws_sdk_ec2::types::NetworkInterface) -> bool,
) -> Result<Vec<String>, AwsError> {
    let mut held = Vec::new();
    let mut pages = cx.clients.ec2.describe_network_interfaces().filters(filter.clone()).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::error::from_sdk("DescribeNetworkInterfaces", e))?;
        held.extend(page.network_interfaces().iter().filter(|n| holds(n)).map(describe_interface));
    }
    Ok(held)
}

/// The network interfaces in the subnet or group `within` that `holds` picks, described:
/// [`interfaces`], with the describes of waits about other subnets (or groups) at about the
/// same time made in one call ([`crate::batch`]; the `subnet-id` and `group-id` filters take
/// many values).
pub async fn interfaces_in(
    cx: &Cx<'_>,
    within: Within<'_>,
    holds: impl Fn(&aws_sdk_ec2::types::NetworkInterface) -> bool,
) -> Result<Vec<String>, AwsError> {
    let (coalescer, filter, id) = match within {
        Within::Subnet(id) => (&cx.run.subnet_interfaces, "subnet-id", id),
        Within::Group(id) => (&cx.run.group_interfaces, "group-id", id),
    };
    let ec2 = cx.clients.ec2.clone();
    let listed = coalescer
        .get(id, "DescribeNetworkInterfaces", move |ids| {
            let ec2 = ec2.clone();
            async move {
                let mut by: BTreeMap<String, Vec<aws_sdk_ec2::types::NetworkInterface>> = BTreeMap::new();
                let mut next: Option<String> = None;
                loop {
                    let out = ec2
                        .describe_network_interfaces()
                        .filters(Filter::builder().name(filter).set_values(Some(ids.clone())).build())
                        .set_next_token(next.take())
                        .send()
                        .await
                        .map_err(|e| crate::error::from_sdk("DescribeNetworkInterfaces", e))?;
                    for n in out.network_interfaces() {
                        let sits: Vec<&str> = match filter {
                            "subnet-id" => n.subnet_id().into_iter().collect(),
                            _ => n.groups().iter().filter_map(|g| g.group_id()).collect(),
                        };
                        for key in sits.into_iter().filter(|k| ids.iter().any(|i| i == k)) {
                            by.entry(key.to_string()).or_default().push(n.clone());
                        }
                    }
                    match out.next_token() {
                        Some(t) if !t.is_empty() => next = Some(t.to_string()),
                        _ => return Ok(by.into_iter().collect()),
                    }
                }
            }
        })
        .await?;
    Ok(listed.unwrap_or_default().iter().filter(|n| holds(n)).map(describe_interface).collect())
}

/// Waits until no network interface matching `filter` (and picked by `holds`) is left:
/// AWS releases the interfaces of a deleted load balancer, NAT gateway, mount target or
/// database asynchronously, seconds to minutes after their owner is gone, and refuses to
/// delete what they sit in meanwhile (AWS Knowledge Center, "troubleshoot-dependency-error-
/// delete-vpc"). The status names the holders; so does the error when `backoff`'s deadline
/// passes.
pub async fn wait_for_interfaces(
    cx: &Cx<'_>,
    filter: &Filter,
    what: &str,
    backoff: &Backoff,
    holds: impl Fn(&aws_sdk_ec2::types::NetworkInterface) -> bool,
) -> Result<(), AwsError> {
    let waiting = format!("the network interfaces in {what} to be released");
    wait_until_released(cx, &waiting, backoff, || interfaces(cx, filter, &holds)).await
}

/// Waits until `holders` finds nothing, showing what it finds meanwhile (`held by ...`).
async fn wait_until_released<H, HFut>(cx: &Cx<'_>, waiting: &str, backoff: &Backoff, holders: H) -> Result<(), AwsError>
where
    H: Fn() -> HFut,
    HFut: Future<Output = Result<Vec<String>, AwsError>>,
{
    cx.wait(waiting, backoff, || async {
        let held = holders().await?;
        Ok(if held.is_empty() {
            crate::poll::Check::Done(())
        } else {
            crate::poll::Check::Pending(format!("held by {}", held.join(", ")))
        })
    })
    .await
}

/// Whether AWS is still using the interface: `in-use` (attached to an instance, or held
/// by the service that owns it while it releases it). An `available` interface is nobody's
/// any more and AWS will not remove it by itself: waiting for it is pointless.
pub fn in_use(n: &aws_sdk_ec2::types::NetworkInterface) -> bool {
    n.status() != Some(&aws_sdk_ec2::types::NetworkInterfaceStatus::Available)
}

/// Deletes a subnet or a security group with `call`, never while something still holds it:
/// first waits until `holders` finds nothing (the network interfaces AWS is still
/// releasing), then deletes. AWS may still answer `DependencyViolation` (an interface it
/// had not listed yet, a detached one): then
/// the wait and the delete are repeated until the same deadline, as TF retries these
/// deletes on `DependencyViolation` (internal/service/ec2/vpc_subnet.go,
/// vpc_security_group.go). When the deadline passes, the error names what still holds the
/// object, as `blockers` tells.
pub async fn delete_when_unused<T, F, Fut, H, HFut, B, BFut>(
    cx: &Cx<'_>,
    what: &str,
    holders: H,
    mut blockers: B,
    mut call: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
    H: Fn() -> HFut,
    HFut: Future<Output = Result<Vec<String>, AwsError>>,
    B: FnMut() -> BFut,
    BFut: Future<Output = Result<Vec<String>, AwsError>>,
{
    let deadline = tokio::time::Instant::now() + cx.scaled(INTERFACES_GONE.deadline);
    let waiting = format!("{what} to be released");
    loop {
        // What is left of the deadline, in AWS's time (the wait scales it again).
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let backoff = Backoff { deadline: left.mul_f64(cx.clients.time_scale.max(1.0)), ..INTERFACES_GONE };
        wait_until_released(cx, &waiting, &backoff, &holders).await?;
        match call().await {
            Err(e) if e.is(Class::InUse) => {
                let held = blockers().await.unwrap_or_default();
                if tokio::time::Instant::now() >= deadline || cx.cancel.is_cancelled() {
                    return Err(e.naming("held by", &held));
                }
                cx.status(&format!("{what} is still in use by {}", held.join(", ")));
                tokio::time::sleep(cx.scaled(INTERFACES_GONE.first).max(crate::poll::MIN_DELAY)).await;
            }
            other => return gone_ok(other),
        }
    }
}

/// Ok(false) when `result` failed because the object does not exist.
pub fn exists_from<T>(result: Result<T, AwsError>, present: impl FnOnce(T) -> bool) -> Result<bool, AwsError> {
    Ok(found(result)?.is_some_and(present))
}

/// `None` when `result` failed because the object does not exist.
pub fn found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is(Class::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The error for a desired state that does not match the driver (a bug, not an AWS error).
pub fn mismatch(call: &str) -> AwsError {
    AwsError::new(call, Class::Fatal, "internal error: the object's settings do not match its kind")
}

/// The recorded id, or an error naming the object.
pub fn id(obj: &Object) -> Result<&str, AwsError> {
    obj.id.as_deref().ok_or_else(|| AwsError::new("read state", Class::Fatal, "the object has no recorded id"))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use tokio::time::Instant;

    use super::*;
    use crate::client::{connect, Connection};

    /// Clients that are never used for a request: the calls under test are closures.
    async fn clients(time_scale: f64) -> Clients {
        let c = Connection {
            region: "us-east-1".into(),
            endpoint_url: Some("http://127.0.0.1:9".into()),
            time_scale,
            ..Connection::default()
        };
        connect(&c).await
    }

    fn refusal(code: &str, class: Class) -> AwsError {
        AwsError { call: "Call".into(), code: Some(code.into()), message: "refused".into(), class }
    }

    macro_rules! cx {
        ($clients:expr, $fresh:expr) => {
            Cx {
                clients: &$clients,
                deployment: "d",
                deployment_id: "0",
                aws_name: "d-main",
                tags: &[],
                address: "vpc.main",
                objects: &BTreeMap::new(),
                graph: None,
                cancel: &Cancel::default(),
                progress: &Progress::detached(),
                fresh: $fresh,
                run: &RunContext::default(),
            }
        };
    }

    #[tokio::test(start_paused = true)]
    async fn a_documented_refusal_is_retried_until_its_window_closes() {
        let clients = clients(1.0).await;
        let cx = cx!(clients, false);
        let calls = Cell::new(0);
        let start = Instant::now();
        let in_use = |e: &AwsError| e.code_is(&["ResourceInUse"]);
        let r: Result<(), _> = cx
            .retry_refused(Duration::from_secs(120), in_use, || async {
                calls.set(calls.get() + 1);
                Err(refusal("ResourceInUse", Class::InUse))
            })
            .await;
        assert!(r.unwrap_err().code_is(&["ResourceInUse"]));
        // Tried until the two minutes are over, backing off from 250 ms up to 8 s.
        assert_eq!(start.elapsed(), Duration::from_secs(120));
        assert!((15..=25).contains(&calls.get()), "{} calls", calls.get());

        // The refusal goes away: the call succeeds, having waited only as long as it lasted.
        let calls = Cell::new(0);
        let start = Instant::now();
        let r = cx
            .retry_refused(Duration::from_secs(120), in_use, || async {
                calls.set(calls.get() + 1);
                if calls.get() < 4 {
                    Err(refusal("ResourceInUse", Class::InUse))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(start.elapsed(), Duration::from_millis(250 + 500 + 1000));

        // Any other error ends it at once.
        let start = Instant::now();
        let r: Result<(), _> = cx
            .retry_refused(Duration::from_secs(120), in_use, || async { Err(refusal("AccessDenied", Class::Auth)) })
            .await;
        assert!(r.unwrap_err().code_is(&["AccessDenied"]));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn windows_shrink_with_the_endpoints_time_scale() {
        let clients = clients(60.0).await;
        let cx = cx!(clients, true);
        let start = Instant::now();
        let r: Result<(), _> =
            cx.retry_fresh(|| async { Err(refusal("InvalidVpcID.NotFound", Class::NotFound)) }).await;
        assert!(r.is_err());
        // Five minutes of AWS's time are five seconds on a 60 times faster emulator.
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_is_retried_only_right_after_a_dependency_was_created() {
        let clients = clients(1.0).await;
        let calls = Cell::new(0);
        let cx = cx!(clients, false);
        let r: Result<(), _> = cx
            .retry_fresh(|| async {
                calls.set(calls.get() + 1);
                Err(refusal("InvalidSubnetID.NotFound", Class::NotFound))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1, "not fresh: a real error");
        let cx = cx!(clients, true);
        let start = Instant::now();
        let r: Result<(), _> =
            cx.retry_fresh(|| async { Err(refusal("InvalidSubnetID.NotFound", Class::NotFound)) }).await;
        assert!(r.is_err());
        assert_eq!(start.elapsed(), PROPAGATION);
    }

    /// What `create_untokened` did: the number of create calls and of look-ups.
    async fn untokened(answers: &[Result<u32, AwsError>], found: Option<u32>) -> (Result<u32, AwsError>, usize, usize) {
        let clients = clients(1.0).await;
        let cx = cx!(clients, false);
        let creates = Cell::new(0);
        let finds = Cell::new(0);
        let r = create_untokened(
            &cx,
            || async {
                let i = creates.get();
                creates.set(i + 1);
                answers[i.min(answers.len() - 1)].clone()
            },
            || async {
                finds.set(finds.get() + 1);
                Ok(found)
            },
        )
        .await;
        (r, creates.get(), finds.get())
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_create_looks_for_its_object_before_trying_again() {
        let lost = AwsError::new("CreateVpc", Class::Unreachable, "connection closed");
        // The call was carried out: found, never sent twice.
        let (r, creates, finds) = untokened(&[Err(lost.clone()), Ok(2)], Some(1)).await;
        assert_eq!((r.unwrap(), creates, finds), (1, 1, 1));
        // It was not: sent again.
        let (r, creates, finds) = untokened(&[Err(lost.clone()), Ok(2)], None).await;
        assert_eq!((r.unwrap(), creates, finds), (2, 2, 1));
        // A server error says as little.
        let server = AwsError::new("CreateVpc", Class::ServerError, "InternalError");
        let (r, creates, _) = untokened(&[Err(server), Ok(2)], None).await;
        assert_eq!((r.unwrap(), creates), (2, 2));
        // A conflict after an unanswered attempt is that attempt's object, if it can be found.
        let conflict = refusal("InvalidSubnet.Conflict", Class::InvalidInput);
        let (r, creates, finds) = untokened(&[Err(lost.clone()), Err(conflict.clone())], None).await;
        assert!(r.unwrap_err().code_is(&["InvalidSubnet.Conflict"]));
        assert_eq!((creates, finds), (2, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_create_is_sent_again_and_other_errors_are_final() {
        let throttled = refusal("RequestLimitExceeded", Class::Throttled);
        let start = Instant::now();
        let (r, creates, finds) = untokened(&[Err(throttled.clone()), Err(throttled.clone()), Ok(3)], None).await;
        assert_eq!((r.unwrap(), creates, finds), (3, 3, 0));
        // Backed off between attempts as the retry policy says: half to all of 0.5 s, then
        // of 1 s.
        assert!(start.elapsed() >= Duration::from_millis(750), "{:?}", start.elapsed());
        assert!(start.elapsed() <= Duration::from_millis(1500), "{:?}", start.elapsed());
        let (r, creates, finds) = untokened(&[Err(refusal("AccessDenied", Class::Auth))], None).await;
        assert!(r.unwrap_err().code_is(&["AccessDenied"]));
        assert_eq!((creates, finds), (1, 0));
        // Throttled every time: gives up after the SDK's number of attempts.
        let (r, creates, _) = untokened(&[Err(throttled)], None).await;
        assert!(r.unwrap_err().is(Class::Throttled));
        assert_eq!(creates, UNTOKENED_ATTEMPTS as usize);
    }
}
