//! Coalesced describes: waiters that ask about objects of one kind at about the same time
//! (a dozen instances launched together, each waiting to be `running`) get their answers
//! from one call instead of one call each.
//!
//! The first waiter of a batch opens it and a short window (a few milliseconds) collects the
//! others; then one call asks for all their ids, and its answer fans out: each waiter gets
//! its own object (or `None`, not listed), or the call's error, which names the call and
//! AWS's code. The call runs on a task of its own, so a waiter that stops waiting (its run
//! is cancelled) never strands the others. Ids go in chunks of at most [`CHUNK`]: EC2 takes
//! at most 200 values per filter ("Describe your resources with filters", Amazon EC2 API
//! Reference, `Filter`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{AwsError, Class};

/// How long a batch waits for more waiters: short against any wait it serves (the first
/// check of an instance launched a moment ago), long enough for a burst of launches.
pub const WINDOW: Duration = Duration::from_millis(15);

/// The most ids one call asks about.
pub const CHUNK: usize = 200;

type Waiter<T> = (String, oneshot::Sender<Result<Option<T>, AwsError>>);

/// One kind of coalesced call.
pub struct Coalescer<T> {
    pending: Arc<Mutex<Vec<Waiter<T>>>>,
}

impl<T> Default for Coalescer<T> {
    fn default() -> Coalescer<T> {
        Coalescer { pending: Arc::default() }
    }
}

impl<T> std::fmt::Debug for Coalescer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalescer").finish_non_exhaustive()
    }
}

impl<T: Clone + Send + 'static> Coalescer<T> {
    /// The object `id`, as one call for every waiter of this batch answers it. `fetch` asks
    /// about a chunk of ids and returns the objects found, by id; the batch's first waiter's
    /// `fetch` makes the call, named `call` in the error a waiter gets if the batch is lost.
    pub async fn get<F, Fut>(&self, id: &str, call: &'static str, fetch: F) -> Result<Option<T>, AwsError>
    where
        F: Fn(Vec<String>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<(String, T)>, AwsError>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let opens = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.push((id.to_string(), tx));
            pending.len() == 1
        };
        if opens {
            let pending = self.pending.clone();
            tokio::spawn(async move {
                tokio::time::sleep(WINDOW).await;
                let waiters = std::mem::take(&mut *pending.lock().unwrap_or_else(|p| p.into_inner()));
                let mut ids: Vec<String> = waiters.iter().map(|(id, _)| id.clone()).collect();
                ids.sort();
                ids.dedup();
                let mut found: HashMap<String, T> = HashMap::new();
                let mut error = None;
                for chunk in ids.chunks(CHUNK) {
                    match fetch(chunk.to_vec()).await {
                        Ok(objects) => found.extend(objects),
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                for (id, tx) in waiters {
                    let answer = match &error {
                        Some(e) => Err(e.clone()),
                        None => Ok(found.get(&id).cloned()),
                    };
                    let _ = tx.send(answer);
                }
            });
        }
        rx.await.unwrap_or_else(|_| Err(AwsError::new(call, Class::Fatal, "the batched call was lost")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn waiters_at_once_share_one_call_and_each_gets_its_own_answer() {
        let c: Arc<Coalescer<String>> = Arc::new(Coalescer::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for i in 0..450 {
            let (c, calls) = (c.clone(), calls.clone());
            handles.push(tokio::spawn(async move {
                let id = format!("i-{i}");
                c.get(&id, "DescribeThings", move |ids| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        assert!(ids.len() <= CHUNK);
                        // Odd ids are not listed.
                        Ok(ids
                            .into_iter()
                            .filter(|id| id.trim_start_matches("i-").parse::<u32>().unwrap() % 2 == 0)
                            .map(|id| (id.clone(), format!("state of {id}")))
                            .collect())
                    }
                })
                .await
            }));
        }
        for (i, h) in handles.into_iter().enumerate() {
            let got = h.await.unwrap().unwrap();
            assert_eq!(got, (i % 2 == 0).then(|| format!("state of i-{i}")));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3, "450 ids in chunks of 200: three calls");
        // A later waiter opens a batch of its own.
        let again =
            c.get("i-2", "DescribeThings", |ids| async move { Ok(vec![(ids[0].clone(), "later".to_string())]) }).await;
        assert_eq!(again.unwrap().as_deref(), Some("later"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_calls_error_reaches_every_waiter_with_its_code() {
        let c: Arc<Coalescer<String>> = Arc::new(Coalescer::default());
        let mut handles = Vec::new();
        for i in 0..3 {
            let c = c.clone();
            handles.push(tokio::spawn(async move {
                c.get(&format!("i-{i}"), "DescribeThings", |_| async {
                    Err(AwsError::new("DescribeThings", Class::Throttled, "RequestLimitExceeded: slow down"))
                })
                .await
            }));
        }
        for h in handles {
            let e = h.await.unwrap().unwrap_err();
            assert_eq!(e.call, "DescribeThings");
            assert!(e.is(Class::Throttled));
        }
    }
}
