//! Pacing, the mechanics shared by every client of a rate-limited, eventually-ready API:
//! how often a waiter looks ([`Backoff`], [`Schedule`]), how long a refused call backs off
//! before it is sent again ([`RetryPolicy`]), and how fast calls may go out ([`Meter`]: token
//! buckets whose refill adapts to throttling, as the AWS SDKs' adaptive retry mode does).
//!
//! Like the rest of the engine it knows nothing of AWS: the values (which bucket a call
//! draws from, how fast each kind becomes ready) are the caller's. Time is tokio's, so a
//! paused clock drives all of it, and randomness is a seeded hash, so a run can be replayed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How a waiter looks: the first check at once, then after `first`, doubling up to `max`,
/// until `deadline`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub deadline: Duration,
}

/// The shortest delay between two checks of a scaled wait.
pub const MIN_DELAY: Duration = Duration::from_millis(50);

impl Backoff {
    pub const fn new(first: Duration, max: Duration, deadline: Duration) -> Backoff {
        Backoff { first, max, deadline }
    }

    /// This backoff on an endpoint `scale` times faster than AWS: every duration divided
    /// by it, the delays no shorter than [`MIN_DELAY`] so that a scaled wait does not poll
    /// faster than an API would answer.
    pub fn scaled(&self, scale: f64) -> Backoff {
        if scale <= 1.0 {
            return self.clone();
        }
        let first = self.first.div_f64(scale).max(MIN_DELAY);
        Backoff { first, max: self.max.div_f64(scale).max(first), deadline: self.deadline.div_f64(scale) }
    }

    /// The delays between checks of one waiter; `seed` tells waiters apart.
    pub fn schedule(&self, seed: u64) -> Schedule {
        Schedule { delay: self.first, max: self.max, seed, attempt: 0 }
    }
}

/// The delays of one waiter: each the backoff's current delay shortened by up to a fifth,
/// by an amount that depends on the waiter's seed and the attempt, so that many waiters
/// started together do not poll in lockstep, and a replay polls at the same instants.
#[derive(Clone, Debug)]
pub struct Schedule {
    delay: Duration,
    max: Duration,
    seed: u64,
    attempt: u64,
}

impl Schedule {
    /// The delay before the next check.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt += 1;
        let fifth = self.delay / 5;
        let d = self.delay - fifth.mul_f64(unit(mix(self.seed, self.attempt)));
        self.delay = (self.delay * 2).min(self.max);
        d
    }
}

/// A stable 64-bit hash of `parts` (FNV-1a), for seeds.
pub fn seed_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
    }
    h
}

/// `a` and `b` mixed into one well-spread value (SplitMix64's finaliser).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e3779b97f4a7c15).wrapping_add(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// `x` as a number in [0, 1).
pub fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// How a client sends a refused call again: at most `max_attempts` attempts in all, the
/// `n`-th retry after a delay of up to `initial * 2^(n-1)`, at most `max`, with full jitter
/// (the AWS SDKs' standard retry mode: "Retry behavior", AWS SDKs and Tools Reference
/// Guide, https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The ceiling of the delay before retry `retry` (1 for the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.initial.saturating_mul(1 << retry.saturating_sub(1).min(20)).min(self.max)
    }

    /// The delay before retry `retry`, `fraction` (in [0, 1)) of its ceiling.
    pub fn delay(&self, retry: u32, fraction: f64) -> Duration {
        self.ceiling(retry).mul_f64(fraction.clamp(0.0, 1.0))
    }
}

/// One token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub name: &'static str,
    pub burst: f64,
    pub per_second: f64,
}

/// The refill rate a client allows itself after throttling: cut on every throttled answer,
/// grown back along a cubic curve on success, never above the bucket's own refill. This is
/// the CUBIC-based client rate limiter of the AWS SDKs' adaptive retry mode ("Retry
/// behavior", AWS SDKs and Tools Reference Guide; its constants, β = 0.7 and C = 0.4, are
/// the SDKs' `BETA` and `SCALE_CONSTANT`; the floor of half a request a second their
/// `MIN_FILL_RATE`).
#[derive(Clone, Copy, Debug)]
pub struct Cubic {
    nominal: f64,
    rate: f64,
    last_max: f64,
    last_throttle: Option<Instant>,
}

const BETA: f64 = 0.7;
const SCALE: f64 = 0.4;
const MIN_RATE: f64 = 0.5;

impl Cubic {
    pub fn new(nominal: f64) -> Cubic {
        Cubic { nominal, rate: nominal, last_max: nominal, last_throttle: None }
    }

    /// The rate allowed now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    pub fn throttled(&mut self, now: Instant) {
        self.last_max = self.rate;
        self.rate = (self.rate * BETA).max(MIN_RATE.min(self.nominal));
        self.last_throttle = Some(now);
    }

    pub fn succeeded(&mut self, now: Instant) {
        let Some(at) = self.last_throttle else { return };
        // The time the curve takes to climb back to the rate of the last throttle.
        let window = (self.last_max * (1.0 - BETA) / SCALE).cbrt();
        let t = now.saturating_duration_since(at).as_secs_f64() - window;
        let grown = SCALE * t * t * t + self.last_max;
        self.rate = grown.clamp(self.rate, self.nominal);
        if self.rate >= self.nominal {
            self.last_throttle = None;
        }
    }
}

#[derive(Debug)]
struct Bucket {
    limit: Limit,
    /// May go below zero: a negative balance is the queue of reservations not yet due.
    tokens: f64,
    at: Instant,
    cubic: Cubic,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.cubic.rate();
        self.tokens = (self.tokens + refill).min(self.limit.burst);
        self.at = now;
    }
}

/// A client's buckets: each call takes a token from each bucket it draws from and waits
/// until all of them are due, first come, first served.
#[derive(Debug)]
pub struct Meter {
    buckets: Mutex<HashMap<&'static str, Bucket>>,
}

impl Meter {
    pub fn new(limits: &[Limit]) -> Meter {
        let now = Instant::now();
        let buckets = limits
            .iter()
            .map(|l| (l.name, Bucket { limit: *l, tokens: l.burst, at: now, cubic: Cubic::new(l.per_second) }))
            .collect();
        Meter { buckets: Mutex::new(buckets) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<&'static str, Bucket>) -> T) -> T {
        f(&mut self.buckets.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Takes a token from each of `names` and says how long to wait until all are due.
    /// Names without a bucket cost nothing.
    pub fn reserve(&self, names: &[&str]) -> Duration {
        let now = Instant::now();
        self.with(|held| {
            let mut wait = Duration::ZERO;
            for name in names {
                let Some(b) = held.get_mut(*name) else { continue };
                b.refill(now);
                b.tokens -= 1.0;
                if b.tokens < 0.0 {
                    wait = wait.max(Duration::from_secs_f64(-b.tokens / b.cubic.rate()));
                }
            }
            wait
        })
    }

    /// A call that drew from `names` was throttled: the service's bucket is empty whatever
    /// this one says, and the refill slows down.
    pub fn throttled(&self, names: &[&str]) {
        let now = Instant::now();
        self.with(|held| {
            for name in names {
                let Some(b) = held.get_mut(*name) else { continue };
                b.refill(now);
                b.tokens = b.tokens.min(0.0);
                b.cubic.throttled(now);
            }
        })
    }

    /// A call that drew from `names` was answered: the refill grows back.
    pub fn succeeded(&self, names: &[&str]) {
        let now = Instant::now();
        self.with(|held| {
            for name in names {
                let Some(b) = held.get_mut(*name) else { continue };
                b.refill(now);
                b.cubic.succeeded(now);
            }
        })
    }

    /// The refill rate bucket `name` allows now, if it exists.
    pub fn rate(&self, name: &str) -> Option<f64> {
        self.with(|held| held.get(name).map(|b| b.cubic.rate()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIGHT: &[Limit] = &[Limit { name: "run", burst: 5.0, per_second: 2.0 }];

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_refill_rate() {
        let meter = Meter::new(TIGHT);
        let waits: Vec<Duration> = (0..9).map(|_| meter.reserve(&["run"])).collect();
        assert!(waits[..5].iter().all(|w| w.is_zero()), "{waits:?}");
        for (w, ms) in waits[5..].iter().zip([500, 1000, 1500, 2000]) {
            assert_eq!(w.as_millis(), ms);
        }
        assert!(meter.reserve(&["other"]).is_zero());
        tokio::time::sleep(Duration::from_secs(60)).await;
        let waits: Vec<Duration> = (0..6).map(|_| meter.reserve(&["run"])).collect();
        assert!(waits[..5].iter().all(|w| w.is_zero()));
        assert_eq!(waits[5], Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_slows_the_refill_and_success_restores_it() {
        let meter = Meter::new(&[Limit { name: "b", burst: 10.0, per_second: 10.0 }]);
        meter.throttled(&["b"]);
        assert!((meter.rate("b").unwrap() - 7.0).abs() < 1e-9);
        // The bucket counts as empty: the next call waits for a token at the cut rate.
        let w = meter.reserve(&["b"]);
        assert!((w.as_secs_f64() - 1.0 / 7.0).abs() < 1e-6, "{w:?}");
        meter.throttled(&["b"]);
        assert!((meter.rate("b").unwrap() - 4.9).abs() < 1e-9);
        // Success right away grows it slowly (the cubic's flat middle), later back to 10.
        meter.succeeded(&["b"]);
        let early = meter.rate("b").unwrap();
        assert!(early > 4.9 - 1e-9 && early < 7.0, "{early}");
        tokio::time::sleep(Duration::from_secs(10)).await;
        meter.succeeded(&["b"]);
        assert_eq!(meter.rate("b"), Some(10.0));
    }

    #[test]
    fn schedules_back_off_with_jitter_that_differs_per_waiter() {
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(15), Duration::from_secs(120));
        let take = |seed| {
            let mut s = b.schedule(seed);
            (0..6).map(|_| s.next_delay()).collect::<Vec<_>>()
        };
        let (a, c) = (take(1), take(2));
        assert_ne!(a, c);
        assert_eq!(a, take(1), "a seed replays");
        for (d, ceiling) in a.iter().zip([2, 4, 8, 15, 15, 15]) {
            let ceiling = Duration::from_secs(ceiling);
            assert!(*d <= ceiling && *d >= ceiling * 4 / 5, "{d:?} vs {ceiling:?}");
        }
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let p = RetryPolicy { max_attempts: 8, initial: Duration::from_millis(500), max: Duration::from_secs(20) };
        let ceilings: Vec<u128> = (1..=8).map(|r| p.ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(1));
    }

    #[test]
    fn scaled_backoffs_keep_their_shape_and_a_floor() {
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(15), Duration::from_secs(120));
        let s = b.scaled(60.0);
        assert_eq!(s.deadline, Duration::from_secs(2));
        assert_eq!(s.max, Duration::from_millis(250));
        let tight = b.scaled(1000.0);
        assert_eq!((tight.first, tight.max), (MIN_DELAY, MIN_DELAY));
        assert_eq!(b.scaled(1.0), b);
    }
}
