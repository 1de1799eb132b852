//! Waiting for a condition: one poller for every kind, with backoff, jitter, a deadline and
//! cancellation, so waits are never bare sleeps and never outlive the operator's patience.
//!
//! The first check happens at once (the local emulator finishes everything immediately);
//! later checks back off from `first` to `max`, each delay jittered by up to a fifth so that
//! many waiters do not poll in lockstep. Waiting and timing out are separate: the caller
//! owns the deadline. All timing goes through tokio's clock, so tests run it paused.

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

#[derive(Clone, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub deadline: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration, deadline: Duration) -> Backoff {
        Backoff { first, max, deadline }
    }
}

/// Checks `check` until it is done, fails, the deadline passes, or `cancel` fires. Each
/// pending status is passed to `on_status`.
pub async fn until<T, F, Fut>(
    what: &str,
    backoff: &Backoff,
    cancel: &Cancel,
    mut on_status: impl FnMut(&str),
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, AwsError>>,
{
    let start = Instant::now();
    let mut delay = backoff.first;
    let mut last_status = String::new();
    let mut attempt: u64 = 0;
    loop {
        match check().await? {
            Check::Done(v) => return Ok(v),
            Check::Pending(status) => {
                if status != last_status {
                    on_status(&status);
                    last_status = status;
                }
            }
        }
        let waited = start.elapsed();
        if waited >= backoff.deadline {
            let msg = format!("still `{last_status}` after {}s", waited.as_secs());
            return Err(AwsError::new(format!("waiting for {what}"), Class::Fatal, msg));
        }
        if cancel.is_cancelled() {
            let msg = format!("interrupted while `{last_status}`; the object is recorded and a later run resumes it");
            return Err(AwsError::new(format!("waiting for {what}"), Class::Fatal, msg));
        }
        attempt += 1;
        let sleep = jitter(delay, attempt).min(backoff.deadline.saturating_sub(waited));
        let cancelled = cancel.clone();
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = async move { while !cancelled.is_cancelled() { tokio::time::sleep(Duration::from_millis(200)).await } } => {}
        }
        delay = (delay * 2).min(backoff.max);
    }
}

/// `d` shortened by up to a fifth, varying per attempt and process, without a random crate.
fn jitter(d: Duration, attempt: u64) -> Duration {
    let seed = u64::from(std::process::id())
        .wrapping_mul(6364136223846793005)
        .wrapping_add(attempt.wrapping_mul(1442695040888963407));
    let fifth = d.as_millis() as u64 / 5;
    if fifth == 0 {
        return d;
    }
    d - Duration::from_millis((seed >> 33) % fifth)
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
