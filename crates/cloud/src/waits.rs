//! How strato waits on AWS: the poll schedule of every kind's waits and the retry policy of
//! every call. The drivers wait with these (through `strato-aws`'s poller) and the simulated
//! AWS replays them, so a change here shows in the benchmark.
//!
//! Each wait checks at once, then after `first`, doubling up to `max`, each delay jittered
//! per waiter ([`strato_engine::pace::Schedule`]). The values follow the times of §1 of
//! AWS's behaviour (creation times per kind, seen in the AWS consoles and in
//! terraform-provider-aws's timeouts): `max` is a few seconds, under a tenth of the kind's
//! usual time (a Multi-AZ database that takes twelve minutes is seen within five seconds,
//! the interfaces that hold a subnet during a destroy within two), while checks stay cheap:
//! no wait checks more often than every three seconds on average, well inside the describe
//! buckets ([`crate::limits`]). The AWS SDKs' generated waiters poll from 15–30 s up to
//! 120 s, and Terraform's every 10 s after an initial delay of up to a minute: each costs up
//! to that much per object on the critical path. The simulated AWS (`strato-sim`) measures
//! the trade: how close to the critical path a run stays, and how many calls each object
//! costs.

use std::time::Duration;

use strato_engine::pace::{Backoff, RetryPolicy};
use strato_graph::Kind;

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A VPC (available in 1–5 s).
pub const QUICK: Backoff = Backoff::new(secs(1), secs(5), secs(2 * 60));
/// A NAT gateway: available in about 100 s (60–180 s, rarely 10 min).
pub const NAT_READY: Backoff = Backoff::new(secs(2), secs(8), secs(15 * 60));
/// A NAT gateway: deleted in about 60 s (30–120 s).
pub const NAT_GONE: Backoff = Backoff::new(secs(2), secs(8), secs(10 * 60));
/// A database: available in 6 min single-AZ, 12 min Multi-AZ (8–25 min).
pub const RDS_READY: Backoff = Backoff::new(secs(5), secs(5), secs(60 * 60));
/// A database: deleted in 5 to 7 min (4–15 min); the long pole of a destroy, so looked at
/// a little more often.
pub const RDS_GONE: Backoff = Backoff::new(secs(2), secs(3), secs(60 * 60));
/// An instance: running in about 30 s (10–60 s), terminated in about 45 s.
pub const INSTANCE: Backoff = Backoff::new(secs(2), secs(5), secs(30 * 60));
/// A load balancer: active in 2–2.5 min (rarely 10–30 min); gone soon after its delete.
pub const LOAD_BALANCER: Backoff = Backoff::new(secs(2), secs(8), secs(30 * 60));
/// An EFS file system (5–15 s) or mount target (about 85 s, 60–150 s, rarely over 10 min).
pub const EFS: Backoff = Backoff::new(secs(1), secs(5), secs(30 * 60));
/// The network interfaces a deleted load balancer, NAT gateway, mount target or database
/// leaves behind: released seconds to minutes after their owner is gone.
pub const INTERFACES_GONE: Backoff = Backoff::new(secs(1), secs(2), secs(15 * 60));
/// Before an internet gateway is detached: the public addresses mapped in its VPC (a
/// deleted load balancer's interfaces linger 1–5+ min).
pub const PUBLIC_ADDRESSES_GONE: Backoff = Backoff::new(INTERFACES_GONE.first, INTERFACES_GONE.max, secs(20 * 60));

/// How many times a call is sent at most, throttled or unanswered: the SDK's standard mode
/// with more attempts than its default of 3 (terraform-provider-aws configures 25 for EC2),
/// exponential backoff with full jitter from 0.5 s up to 20 s (the SDK's cap).
pub const RETRY: RetryPolicy = RetryPolicy { max_attempts: 8, initial: Duration::from_millis(500), max: secs(20) };

/// The waits of a kind's provision and destroy, as its driver makes them.
#[derive(Clone, Debug, Default)]
pub struct Waits {
    /// After the create, until the object is usable.
    pub ready: Option<Backoff>,
    /// After the delete, until AWS no longer has it.
    pub gone: Option<Backoff>,
    /// Before its delete, until the network interfaces left in it are released (subnets
    /// and security groups; an internet gateway's public addresses).
    pub released: Option<Backoff>,
}

/// The waits each kind's driver makes.
pub fn of(kind: Kind) -> Waits {
    let w = |ready: Option<&Backoff>, gone: Option<&Backoff>, released: Option<&Backoff>| Waits {
        ready: ready.cloned(),
        gone: gone.cloned(),
        released: released.cloned(),
    };
    match kind {
        Kind::Vpc => w(Some(&QUICK), None, None),
        Kind::NatGateway => w(Some(&NAT_READY), Some(&NAT_GONE), None),
        Kind::DbInstance => w(Some(&RDS_READY), Some(&RDS_GONE), None),
        Kind::Instance => w(Some(&INSTANCE), Some(&INSTANCE), None),
        Kind::LoadBalancer => w(Some(&LOAD_BALANCER), Some(&LOAD_BALANCER), None),
        Kind::FileSystem | Kind::MountTarget => w(Some(&EFS), Some(&EFS), None),
        Kind::Subnet | Kind::SecurityGroup => w(None, None, Some(&INTERFACES_GONE)),
        Kind::InternetGateway => w(None, None, Some(&PUBLIC_ADDRESSES_GONE)),
        Kind::ElasticIp
        | Kind::RouteTable
        | Kind::Route
        | Kind::RouteTableAssociation
        | Kind::SecurityGroupRules
        | Kind::KeyPair
        | Kind::Certificate
        | Kind::InstanceRole
        | Kind::DbSubnetGroup
        | Kind::TargetGroup
        | Kind::Listener
        | Kind::ListenerRule
        | Kind::TargetRegistration => Waits::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every wait notices readiness within a tenth of its kind's usual time (or 5 s), and
    /// checks no more often than every few seconds on average doing so.
    #[test]
    fn waits_notice_readiness_soon_and_cheaply() {
        let d = strato_graph::Durations::default();
        for kind in Kind::ALL {
            let Some(ready) = of(kind).ready else { continue };
            let typical = match kind {
                Kind::DbInstance => u64::from(d.multi_az_db_ready),
                _ => u64::from(kind.info().secs.1),
            };
            let typical = Duration::from_secs(typical);
            assert!(ready.max <= typical / 10 || ready.max <= secs(5), "{kind}: {ready:?}");
            let mut s = ready.schedule(1);
            let (mut t, mut checks) = (Duration::ZERO, 1);
            while t < typical {
                t += s.next_delay();
                checks += 1;
            }
            assert!(checks <= 3 + typical.as_secs() / 3, "{kind}: {checks} checks in {typical:?}");
        }
    }
}
