//! The work the engine runs against the simulated cloud: strato's (the calls each driver
//! makes, the waits it makes with the poll schedules of [`strato_cloud::waits`]) and a
//! Terraform-style policy's (one slot per resource for its whole wait, waiters that start
//! late and poll every 10 s).

use std::sync::Arc;
use std::time::Duration;

use strato_cloud::limits::{EC2, ELB, RDS};
use strato_engine::pace::{mix, seed_of, Backoff};
use strato_engine::{BoxFuture, Progress, TaskError, TaskId, Work};
use strato_graph::Kind;
use tokio::time::Instant;

use crate::cloud::{CallError, Cloud};

type Op = (&'static str, &'static str);

/// The calls strato's driver of `kind` makes to create an object, in order
/// (crates/aws/src/drivers/<kind>.rs); [`creating`] says which one creates it.
pub fn create_ops(kind: Kind) -> &'static [Op] {
    match kind {
        Kind::Vpc => &[(EC2, "CreateVpc"), (EC2, "ModifyVpcAttribute"), (EC2, "ModifyVpcAttribute")],
        Kind::Subnet => &[(EC2, "CreateSubnet")],
        Kind::InternetGateway => &[(EC2, "CreateInternetGateway"), (EC2, "AttachInternetGateway")],
        Kind::ElasticIp => &[(EC2, "AllocateAddress")],
        Kind::NatGateway => &[(EC2, "CreateNatGateway")],
        Kind::RouteTable => &[(EC2, "CreateRouteTable")],
        Kind::Route => &[(EC2, "CreateRoute")],
        Kind::RouteTableAssociation => &[(EC2, "AssociateRouteTable")],
        Kind::SecurityGroup => &[(EC2, "CreateSecurityGroup")],
        Kind::SecurityGroupRules => &[(EC2, "AuthorizeSecurityGroupIngress")],
        Kind::KeyPair => &[(EC2, "ImportKeyPair")],
        Kind::Certificate => &[("ACM", "ImportCertificate")],
        Kind::InstanceRole => &[
            ("IAM", "CreateRole"),
            ("IAM", "PutRolePolicy"),
            ("IAM", "CreateInstanceProfile"),
            ("IAM", "AddRoleToInstanceProfile"),
        ],
        Kind::DbSubnetGroup => &[(RDS, "CreateDBSubnetGroup")],
        Kind::DbInstance => &[(RDS, "CreateDBInstance")],
        Kind::FileSystem => &[("EFS", "CreateFileSystem")],
        Kind::MountTarget => &[("EFS", "CreateMountTarget")],
        // Fresh subnets and groups visible first (`Cx::until_visible`), then the launch.
        Kind::Instance => &[(EC2, "DescribeSubnets"), (EC2, "DescribeSecurityGroups"), (EC2, "RunInstances")],
        Kind::LoadBalancer => &[
            (EC2, "DescribeSubnets"),
            (EC2, "DescribeSecurityGroups"),
            (ELB, "CreateLoadBalancer"),
            (ELB, "ModifyLoadBalancerAttributes"),
        ],
        Kind::TargetGroup => &[(ELB, "CreateTargetGroup"), (ELB, "ModifyTargetGroupAttributes")],
        Kind::Listener => &[(ELB, "CreateListener")],
        Kind::ListenerRule => &[(ELB, "CreateRule")],
        Kind::TargetRegistration => &[(ELB, "RegisterTargets")],
    }
}

/// Which of [`create_ops`] creates the object: the first, but for the kinds that first wait
/// for their fresh subnets and groups to be visible.
pub fn creating(kind: Kind) -> usize {
    match kind {
        Kind::Instance | Kind::LoadBalancer => 2,
        _ => 0,
    }
}

/// The call strato's driver of `kind` deletes with (for an internet gateway, the detach
/// AWS may refuse), and the calls after it.
pub fn delete_ops(kind: Kind) -> &'static [Op] {
    match kind {
        Kind::Vpc => &[(EC2, "DeleteVpc")],
        Kind::Subnet => &[(EC2, "DeleteSubnet")],
        Kind::InternetGateway => &[(EC2, "DetachInternetGateway"), (EC2, "DeleteInternetGateway")],
        Kind::ElasticIp => &[(EC2, "ReleaseAddress")],
        Kind::NatGateway => &[(EC2, "DeleteNatGateway")],
        Kind::RouteTable => &[(EC2, "DeleteRouteTable")],
        Kind::Route => &[(EC2, "DeleteRoute")],
        Kind::RouteTableAssociation => &[(EC2, "DisassociateRouteTable")],
        Kind::SecurityGroup => &[(EC2, "DeleteSecurityGroup")],
        Kind::SecurityGroupRules => &[(EC2, "RevokeSecurityGroupIngress")],
        Kind::KeyPair => &[(EC2, "DeleteKeyPair")],
        Kind::Certificate => &[("ACM", "DeleteCertificate")],
        Kind::InstanceRole => &[
            ("IAM", "RemoveRoleFromInstanceProfile"),
            ("IAM", "DeleteInstanceProfile"),
            ("IAM", "ListRolePolicies"),
            ("IAM", "DeleteRolePolicy"),
            ("IAM", "DeleteRole"),
        ],
        Kind::DbSubnetGroup => &[(RDS, "DeleteDBSubnetGroup")],
        Kind::DbInstance => &[(RDS, "DeleteDBInstance")],
        Kind::FileSystem => &[("EFS", "DeleteFileSystem")],
        Kind::MountTarget => &[("EFS", "DeleteMountTarget")],
        Kind::Instance => &[(EC2, "TerminateInstances")],
        Kind::LoadBalancer => &[(ELB, "DeleteLoadBalancer")],
        Kind::TargetGroup => &[(ELB, "DeleteTargetGroup")],
        Kind::Listener => &[(ELB, "DeleteListener")],
        Kind::ListenerRule => &[(ELB, "DeleteRule")],
        Kind::TargetRegistration => &[(ELB, "DeregisterTargets")],
    }
}

/// The describe call a wait on `kind` checks with.
pub fn check_op(kind: Kind) -> Op {
    match kind {
        Kind::Vpc => (EC2, "DescribeVpcs"),
        Kind::NatGateway => (EC2, "DescribeNatGateways"),
        Kind::DbInstance => (RDS, "DescribeDBInstances"),
        Kind::FileSystem => ("EFS", "DescribeFileSystems"),
        Kind::MountTarget => ("EFS", "DescribeMountTargets"),
        Kind::Instance => (EC2, "DescribeInstances"),
        Kind::LoadBalancer => (ELB, "DescribeLoadBalancers"),
        // Subnets, groups and internet gateways wait for network interfaces.
        _ => (EC2, "DescribeNetworkInterfaces"),
    }
}

/// Whether a run provisions or destroys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Provision,
    Destroy,
}

/// How a policy waits.
#[derive(Clone, Debug)]
pub enum Waiting {
    /// strato's: the kind's backoff from [`strato_cloud::waits`], checked at once, jittered
    /// per waiter; the engine slot given back while waiting.
    Strato,
    /// Terraform's: the slot held throughout; the first check after the waiter's delay,
    /// then one every `every`.
    Terraform { every: Duration },
}

/// The engine's work on the simulated cloud: task `i` is object `objects[i]`.
pub struct SimWork {
    pub cloud: Arc<Cloud>,
    pub phase: Phase,
    pub objects: Vec<usize>,
    pub waiting: Waiting,
    /// The objects whose deletes go with another's ([`strato_cloud::implied_deletes`]):
    /// their tasks make no call.
    pub implied: Vec<bool>,
}

/// terraform-provider-aws's waiter delays before their first check: a database's 1 min
/// (internal/service/rds/instance.go, `waitDBInstanceAvailableSDKv1`: `Delay: 1 *
/// time.Minute`, `PollInterval: 10 * time.Second`), a load balancer's 30 s
/// (internal/service/elbv2/load_balancer.go, `waitLoadBalancerActive`: `Delay: 30 *
/// time.Second`, `MinTimeout: 10 * time.Second`), an instance's 10 s
/// (internal/service/ec2/wait.go, `WaitInstanceCreated`: `Delay: 10 * time.Second`); the
/// others check at once. After that every check is 10 s apart ([`Waiting::Terraform`]).
/// (The database waiter also wants three `available` answers in a row,
/// `ContinuousTargetOccurence: 3`, which the policy here leaves out in Terraform's favour.)
pub fn terraform_delay(kind: Kind) -> Duration {
    match kind {
        Kind::DbInstance => Duration::from_secs(60),
        Kind::LoadBalancer => Duration::from_secs(30),
        Kind::Instance => Duration::from_secs(10),
        _ => Duration::ZERO,
    }
}

/// How long a wait may take at most before the task fails.
const DEADLINE: Duration = Duration::from_secs(3 * 60 * 60);

impl SimWork {
    fn err(&self, obj: usize, e: CallError) -> TaskError {
        TaskError(format!("{}: {e}", self.cloud.names[obj]))
    }

    /// Waits until `done`, checking with `op`: strato's schedule or Terraform's. A check
    /// that is throttled on every attempt has learnt nothing, and the wait goes on (as
    /// `strato-aws`'s poller does).
    async fn wait(
        &self,
        obj: usize,
        what: &str,
        backoff: &Backoff,
        progress: &Progress,
        done: impl Fn(&Cloud) -> bool,
    ) -> Result<(), TaskError> {
        let kind = self.cloud.kinds[obj];
        let (service, op) = check_op(kind);
        let start = Instant::now();
        let deadline = match self.waiting {
            Waiting::Strato => backoff.deadline,
            Waiting::Terraform { .. } => DEADLINE,
        };
        let mut schedule = backoff.schedule(mix(self.cloud.seed, seed_of(&[&self.cloud.names[obj], what])));
        match self.waiting {
            Waiting::Strato => progress.waiting(),
            Waiting::Terraform { .. } => tokio::time::sleep(terraform_delay(kind)).await,
        }
        loop {
            match self.cloud.call(obj, service, op, None, |c, _| Ok(done(c))).await {
                Ok(true) => return Ok(()),
                Ok(false) | Err(CallError::Throttled(_)) => {}
                Err(e) => return Err(self.err(obj, e)),
            }
            if start.elapsed() >= deadline {
                return Err(TaskError(format!(
                    "{}: still waiting for {what} after {deadline:?}",
                    self.cloud.names[obj]
                )));
            }
            let delay = match self.waiting {
                Waiting::Strato => schedule.next_delay(),
                Waiting::Terraform { every } => every,
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn provision(&self, obj: usize, progress: Progress) -> Result<(), TaskError> {
        let kind = self.cloud.kinds[obj];
        progress.status("creating");
        let latency = self.cloud.samples[obj].create;
        for (k, (service, op)) in create_ops(kind).iter().enumerate() {
            let r = if k == creating(kind) {
                self.cloud.call(obj, service, op, Some(latency), |c, sent| c.create(obj, sent)).await
            } else {
                self.cloud.call(obj, service, op, None, |_, _| Ok(())).await
            };
            r.map_err(|e| self.err(obj, e))?;
        }
        if matches!(self.waiting, Waiting::Strato) {
            progress.created();
        }
        if let Some(ready) = strato_cloud::waits::of(kind).ready {
            self.wait(obj, "ready", &ready, &progress, |c| c.is_ready(obj)).await?;
        }
        Ok(())
    }

    async fn destroy(&self, obj: usize, progress: Progress) -> Result<(), TaskError> {
        let kind = self.cloud.kinds[obj];
        if self.implied[obj] {
            // Deleted with its parent, whose task ran first.
            return Ok(());
        }
        let waits = strato_cloud::waits::of(kind);
        progress.status("deleting");
        let ops = delete_ops(kind);
        let (service, op) = ops[0];
        let started = Instant::now();
        loop {
            if let (Some(released), Waiting::Strato) = (&waits.released, &self.waiting) {
                // `delete_when_unused` and the internet gateway's detach: no delete while
                // interfaces are still in it.
                self.wait(obj, "released", released, &progress, |c| c.holders(obj).is_empty()).await?;
            }
            let latency = Some(self.cloud.samples[obj].delete);
            match self.cloud.call(obj, service, op, latency, |c, sent| c.delete(obj, sent)).await {
                Ok(()) => break,
                // Refused while interfaces are being released: strato waits for them again
                // (`delete_when_unused`); Terraform retries the delete on
                // `DependencyViolation` (internal/service/ec2/vpc_subnet.go,
                // vpc_security_group.go, vpc_internet_gateway.go), here every 10 s.
                Err(CallError::Refused(_)) if waits.released.is_some() && started.elapsed() < DEADLINE => {
                    let pause = match self.waiting {
                        Waiting::Strato => strato_cloud::waits::INTERFACES_GONE.first,
                        Waiting::Terraform { every } => every,
                    };
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(self.err(obj, e)),
            }
        }
        for (service, op) in &ops[1..] {
            self.cloud.call(obj, service, op, None, |_, _| Ok(())).await.map_err(|e| self.err(obj, e))?;
        }
        if matches!(self.waiting, Waiting::Strato) {
            progress.created();
        }
        if let Some(gone) = waits.gone {
            self.wait(obj, "gone", &gone, &progress, |c| c.is_gone(obj)).await?;
        }
        Ok(())
    }
}

/// The engine's work, shared between runs.
#[derive(Clone)]
pub struct Shared(pub Arc<SimWork>);

impl Work for Shared {
    fn run(&self, id: TaskId, progress: Progress) -> BoxFuture<Result<(), TaskError>> {
        let this = self.0.clone();
        Box::pin(async move {
            let obj = this.objects[id.0];
            match this.phase {
                Phase::Provision => this.provision(obj, progress).await,
                Phase::Destroy => this.destroy(obj, progress).await,
            }
        })
    }
}
