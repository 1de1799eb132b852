//! Waiting for a condition: one poller for every kind, with backoff, jitter, a deadline and
//! cancellation, so waits are never bare sleeps and never outlive the operator's patience.
//!
//! The first check happens at once (the local emulator finishes everything immediately);
//! later checks back off from `first` to `max`, each delay jittered by up to a fifth, by an
//! amount that differs per waiter ([`strato_engine::pace::Schedule`]), so that many waiters
//! do not poll in lockstep. Each kind's values are in [`strato_cloud::waits`], which the
//! simulated AWS replays. Waiting and timing out are separate: the caller
//! owns the deadline. All timing goes through tokio's clock, so tests run it paused.
//!
//! A check that fails with a transient error (throttled, a server error, no answer) has
//! not learnt anything: the wait goes on until its deadline, and a deadline reached that
//! way names the last error. One throttling burst during a 25-minute database wait must not
//! end the run (TF sets `MaxRetries` 25 on its EC2 client for the same reason); any other
//! error ends the wait at once.

use std::future::Future;
use std::time::Duration;

use strato_engine::Cancel;
use tokio::time::Instant;

use crate::error::{AwsError, Class};

/// What one check found.
pub enum Check<T> {
    Done(T),
    /// Not yet; the status to show meanwhile.
    Pending(String),
}

pub use strato_engine::pace::{Backoff, MIN_DELAY};

/// Checks `check` until it is done, fails, the deadline passes, or `cancel` fires. Each
/// pending status is passed to `on_status`. The jitter is this process's for `what`.
pub async fn until<T, F, Fut>(
    what: &str,
    backoff: &Backoff,
    cancel: &Cancel,
    on_status: impl FnMut(&str),
    check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, AwsError>>,
{
    until_seeded(what, backoff, waiter_seed(&[what]), cancel, on_status, check).await
}

/// A seed for the jitter of one waiter: its parts (the object's address, what it waits
/// for) and the process, so that the waiters of one run, and two runs at once, poll at
/// different instants.
pub fn waiter_seed(parts: &[&str]) -> u64 {
    strato_engine::pace::mix(strato_engine::pace::seed_of(parts), u64::from(std::process::id()))
}

/// [`until`] with the jitter of the waiter `seed` ([`strato_engine::pace::Schedule`]).
pub async fn until_seeded<T, F, Fut>(
    what: &str,
    backoff: &Backoff,
    seed: u64,
    cancel: &Cancel,
    mut on_status: impl FnMut(&str),
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, AwsError>>,
{
    let start = Instant::now();
    let mut schedule = backoff.schedule(seed);
    let mut last_status = String::new();
    let mut last_error: Option<AwsError>;
    loop {
        match check().await {
            Ok(Check::Done(v)) => return Ok(v),
            Ok(Check::Pending(status)) => {
                last_error = None;
                if status != last_status {
                    on_status(&status);
                    last_status = status;
                }
            }
            Err(e) if e.is_transient() => last_error = Some(e),
            Err(e) => return Err(e),
        }
        let waited = start.elapsed();
        if waited >= backoff.deadline {
            let waited = seconds(waited);
            let msg = match (last_status.is_empty(), last_error) {
                (true, Some(e)) => format!("no check succeeded in {waited}; the last one failed: {e}"),
                (false, Some(e)) => format!("still `{last_status}` after {waited}; the last check failed: {e}"),
                (_, None) => format!("still `{last_status}` after {waited}"),
            };
            return Err(AwsError::new(format!("waiting for {what}"), Class::Fatal, msg));
        }
        if cancel.is_cancelled() {
            let msg = format!("interrupted while `{last_status}`; the object is recorded and a later run resumes it");
            return Err(AwsError::new(format!("waiting for {what}"), Class::Fatal, msg));
        }
        let sleep = schedule.next_delay().min(backoff.deadline.saturating_sub(waited));
        let cancelled = cancel.clone();
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = async move { while !cancelled.is_cancelled() { tokio::time::sleep(Duration::from_millis(200)).await } } => {}
        }
    }
}

/// A duration for messages: `90s`, or `1.5s` below ten seconds (scaled waits are short).
pub fn seconds(d: Duration) -> String {
    if d >= Duration::from_secs(10) {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    const B: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(15), Duration::from_secs(120));

    #[tokio::test(start_paused = true)]
    async fn checks_at_once_then_backs_off_until_done() {
        let n = Arc::new(AtomicU32::new(0));
        let start = Instant::now();
        let c = n.clone();
        let v = until(
            "thing",
            &B,
            &Cancel::default(),
            |_| {},
            move || {
                let c = c.clone();
                async move {
                    let i = c.fetch_add(1, Ordering::SeqCst);
                    Ok(if i == 4 { Check::Done(i) } else { Check::Pending("pending".into()) })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 4);
        // Four waits of at most 2 + 4 + 8 + 15 seconds, jitter only shortens them.
        let took = start.elapsed();
        assert!(took <= Duration::from_secs(29) && took >= Duration::from_secs(23), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_deadline_with_the_last_status() {
        let start = Instant::now();
        let err = until(
            "NAT gateway",
            &B,
            &Cancel::default(),
            |_| {},
            || async { Ok::<Check<()>, AwsError>(Check::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(120));
        assert!(err.to_string().contains("waiting for NAT gateway failed: still `pending` after 120s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn stops_waiting_when_cancelled() {
        let cancel = Cancel::default();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            trigger.cancel();
        });
        let start = Instant::now();
        let err = until("x", &B, &cancel, |_| {}, || async { Ok::<Check<()>, AwsError>(Check::Pending("p".into())) })
            .await
            .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(12));
        assert!(err.message.contains("interrupted"));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_waited_out_until_the_deadline() {
        let n = Arc::new(AtomicU32::new(0));
        let c = n.clone();
        // Throttled, then a server error, then no answer, then done.
        let v = until(
            "thing",
            &B,
            &Cancel::default(),
            |_| {},
            move || {
                let c = c.clone();
                async move {
                    match c.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(AwsError::new("Describe", Class::Throttled, "Rate exceeded")),
                        1 => Err(AwsError::new("Describe", Class::ServerError, "InternalError")),
                        2 => Err(AwsError::new("Describe", Class::Unreachable, "timed out")),
                        i => Ok(Check::Done(i)),
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(v, 3);

        // An endpoint that only ever throttles: the wait ends at its deadline, naming the error.
        let start = Instant::now();
        let err = until(
            "the database to be available",
            &B,
            &Cancel::default(),
            |_| {},
            || async {
                Err::<Check<()>, AwsError>(AwsError::new("DescribeDBInstances", Class::Throttled, "Rate exceeded"))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(120));
        assert!(
            err.message
                .contains("no check succeeded in 120s; the last one failed: DescribeDBInstances failed: Rate exceeded"),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_check_ends_the_wait() {
        let err = until(
            "x",
            &B,
            &Cancel::default(),
            |_| {},
            || async {
                Err::<Check<()>, AwsError>(AwsError::new("DescribeNatGateways", Class::Fatal, "failed: no capacity"))
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.call, "DescribeNatGateways");
    }
}
