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
use strato_graph::{Desired, Graph, Kind, NodeId};
use strato_state::Object;

use crate::client::Clients;
use crate::error::{AwsError, Class};
use crate::poll::Backoff;

mod certificate;
mod db_instance;
mod db_subnet_group;
mod elastic_ip;
mod file_system;
mod instance;
mod internet_gateway;
mod key_pair;
mod listener;
mod listener_rule;
mod load_balancer;
mod mount_target;
mod nat_gateway;
mod route;
mod route_table;
mod route_table_association;
mod security_group;
mod security_group_rules;
mod subnet;
mod target_group;
mod target_registration;
mod vpc;

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
    /// The deployment's CSR challenge for Puppet autosigning (user data only).
    pub csr_challenge: String,
    pub destroy: DestroyOptions,
    /// Image ids already resolved from SSM parameters in this run.
    pub images: std::sync::Mutex<BTreeMap<String, String>>,
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

/// Tag key holding the deployment name.
pub const TAG_DEPLOYMENT: &str = "strato:deployment";
/// Tag key holding the object's logical address in the spec.
pub const TAG_ADDRESS: &str = "strato:address";

/// Everything a driver call may use.
pub struct Cx<'a> {
    pub clients: &'a Clients,
    pub deployment: &'a str,
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

    /// The recorded id of the dependency of `obj` whose address starts with `prefix`
    /// (`"file_system."`): how `find` reaches the parents of an object recorded only as an
    /// intent, in provision and destroy alike.
    pub fn dependency_id(&self, obj: &Object, prefix: &str) -> Option<&str> {
        let address = obj.depends_on.iter().find(|a| a.starts_with(prefix))?;
        self.objects.get(address)?.id.as_deref()
    }

    /// The text between the last `[` and `]` of this object's address: the port of a
    /// listener, the priority of a rule.
    pub fn address_key(&self) -> Option<&str> {
        self.address.rsplit_once('[')?.1.strip_suffix(']')
    }

    pub fn kind_of(&self, node: NodeId) -> Option<Kind> {
        self.graph.map(|g| g.node(node).kind)
    }

    /// The `Name` tag value: the deployment and the object's name.
    pub fn name(&self) -> String {
        let rest = self.address.split_once('.').map_or(self.address, |(_, r)| r);
        format!("{}-{rest}", self.deployment)
    }

    pub fn tag_list(&self) -> Vec<Tag> {
        let mut tags = vec![
            Tag::builder().key("Name").value(self.name()).build(),
            Tag::builder().key(TAG_DEPLOYMENT).value(self.deployment).build(),
            Tag::builder().key(TAG_ADDRESS).value(self.address).build(),
        ];
        for (k, v) in self.tags {
            tags.push(Tag::builder().key(k).value(v).build());
        }
        tags
    }

    pub fn tag_spec(&self, resource: ResourceType) -> TagSpecification {
        TagSpecification::builder().resource_type(resource).set_tags(Some(self.tag_list())).build()
    }

    /// Filters that find this object by its tags.
    pub fn tag_filters(&self) -> Vec<Filter> {
        vec![
            Filter::builder().name(format!("tag:{TAG_DEPLOYMENT}")).values(self.deployment).build(),
            Filter::builder().name(format!("tag:{TAG_ADDRESS}")).values(self.address).build(),
        ]
    }

    pub fn status(&self, s: &str) {
        self.progress.status(s);
    }

    /// Runs `call`, retrying "not found" answers about just-created dependencies for up to
    /// two minutes (AWS is eventually consistent); anywhere else they are real errors.
    pub async fn retry_fresh<T, F, Fut>(&self, call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        self.retry_fresh_when(|_| false, call).await
    }

    /// [`Cx::retry_fresh`], also retrying errors `also` accepts (some APIs answer a missing
    /// dependency with `InvalidParameterValue`).
    pub async fn retry_fresh_when<T, F, Fut>(
        &self,
        also: impl Fn(&AwsError) -> bool,
        mut call: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        const WINDOW: Duration = Duration::from_secs(120);
        let start = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(250);
        loop {
            match call().await {
                Err(e)
                    if self.fresh
                        && (e.is(Class::NotFound) || also(&e))
                        && start.elapsed() < WINDOW
                        && !self.cancel.is_cancelled() =>
                {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(8));
                }
                other => return other,
            }
        }
    }
}

/// How long to wait for kinds that become ready slowly, and how often to look.
pub const NAT_READY: Backoff =
    Backoff::new(Duration::from_secs(5), Duration::from_secs(15), Duration::from_secs(15 * 60));
pub const NAT_GONE: Backoff =
    Backoff::new(Duration::from_secs(5), Duration::from_secs(15), Duration::from_secs(10 * 60));
pub const RDS_READY: Backoff =
    Backoff::new(Duration::from_secs(15), Duration::from_secs(30), Duration::from_secs(60 * 60));
pub const RDS_GONE: Backoff =
    Backoff::new(Duration::from_secs(15), Duration::from_secs(30), Duration::from_secs(60 * 60));
pub const SLOW: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(15), Duration::from_secs(30 * 60));
pub const QUICK: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), Duration::from_secs(2 * 60));

#[async_trait]
pub trait Driver: Send + Sync {
    /// Creates the object as `desired` says; `token` is the run's idempotency token for it.
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, token: &str) -> Result<Created, AwsError>;

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

/// How long AWS-managed network interfaces (of deleted load balancers, NAT gateways, mount
/// targets, databases) may take to be released.
pub const INTERFACES_GONE: Backoff =
    Backoff::new(Duration::from_secs(5), Duration::from_secs(15), Duration::from_secs(15 * 60));

/// Deletes with `call`. When AWS answers that something still uses the object, waits until
/// no network interface matches `filter` (they are released asynchronously after their
/// owner is deleted), naming the ones that hold it, then tries again.
pub async fn delete_after_interfaces<T, F, Fut>(
    cx: &Cx<'_>,
    filter: Filter,
    what: &str,
    mut call: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    for _ in 0..3 {
        match call().await {
            Err(e) if e.is(Class::InUse) => {
                let waiting = format!("the network interfaces in {what} to be released");
                crate::poll::until(
                    &waiting,
                    &INTERFACES_GONE,
                    cx.cancel,
                    |s| cx.status(s),
                    || async {
                        let out = cx
                            .clients
                            .ec2
                            .describe_network_interfaces()
                            .filters(filter.clone())
                            .send()
                            .await
                            .map_err(|e| crate::error::from_sdk("DescribeNetworkInterfaces", e))?;
                        let held: Vec<String> = out
                            .network_interfaces()
                            .iter()
                            .map(|n| {
                                format!(
                                    "{} ({})",
                                    n.network_interface_id().unwrap_or("?"),
                                    n.description().unwrap_or("no description")
                                )
                            })
                            .collect();
                        Ok(if held.is_empty() {
                            crate::poll::Check::Done(())
                        } else {
                            crate::poll::Check::Pending(format!("held by {}", held.join(", ")))
                        })
                    },
                )
                .await?;
            }
            other => return gone_ok(other),
        }
    }
    gone_ok(call().await)
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
