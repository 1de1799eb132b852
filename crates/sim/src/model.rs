//! How long AWS takes, per kind: seeded distributions fitted to the times of real AWS
//! (shared/aws-behaviour.md §1, from the AWS consoles and terraform-provider-aws's
//! timeouts). Each is a log-normal with the kind's p50 as its median, its usual range as
//! (about) its 1st to 99th percentiles, clamped to that range, and a rare long tail drawn
//! uniformly from its own range (a NAT gateway or load balancer that takes ten minutes).
//!
//! The medians are those the engine ranks tasks by ([`strato_graph::KINDS`] and
//! [`strato_graph::Durations`]), so the long poles the plan expects are the long poles the
//! simulated cloud has.

use std::time::Duration;

use strato_engine::pace::{mix, unit};
use strato_graph::{Durations, Kind, Node};

/// A duration distribution, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dist {
    pub p50: f64,
    pub lo: f64,
    pub hi: f64,
    /// The chance of a long tail, and its range.
    pub tail: Option<(f64, f64, f64)>,
}

impl Dist {
    const fn new(p50: f64, lo: f64, hi: f64) -> Dist {
        Dist { p50, lo, hi, tail: None }
    }

    const fn with_tail(self, p: f64, lo: f64, hi: f64) -> Dist {
        Dist { tail: Some((p, lo, hi)), ..self }
    }

    /// A sample from the stream `seed`.
    pub fn sample(&self, seed: u64) -> Duration {
        let (a, b, c) = (mix(seed, 1), mix(seed, 2), mix(seed, 3));
        if let Some((p, lo, hi)) = self.tail {
            if unit(a) < p {
                return Duration::from_secs_f64(lo + (hi - lo) * unit(b));
            }
        }
        // Box–Muller: a standard normal from two uniforms.
        let z = (-2.0 * (1.0 - unit(b)).ln()).sqrt() * (std::f64::consts::TAU * unit(c)).cos();
        let sigma = (self.hi / self.p50).ln().max((self.p50 / self.lo).ln()) / 2.326;
        let x = (self.p50 * (sigma * z).exp()).clamp(self.lo, self.hi);
        Duration::from_secs_f64(x)
    }
}

/// How long one API call takes to be answered: about 90 ms, 40 to 400 ms.
pub const CALL: Dist = Dist::new(0.09, 0.04, 0.4);

/// What AWS takes for one object of a kind.
#[derive(Clone, Copy, Debug)]
pub struct Times {
    /// From the create call until the object is usable; `None`: usable once the create
    /// call returns.
    pub ready: Option<Dist>,
    /// From the delete call until AWS no longer has the object; `None`: gone once the
    /// delete call returns.
    pub gone: Option<Dist>,
    /// How long its network interfaces outlive it (§2: AWS releases the interfaces of a
    /// deleted load balancer, NAT gateway, mount target or database asynchronously).
    pub linger: Option<Dist>,
}

/// The times of `node`'s kind, with the spec's Multi-AZ choice. The p50s come from the
/// kind's row of [`strato_graph::KINDS`] (and [`Durations`] for Multi-AZ databases), the
/// ranges and tails from §1.
pub fn times(node: &Node) -> Times {
    let (_, ready) = node.kind.info().secs;
    let ready = f64::from(ready);
    let gone = f64::from(node.kind.destroy_secs());
    let t = |ready: Option<Dist>, gone: Option<Dist>, linger: Option<Dist>| Times { ready, gone, linger };
    match node.kind {
        // Available in 1–5 s.
        Kind::Vpc => t(Some(Dist::new(ready, 1.0, 5.0)), None, None),
        // ~100 s (60–180 s, rarely 10 min); deleted in ~60 s (30–120 s); its interface
        // goes with it within seconds to a minute (est).
        Kind::NatGateway => t(
            Some(Dist::new(ready, 60.0, 180.0).with_tail(0.01, 300.0, 600.0)),
            Some(Dist::new(gone, 30.0, 120.0)),
            Some(Dist::new(10.0, 2.0, 60.0)),
        ),
        // Single-AZ ~6 min (4–10), deleted in ~5 min; Multi-AZ ~12 min (8–25), deleted
        // in ~7 min (4–15); interfaces released within seconds to two minutes (est).
        Kind::DbInstance if node.multi_az => t(
            Some(Dist::new(f64::from(Durations::default().multi_az_db_ready), 480.0, 1500.0)),
            Some(Dist::new(gone, 240.0, 900.0)),
            Some(Dist::new(30.0, 5.0, 120.0)),
        ),
        Kind::DbInstance => t(
            Some(Dist::new(ready, 240.0, 600.0)),
            Some(Dist::new(300.0, 200.0, 600.0)),
            Some(Dist::new(30.0, 5.0, 120.0)),
        ),
        // Running in ~30 s (10–60 s); terminated in ~45 s.
        Kind::Instance => t(Some(Dist::new(ready, 10.0, 60.0)), Some(Dist::new(gone, 20.0, 90.0)), None),
        // Active in 2–2.5 min (rarely 10–30 min); the delete returns at once and the load
        // balancer is gone in seconds, but its interfaces linger ~1 min (up to 5+).
        Kind::LoadBalancer => t(
            Some(Dist::new(ready, 100.0, 180.0).with_tail(0.01, 600.0, 1800.0)),
            Some(Dist::new(2.0, 1.0, 5.0)),
            Some(Dist::new(60.0, 20.0, 300.0)),
        ),
        // 5–15 s either way.
        Kind::FileSystem => t(Some(Dist::new(ready, 5.0, 15.0)), Some(Dist::new(10.0, 5.0, 15.0)), None),
        // ~85 s (60–150 s, rarely over 10 min); deleted in 30–60 s (est); interfaces
        // released within a minute (est).
        Kind::MountTarget => t(
            Some(Dist::new(ready, 60.0, 150.0).with_tail(0.01, 600.0, 900.0)),
            Some(Dist::new(gone, 30.0, 60.0)),
            Some(Dist::new(20.0, 5.0, 60.0)),
        ),
        // Usable once their calls return (strato waits on nothing more for them).
        Kind::Subnet
        | Kind::InternetGateway
        | Kind::ElasticIp
        | Kind::RouteTable
        | Kind::Route
        | Kind::RouteTableAssociation
        | Kind::SecurityGroup
        | Kind::SecurityGroupRules
        | Kind::KeyPair
        | Kind::Certificate
        | Kind::InstanceRole
        | Kind::DbSubnetGroup
        | Kind::TargetGroup
        | Kind::Listener
        | Kind::ListenerRule
        | Kind::TargetRegistration => t(None, None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_the_median_and_range_they_were_fitted_to() {
        let d = Dist::new(720.0, 480.0, 1500.0);
        let mut xs: Vec<f64> = (0..2001).map(|i| d.sample(mix(7, i)).as_secs_f64()).collect();
        xs.sort_by(f64::total_cmp);
        let median = xs[1000];
        assert!((690.0..750.0).contains(&median), "{median}");
        assert!(xs[0] >= 480.0 && xs[2000] <= 1500.0);
        assert!(xs[100] < 650.0 && xs[1900] > 850.0, "{} {}", xs[100], xs[1900]);
        // A seed replays.
        assert_eq!(d.sample(5), d.sample(5));
        // The tail shows about as often as it should.
        let t = Dist::new(100.0, 60.0, 180.0).with_tail(0.05, 300.0, 600.0);
        let tails = (0..2000).filter(|&i| t.sample(mix(3, i)) >= Duration::from_secs(300)).count();
        assert!((60..140).contains(&tails), "{tails}");
    }
}
