//! Provision and destroy: the engine's [`Work`] for a deployment, built on the drivers and
//! the state file.
//!
//! Provisioning a node: if the state records it and it still exists, nothing is created
//! (a second run creates nothing new); if the state holds only a `pending` record (a run
//! died between the create call and its answer), the object is looked for by its tags
//! before anything is created; otherwise the record is written as `pending` with a fresh
//! idempotency token, the object is created, recorded as `created` (dependents that only
//! need its id start now), waited for, and recorded as `ready`.
//!
//! Destroying works from the state alone: each recorded object is deleted after everything
//! that depends on it, plus the orderings AWS enforces that dependencies alone do not
//! express (see [`destroy_tasks`]); each is removed from the state once AWS agrees it is gone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strato_engine::{BoxFuture, Cancel, Progress, TaskError, TaskId, Work};
use strato_graph::plan::{Action, Change, Planned};
use strato_graph::{Graph, Kind, NodeId};
use strato_state::{now, Object, State, Status, Store};

use crate::client::Clients;
use crate::drivers::{
    driver, owner_of, tag, Cx, DestroyOptions, Driver, RunContext, TAG_DEPLOYMENT, TAG_DEPLOYMENT_ID,
};
use crate::error::AwsError;

/// The deployment-wide facts every object needs.
#[derive(Clone, Debug)]
pub struct Deployment {
    pub name: String,
    /// The unique id of the deployment ([`crate::drivers::TAG_DEPLOYMENT_ID`]).
    pub id: String,
    /// The spec's own tags, added to every object.
    pub tags: Vec<(String, String)>,
}

/// A dependency created less than this long ago counts as fresh (eventual consistency,
/// "Eventual consistency in the Amazon EC2 API"; TF's `ec2PropagationTimeout`).
const FRESH: Duration = crate::drivers::PROPAGATION;

pub use strato_cloud::tasks::{destroy_tasks, implied_deletes, provision_tasks, service, service_limits};

/// Kinds in the graph that strato has no driver for yet.
pub fn unsupported_kinds(graph: &Graph) -> Vec<Kind> {
    let mut kinds: Vec<Kind> = graph.nodes().iter().map(|n| n.kind).filter(|k| driver(*k).is_none()).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

struct Shared {
    clients: Clients,
    store: Mutex<Store>,
    deployment: Deployment,
    cancel: Cancel,
    tokens: AtomicU64,
    /// Objects created (or adopted after an interruption) by this run.
    created: AtomicU64,
    /// Objects found as recorded and left alone.
    unchanged: AtomicU64,
    updated: AtomicU64,
    replaced: AtomicU64,
    deleted: AtomicU64,
    run: RunContext,
    /// Group commit ([`Shared::commit`]): changes staged, changes known written, and the
    /// one writer at a time.
    staged: AtomicU64,
    written: AtomicU64,
    writer: Mutex<()>,
}

impl crate::journal::Journal for Shared {
    fn intend(&self, address: &str, call: &str) -> Result<u64, String> {
        let mut seq = 0;
        self.commit(|s| seq = s.stage_intent(address, call)).map_err(|e| e.to_string())?;
        Ok(seq)
    }

    fn close(&self, seq: u64) {
        self.with_store(|s| s.close(seq));
    }
}

/// Runs `work` as the task of `address`: its mutating calls are journaled in the state.
fn journaled<'a, T>(
    shared: &Arc<Shared>,
    address: &str,
    work: impl std::future::Future<Output = T> + Send + 'a,
) -> impl std::future::Future<Output = T> + Send + 'a {
    let caller = crate::journal::Caller { address: address.to_string(), journal: shared.clone() };
    crate::journal::CALLER.scope(caller, work)
}

/// What a provision did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: u64,
    pub unchanged: u64,
    pub updated: u64,
    pub replaced: u64,
    pub deleted: u64,
}

impl Shared {
    fn new(clients: Clients, store: Store, deployment: Deployment, cancel: Cancel, run: RunContext) -> Shared {
        Shared {
            run,
            clients,
            store: Mutex::new(store),
            deployment,
            cancel,
            tokens: AtomicU64::new(0),
            created: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            updated: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            staged: AtomicU64::new(0),
            written: AtomicU64::new(0),
            writer: Mutex::new(()),
        }
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut store)
    }

    /// Makes `change` and returns once a write that holds it is durable (group commit):
    /// changes made while another task's write is under way share the next write, so
    /// twenty tasks recording their objects at once cost two writes and fsyncs, not twenty.
    /// Every change is still on disk before its caller goes on (before the call an intent
    /// announces, after the create a record keeps), as with a write of its own.
    fn commit(&self, change: impl FnOnce(&mut Store)) -> Result<(), strato_state::Error> {
        let mine = self.with_store(|s| {
            change(s);
            self.staged.fetch_add(1, Ordering::SeqCst) + 1
        });
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if self.written.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        self.with_store(|s| {
            let upto = self.staged.load(Ordering::SeqCst);
            s.flush()?;
            self.written.store(upto, Ordering::SeqCst);
            Ok(())
        })
    }

    fn notices(&self) -> Vec<(String, String)> {
        self.run.notices.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn save(&self, address: &str, object: Object) -> Result<(), TaskError> {
        let put = |s: &mut Store| {
            s.stage(|st| {
                st.objects.insert(address.to_string(), object);
            })
        };
        self.commit(put).map_err(|e| TaskError(format!("{address}: {e}")))
    }

    /// Forgets the object at `address` (it is gone), durably.
    fn forget(&self, address: &str) -> Result<(), TaskError> {
        let remove = |s: &mut Store| {
            s.stage(|st| {
                st.objects.remove(address);
            })
        };
        self.commit(remove).map_err(|e| TaskError(format!("{address}: {e}")))
    }

    /// The recorded object at `address` with its kind and driver; `None` once the state no
    /// longer has it.
    fn recorded(&self, address: &str) -> Result<Option<(Object, Kind, &'static dyn Driver)>, TaskError> {
        let Some(obj) = self.with_store(|s| s.get(address).cloned()) else { return Ok(None) };
        let kind: Kind = obj.kind.parse().map_err(|e: String| TaskError(format!("{address}: {e}")))?;
        let Some(driver) = driver(kind) else {
            return Err(TaskError(format!("{address}: strato cannot delete `{kind}` objects yet")));
        };
        Ok(Some((obj, kind, driver)))
    }

    /// Everything a driver call about `address` may use.
    fn cx<'a>(
        &'a self,
        address: &'a str,
        aws_name: &'a str,
        objects: &'a BTreeMap<String, Object>,
        graph: Option<&'a Graph>,
        progress: &'a Progress,
    ) -> Cx<'a> {
        Cx {
            clients: &self.clients,
            deployment: &self.deployment.name,
            deployment_id: &self.deployment.id,
            aws_name,
            tags: &self.deployment.tags,
            address,
            objects,
            graph,
            cancel: &self.cancel,
            progress,
            fresh: false,
            run: &self.run,
        }
    }

    /// Deletes the recorded object `obj` (it has an id), waits until AWS agrees it is gone,
    /// and forgets it. With `drain`, a deregistered target is also waited out through its
    /// target group's deregistration delay ("Deregistration delay", ELB User Guide), so its
    /// connections end before its instance does.
    async fn delete_recorded(
        &self,
        address: &str,
        driver: &dyn Driver,
        obj: &Object,
        graph: Option<&Graph>,
        progress: &Progress,
        drain: bool,
    ) -> Result<(), TaskError> {
        let fail = |e: AwsError| TaskError(format!("{address}: {e}"));
        let objects = BTreeMap::from([(address.to_string(), obj.clone())]);
        let aws_name = recorded_name(&self.deployment.name, address, obj);
        let cx = self.cx(address, &aws_name, &objects, graph, progress);
        progress.status("deleting");
        driver.delete(&cx, obj).await.map_err(fail)?;
        progress.created();
        driver.wait_gone(&cx, obj).await.map_err(fail)?;
        if drain {
            crate::drivers::target_registration::wait_drained(&cx, obj).await.map_err(fail)?;
        }
        self.forget(address)
    }

    /// A token unique to this object and run, for APIs that take one.
    fn token(&self, address: &str) -> String {
        let n = self.tokens.fetch_add(1, Ordering::SeqCst);
        let mut h: u64 = 0xcbf29ce484222325;
        for b in address.bytes().chain(self.deployment.name.bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
        }
        format!("strato-{:x}-{:x}-{n}", h, now())
    }
}

/// Creates, updates, replaces and deletes a deployment's objects as its plan says; the
/// engine's [`Work`] for `strato provision`. Tasks `0..n` are the graph's nodes, the rest
/// the deletions of [`crate::apply::Apply::extras`].
#[derive(Clone)]
pub struct Provisioner {
    shared: Arc<Shared>,
    graph: Arc<Graph>,
    apply: Arc<crate::apply::Apply>,
}

impl Provisioner {
    /// `account` is who the preflight found the credentials to be (IAM policies name it).
    pub fn new(
        clients: Clients,
        graph: Arc<Graph>,
        store: Store,
        deployment: Deployment,
        cancel: Cancel,
        account: crate::drivers::Account,
        apply: Arc<crate::apply::Apply>,
    ) -> Provisioner {
        let run = RunContext { account, ..RunContext::default() };
        let shared = Shared::new(clients, store, deployment, cancel, run);
        Provisioner { shared: Arc::new(shared), graph, apply }
    }

    /// The state as it is now.
    pub fn state(&self) -> State {
        self.shared.with_store(|s| s.state().clone())
    }

    pub fn clients(&self) -> &Clients {
        &self.shared.clients
    }

    /// What the operator should hear about, by address.
    pub fn notices(&self) -> Vec<(String, String)> {
        self.shared.notices()
    }

    /// What this run did, by kind of change.
    pub fn counts(&self) -> Counts {
        let n = |c: &AtomicU64| c.load(Ordering::SeqCst);
        let s = &self.shared;
        Counts {
            created: n(&s.created),
            unchanged: n(&s.unchanged),
            updated: n(&s.updated),
            replaced: n(&s.replaced),
            deleted: n(&s.deleted),
        }
    }

    /// The inputs node `id` asks for now, with user data rendered from the state.
    fn inputs_now(&self, id: NodeId) -> BTreeMap<String, String> {
        let g = &self.graph;
        self.shared.with_store(|s| {
            let lookup = |n: NodeId, attr: &str| s.get(g.node(n).address.as_str())?.value(attr).map(str::to_string);
            strato_graph::change::inputs(g, id, &self.shared.deployment.tags, &lookup)
        })
    }

    async fn ensure(&self, node_id: NodeId, progress: Progress) -> Result<(), TaskError> {
        let node = self.graph.node(node_id);
        let address = node.address.as_str();
        if self.apply.skips(node_id) {
            return Ok(());
        }
        let planned = self.apply.planned(node_id);
        if let Some(p) = planned.filter(|p| p.action == Action::Replace && p.rolling) {
            // Rolling: the object in service is kept, under its retired address, until its
            // successor is ready; the retirement task deletes it then.
            let retired = crate::apply::retired(address);
            self.shared
                .with_store(|s| {
                    let old = s.get(address).filter(|o| o.id.is_some()).cloned();
                    match old {
                        Some(mut o) if s.get(&retired).is_none() => {
                            o.depends_on = o.depends_on.iter().map(|d| self.apply.retired_name(d)).collect();
                            s.update(|st| {
                                st.objects.remove(address);
                                st.objects.insert(retired.clone(), o);
                            })
                        }
                        _ => Ok(()),
                    }
                })
                .map_err(|e| TaskError(format!("{address}: {e}")))?;
            let why = p.replace_because.join(", ");
            progress.status(format!("replacing ({why}); the old one stays in service until this one is ready"));
        }
        let fail = |e: AwsError| TaskError(format!("{address}: {e}"));
        let Some(driver) = driver(node.kind) else {
            return Err(TaskError(format!("{address}: strato cannot provision `{}` objects yet", node.kind)));
        };
        let Some(desired) = node.desired.as_ref() else {
            return Err(TaskError(format!("{address}: the spec does not say enough to create it")));
        };
        let address_of = |e: &strato_graph::Edge| self.graph.node(e.dependency).address.to_string();
        // What the object needs: every dependency, for its ids and attributes.
        let needs: Vec<String> = self.graph.dependencies(node_id).map(address_of).collect();
        // What it depends on in AWS, which destroy must respect: not the objects only its
        // user data refers to.
        let depends_on = depends_on(&self.graph, node_id);
        let (own, objects) = self.shared.with_store(|s| {
            let objects: BTreeMap<String, Object> =
                needs.iter().filter_map(|a| s.get(a).map(|o| (a.clone(), o.clone()))).collect();
            (s.get(address).cloned(), objects)
        });
        // `created_at` has a resolution of one second: a dependency made 0.1 s ago may be a
        // second old by it, and on an emulator that scales time the window is below that.
        let fresh_secs = self.shared.clients.scaled(FRESH).as_secs_f64() + 1.0;
        let fresh =
            objects.values().any(|o| o.created_at.is_some_and(|t| now().saturating_sub(t) as f64 <= fresh_secs));
        let cx = Cx { fresh, ..self.shared.cx(address, &node.aws_name, &objects, Some(&self.graph), &progress) };

        let mut token = None;
        if let Some(obj) = own {
            if obj.id.is_some() {
                // A refresh just read it: no need to ask AWS again.
                let seen = planned.is_some_and(|p| p.seen);
                if seen || driver.exists(&cx, &obj).await.map_err(fail)? {
                    let mut obj = Object { depends_on: depends_on.clone(), ..obj };
                    let changes: Vec<Change> =
                        planned.filter(|p| p.action == Action::Update).map(|p| p.changes.clone()).unwrap_or_default();
                    if !changes.is_empty() {
                        progress.status("updating");
                        self.update(&cx, driver, node.kind, &mut obj, desired, &changes).await.map_err(fail)?;
                        self.shared.updated.fetch_add(1, Ordering::SeqCst);
                    } else {
                        self.shared.unchanged.fetch_add(1, Ordering::SeqCst);
                    }
                    progress.created();
                    if obj.status != Status::Ready {
                        // Found by an earlier run, not made by this one: it may lack the
                        // calls that complete it.
                        if obj.status == Status::Created {
                            driver.finish(&cx, desired, obj.id.as_deref().unwrap_or_default()).await.map_err(fail)?;
                        }
                        let learnt = driver.wait_ready(&cx, &obj).await.map_err(fail)?;
                        obj.attributes.extend(learnt);
                        obj.status = Status::Ready;
                    }
                    obj.inputs = self.inputs_now(node_id);
                    return self.shared.save(address, obj);
                }
                // Recorded but gone (deleted outside strato), or past saving (a NAT gateway
                // or database that ended `failed`): delete what is left, which AWS would
                // otherwise keep (and bill, and let hold its Elastic IP), then create it again.
                progress.status("recorded but gone; removing what is left, then creating again");
                driver.delete(&cx, &obj).await.map_err(fail)?;
                driver.wait_gone(&cx, &obj).await.map_err(fail)?;
            } else {
                // An interrupted run may have created it without recording its id (never an
                // object the state records elsewhere: the old node of a rolling
                // replacement carries the same address tag).
                let found = driver.find(&cx, &obj).await.map_err(fail)?;
                let elsewhere = |id: &str| {
                    self.shared.with_store(|s| {
                        s.state().objects.iter().any(|(a, o)| a != address && o.id.as_deref() == Some(id))
                    })
                };
                if let Some(found) = found.filter(|f| !elsewhere(&f.id)) {
                    let mut attributes = obj.attributes.clone();
                    attributes.extend(found.attributes);
                    let recorded = Object {
                        status: Status::Created,
                        id: Some(found.id),
                        attributes,
                        depends_on: depends_on.clone(),
                        created_at: Some(now()),
                        ..obj
                    };
                    self.shared.save(address, recorded.clone())?;
                    // The run that created it may have died before the calls that complete it.
                    driver.finish(&cx, desired, recorded.id.as_deref().unwrap_or_default()).await.map_err(fail)?;
                    progress.created();
                    let learnt = driver.wait_ready(&cx, &recorded).await.map_err(fail)?;
                    self.count_new(planned);
                    let mut ready = Object { status: Status::Ready, ..recorded };
                    ready.attributes.extend(learnt);
                    if settles(node.kind, planned) {
                        self.shared.save(address, ready.clone())?;
                        self.settle(&cx, node.kind, &ready, planned).await.map_err(fail)?;
                    }
                    ready.inputs = self.inputs_now(node_id);
                    return self.shared.save(address, ready);
                }
                token = obj.client_token;
            }
        }

        // Write-ahead: the intent is on disk before the call that creates the object.
        let token = token.unwrap_or_else(|| self.shared.token(address));
        let mut record = Object::new(node.kind.as_str());
        record.depends_on = depends_on;
        record.client_token = Some(token.clone());
        // The name it is created under: a run that resolves the intent looks for that name.
        record.attributes.insert("name".into(), node.aws_name.clone());
        self.shared.save(address, record.clone())?;
        progress.status("creating");

        let created = match driver.create(&cx, desired, &token).await {
            Ok(c) => c,
            // AWS answered, and refused: nothing was created, so the intent goes (a record
            // resumed from would only make the next run look for what does not exist). A
            // transient error keeps the intent, and its token, for the next run to resolve:
            // an earlier attempt of the SDK's may have been carried out unanswered. So does
            // "already exists", which may be the answer to a retry of such an attempt.
            // A name taken by someone else (`Foreign`) is such a refusal too.
            Err(e) if !e.is_transient() && !e.is(crate::error::Class::AlreadyExists) => {
                // A create of more than one call (CreateVpc, then ModifyVpcAttribute;
                // CreateInternetGateway, then AttachInternetGateway) may have made the object
                // before a later call was refused: it is looked for (by its token, name and
                // tags) before the intent goes, and recorded if found, so that destroy removes
                // it and the next provision completes it. A look that fails keeps the intent
                // for the next run to resolve.
                // (A name taken by someone else, or an API the endpoint does not implement,
                // made nothing of ours: no look.)
                use crate::error::Class;
                let made_nothing = e.is(Class::Foreign) || e.is(Class::Unsupported);
                let found = if made_nothing { Ok(None) } else { driver.find(&cx, &record).await };
                match found {
                    Ok(None) => {
                        self.shared.forget(address)?;
                    }
                    Ok(Some(found)) => {
                        record.status = Status::Created;
                        record.id = Some(found.id);
                        record.attributes.extend(found.attributes);
                        record.created_at = Some(now());
                        self.shared.save(address, record)?;
                    }
                    Err(_) => {}
                }
                return Err(fail(e));
            }
            Err(e) => return Err(fail(e)),
        };
        let ready = created.ready;
        record.status = Status::Created;
        record.id = Some(created.id);
        record.attributes.extend(created.attributes);
        record.created_at = Some(now());
        self.shared.save(address, record.clone())?;
        progress.created();
        if !ready {
            let learnt = driver.wait_ready(&cx, &record).await.map_err(fail)?;
            record.attributes.extend(learnt);
        }
        record.status = Status::Ready;
        self.count_new(planned);
        if settles(node.kind, planned) {
            self.shared.save(address, record.clone())?;
            self.settle(&cx, node.kind, &record, planned).await.map_err(fail)?;
        }
        // Ready and its inputs in one write: nothing happens between the two.
        record.inputs = self.inputs_now(node_id);
        self.shared.save(address, record)
    }

    fn count_new(&self, planned: Option<&Planned>) {
        let counter = match planned.map(|p| p.action) {
            Some(Action::Replace) => &self.shared.replaced,
            _ => &self.shared.created,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// After a rolling replacement's new registration: its target must be healthy before
    /// the old one is deregistered.
    async fn settle(&self, cx: &Cx<'_>, kind: Kind, obj: &Object, planned: Option<&Planned>) -> Result<(), AwsError> {
        if settles(kind, planned) {
            crate::drivers::target_registration::wait_healthy(cx, obj).await?;
        }
        Ok(())
    }

    /// Applies in-place `changes` to the live object `obj` and records the result in it.
    async fn update(
        &self,
        cx: &Cx<'_>,
        driver: &dyn Driver,
        kind: Kind,
        obj: &mut Object,
        desired: &strato_graph::Desired,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        let (tags, rest): (Vec<&Change>, Vec<&Change>) = changes.iter().partition(|c| c.attribute.starts_with("tag:"));
        if !rest.is_empty() {
            let rest: Vec<Change> = rest.into_iter().cloned().collect();
            let updated = driver.update(cx, obj, desired, &rest).await?;
            if let Some(id) = updated.id {
                obj.id = Some(id);
            }
            obj.attributes.extend(updated.attributes);
            if kind == Kind::Instance && rest.iter().any(|c| c.attribute == "instance_type") {
                // Started again: back in service only once its targets pass their health
                // checks, before the next node of its group is stopped.
                let id = obj.id.clone().unwrap_or_default();
                let registrations: Vec<Object> = self.shared.with_store(|s| {
                    s.state()
                        .objects
                        .values()
                        .filter(|o| {
                            o.kind == Kind::TargetRegistration.as_str() && o.attribute("instance_id") == Some(&id)
                        })
                        .cloned()
                        .collect()
                });
                for r in &registrations {
                    crate::drivers::target_registration::wait_healthy(cx, r).await?;
                }
            }
        }
        let set: Vec<(String, String)> =
            tags.iter().filter_map(|c| Some((c.attribute.strip_prefix("tag:")?.to_string(), c.new.clone()?))).collect();
        let unset: Vec<String> = tags
            .iter()
            .filter(|c| c.new.is_none())
            .filter_map(|c| c.attribute.strip_prefix("tag:").map(str::to_string))
            .collect();
        crate::drivers::tags::retag(cx, kind, obj, &set, &unset).await
    }

    /// Deletes what the plan retires: an object the spec no longer has, the old object of a
    /// replacement. A target is deregistered and drained first, so connections end before
    /// the instance does (the target group's deregistration delay).
    async fn retire(&self, extra: usize, progress: Progress) -> Result<(), TaskError> {
        let address = self.apply.extras[extra].as_str();
        let fail = |e: AwsError| TaskError(format!("{address}: {e}"));
        let Some((mut obj, kind, driver)) = self.shared.recorded(address)? else { return Ok(()) };
        if let Some(parent) = self.apply.implied.get(address) {
            // Its task follows its parent's, which deleted it.
            progress.status(format!("deleted with {parent}"));
            self.shared.forget(address)?;
            if !crate::apply::is_retired(address) {
                self.shared.deleted.fetch_add(1, Ordering::SeqCst);
            }
            return Ok(());
        }
        if obj.id.is_none() {
            // Never created: nothing to delete, but an unanswered create may have made it.
            let objects = self.shared.with_store(|s| s.state().objects.clone());
            let aws_name = recorded_name(&self.shared.deployment.name, address, &obj);
            let cx = self.shared.cx(address, &aws_name, &objects, Some(&self.graph), &progress);
            match driver.find(&cx, &obj).await.map_err(fail)? {
                Some(found) => obj.id = Some(found.id),
                None => return self.shared.forget(address),
            }
        }
        let drain = kind == Kind::TargetRegistration;
        self.shared.delete_recorded(address, driver, &obj, Some(&self.graph), &progress, drain).await?;
        if !crate::apply::is_retired(address) {
            self.shared.deleted.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

impl Work for Provisioner {
    fn run(&self, id: TaskId, progress: Progress) -> BoxFuture<Result<(), TaskError>> {
        let this = self.clone();
        let nodes = self.graph.nodes().len();
        let address = if id.0 < nodes {
            self.graph.node(NodeId(id.0)).address.to_string()
        } else {
            self.apply.extras[id.0 - nodes].clone()
        };
        Box::pin(journaled(&self.shared, &address, async move {
            if id.0 < nodes {
                this.ensure(NodeId(id.0), progress).await
            } else {
                this.retire(id.0 - nodes, progress).await
            }
        }))
    }
}

/// Whether a new object must settle before it counts as in service ([`Provisioner::settle`]):
/// only then is it recorded ready before its inputs are.
fn settles(kind: Kind, planned: Option<&Planned>) -> bool {
    kind == Kind::TargetRegistration && planned.is_some_and(|p| p.rolling)
}

/// Deletes a deployment's recorded objects; the engine's [`Work`] for `strato destroy`.
/// Objects recorded only as intents must be resolved first ([`resolve_intents`]).
#[derive(Clone)]
pub struct Destroyer {
    shared: Arc<Shared>,
    addresses: Arc<Vec<String>>,
    /// Objects this run must not delete, with why (they could not be checked first).
    blocked: Arc<BTreeMap<String, String>>,
    /// Objects AWS deletes with another object of this run, by address, with that object's
    /// ([`implied_deletes`]): their tasks follow it and make no call.
    implied: Arc<BTreeMap<String, String>>,
}

impl Destroyer {
    pub fn new(
        clients: Clients,
        store: Store,
        deployment: Deployment,
        cancel: Cancel,
        addresses: Vec<String>,
        options: DestroyOptions,
    ) -> Destroyer {
        let run = RunContext { destroy: options, ..RunContext::default() };
        let shared = Shared::new(clients, store, deployment, cancel, run);
        Destroyer {
            shared: Arc::new(shared),
            addresses: Arc::new(addresses),
            blocked: Arc::default(),
            implied: Arc::default(),
        }
    }

    /// The objects that go with another object of the run ([`implied_deletes`] of the
    /// state the tasks were built from), forgotten once it is gone.
    pub fn implying(self, implied: BTreeMap<String, String>) -> Destroyer {
        Destroyer { implied: Arc::new(implied), ..self }
    }

    /// Objects not to delete in this run, each with why: they fail, and what depends on
    /// them in the destroy order is skipped.
    pub fn blocking(self, blocked: BTreeMap<String, String>) -> Destroyer {
        Destroyer { blocked: Arc::new(blocked), ..self }
    }

    pub fn state(&self) -> State {
        self.shared.with_store(|s| s.state().clone())
    }

    pub fn clients(&self) -> &Clients {
        &self.shared.clients
    }

    /// What the operator should hear about (final snapshots taken or skipped), by address.
    pub fn notices(&self) -> Vec<(String, String)> {
        self.shared.notices()
    }

    /// Removes the state file when nothing is left in it.
    pub fn finish(&self) -> Result<bool, strato_state::Error> {
        self.shared.with_store(
            |s| {
                if s.state().objects.is_empty() {
                    s.delete_file().map(|()| true)
                } else {
                    Ok(false)
                }
            },
        )
    }

    async fn delete(&self, id: TaskId, progress: Progress) -> Result<(), TaskError> {
        let address = self.addresses[id.0].as_str();
        let Some((obj, _, driver)) = self.shared.recorded(address)? else { return Ok(()) };
        if let Some(why) = self.blocked.get(address) {
            return Err(TaskError(format!("{address}: {why}")));
        }
        if let Some(parent) = self.implied.get(address) {
            // Its task follows its parent's, which deleted it.
            progress.status(format!("deleted with {parent}"));
            return self.shared.forget(address);
        }
        if obj.id.is_none() {
            // `resolve_intents` could not look for it: deleting its parents could orphan it.
            let msg = format!("{address}: recorded only as an intent, and AWS could not be asked whether it exists");
            return Err(TaskError(msg));
        }
        // The whole deployment goes, its load balancers with it: no draining to wait for.
        self.shared.delete_recorded(address, driver, &obj, None, &progress, false).await
    }
}

impl Work for Destroyer {
    fn run(&self, id: TaskId, progress: Progress) -> BoxFuture<Result<(), TaskError>> {
        let this = self.clone();
        Box::pin(journaled(&self.shared, &self.addresses[id.0], async move { this.delete(id, progress).await }))
    }
}

/// The deployment's CSR challenge for Puppet autosigning: an SSM SecureString
/// (`/strato/<deployment>/csr-challenge`) of 48 random hex digits, made on first use and
/// tagged with the deployment's name and id. strato never reads it back: instances fetch it
/// at boot through their instance role, so it appears in no user data, state, log or
/// output. A parameter of that name that is not this deployment's is never used or changed.
pub async fn ensure_csr_challenge(clients: &Clients, deployment: &Deployment) -> Result<(), AwsError> {
    let name = challenge_parameter(&deployment.name);
    match parameter_tags(clients, &name).await? {
        Some(tags) if tag(&tags, TAG_DEPLOYMENT_ID) == Some(deployment.id.as_str()) => return Ok(()),
        Some(tags) => {
            let msg = format!(
                "the SSM parameter {name} already exists and is not this deployment's: it belongs to {}",
                owner_of(&tags)
            );
            return Err(AwsError::new("PutParameter", crate::error::Class::Foreign, msg));
        }
        None => {}
    }
    let value = random_hex(24)?;
    let ssm_tag = |k: &str, v: &str| {
        aws_sdk_ssm::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .map_err(|e| AwsError::new("PutParameter", crate::error::Class::Fatal, e.to_string()))
    };
    let put = clients
        .ssm
        .put_parameter()
        .name(&name)
        .value(&value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .description(format!("Puppet CSR autosigning challenge of strato deployment {}", deployment.name))
        .tags(ssm_tag(TAG_DEPLOYMENT, &deployment.name)?)
        .tags(ssm_tag(TAG_DEPLOYMENT_ID, &deployment.id)?)
        .overwrite(false)
        .send()
        .await;
    match put.map_err(|e| crate::error::from_sdk("PutParameter", e)) {
        Ok(_) => Ok(()),
        // Made meanwhile (by an earlier attempt of this call, or by someone else): whose?
        Err(e) if e.code_is(&["ParameterAlreadyExists"]) => Box::pin(ensure_csr_challenge(clients, deployment)).await,
        Err(e) => Err(e),
    }
}

/// The tags of an SSM parameter; `None` when there is no such parameter.
pub(crate) async fn parameter_tags(clients: &Clients, name: &str) -> Result<Option<Vec<(String, String)>>, AwsError> {
    let r = clients
        .ssm
        .list_tags_for_resource()
        .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(|e| crate::error::from_sdk("ListTagsForResource", e));
    // A parameter that does not exist answers `InvalidResourceId`.
    match r {
        Ok(out) => Ok(Some(out.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())),
        Err(e) if e.is(crate::error::Class::NotFound) || e.code_is(&["InvalidResourceId"]) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the deployment's CSR challenge if it is this deployment's; already gone is fine.
pub async fn delete_csr_challenge(clients: &Clients, deployment: &Deployment) -> Result<(), AwsError> {
    let name = challenge_parameter(&deployment.name);
    match parameter_tags(clients, &name).await? {
        Some(tags) if tag(&tags, TAG_DEPLOYMENT_ID) == Some(deployment.id.as_str()) => {}
        _ => return Ok(()),
    }
    let r = clients.ssm.delete_parameter().name(name).send().await;
    crate::drivers::gone_ok(r.map_err(|e| crate::error::from_sdk("DeleteParameter", e)))
}

/// A new deployment id: 16 random hex digits.
pub fn new_deployment_id() -> Result<String, AwsError> {
    random_hex(8)
}

pub(crate) fn challenge_parameter(deployment: &str) -> String {
    strato_spec::names::csr_challenge_parameter(deployment)
}

fn random_hex(bytes: usize) -> Result<String, AwsError> {
    use std::io::Read as _;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| AwsError::new("read /dev/urandom", crate::error::Class::Fatal, e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// The name a recorded object has in AWS: recorded with its intent, or, for a state written
/// before names were recorded, `<deployment>-<name>`.
pub(crate) fn recorded_name(deployment: &str, address: &str, obj: &Object) -> String {
    obj.attribute("name").map(str::to_string).unwrap_or_else(|| {
        let address = address.strip_suffix("~retiring").unwrap_or(address);
        let parsed = address.parse::<strato_graph::Address>();
        let rest = parsed.as_ref().map_or(address, |a| a.path());
        format!("{deployment}-{rest}")
    })
}

/// Resolves every object recorded only as an intent (a run died between a create call and
/// its answer) before a destroy: parents first, each is looked for by its driver's `find`
/// and recorded with its id, or forgotten when AWS has no such object. An intent that
/// cannot be looked for now (its service does not answer) stays an intent, and so do the
/// intents under it; the destroy then fails for them, and keeps their parents, instead of
/// stopping before anything is deleted. Returns how many were found, and the errors.
pub async fn resolve_intents(
    clients: &Clients,
    store: &mut Store,
    deployment: &Deployment,
) -> Result<(usize, Vec<String>), String> {
    let cancel = Cancel::default();
    let run = RunContext::default();
    let mut found = 0;
    let mut errors = Vec::new();
    let mut unresolved: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    loop {
        let state = store.state().clone();
        let pending = |a: &str| state.objects.get(a).is_some_and(|o| o.id.is_none());
        // Parents first: an intent whose own dependencies are all resolved.
        let next = state
            .objects
            .iter()
            .find(|(a, o)| pending(a) && !unresolved.contains(*a) && o.depends_on.iter().all(|d| !pending(d)));
        let Some((address, obj)) = next else { break };
        let kind: Kind = obj.kind.parse().map_err(|e: String| format!("{address}: {e}"))?;
        let Some(driver) = driver(kind) else { return Err(format!("{address}: no driver for `{kind}`")) };
        let objects: BTreeMap<String, Object> = std::iter::once(address.clone())
            .chain(obj.depends_on.iter().cloned())
            .filter_map(|a| state.objects.get(&a).map(|o| (a, o.clone())))
            .collect();
        let progress = strato_engine::Progress::detached();
        let aws_name = recorded_name(&deployment.name, address, obj);
        let cx = Cx {
            clients,
            deployment: &deployment.name,
            deployment_id: &deployment.id,
            aws_name: &aws_name,
            tags: &deployment.tags,
            address,
            objects: &objects,
            graph: None,
            cancel: &cancel,
            progress: &progress,
            fresh: false,
            run: &run,
        };
        match driver.find(&cx, obj).await {
            Ok(Some(c)) => {
                found += 1;
                let mut attributes = obj.attributes.clone();
                attributes.extend(c.attributes);
                let resolved = Object {
                    status: Status::Created,
                    id: Some(c.id),
                    attributes,
                    created_at: Some(now()),
                    ..obj.clone()
                };
                store.put(address, resolved).map_err(|e| format!("{address}: {e}"))?;
            }
            Ok(None) => store.remove(address).map_err(|e| format!("{address}: {e}"))?,
            // The endpoint does not implement the object's service (HTTP 501, see
            // `Class::Unsupported`): no such object can exist there.
            Err(e) if e.is(crate::error::Class::Unsupported) => {
                store.remove(address).map_err(|e| format!("{address}: {e}"))?
            }
            Err(e) => {
                errors.push(format!("{address}: cannot look for it: {e}"));
                unresolved.insert(address.clone());
            }
        }
    }
    Ok((found, errors))
}

/// The addresses `id` depends on in AWS, as its record keeps them for destroy's order.
fn depends_on(graph: &Graph, id: NodeId) -> Vec<String> {
    graph.uses(id).map(|d| graph.node(d).address.to_string()).collect()
}

/// For `destroy --sweep`, when the state is lost or incomplete: an intent for every object
/// of the spec's graph that the state does not record, with the name it would have been
/// created under, so that [`resolve_intents`] looks for each one by its tags and names (and
/// only objects tagged with this deployment's id are found). Returns how many were added.
pub fn sweep_intents(graph: &Graph, store: &mut Store) -> Result<usize, strato_state::Error> {
    let mut added = Vec::new();
    for (i, node) in graph.nodes().iter().enumerate() {
        let address = node.address.to_string();
        if store.get(&address).is_some() || driver(node.kind).is_none() {
            continue;
        }
        let mut record = Object::new(node.kind.as_str());
        record.depends_on = depends_on(graph, NodeId(i));
        record.attributes.insert("name".into(), node.aws_name.clone());
        added.push((address, record));
    }
    let n = added.len();
    store.update(|s| s.objects.extend(added))?;
    Ok(n)
}
