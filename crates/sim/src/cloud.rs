//! The simulated cloud: one object per graph node with its sampled times, AWS's token
//! buckets answering throttling errors when a call finds one empty, the deletion rules AWS
//! enforces, and network interfaces that outlive their owners; and the client strato's
//! work goes through, metered and retried as `strato-aws`'s client is.
//!
//! Everything runs on tokio's clock (paused in benchmarks), and every random choice is a
//! hash of the run's seed and what it is for, so a seed replays exactly.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use strato_cloud::limits::{buckets, AWS_BUCKETS, EC2};
use strato_engine::pace::{mix, seed_of, unit, Limit, Meter, RetryPolicy};
use strato_graph::{Desired, Graph, Kind, NodeId};
use tokio::time::Instant;

use crate::model::{times, CALL};

/// What AWS takes for one object, sampled for one seed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// The create call's answer (the object's id is known).
    pub create: Duration,
    /// From the create call until usable (at least `create`).
    pub ready: Duration,
    /// The delete call's answer.
    pub delete: Duration,
    /// From the delete call until gone (at least the delete call's answer).
    pub gone: Duration,
    /// How long its network interfaces outlive it.
    pub linger: Duration,
}

/// What the graph says of an object that AWS's rules need.
#[derive(Clone, Debug)]
pub struct Relations {
    /// What it uses in AWS (a dependency that AWS will not delete while it lives).
    pub uses: Vec<usize>,
    /// The subnets and security groups its network interfaces sit in (load balancers, NAT
    /// gateways, mount targets, databases).
    pub interfaces_in: Vec<usize>,
    /// It maps a public address in the VPC (an internet gateway cannot be detached
    /// meanwhile).
    pub public: bool,
    /// The object whose delete deletes it too ([`strato_cloud::goes_with`]): a listener's
    /// load balancer, a rule's listener, a registration's target group.
    pub goes_with: Option<usize>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Life {
    created: bool,
    ready_at: Option<Instant>,
    gone_at: Option<Instant>,
    released_at: Option<Instant>,
}

/// Counts of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests sent, retries included.
    pub calls: u64,
    pub by_operation: BTreeMap<String, u64>,
    /// Throttling answers.
    pub throttled: u64,
    /// The most retries any one call needed.
    pub max_retries: u32,
    /// Calls that ran out of attempts.
    pub exhausted: u64,
    /// Deletes AWS refused, each with why.
    pub refusals: Vec<String>,
}

/// An AWS error as the simulated client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// Throttled on every attempt the policy allows.
    Throttled(String),
    /// Refused by AWS's rules (`DependencyViolation`, `InvalidDBSubnetGroupStateFault`, ...).
    Refused(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Throttled(m) | CallError::Refused(m) => f.write_str(m),
        }
    }
}

struct Bucket {
    limit: Limit,
    tokens: f64,
    at: Instant,
}

/// The account's buckets as AWS keeps them: a call that finds one of its buckets empty is
/// answered with a throttling error and costs nothing. Other clients of the account take
/// `background` of every refill.
struct Server {
    buckets: HashMap<&'static str, Bucket>,
    background: f64,
}

impl Server {
    fn admit(&mut self, names: &[&str], now: Instant) -> bool {
        for name in names {
            if let Some(b) = self.buckets.get_mut(*name) {
                let rate = b.limit.per_second * (1.0 - self.background);
                b.tokens = (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate).min(b.limit.burst);
                b.at = now;
            }
        }
        if names.iter().any(|n| self.buckets.get(*n).is_some_and(|b| b.tokens < 1.0)) {
            return false;
        }
        for name in names {
            if let Some(b) = self.buckets.get_mut(*name) {
                b.tokens -= 1.0;
            }
        }
        true
    }
}

/// How a client sends: its meter (none for a client without one) and retry policy.
pub struct ClientPolicy {
    pub meter: Option<Meter>,
    pub retry: RetryPolicy,
}

/// The simulated account, its objects, and the client that calls it.
pub struct Cloud {
    pub seed: u64,
    pub names: Vec<String>,
    pub kinds: Vec<Kind>,
    pub samples: Vec<Sample>,
    pub relations: Vec<Relations>,
    life: Mutex<Vec<Life>>,
    server: Mutex<Server>,
    client: ClientPolicy,
    stats: Mutex<Stats>,
    /// Calls made per object, for the per-call random streams.
    counters: Mutex<Vec<u64>>,
}

impl Cloud {
    /// The cloud of `graph` for `seed`: every object's times sampled, AWS's buckets full.
    pub fn new(graph: &Graph, seed: u64, background: f64, client: ClientPolicy) -> Cloud {
        let nodes = graph.nodes();
        let names: Vec<String> = nodes.iter().map(|n| n.address.to_string()).collect();
        let samples = nodes
            .iter()
            .zip(&names)
            .map(|(n, a)| {
                let t = times(n);
                let s = |what: &str| mix(seed, seed_of(&[a, what]));
                let create = CALL.sample(s("create"));
                let delete = CALL.sample(s("delete"));
                Sample {
                    create,
                    delete,
                    ready: t.ready.map_or(create, |d| d.sample(s("ready")).max(create)),
                    gone: t.gone.map_or(delete, |d| d.sample(s("gone")).max(delete)),
                    linger: t.linger.map_or(Duration::ZERO, |d| d.sample(s("linger"))),
                }
            })
            .collect();
        let now = Instant::now();
        let buckets = AWS_BUCKETS.iter().map(|l| (l.name, Bucket { limit: *l, tokens: l.burst, at: now })).collect();
        Cloud {
            seed,
            kinds: nodes.iter().map(|n| n.kind).collect(),
            relations: relations(graph),
            life: Mutex::new(vec![Life::default(); nodes.len()]),
            server: Mutex::new(Server { buckets, background: background.clamp(0.0, 0.95) }),
            client,
            stats: Mutex::new(Stats::default()),
            counters: Mutex::new(vec![0; nodes.len()]),
            samples,
            names,
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forgets the counts (between a provision and the destroy that follows it).
    pub fn reset_stats(&self) {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = Stats::default();
    }

    fn next_stream(&self, obj: usize) -> u64 {
        let mut c = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        c[obj] += 1;
        mix(mix(self.seed, obj as u64), c[obj])
    }

    /// One API call about object `obj`, as the client sends it: each attempt waits for the
    /// client's meter, takes its latency (`latency`, or a sample of [`CALL`]), and is
    /// throttled when AWS's bucket is empty, then retried with the client's policy. `effect`
    /// runs when AWS carries the call out, with the instant the call was sent.
    pub async fn call<T>(
        &self,
        obj: usize,
        service: &str,
        operation: &str,
        latency: Option<Duration>,
        effect: impl FnOnce(&Cloud, Instant) -> Result<T, String>,
    ) -> Result<T, CallError> {
        let names = buckets(service, operation);
        let mut effect = Some(effect);
        for attempt in 1..=self.client.retry.max_attempts {
            if let Some(meter) = &self.client.meter {
                let wait = meter.reserve(names);
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
            }
            let stream = self.next_stream(obj);
            let sent = Instant::now();
            let took = if attempt == 1 { latency } else { None }.unwrap_or_else(|| CALL.sample(stream));
            let admitted = self.server.lock().unwrap_or_else(|p| p.into_inner()).admit(names, sent);
            tokio::time::sleep(took).await;
            {
                let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                s.calls += 1;
                *s.by_operation.entry(operation.to_string()).or_default() += 1;
                if !admitted {
                    s.throttled += 1;
                } else {
                    s.max_retries = s.max_retries.max(attempt - 1);
                }
            }
            if admitted {
                if let Some(m) = &self.client.meter {
                    m.succeeded(names);
                }
                let effect = effect.take().expect("an admitted call runs its effect once");
                return effect(self, sent).map_err(|why| {
                    let msg = format!("{operation} {}: {why}", self.names[obj]);
                    self.stats.lock().unwrap_or_else(|p| p.into_inner()).refusals.push(msg.clone());
                    CallError::Refused(msg)
                });
            }
            if let Some(m) = &self.client.meter {
                m.throttled(names);
            }
            if attempt < self.client.retry.max_attempts {
                tokio::time::sleep(self.client.retry.delay(attempt, unit(mix(stream, 7)))).await;
            }
        }
        let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        s.exhausted += 1;
        s.max_retries = s.max_retries.max(self.client.retry.max_attempts - 1);
        let code = if service == EC2 { "RequestLimitExceeded" } else { "Throttling" };
        Err(CallError::Throttled(format!("{operation} {}: {code}: Rate exceeded", self.names[obj])))
    }

    fn with_life<T>(&self, f: impl FnOnce(&mut Vec<Life>) -> T) -> T {
        f(&mut self.life.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The create call of `obj`, carried out at `sent`.
    pub fn create(&self, obj: usize, sent: Instant) -> Result<(), String> {
        let ready = self.samples[obj].ready;
        self.with_life(|l| {
            l[obj] = Life { created: true, ready_at: Some(sent + ready), ..Life::default() };
        });
        Ok(())
    }

    pub fn is_ready(&self, obj: usize) -> bool {
        let now = Instant::now();
        self.with_life(|l| l[obj].ready_at.is_some_and(|t| now >= t))
    }

    /// Every object created and usable, as a finished provision leaves them.
    pub fn all_ready(&self) -> bool {
        let now = Instant::now();
        self.with_life(|l| l.iter().all(|o| o.created && o.ready_at.is_some_and(|t| now >= t)))
    }

    pub fn is_gone(&self, obj: usize) -> bool {
        let now = Instant::now();
        self.with_life(|l| l[obj].gone_at.is_some_and(|t| now >= t))
    }

    /// Nothing left: every object gone and every interface released.
    pub fn all_gone(&self) -> bool {
        let now = Instant::now();
        self.with_life(|l| l.iter().all(|o| !o.created || o.released_at.is_some_and(|t| now >= t)))
    }

    /// What still holds `obj` (a subnet, a security group; for an internet gateway, what
    /// maps a public address in the VPC): live objects whose interfaces sit in it, and the
    /// interfaces of deleted ones that AWS has not released yet.
    pub fn holders(&self, obj: usize) -> Vec<usize> {
        let now = Instant::now();
        let igw = self.kinds[obj] == Kind::InternetGateway;
        self.with_life(|l| {
            (0..l.len())
                .filter(|&j| {
                    let r = &self.relations[j];
                    let holds = if igw { r.public } else { r.interfaces_in.contains(&obj) };
                    holds && l[j].created && l[j].released_at.is_none_or(|t| now < t)
                })
                .collect()
        })
    }

    /// The delete call of `obj` (for an internet gateway, its detach), carried out at
    /// `sent`, or AWS's refusal: a live object still uses it (a subnet with instances, a
    /// group used by a load balancer, a DB subnet group used by a database, a certificate
    /// used by a listener, a VPC with subnets, an Elastic IP with its NAT gateway: AWS's
    /// API references; `DependencyViolation` and its siblings), or, for a subnet, security
    /// group or internet gateway, network interfaces still in it (§2).
    pub fn delete(&self, obj: usize, sent: Instant) -> Result<(), String> {
        let held: Vec<usize> = self.holders(obj);
        let sample = self.samples[obj];
        self.with_life(|l| {
            // What goes with it does not keep it.
            let with = self.going_with(obj);
            if let Some(user) = (0..l.len()).find(|&j| {
                self.relations[j].uses.contains(&obj)
                    && !with.contains(&j)
                    && l[j].created
                    && l[j].gone_at.is_none_or(|t| sent < t)
            }) {
                return Err(format!("DependencyViolation: {} still uses it", self.names[user]));
            }
            let blocking = matches!(self.kinds[obj], Kind::Subnet | Kind::SecurityGroup | Kind::InternetGateway);
            if let Some(&h) = held.first().filter(|_| blocking) {
                return Err(format!("DependencyViolation: a network interface of {} is still in use", self.names[h]));
            }
            let gone = sent + sample.gone;
            l[obj].gone_at = Some(gone);
            l[obj].released_at = Some(gone + sample.linger);
            for j in with {
                if l[j].gone_at.is_none_or(|t| t > gone) {
                    l[j].gone_at = Some(gone);
                    l[j].released_at = Some(gone);
                }
            }
            Ok(())
        })
    }

    /// The objects AWS deletes with `obj`: those that go with it, and with them.
    pub fn going_with(&self, obj: usize) -> Vec<usize> {
        let mut with = Vec::new();
        let mut frontier = vec![obj];
        while let Some(o) = frontier.pop() {
            for (j, r) in self.relations.iter().enumerate() {
                if r.goes_with == Some(o) && !with.contains(&j) {
                    with.push(j);
                    frontier.push(j);
                }
            }
        }
        with
    }

    /// Marks every object created and ready now (a state recorded by an earlier run).
    pub fn assume_provisioned(&self) {
        let now = Instant::now();
        self.with_life(|l| {
            for o in l.iter_mut() {
                *o = Life { created: true, ready_at: Some(now), ..Life::default() };
            }
        });
    }
}

/// The relations of every node that AWS's deletion rules need, from the graph: what each
/// uses ([`Graph::uses`]), where the network interfaces of load balancers, NAT gateways,
/// mount targets and databases sit (the subnets and groups they use; a database's subnets
/// are its DB subnet group's), and what maps a public address.
pub fn relations(graph: &Graph) -> Vec<Relations> {
    let nodes = graph.nodes();
    let uses: Vec<Vec<usize>> = (0..nodes.len()).map(|i| graph.uses(NodeId(i)).map(|d| d.0).collect()).collect();
    (0..nodes.len())
        .map(|i| {
            let kind = nodes[i].kind;
            let holds_interfaces =
                matches!(kind, Kind::LoadBalancer | Kind::NatGateway | Kind::MountTarget | Kind::DbInstance);
            let mut interfaces_in = Vec::new();
            if holds_interfaces {
                let mut around: Vec<usize> = uses[i].clone();
                for &d in &uses[i] {
                    if nodes[d].kind == Kind::DbSubnetGroup {
                        around.extend(&uses[d]);
                    }
                }
                interfaces_in = around
                    .into_iter()
                    .filter(|&d| matches!(nodes[d].kind, Kind::Subnet | Kind::SecurityGroup))
                    .collect();
                interfaces_in.sort_unstable();
                interfaces_in.dedup();
            }
            let public = match &nodes[i].desired {
                _ if matches!(kind, Kind::NatGateway | Kind::ElasticIp) => true,
                Some(Desired::Instance(spec)) => spec.public_ip,
                Some(Desired::LoadBalancer { internet_facing, .. }) => *internet_facing,
                _ => false,
            };
            let parent = nodes[i].address.parent().filter(|p| strato_cloud::goes_with(kind) == Some(p.kind()));
            let goes_with = parent.and_then(|p| uses[i].iter().copied().find(|&d| nodes[d].address == p));
            // An instance may be terminated while registered ("Delete an Application Load
            // Balancer target group", ALB User Guide): a registration keeps its target group
            // only.
            let mut uses = uses[i].clone();
            if kind == Kind::TargetRegistration {
                uses.retain(|&d| nodes[d].kind != Kind::Instance);
            }
            Relations { uses, interfaces_in, public, goes_with }
        })
        .collect()
}
