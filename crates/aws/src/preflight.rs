//! What is checked before the first mutating call of a provision or a destroy, so that a
//! run that cannot succeed changes nothing: the credentials and the endpoint, the zones and
//! instance types the spec uses, the account's quotas, and whether anything in AWS already
//! claims this deployment's names without being this deployment's (see [`crate::ownership`]).
//!
//! On request (`provision --check-services`), whether the endpoint serves every service the
//! spec needs.
//!
//! Every check only reads. The problems are reported all at once; checks the endpoint cannot
//! answer (Service Quotas on an emulator) are skipped with a note.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_ec2::types::{Filter, LocationType};
use strato_graph::{Desired, Graph, Kind};
use strato_state::State;

use crate::client::{Clients, Connection};
use crate::drivers::Account;
use crate::error::{from_sdk, AwsError, Class};

/// What the checks found: problems stop the run; notes are for the operator.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

impl Findings {
    pub fn is_clear(&self) -> bool {
        self.problems.is_empty()
    }
}

/// How long one attempt of the first call may take, and all of its attempts: an endpoint
/// that accepts connections and never answers is named within half a minute, while
/// throttling and server errors (quick answers) are retried.
const IDENTITY_ATTEMPT: Duration = Duration::from_secs(10);
const IDENTITY_TOTAL: Duration = Duration::from_secs(25);
/// Enough attempts to ride out throttling and server errors, few enough that a refused
/// connection is reported in seconds, with its cause.
const IDENTITY_ATTEMPTS: u32 = 4;

/// Who the credentials are (`sts:GetCallerIdentity`, which needs no permission): the first
/// call of every run. The error is one line that names the profile or the endpoint.
pub async fn identity(clients: &Clients, connection: &Connection) -> Result<Account, String> {
    let profile = connection.profile.as_deref();
    let endpoint = connection.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    let endpoint = endpoint.as_deref();
    let quick = aws_sdk_sts::config::Builder::default()
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(IDENTITY_ATTEMPT)
                .operation_timeout(IDENTITY_TOTAL)
                .build(),
        )
        .retry_config(crate::client::retry_config().with_max_attempts(IDENTITY_ATTEMPTS));
    let r = clients.sts.get_caller_identity().customize().config_override(quick).send().await;
    match r.map_err(|e| from_sdk("GetCallerIdentity", e)) {
        Ok(out) => {
            let arn = out.arn().unwrap_or_default().to_string();
            let partition = arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws").to_string();
            Ok(Account { id: out.account().unwrap_or_default().to_string(), partition, arn })
        }
        Err(e) => {
            let first_line = e.message.lines().next().unwrap_or_default().trim().to_string();
            // The SDK's default chain takes keys from the environment before any profile
            // (aws-config `DefaultCredentialsChain`: environment, profile, web identity, ECS,
            // instance metadata), so with AWS_ACCESS_KEY_ID set a named profile did not sign.
            let env_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|k| !k.is_empty());
            let whose = match (profile, env_keys) {
                (Some(p), true) => {
                    format!("the environment (AWS_ACCESS_KEY_ID, which the SDK takes before profile `{p}`)")
                }
                (Some(p), false) => format!("profile `{p}`"),
                (None, _) => "the default credential chain (environment, shared config, SSO, instance role)".into(),
            };
            let at = endpoint.map_or_else(|| format!("region {}", clients.region), |u| u.to_string());
            Err(match e.class {
                Class::Auth if e.code.is_none() && e.message.contains("credential") => format!(
                    "no AWS credentials found in {whose}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or log in (aws sso login)"
                ),
                Class::Auth => {
                    let code = e.code.as_deref().map_or(String::new(), |c| format!("{c}: "));
                    format!("AWS refused the credentials from {whose}: {code}{first_line}")
                }
                Class::Unreachable | Class::ServerError => {
                    format!("cannot reach AWS at {at} (GetCallerIdentity): {first_line}")
                }
                _ => format!("cannot use the credentials from {whose} at {at}: {e}"),
            })
        }
    }
}

/// The zones the graph's subnets use, the instance types each zone runs, and the account's
/// quotas for what the run would add. `state` holds what already exists (and needs no
/// quota).
pub async fn capacity(clients: &Clients, graph: &Graph, state: &State) -> Findings {
    let mut f = Findings::default();
    let zone_of_subnet: BTreeMap<usize, String> = graph
        .nodes()
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match &n.desired {
            Some(Desired::Subnet { zone, .. }) => Some((i, zone.clone())),
            _ => None,
        })
        .collect();
    let zones: BTreeSet<String> = zone_of_subnet.values().cloned().collect();
    if let Err(e) = check_zones(clients, &zones, &mut f).await {
        f.problems.push(format!("cannot list the zones of {}: {e}", clients.region));
        return f;
    }
    // Instance type and zone, per instance.
    let instances: Vec<(&str, &str, &str)> = graph
        .nodes()
        .iter()
        .filter_map(|n| match &n.desired {
            Some(Desired::Instance(i)) => {
                Some((n.address.as_str(), i.instance_type.as_str(), zone_of_subnet.get(&i.subnet.0)?.as_str()))
            }
            _ => None,
        })
        .collect();
    if let Err(e) = check_offerings(clients, &instances, &mut f).await {
        f.problems.push(format!("cannot list the instance types offered in {}: {e}", clients.region));
    }
    let new = |kind: Kind| {
        graph.nodes().iter().filter(|n| n.kind == kind && !state.objects.contains_key(n.address.as_str())).count()
    };
    let new_types: Vec<&str> =
        instances.iter().filter(|(a, _, _)| !state.objects.contains_key(*a)).map(|(_, t, _)| *t).collect();
    check_quotas(clients, new(Kind::Vpc), new(Kind::ElasticIp), &new_types, &mut f).await;
    f
}

async fn check_zones(clients: &Clients, used: &BTreeSet<String>, f: &mut Findings) -> Result<(), AwsError> {
    let out =
        clients.ec2.describe_availability_zones().send().await.map_err(|e| from_sdk("DescribeAvailabilityZones", e))?;
    let available: BTreeSet<String> = out
        .availability_zones()
        .iter()
        .filter(|z| z.state().is_none_or(|s| s.as_str() == "available"))
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    for zone in used.iter().filter(|z| !available.contains(*z)) {
        let list: Vec<&str> = available.iter().map(String::as_str).collect();
        f.problems.push(format!(
            "zone {zone} is not an available zone of {} for this account (available: {})",
            clients.region,
            list.join(", ")
        ));
    }
    Ok(())
}

/// Zone names map to different physical zones in each account, and not every zone runs
/// every type: `RunInstances` answers `Unsupported` for a type the zone does not offer
/// (EC2 API reference, DescribeInstanceTypeOfferings, location type `availability-zone`).
async fn check_offerings(
    clients: &Clients,
    instances: &[(&str, &str, &str)],
    f: &mut Findings,
) -> Result<(), AwsError> {
    if instances.is_empty() {
        return Ok(());
    }
    let types: BTreeSet<&str> = instances.iter().map(|(_, t, _)| *t).collect();
    let zones: BTreeSet<&str> = instances.iter().map(|(_, _, z)| *z).collect();
    let mut offered: BTreeSet<(String, String)> = BTreeSet::new();
    let mut pages = clients
        .ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .set_values(Some(types.iter().map(|t| t.to_string()).collect()))
                .build(),
        )
        .filters(
            Filter::builder().name("location").set_values(Some(zones.iter().map(|z| z.to_string()).collect())).build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk("DescribeInstanceTypeOfferings", e))?;
        for o in page.instance_type_offerings() {
            if let (Some(t), Some(z)) = (o.instance_type(), o.location()) {
                offered.insert((t.as_str().to_string(), z.to_string()));
            }
        }
    }
    if offered.is_empty() {
        // No offering at all for types validation knows: an endpoint without offering data.
        f.notes.push("the endpoint lists no instance type offerings; offerings were not checked".into());
        return Ok(());
    }
    let mut missing: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (address, t, z) in instances {
        if !offered.contains(&(t.to_string(), z.to_string())) {
            missing.entry((*t, *z)).or_default().push(address);
        }
    }
    for ((t, z), addresses) in missing {
        f.problems.push(format!(
            "instance type {t} is not offered in {z} ({}): choose another type, or put these instances in another zone",
            addresses.join(", ")
        ));
    }
    Ok(())
}

/// A quota of the Service Quotas API: its value, or why it could not be read.
async fn quota(clients: &Clients, service: &str, code: &str) -> Result<f64, AwsError> {
    let out = clients
        .quotas
        .get_service_quota()
        .service_code(service)
        .quota_code(code)
        .send()
        .await
        .map_err(|e| from_sdk("GetServiceQuota", e))?;
    out.quota()
        .and_then(|q| q.value())
        .ok_or_else(|| AwsError::new("GetServiceQuota", Class::Fatal, "the answer holds no value"))
}

/// The instance families Service Quotas counts as "standard" (L-1216C47A: "Running
/// On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances").
fn standard_family(instance_type: &str) -> bool {
    let family: String = instance_type.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    family.len() <= 2
        && matches!(family.chars().next(), Some('a' | 'c' | 'd' | 'h' | 'i' | 'm' | 'r' | 't' | 'z'))
        && !["inf", "dl", "trn", "mac", "hpc"].iter().any(|p| instance_type.starts_with(p))
}

/// vCPUs, EIPs and VPCs the run adds against the account's quotas and what it already uses
/// (Service Quotas: L-1216C47A, L-0263D0A3, L-F678F1CE). Quotas the endpoint cannot tell
/// are skipped with a note.
async fn check_quotas(clients: &Clients, vpcs: usize, eips: usize, types: &[&str], f: &mut Findings) {
    let mut skipped = Vec::new();
    let region = &clients.region;
    if vpcs > 0 {
        match exceeded(clients, "vpc", "L-F678F1CE", async { Ok((vpcs as i64, count_vpcs(clients).await? as i64)) }).await {
            Ok(Some((_, used, limit))) => f.problems.push(format!(
                "the run adds {vpcs} VPC(s) to the {used} of {region}, and the quota is {limit} (Service Quotas vpc L-F678F1CE): ask for an increase or remove unused VPCs"
            )),
            Ok(None) => {}
            Err(why) => skipped.push(format!("VPCs ({why})")),
        }
    }
    if eips > 0 {
        let counts = async { Ok((eips as i64, count_addresses(clients).await? as i64)) };
        match exceeded(clients, "ec2", "L-0263D0A3", counts).await {
            Ok(Some((_, used, limit))) => f.problems.push(format!(
                "the run allocates {eips} Elastic IP(s) beside the {used} held in {region}, and the quota is {limit} (Service Quotas ec2 L-0263D0A3): ask for an increase or release unused addresses"
            )),
            Ok(None) => {}
            Err(why) => skipped.push(format!("Elastic IPs ({why})")),
        }
    }
    let standard: Vec<&str> = types.iter().copied().filter(|t| standard_family(t)).collect();
    if !standard.is_empty() {
        match exceeded(clients, "ec2", "L-1216C47A", vcpus(clients, &standard)).await {
            Ok(Some((needed, used, limit))) => f.problems.push(format!(
                "the run starts instances with {needed} vCPUs beside the {used} running in {region}, and the On-Demand standard vCPU quota is {limit} (Service Quotas ec2 L-1216C47A): ask for an increase or choose smaller types"
            )),
            Ok(None) => {}
            Err(why) => skipped.push(format!("vCPUs ({why})")),
        }
    }
    if !skipped.is_empty() {
        f.notes.push(format!("quotas not checked: {}", skipped.join(", ")));
    }
}

/// Quota `code` of `service` against what the run needs and what is in use (`counts`, read
/// only once the quota is known): `(needed, used, quota)` when the two exceed it; why it
/// could not be told otherwise.
async fn exceeded(
    clients: &Clients,
    service: &str,
    code: &str,
    counts: impl std::future::Future<Output = Result<(i64, i64), AwsError>>,
) -> Result<Option<(i64, i64, f64)>, String> {
    let limit = quota(clients, service, code).await.map_err(|e| e.code.clone().unwrap_or(e.message))?;
    let (needed, used) = counts.await.map_err(|e| e.to_string())?;
    Ok(((needed + used) as f64 > limit).then_some((needed, used, limit)))
}

async fn count_vpcs(clients: &Clients) -> Result<usize, AwsError> {
    let mut n = 0;
    let mut pages = clients.ec2.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        n += page.map_err(|e| from_sdk("DescribeVpcs", e))?.vpcs().len();
    }
    Ok(n)
}

async fn count_addresses(clients: &Clients) -> Result<usize, AwsError> {
    let out = clients.ec2.describe_addresses().send().await.map_err(|e| from_sdk("DescribeAddresses", e))?;
    Ok(out.addresses().len())
}

/// vCPUs of the new instances, and of the standard instances already running or starting.
async fn vcpus(clients: &Clients, new: &[&str]) -> Result<(i64, i64), AwsError> {
    let live = Filter::builder().name("instance-state-name").values("pending").values("running").build();
    let mut running: Vec<String> = Vec::new();
    let mut pages = clients.ec2.describe_instances().filters(live).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk("DescribeInstances", e))?;
        running.extend(
            page.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .filter_map(|i| i.instance_type().map(|t| t.as_str().to_string()))
                .filter(|t| standard_family(t)),
        );
    }
    let types: BTreeSet<String> = new.iter().map(|t| t.to_string()).chain(running.iter().cloned()).collect();
    let mut per_type: BTreeMap<String, i64> = BTreeMap::new();
    let mut pages = clients
        .ec2
        .describe_instance_types()
        .set_instance_types(Some(types.iter().map(|t| aws_sdk_ec2::types::InstanceType::from(t.as_str())).collect()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| from_sdk("DescribeInstanceTypes", e))?;
        for t in page.instance_types() {
            if let (Some(name), Some(v)) = (t.instance_type(), t.v_cpu_info().and_then(|v| v.default_v_cpus())) {
                per_type.insert(name.as_str().to_string(), i64::from(v));
            }
        }
    }
    let of = |t: &str| {
        per_type
            .get(t)
            .copied()
            .ok_or_else(|| AwsError::new("DescribeInstanceTypes", Class::Fatal, format!("no vCPU count for {t}")))
    };
    let needed = new.iter().map(|t| of(t)).sum::<Result<i64, _>>()?;
    let used = running.iter().map(|t| of(t)).sum::<Result<i64, _>>()?;
    Ok((needed, used))
}

/// With `provision --check-services`: one cheap read of each service the graph's objects
/// need besides EC2 (which the zone check already asks), and a problem for each one the
/// endpoint does not implement (HTTP 501, [`Class::Unsupported`]: an emulator such as
/// LocalStack's free build answers so for RDS, EFS and ELBv2), naming the objects that need
/// it. Only that answer is a problem here: any other error is left to the call that meets
/// it, so on AWS the check costs a few reads and finds nothing.
pub async fn services(clients: &Clients, graph: &Graph) -> Vec<String> {
    let mut needs: BTreeMap<&'static str, Vec<&str>> = BTreeMap::new();
    for n in graph.nodes() {
        needs.entry(n.kind.service()).or_default().push(n.address.as_str());
    }
    let mut problems = Vec::new();
    for (service, addresses) in &needs {
        let (name, answer) = match *service {
            "rds" => (
                "RDS",
                clients
                    .rds
                    .describe_db_subnet_groups()
                    .max_records(20)
                    .send()
                    .await
                    .err()
                    .map(|e| from_sdk("DescribeDBSubnetGroups", e)),
            ),
            "efs" => (
                "EFS",
                clients
                    .efs
                    .describe_file_systems()
                    .max_items(1)
                    .send()
                    .await
                    .err()
                    .map(|e| from_sdk("DescribeFileSystems", e)),
            ),
            "elb" => (
                "Elastic Load Balancing (v2)",
                clients
                    .elb
                    .describe_load_balancers()
                    .page_size(1)
                    .send()
                    .await
                    .err()
                    .map(|e| from_sdk("DescribeLoadBalancers", e)),
            ),
            "acm" => (
                "ACM",
                clients
                    .acm
                    .list_certificates()
                    .max_items(1)
                    .send()
                    .await
                    .err()
                    .map(|e| from_sdk("ListCertificates", e)),
            ),
            "iam" => {
                ("IAM", clients.iam.list_roles().max_items(1).send().await.err().map(|e| from_sdk("ListRoles", e)))
            }
            // EC2 (and its NAT gateways): the zone check has asked it already.
            _ => continue,
        };
        if let Some(e) = answer.filter(|e| e.is(Class::Unsupported)) {
            let shown: Vec<&str> = addresses.iter().take(3).copied().collect();
            let more = addresses.len().saturating_sub(shown.len());
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            problems.push(format!(
                "the endpoint does not serve {name} ({e}), which {}{more} need{}",
                shown.join(", "),
                if addresses.len() == 1 { "s" } else { "" }
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_families_are_the_ones_the_quota_counts() {
        for t in ["t3.micro", "c5.xlarge", "m7i.large", "r6g.medium", "z1d.large", "i4i.large", "d3.xlarge"] {
            assert!(standard_family(t), "{t}");
        }
        for t in
            ["p4d.24xlarge", "g5.xlarge", "inf2.xlarge", "x2idn.large", "trn1.2xlarge", "mac1.metal", "hpc7g.4xlarge"]
        {
            assert!(!standard_family(t), "{t}");
        }
    }
}
