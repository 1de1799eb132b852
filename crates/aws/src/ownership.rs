//! Whose objects are: what in AWS claims a deployment's name, or the names it would give its
//! objects, without being recorded in its state.
//!
//! A deployment's objects carry `strato:deployment` (its name) and `strato:deployment-id`
//! (its unique id). Before a provision creates anything, [`strangers`] looks for objects that
//! carry the name but another id, or no id (another deployment of the same name, a state that
//! was lost), and for objects that already hold a name the deployment would give (a
//! database or key pair made by hand): any of them stops the run before anything is created.
//! Before a destroy deletes anything, [`check_recorded`] makes sure every recorded object it
//! can ask about is this deployment's, and that nothing it would delete is protected.
//!
//! Each service is asked with its own describe calls: the Resource Groups Tagging API does
//! not return key pairs, Elastic IPs, DB subnet groups or listeners.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use strato_graph::{Desired, Graph, Kind};
use strato_state::State;

use crate::client::Clients;
use crate::drivers::{owner_of, tag, TAG_ADDRESS, TAG_DEPLOYMENT, TAG_DEPLOYMENT_ID};
use crate::error::{from_sdk, AwsError};

/// An object that is in the way: what it is, and whose its tags say it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stranger {
    /// `vpc vpc-0abc`, `database wso2-apim-db`.
    pub what: String,
    pub owner: String,
}

impl std::fmt::Display for Stranger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, which belongs to {}", self.what, self.owner)
    }
}

/// Which objects are this deployment's, by their tags.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    /// The deployment's name.
    pub name: &'a str,
    /// The deployment's id; `None` when it has no state yet, and then nothing tagged with
    /// its name is its own.
    pub id: Option<&'a str>,
    /// The state was written before deployment ids existed: objects tagged with the
    /// deployment's name and no id are its own too.
    pub legacy: bool,
}

impl Owner<'_> {
    fn owns(&self, tags: &[(String, String)]) -> bool {
        match tag(tags, TAG_DEPLOYMENT_ID) {
            Some(id) => self.id == Some(id),
            None => self.legacy && tag(tags, TAG_DEPLOYMENT) == Some(self.name),
        }
    }
}

/// The names the graph's objects would have, by kind, for the kinds AWS knows by name.
fn names(graph: &Graph, kind: Kind) -> Vec<String> {
    graph.nodes().iter().filter(|n| n.kind == kind).map(|n| n.aws_name.clone()).collect()
}

/// Everything in the region that claims deployment `name` (by tag) or one of the names its
/// graph would give, and is neither recorded in `state` nor tagged with the deployment's id.
pub async fn strangers(
    clients: &Clients,
    name: &str,
    owner: Owner<'_>,
    state: &State,
    graph: Option<&Graph>,
) -> Result<Vec<Stranger>, AwsError> {
    let recorded: BTreeSet<&str> = state.objects.values().filter_map(|o| o.id.as_deref()).collect();
    let mut found = Vec::new();
    ec2_tagged(clients, name, owner, &recorded, &mut found).await?;
    let wanted = |kind| graph.map(|g| names(g, kind)).unwrap_or_default();
    // Only the services the spec uses are asked (an emulator may lack RDS); without a spec,
    // RDS too, for what carries the deployment's name. A service the endpoint does not
    // implement holds nothing that could be in the way.
    if graph.is_none_or(|g| g.nodes().iter().any(|n| n.kind == Kind::DbInstance)) {
        served(databases(clients, name, owner, &recorded, &wanted(Kind::DbInstance), &mut found).await)?;
    }
    served(
        elb_named(clients, name, owner, &recorded, &wanted(Kind::LoadBalancer), &wanted(Kind::TargetGroup), &mut found)
            .await,
    )?;
    if let Some(g) = graph {
        served(key_pairs(clients, owner, &recorded, &names(g, Kind::KeyPair), &mut found).await)?;
        served(subnet_groups(clients, owner, &recorded, &names(g, Kind::DbSubnetGroup), &mut found).await)?;
        served(roles(clients, owner, &recorded, g, &mut found).await)?;
        let challenge =
            g.nodes().iter().any(|n| matches!(n.desired, Some(Desired::InstanceRole { csr_challenge: true, .. })));
        if challenge {
            let parameter = crate::provision::challenge_parameter(name);
            if let Some(tags) = crate::provision::parameter_tags(clients, &parameter).await? {
                if !owner.owns(&tags) {
                    found.push(Stranger { what: format!("SSM parameter {parameter}"), owner: owner_of(&tags) });
                }
            }
        }
    }
    Ok(found)
}

/// A check of a service the endpoint does not implement (HTTP 501: an emulator without
/// it) found nothing: no object of that service can be in the way. The first create that
/// needs the service fails with the same answer, naming its object.
fn served(checked: Result<(), AwsError>) -> Result<(), AwsError> {
    match checked {
        Err(e) if e.is(crate::error::Class::Unsupported) => Ok(()),
        other => other,
    }
}

/// EC2 objects tagged with the deployment's name (`DescribeTags`), less those recorded and
/// those that are gone but still listed for a while (terminated instances, deleted NAT
/// gateways).
async fn ec2_tagged(
    clients: &Clients,
    name: &str,
    owner: Owner<'_>,
    recorded: &BTreeSet<&str>,
    found: &mut Vec<Stranger>,
) -> Result<(), AwsError> {
    for (resource, (kind, t)) in live_tagged(clients, Some(name), recorded).await? {
        if owner.owns(&t) {
            continue;
        }
        let what = match tag(&t, TAG_ADDRESS) {
            Some(a) => format!("{kind} {resource} ({a})"),
            None => format!("{kind} {resource}"),
        };
        found.push(Stranger { what, owner: owner_of(&t) });
    }
    Ok(())
}

/// The live EC2 objects tagged `strato:deployment` (with the value `name`, or any), less
/// those `recorded`, with their kind and all their tags.
async fn live_tagged(
    clients: &Clients,
    name: Option<&str>,
    recorded: &BTreeSet<&str>,
) -> Result<BTreeMap<String, (String, Vec<(String, String)>)>, AwsError> {
    let by_name = Filter::builder().name("key").values(TAG_DEPLOYMENT).build();
    let mut call = clients.ec2.describe_tags().filters(by_name);
    if let Some(name) = name {
        call = call.filters(Filter::builder().name("value").values(name).build());
    }
    let mut tagged: BTreeMap<String, String> = BTreeMap::new();
    let mut pages = call.into_paginator().send();
    while let Some(page) = pages.next().await {
        for t in page.map_err(|e| from_sdk("DescribeTags", e))?.tags() {
            if let (Some(r), Some(kind)) = (t.resource_id(), t.resource_type()) {
                if !recorded.contains(r) {
                    tagged.insert(r.to_string(), kind.as_str().to_string());
                }
            }
        }
    }
    if tagged.is_empty() {
        return Ok(BTreeMap::new());
    }
    // Those that still exist, and all their tags, to tell whose they are.
    let live = live_ec2(clients, &tagged).await?;
    tagged.retain(|r, _| live.contains(r));
    let ids: Vec<String> = tagged.keys().cloned().collect();
    let mut tags = ec2_tags(clients, &ids).await?;
    Ok(tagged
        .into_iter()
        .map(|(r, kind)| {
            let t = tags.remove(&r).unwrap_or_default();
            (r, (kind, t))
        })
        .collect())
}

/// A deployment whose objects carry strato's tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    pub name: String,
    /// `None` for objects of a deployment made before deployment ids.
    pub id: Option<String>,
    /// Its live EC2 objects, as `kind id (address)`.
    pub objects: Vec<String>,
}

/// Every deployment with live EC2 objects tagged in the region (`DescribeTags`; every
/// deployment strato makes has at least its VPC there), by name and id. With `name`, only
/// that deployment's.
pub async fn tagged_deployments(clients: &Clients, name: Option<&str>) -> Result<Vec<Tagged>, AwsError> {
    let mut by: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
    for (resource, (kind, t)) in live_tagged(clients, name, &BTreeSet::new()).await? {
        let Some(n) = tag(&t, TAG_DEPLOYMENT) else { continue };
        let what = match tag(&t, TAG_ADDRESS) {
            Some(a) => format!("{kind} {resource} ({a})"),
            None => format!("{kind} {resource}"),
        };
        by.entry((n.to_string(), tag(&t, TAG_DEPLOYMENT_ID).map(str::to_string))).or_default().push(what);
    }
    Ok(by.into_iter().map(|((name, id), objects)| Tagged { name, id, objects }).collect())
}

/// Every tag of the EC2 resources `ids`, by resource (`DescribeTags`, 200 ids a call, rather
/// than a call per object: EC2's describe calls share one bucket). A tag without a value has
/// the empty one.
pub(crate) async fn ec2_tags(
    clients: &Clients,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<(String, String)>>, AwsError> {
    let mut tags: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for chunk in ids.chunks(200) {
        let of = Filter::builder().name("resource-id").set_values(Some(chunk.to_vec())).build();
        let mut pages = clients.ec2.describe_tags().filters(of).into_paginator().send();
        while let Some(page) = pages.next().await {
            for t in page.map_err(|e| from_sdk("DescribeTags", e))?.tags() {
                if let (Some(r), Some(k)) = (t.resource_id(), t.key()) {
                    tags.entry(r.to_string())
                        .or_default()
                        .push((k.to_string(), t.value().unwrap_or_default().to_string()));
                }
            }
        }
    }
    Ok(tags)
}

/// Which of the tagged EC2 resources still exist. EC2 lists terminated instances and
/// deleted NAT gateways, with their tags, for about an hour; some emulators keep the tags of
/// every deleted resource. So each is looked up by its own describe call (200 ids a call);
/// a kind strato does not know how to look up counts as existing.
async fn live_ec2(clients: &Clients, tagged: &BTreeMap<String, String>) -> Result<BTreeSet<String>, AwsError> {
    let mut live = BTreeSet::new();
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (resource, kind) in tagged {
        by_kind.entry(kind.as_str()).or_default().push(resource.clone());
    }
    let ec2 = &clients.ec2;
    for (kind, ids) in by_kind {
        for chunk in ids.chunks(200) {
            let filter = |name: &str| Filter::builder().name(name).set_values(Some(chunk.to_vec())).build();
            // The ids a describe call lists, filtered by `$filter` on this chunk.
            macro_rules! ids {
                ($call:ident, $filter:literal, $list:ident, $id:ident, $op:literal) => {{
                    let out = ec2.$call().filters(filter($filter)).send().await.map_err(|e| from_sdk($op, e))?;
                    out.$list().iter().filter_map(|v| v.$id().map(str::to_string)).collect()
                }};
            }
            let found: Vec<String> = match kind {
                "instance" => {
                    let mut alive = Vec::new();
                    let mut pages = ec2.describe_instances().filters(filter("instance-id")).into_paginator().send();
                    while let Some(page) = pages.next().await {
                        let page = page.map_err(|e| from_sdk("DescribeInstances", e))?;
                        for i in page.reservations().iter().flat_map(|r| r.instances()) {
                            let state = i.state().and_then(|s| s.name()).map(|s| s.as_str()).unwrap_or_default();
                            if state != "terminated" && state != "shutting-down" {
                                alive.extend(i.instance_id().map(str::to_string));
                            }
                        }
                    }
                    alive
                }
                "natgateway" | "nat-gateway" => {
                    let out = ec2
                        .describe_nat_gateways()
                        .filter(filter("nat-gateway-id"))
                        .send()
                        .await
                        .map_err(|e| from_sdk("DescribeNatGateways", e))?;
                    out.nat_gateways()
                        .iter()
                        .filter(|n| !matches!(n.state().map(|s| s.as_str()), Some("deleted" | "deleting" | "failed")))
                        .filter_map(|n| n.nat_gateway_id().map(str::to_string))
                        .collect()
                }
                "vpc" => ids!(describe_vpcs, "vpc-id", vpcs, vpc_id, "DescribeVpcs"),
                "subnet" => ids!(describe_subnets, "subnet-id", subnets, subnet_id, "DescribeSubnets"),
                "internet-gateway" => ids!(
                    describe_internet_gateways,
                    "internet-gateway-id",
                    internet_gateways,
                    internet_gateway_id,
                    "DescribeInternetGateways"
                ),
                "elastic-ip" | "vpc-elastic-ip" => {
                    ids!(describe_addresses, "allocation-id", addresses, allocation_id, "DescribeAddresses")
                }
                "route-table" => {
                    ids!(describe_route_tables, "route-table-id", route_tables, route_table_id, "DescribeRouteTables")
                }
                "security-group" => {
                    ids!(describe_security_groups, "group-id", security_groups, group_id, "DescribeSecurityGroups")
                }
                "security-group-rule" => ids!(
                    describe_security_group_rules,
                    "security-group-rule-id",
                    security_group_rules,
                    security_group_rule_id,
                    "DescribeSecurityGroupRules"
                ),
                "key-pair" => ids!(describe_key_pairs, "key-pair-id", key_pairs, key_pair_id, "DescribeKeyPairs"),
                "network-interface" => ids!(
                    describe_network_interfaces,
                    "network-interface-id",
                    network_interfaces,
                    network_interface_id,
                    "DescribeNetworkInterfaces"
                ),
                "volume" => ids!(describe_volumes, "volume-id", volumes, volume_id, "DescribeVolumes"),
                _ => chunk.to_vec(),
            };
            live.extend(found);
        }
    }
    Ok(live)
}

/// RDS databases tagged with the deployment's name, or holding one of its identifiers.
async fn databases(
    clients: &Clients,
    name: &str,
    owner: Owner<'_>,
    recorded: &BTreeSet<&str>,
    wanted: &[String],
    found: &mut Vec<Stranger>,
) -> Result<(), AwsError> {
    let mut pages = clients.rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        for db in page.map_err(|e| from_sdk("DescribeDBInstances", e))?.db_instances() {
            let ident = db.db_instance_identifier().unwrap_or_default();
            if recorded.contains(ident) || db.db_instance_status() == Some("deleting") {
                continue;
            }
            let tags = crate::drivers::rds_pairs(db.tag_list());
            let claims = tag(&tags, TAG_DEPLOYMENT) == Some(name) || wanted.iter().any(|w| w == ident);
            if claims && !owner.owns(&tags) {
                found.push(Stranger { what: format!("database {ident}"), owner: owner_of(&tags) });
            }
        }
    }
    Ok(())
}

/// Load balancers and target groups holding one of the deployment's names (ELB names are
/// unique per account and region).
async fn elb_named(
    clients: &Clients,
    _name: &str,
    owner: Owner<'_>,
    recorded: &BTreeSet<&str>,
    lbs: &[String],
    tgs: &[String],
    found: &mut Vec<Stranger>,
) -> Result<(), AwsError> {
    let mut taken: Vec<(String, String)> = Vec::new();
    if !lbs.is_empty() {
        let mut pages = clients.elb.describe_load_balancers().into_paginator().send();
        while let Some(page) = pages.next().await {
            for lb in page.map_err(|e| from_sdk("DescribeLoadBalancers", e))?.load_balancers() {
                let (n, arn) =
                    (lb.load_balancer_name().unwrap_or_default(), lb.load_balancer_arn().unwrap_or_default());
                if lbs.iter().any(|w| w == n) && !recorded.contains(arn) {
                    taken.push((format!("load balancer {n}"), arn.to_string()));
                }
            }
        }
    }
    if !tgs.is_empty() {
        let mut pages = clients.elb.describe_target_groups().into_paginator().send();
        while let Some(page) = pages.next().await {
            for tg in page.map_err(|e| from_sdk("DescribeTargetGroups", e))?.target_groups() {
                let (n, arn) = (tg.target_group_name().unwrap_or_default(), tg.target_group_arn().unwrap_or_default());
                if tgs.iter().any(|w| w == n) && !recorded.contains(arn) {
                    taken.push((format!("target group {n}"), arn.to_string()));
                }
            }
        }
    }
    for chunk in taken.chunks(20) {
        let arns: Vec<&str> = chunk.iter().map(|(_, a)| a.as_str()).collect();
        let mut tags_of = elb_tags_of(clients, &arns).await?;
        for (what, arn) in chunk {
            let tags = tags_of.remove(arn).unwrap_or_default();
            if !owner.owns(&tags) {
                found.push(Stranger { what: what.clone(), owner: owner_of(&tags) });
            }
        }
    }
    Ok(())
}

async fn key_pairs(
    clients: &Clients,
    owner: Owner<'_>,
    recorded: &BTreeSet<&str>,
    wanted: &[String],
    found: &mut Vec<Stranger>,
) -> Result<(), AwsError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let named = Filter::builder().name("key-name").set_values(Some(wanted.to_vec())).build();
    let out =
        clients.ec2.describe_key_pairs().filters(named).send().await.map_err(|e| from_sdk("DescribeKeyPairs", e))?;
    for k in out.key_pairs() {
        let tags = crate::drivers::ec2_pairs(k.tags());
        if !recorded.contains(k.key_pair_id().unwrap_or_default()) && !owner.owns(&tags) {
            found.push(Stranger {
                what: format!("key pair {}", k.key_name().unwrap_or_default()),
                owner: owner_of(&tags),
            });
        }
    }
    Ok(())
}

async fn subnet_groups(
    clients: &Clients,
    owner: Owner<'_>,
    recorded: &BTreeSet<&str>,
    wanted: &[String],
    found: &mut Vec<Stranger>,
) -> Result<(), AwsError> {
    for name in wanted.iter().filter(|n| !recorded.contains(n.as_str())) {
        let r = clients.rds.describe_db_subnet_groups().db_subnet_group_name(name).send().await;
        let Some(out) = crate::drivers::found(r.map_err(|e| from_sdk("DescribeDBSubnetGroups", e)))? else { continue };
        let Some(arn) = out.db_subnet_groups().first().and_then(|g| g.db_subnet_group_arn()) else { continue };
        let tags = crate::drivers::rds_tags_of(clients, arn).await?;
        if !owner.owns(&tags) {
            found.push(Stranger { what: format!("DB subnet group {name}"), owner: owner_of(&tags) });
        }
    }
    Ok(())
}

async fn roles(
    clients: &Clients,
    owner: Owner<'_>,
    recorded: &BTreeSet<&str>,
    graph: &Graph,
    found: &mut Vec<Stranger>,
) -> Result<(), AwsError> {
    for n in graph.nodes() {
        let Some(Desired::InstanceRole { name, .. }) = &n.desired else { continue };
        if recorded.contains(name.as_str()) {
            continue;
        }
        let r = clients.iam.get_role().role_name(name).send().await.map_err(|e| from_sdk("GetRole", e));
        let Some(out) = crate::drivers::found(r)? else { continue };
        let tags: Vec<(String, String)> = out
            .role()
            .map(|r| r.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
            .unwrap_or_default();
        if !owner.owns(&tags) {
            found.push(Stranger { what: format!("IAM role {name}"), owner: owner_of(&tags) });
        }
    }
    Ok(())
}

/// The databases RDS lists among `ids` (the `db-instance-id` filter: an identifier that is
/// not there is simply not listed).
async fn database_list(clients: &Clients, ids: Vec<String>) -> Result<Vec<aws_sdk_rds::types::DbInstance>, AwsError> {
    let filter = aws_sdk_rds::types::Filter::builder().name("db-instance-id").set_values(Some(ids)).build();
    let mut listed = Vec::new();
    let mut pages = clients.rds.describe_db_instances().filters(filter).into_paginator().send();
    while let Some(page) = pages.next().await {
        listed.extend(page.map_err(|e| from_sdk("DescribeDBInstances", e))?.db_instances().iter().cloned());
    }
    Ok(listed)
}

/// The tags of the load balancers and target groups `arns` (at most 20), by ARN.
async fn elb_tags_of(clients: &Clients, arns: &[&str]) -> Result<BTreeMap<String, Vec<(String, String)>>, AwsError> {
    let arns = arns.iter().map(|a| a.to_string()).collect();
    let out = clients.elb.describe_tags().set_resource_arns(Some(arns)).send().await;
    let out = out.map_err(|e| from_sdk("DescribeTags", e))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter_map(|d| Some((d.resource_arn()?.to_string(), crate::drivers::elb_pairs(d.tags()))))
        .collect())
}

/// What the check before a destroy found.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Objects that stop the whole destroy: someone else's, or protected.
    pub problems: Vec<String>,
    /// Objects that could not be checked (their service did not answer), with why: they are
    /// not deleted by this run, and neither is what they sit in.
    pub unchecked: Vec<(String, String)>,
}

/// Before a destroy: the recorded objects that are not this deployment's after all (their
/// tags carry another deployment id), and those a delete would be refused for (deletion
/// protection, unless it is to be lifted). Objects recorded before deployment ids existed
/// carry none; they count as this deployment's when they carry its name and their address.
pub async fn check_recorded(clients: &Clients, state: &State, id: &str, lift_deletion_protection: bool) -> Recorded {
    let mut found = Recorded::default();
    let mine = |tags: &[(String, String)], address: &str| match tag(tags, TAG_DEPLOYMENT_ID) {
        Some(other) => other == id,
        None => tag(tags, TAG_DEPLOYMENT) == Some(state.deployment.as_str()) && tag(tags, TAG_ADDRESS) == Some(address),
    };
    let protected =
        "has deletion protection (run destroy with --lift-deletion-protection to turn it off and delete it)";
    let mut databases: Vec<(&str, &str)> = Vec::new();
    let mut balancing: Vec<(&str, &str, Kind)> = Vec::new();
    for (address, obj) in &state.objects {
        let Some(object_id) = obj.id.as_deref() else { continue };
        match obj.kind.parse::<Kind>() {
            Ok(Kind::DbInstance) => databases.push((address, object_id)),
            Ok(kind @ (Kind::LoadBalancer | Kind::TargetGroup)) => balancing.push((address, object_id, kind)),
            _ => {}
        }
    }
    // Databases: one `DescribeDBInstances` per 100 recorded identifiers (the `db-instance-id`
    // filter takes up to 100 values, RDS API reference); one that is not listed is gone.
    for chunk in databases.chunks(100) {
        let ids: Vec<String> = chunk.iter().map(|(_, i)| i.to_string()).collect();
        match database_list(clients, ids).await {
            Ok(listed) => {
                for (address, object_id) in chunk {
                    let Some(db) = listed.iter().find(|d| d.db_instance_identifier() == Some(*object_id)) else {
                        continue;
                    };
                    let tags = crate::drivers::rds_pairs(db.tag_list());
                    let problem = if !mine(&tags, address) {
                        Some(format!("{address}: database {object_id} belongs to {}", owner_of(&tags)))
                    } else if db.deletion_protection() == Some(true) && !lift_deletion_protection {
                        Some(format!("{address}: database {object_id} {protected}"))
                    } else {
                        None
                    };
                    found.problems.extend(problem);
                }
            }
            Err(e) => found.unchecked.extend(chunk.iter().map(|(a, _)| (a.to_string(), e.to_string()))),
        }
    }
    // Load balancers and target groups: their tags in one `DescribeTags` per 20 ARNs (its
    // limit, ELBv2 API reference). An ARN that is gone fails the whole call
    // (`LoadBalancerNotFound`, `TargetGroupNotFound`): that chunk is then asked one by one.
    // By ARN: its tags, `None` when it is gone, or why it could not be asked.
    type Tags = Result<Option<Vec<(String, String)>>, AwsError>;
    let mut elb_tags: BTreeMap<&str, Tags> = BTreeMap::new();
    for chunk in balancing.chunks(20) {
        let arns: Vec<&str> = chunk.iter().map(|(_, arn, _)| *arn).collect();
        match elb_tags_of(clients, &arns).await {
            Ok(tags) => elb_tags.extend(arns.iter().map(|a| (*a, Ok(tags.get(*a).cloned())))),
            Err(e) if e.is(crate::error::Class::NotFound) && arns.len() > 1 => {
                for arn in arns {
                    let one = elb_tags_of(clients, &[arn]).await;
                    elb_tags.insert(arn, crate::drivers::found(one).map(|t| t.and_then(|mut t| t.remove(arn))));
                }
            }
            Err(e) => elb_tags.extend(arns.iter().map(|a| (*a, Err(e.clone())))),
        }
    }
    for (address, arn, kind) in balancing {
        let checked: Result<Option<String>, AwsError> = async {
            // Not listed: gone already; nothing to refuse.
            let Some(tags) = elb_tags.remove(arn).unwrap_or(Ok(None))? else { return Ok(None) };
            if !mine(&tags, address) {
                return Ok(Some(format!("{address}: {arn} belongs to {}", owner_of(&tags))));
            }
            if kind != Kind::LoadBalancer || lift_deletion_protection {
                return Ok(None);
            }
            let r = clients.elb.describe_load_balancer_attributes().load_balancer_arn(arn).send().await;
            let attrs = crate::drivers::found(r.map_err(|e| from_sdk("DescribeLoadBalancerAttributes", e)))?;
            let on = attrs.is_some_and(|a| {
                a.attributes()
                    .iter()
                    .any(|a| a.key() == Some("deletion_protection.enabled") && a.value() == Some("true"))
            });
            Ok(on.then(|| format!("{address}: load balancer {protected}")))
        }
        .await;
        match checked {
            Ok(Some(problem)) => found.problems.push(problem),
            Ok(None) => {}
            Err(e) => found.unchecked.push((address.to_string(), e.to_string())),
        }
    }
    // EC2 objects, in one call per 200 recorded ids.
    let ec2: Vec<(&str, &str)> = state
        .objects
        .iter()
        .filter_map(|(a, o)| Some((a.as_str(), o.id.as_deref()?)))
        .filter(|(_, i)| {
            ["vpc-", "subnet-", "igw-", "eipalloc-", "nat-", "rtb-", "sg-", "key-", "i-"]
                .iter()
                .any(|p| i.starts_with(p))
        })
        .collect();
    let ids: Vec<String> = ec2.iter().map(|(_, i)| i.to_string()).collect();
    match ec2_tags(clients, &ids).await {
        Ok(tags) => {
            for (address, object_id) in ec2 {
                // No tags listed: gone already; nothing to refuse.
                let Some(t) = tags.get(object_id) else { continue };
                if !mine(t, address) {
                    found.problems.push(format!("{address}: {object_id} belongs to {}", owner_of(t)));
                }
            }
        }
        Err(e) => found.unchecked.extend(ec2.iter().map(|(a, _)| (a.to_string(), e.to_string()))),
    }
    found
}
