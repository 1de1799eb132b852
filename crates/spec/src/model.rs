//! The deploy-spec model: what an operator can write, read from the TOML tree.
//!
//! Every resource has a `name` unique within its kind and refers to other resources by name.
//! Fields keep the span they were written at, so later checks can point at them. Reading
//! never stops at the first problem: a missing or mistyped field is reported and replaced by
//! an empty value that later checks skip, so one run lists every mistake.

use std::net::Ipv4Addr;

use toml::de::DeValue;

use crate::decode::{int_of, Ctx, Table};
use crate::diag::{did_you_mean, Sp, Span};
use crate::names;
use crate::net::Cidr;

pub type Name = Sp<String>;

/// A whole deploy spec.
#[derive(Debug, Default)]
pub struct Spec {
    pub deployment: Deployment,
    /// Where the deployment's state is kept (`[state]`), when the spec says.
    pub state: Option<StateStore>,
    /// Named lists of address blocks that rules can use as sources (`cidr_set.admin`).
    pub cidr_sets: Vec<CidrSet>,
    /// Image aliases (`al2023`) resolved at provision time.
    pub images: Vec<Image>,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub internet_gateways: Vec<InternetGateway>,
    pub nat_gateways: Vec<NatGateway>,
    pub route_tables: Vec<RouteTable>,
    pub security_groups: Vec<SecurityGroup>,
    pub key_pairs: Vec<KeyPair>,
    pub certificates: Vec<Certificate>,
    pub instance_roles: Vec<InstanceRole>,
    pub db_subnet_groups: Vec<DbSubnetGroup>,
    pub databases: Vec<Database>,
    pub file_systems: Vec<FileSystem>,
    pub instances: Vec<Instance>,
    pub load_balancers: Vec<LoadBalancer>,
    pub target_groups: Vec<TargetGroup>,
    pub outputs: Vec<Output>,
}

impl Spec {
    /// The value of a `${deployment.<attribute>}` reference known from the spec (`name`,
    /// `region`, `domain`, `csr_challenge_parameter`); `None` for anything else.
    pub fn deployment_value(&self, reference: &str) -> Option<String> {
        let d = &self.deployment;
        match reference {
            "deployment.name" => Some(d.name.value.clone()),
            "deployment.region" => Some(d.region.value.clone()),
            "deployment.domain" => d.domain.as_ref().map(|x| x.value.clone()),
            "deployment.csr_challenge_parameter" => Some(names::csr_challenge_parameter(&d.name.value)),
            _ => None,
        }
    }

    /// The operating system of the image an instance uses (`image` is an `[image]` alias or
    /// an AMI id): the alias's `os`, or what its public SSM parameter tells; `None` when
    /// neither says.
    pub fn image_os(&self, image: &str) -> Option<String> {
        self.images.iter().find(|i| i.name.value == image)?.os()
    }
}

#[derive(Debug, Default)]
pub struct Deployment {
    pub name: Name,
    pub region: Sp<String>,
    pub zones: Vec<Sp<String>>,
    /// The public DNS domain the platform answers on (`${deployment.domain}`).
    pub domain: Option<Sp<String>>,
    pub tags: Vec<Tag>,
    pub span: Span,
}

#[derive(Clone, Debug, Default)]
pub struct Tag {
    pub key: Sp<String>,
    pub value: Sp<String>,
}

#[derive(Debug, Default)]
pub struct CidrSet {
    pub name: Name,
    pub blocks: Vec<Sp<Cidr>>,
}

#[derive(Debug, Default)]
pub struct Image {
    pub name: Name,
    pub ssm_parameter: Option<Sp<String>>,
    pub ami: Option<Sp<String>>,
    /// The image's operating system as Puppet names its release packages (`amazon-2023`,
    /// `el-9`): the value of `${node.os}`.
    pub os: Option<Sp<String>>,
}

/// The public SSM parameters of Amazon Linux 2023 AMIs, every variant and architecture
/// (Amazon Linux 2023 User Guide, "Launching AL2023 using the SSM parameter and AWS CLI":
/// `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64` and its
/// siblings).
const AL2023_PARAMETERS: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-";

impl Image {
    /// `os` as written, else inferred from a well-known public SSM parameter.
    pub fn os(&self) -> Option<String> {
        if let Some(os) = &self.os {
            return Some(os.value.clone());
        }
        let parameter = self.ssm_parameter.as_ref()?;
        parameter.value.starts_with(AL2023_PARAMETERS).then(|| "amazon-2023".to_string())
    }
}

/// Operating systems as Puppet's release packages name them
/// (`https://yum.puppet.com/puppet8-release-<os>.noarch.rpm`), for suggestions; any
/// `<name>-<version>` is accepted.
const KNOWN_OS: &[&str] = &["amazon-2", "amazon-2023", "el-8", "el-9", "el-10", "sles-15", "fedora-41"];

/// `amazon-2023`, `el-9`: lowercase letters, a hyphen, a version number.
fn is_os_name(s: &str) -> bool {
    s.split_once('-').is_some_and(|(family, version)| {
        !family.is_empty()
            && family.chars().all(|c| c.is_ascii_lowercase())
            && !version.is_empty()
            && version.chars().all(|c| c.is_ascii_digit())
    })
}

#[derive(Debug, Default)]
pub struct Vpc {
    pub name: Name,
    pub cidr: Option<Sp<Cidr>>,
    pub dns_support: bool,
    pub dns_hostnames: bool,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Default)]
pub struct Subnet {
    pub name: Name,
    pub vpc: Name,
    pub tier: Sp<String>,
    pub zone: Sp<String>,
    pub cidr: Option<Sp<Cidr>>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Default)]
pub struct InternetGateway {
    pub name: Name,
    pub vpc: Name,
}

/// A public NAT gateway; each gets an Elastic IP of its own.
#[derive(Debug, Default)]
pub struct NatGateway {
    pub name: Name,
    pub subnet: Name,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    pub name: Name,
    pub vpc: Name,
    pub routes: Vec<Route>,
    /// Subnets associated with this table.
    pub subnets: Vec<Name>,
}

#[derive(Debug, Default)]
pub struct Route {
    pub destination: Option<Sp<Cidr>>,
    pub target: Option<RouteTarget>,
    pub span: Span,
}

#[derive(Debug)]
pub enum RouteTarget {
    InternetGateway(Name),
    NatGateway(Name),
}

#[derive(Debug, Default)]
pub struct SecurityGroup {
    pub name: Name,
    pub vpc: Name,
    pub description: Option<Sp<String>>,
    pub ingress: Vec<IngressRule>,
}

#[derive(Debug, Default)]
pub struct IngressRule {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: Sp<String>,
    pub ports: Vec<Sp<PortRange>>,
    pub from_groups: Vec<Name>,
    /// CIDR literals, `vpc.<name>` (that VPC's block) or `cidr_set.<name>`.
    pub from_cidrs: Vec<Sp<String>>,
    pub description: Option<Sp<String>>,
    /// The operator's explicit consent to `0.0.0.0/0` where strato would refuse it.
    pub open_to_world: Option<Sp<bool>>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

#[derive(Debug, Default)]
pub struct KeyPair {
    pub name: Name,
    pub public_key_file: Option<Sp<String>>,
    pub public_key: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct Certificate {
    pub name: Name,
    /// An existing ACM certificate.
    pub arn: Option<Sp<String>>,
    /// Generate a self-signed certificate and import it (local runs).
    pub self_signed: Option<Sp<bool>>,
    pub domains: Vec<Sp<String>>,
}

/// An IAM role for instances (with its instance profile): what an instance may read at boot
/// with the role's credentials, and nothing else.
#[derive(Debug, Default)]
pub struct InstanceRole {
    pub name: Name,
    /// `[[database]]` entries whose RDS-managed master-user secret the role may read.
    pub database_secrets: Vec<Name>,
    /// The role may read the deployment's CSR challenge parameter.
    pub csr_challenge: bool,
}

impl InstanceRole {
    /// The IAM name of the role and its instance profile. IAM names are global to the
    /// account, so the region is part of it.
    pub fn name_in_aws(&self, deployment: &str, region: &str) -> String {
        names::aws_name(deployment, &format!("{}-{region}", self.name.value), names::IAM_ROLE_MAX)
    }
}

/// Subnets named one by one, or every subnet of a tier.
#[derive(Debug)]
pub enum SubnetSelector {
    Names(Vec<Name>),
    Tier(Sp<String>),
}

impl Default for SubnetSelector {
    fn default() -> Self {
        SubnetSelector::Names(Vec::new())
    }
}

#[derive(Debug, Default)]
pub struct DbSubnetGroup {
    pub name: Name,
    pub description: Option<Sp<String>>,
    pub subnets: SubnetSelector,
    pub subnets_span: Span,
}

#[derive(Debug, Default)]
pub struct Database {
    pub name: Name,
    pub engine: Sp<String>,
    pub engine_version: Sp<String>,
    pub instance_class: Sp<String>,
    pub storage_gb: Option<Sp<i64>>,
    pub storage_type: Sp<String>,
    pub multi_az: bool,
    pub storage_encrypted: bool,
    pub backup_retention_days: i64,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
    pub master_username: Sp<String>,
    /// An existing Secrets Manager secret; without it RDS manages the password.
    pub master_secret_arn: Option<Sp<String>>,
    pub subnet_group: Name,
    pub security_groups: Vec<Name>,
    pub port: Option<Sp<i64>>,
    /// A public address for the database (`PubliclyAccessible`).
    pub publicly_accessible: bool,
    /// The RDS identifier, when the spec names it; otherwise it is derived.
    pub aws_name: Option<Sp<String>>,
    /// Changes that `ModifyDBInstance` would otherwise hold for the maintenance window
    /// (class, storage, Multi-AZ) are applied at once (`ApplyImmediately`).
    pub apply_immediately: bool,
    /// strato may replace the database (delete it and create a new, empty one) when a
    /// change needs a new instance; without it such a plan is refused.
    pub allow_replacement: bool,
}

impl Database {
    /// The RDS identifier: `aws_name`, or `<deployment>-<name>` shortened to fit.
    pub fn name_in_aws(&self, deployment: &str) -> String {
        explicit_or_derived(&self.aws_name, deployment, &self.name, names::RDS_MAX)
    }
}

fn explicit_or_derived(explicit: &Option<Sp<String>>, deployment: &str, name: &Name, limit: usize) -> String {
    match explicit {
        Some(n) => n.value.clone(),
        None => names::aws_name(deployment, &name.value, limit),
    }
}

#[derive(Debug, Default)]
pub struct FileSystem {
    pub name: Name,
    pub performance_mode: Sp<String>,
    pub throughput_mode: Sp<String>,
    pub encrypted: bool,
    /// AWS Backup's automatic daily backups of the file system.
    pub backup: bool,
    pub mount_targets: SubnetSelector,
    pub mount_targets_span: Span,
    pub security_groups: Vec<Name>,
}

#[derive(Debug, Default)]
pub struct Instance {
    pub name: Name,
    /// Several identical nodes `<name>-1..N`, spread over `subnets` in turn.
    pub count: Option<Sp<i64>>,
    pub subnet: Option<Name>,
    pub subnets: Vec<Name>,
    pub instance_type: Sp<String>,
    /// An alias from `[image]` or an AMI id.
    pub image: Sp<String>,
    pub key_pair: Option<Name>,
    /// An `[[instance_role]]`: the instance runs with its credentials.
    pub role: Option<Name>,
    pub security_groups: Vec<Name>,
    pub private_ip: Option<Sp<Ipv4Addr>>,
    pub public_ip: bool,
    pub root_volume: RootVolume,
    pub user_data: Option<UserData>,
    pub tags: Vec<Tag>,
}

/// One EC2 instance of an `[[instance]]` entry.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    pub subnet: Name,
    /// 1-based position within its entry.
    pub index: usize,
    pub count: usize,
}

impl Instance {
    /// The instances this entry stands for.
    pub fn nodes(&self) -> Vec<Node> {
        match &self.count {
            None => vec![Node {
                name: self.name.value.clone(),
                subnet: self.subnet.clone().unwrap_or_default(),
                index: 1,
                count: 1,
            }],
            Some(count) => {
                let count = count.value.clamp(0, 1000) as usize;
                if self.subnets.is_empty() {
                    return Vec::new();
                }
                (1..=count)
                    .map(|i| Node {
                        name: format!("{}-{i}", self.name.value),
                        subnet: self.subnets[(i - 1) % self.subnets.len()].clone(),
                        index: i,
                        count,
                    })
                    .collect()
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct RootVolume {
    pub size_gb: Option<Sp<i64>>,
    pub volume_type: Sp<String>,
    pub encrypted: bool,
}

#[derive(Debug, Default)]
pub struct UserData {
    /// Path of the template, relative to the spec file.
    pub template: Sp<String>,
    /// `${var.<key>}` values for this instance's template.
    pub vars: Vec<Tag>,
}

#[derive(Debug, Default)]
pub struct LoadBalancer {
    pub name: Name,
    pub scheme: Sp<String>,
    pub subnets: SubnetSelector,
    pub subnets_span: Span,
    pub security_groups: Vec<Name>,
    pub idle_timeout: Option<Sp<i64>>,
    pub deletion_protection: bool,
    pub listeners: Vec<Listener>,
    /// The load balancer's name in AWS, when the spec gives it; otherwise it is derived.
    pub aws_name: Option<Sp<String>>,
}

impl LoadBalancer {
    pub fn internet_facing(&self) -> bool {
        self.scheme.value == "internet-facing"
    }

    /// The name in AWS: `aws_name`, or `<deployment>-<name>` shortened to fit.
    pub fn name_in_aws(&self, deployment: &str) -> String {
        explicit_or_derived(&self.aws_name, deployment, &self.name, names::ELB_MAX)
    }
}

/// The TLS security policy of HTTPS listeners that do not name one: TLS 1.3 and 1.2 only.
/// Without a policy the ELB API gives `ELBSecurityPolicy-2016-08`, which still accepts TLS
/// 1.0 and 1.1 (Application Load Balancers guide, "Security policies for your Application
/// Load Balancer").
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

#[derive(Debug, Default)]
pub struct Listener {
    pub port: Option<Sp<i64>>,
    pub protocol: Sp<String>,
    pub certificate: Option<Name>,
    pub ssl_policy: Option<Sp<String>>,
    pub action: Option<Action>,
    pub rules: Vec<ListenerRule>,
    pub span: Span,
}

#[derive(Debug)]
pub enum Action {
    Forward(Name),
    Redirect { protocol: Sp<String>, port: Option<Sp<i64>>, status_code: Sp<String> },
}

#[derive(Debug, Default)]
pub struct ListenerRule {
    pub priority: Option<Sp<i64>>,
    pub hosts: Vec<Sp<String>>,
    pub paths: Vec<Sp<String>>,
    pub forward: Name,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct TargetGroup {
    pub name: Name,
    pub vpc: Name,
    pub protocol: Sp<String>,
    pub port: Option<Sp<i64>>,
    pub health_check: HealthCheck,
    /// Load-balancer cookie stickiness, seconds; `None` when not sticky.
    pub stickiness: Option<Sp<i64>>,
    /// Instance names, or `[[instance]]` entry names meaning all their nodes.
    pub targets: Vec<Name>,
    /// The target group's name in AWS, when the spec gives it; otherwise it is derived.
    pub aws_name: Option<Sp<String>>,
}

impl TargetGroup {
    /// The name in AWS: `aws_name`, or `<deployment>-<name>` shortened to fit.
    pub fn name_in_aws(&self, deployment: &str) -> String {
        explicit_or_derived(&self.aws_name, deployment, &self.name, names::ELB_MAX)
    }
}

#[derive(Debug, Default)]
pub struct HealthCheck {
    pub protocol: Option<Sp<String>>,
    pub path: Sp<String>,
    pub port: Option<Sp<i64>>,
    pub interval: i64,
    pub timeout: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub matcher: Sp<String>,
}

#[derive(Debug, Default)]
pub struct Output {
    pub name: Name,
    pub value: Sp<String>,
    pub description: Option<Sp<String>>,
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// `[state]`: where the state of the spec's deployments is kept.
#[derive(Clone, Debug, Default)]
pub struct StateStore {
    /// A local directory or `s3://bucket/prefix`.
    pub location: Option<Sp<String>>,
    /// The KMS key an S3 state is encrypted with.
    pub kms_key: Option<Sp<String>>,
}

/// Reads a spec from its parsed top-level table.
pub fn read_spec(cx: &mut Ctx, root: &mut Table) -> Spec {
    let mut spec = Spec::default();
    match root.opt_table(cx, "deployment") {
        Some(t) => spec.deployment = read_deployment(cx, t),
        None => {
            if !root.has("deployment") {
                cx.error("missing-field", root.span, "the spec has no `[deployment]` table");
            }
        }
    }
    if let Some(mut t) = root.opt_table(cx, "state") {
        t.set_what("[state]");
        let location = t.opt_str(cx, "location");
        if let Some(l) = &location {
            let scheme = l.value.split_once("://").map(|(s, _)| s);
            if scheme.is_some_and(|s| s != "s3") {
                cx.error(
                    "bad-value",
                    l.span,
                    format!("`{}`: strato keeps state in a local directory or on S3 (`s3://bucket/prefix`)", l.value),
                );
            }
        }
        spec.state = Some(StateStore { location, kms_key: t.opt_str(cx, "kms_key") });
        t.finish(cx);
    }
    if let Some(mut t) = root.opt_table(cx, "cidr_set") {
        for (key, value) in t.entries() {
            let name = Sp::new(key.get_ref().to_string(), cx.span(key.span()));
            let mut blocks = Vec::new();
            match value.get_ref() {
                DeValue::Array(items) => {
                    for item in items {
                        match item.get_ref() {
                            DeValue::String(s) => {
                                if let Some(c) = parse_cidr(cx, s, cx.span(item.span())) {
                                    blocks.push(c);
                                }
                            }
                            other => cx.error(
                                "wrong-type",
                                cx.span(item.span()),
                                format!("cidr_set `{}` must list CIDR strings, not {}", name.value, other.type_str()),
                            ),
                        }
                    }
                }
                other => cx.error(
                    "wrong-type",
                    cx.span(value.span()),
                    format!("cidr_set `{}` must be an array of CIDR strings, not {}", name.value, other.type_str()),
                ),
            }
            spec.cidr_sets.push(CidrSet { name, blocks });
        }
    }
    if let Some(mut t) = root.opt_table(cx, "image") {
        for (key, value) in t.entries() {
            let name = Sp::new(key.get_ref().to_string(), cx.span(key.span()));
            match value.get_ref() {
                DeValue::Table(inner) => {
                    let mut it = Table::new(inner, cx.span(value.span()), format!("image `{}`", name.value));
                    let ssm_parameter = it.opt_str(cx, "ssm_parameter");
                    let ami = it.opt_str(cx, "ami");
                    let os = it.opt_str(cx, "os");
                    if let Some(os) = os.as_ref().filter(|o| !is_os_name(&o.value)) {
                        let msg = format!("`{}` is not an operating system name like `amazon-2023`", os.value);
                        let help = match did_you_mean(&os.value, KNOWN_OS.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "operating systems are named as in Puppet's release packages \
                                     (`puppet8-release-<os>.noarch.rpm`): `amazon-2023`, `el-9`, ..."
                                .to_string(),
                        };
                        cx.diags.push(crate::diag::Diagnostic::error("bad-value", os.span, msg).help(help));
                    }
                    if let Some(a) = ami.as_ref().filter(|a| !crate::validate::is_ami_id(&a.value)) {
                        let msg = format!("`{}` is not an AMI id", a.value);
                        cx.error("bad-value", a.span, msg);
                    }
                    if ssm_parameter.is_some() == ami.is_some() {
                        cx.error(
                            "bad-value",
                            it.span,
                            format!("image `{}` needs exactly one of `ssm_parameter` and `ami`", name.value),
                        );
                    }
                    it.finish(cx);
                    spec.images.push(Image { name, ssm_parameter, ami, os });
                }
                other => cx.error(
                    "wrong-type",
                    cx.span(value.span()),
                    format!(
                        "image `{}` must be a table like {{ ssm_parameter = \"...\" }}, not {}",
                        name.value,
                        other.type_str()
                    ),
                ),
            }
        }
    }
    for t in root.tables(cx, "vpc", "a vpc") {
        spec.vpcs.push(read_vpc(cx, t));
    }
    for t in root.tables(cx, "subnet", "a subnet") {
        spec.subnets.push(read_subnet(cx, t));
    }
    for mut t in root.tables(cx, "internet_gateway", "an internet gateway") {
        let name = named(cx, &mut t, "internet gateway");
        let vpc = t.str(cx, "vpc");
        t.finish(cx);
        spec.internet_gateways.push(InternetGateway { name, vpc });
    }
    for mut t in root.tables(cx, "nat_gateway", "a NAT gateway") {
        let name = named(cx, &mut t, "NAT gateway");
        let subnet = t.str(cx, "subnet");
        t.finish(cx);
        spec.nat_gateways.push(NatGateway { name, subnet });
    }
    for t in root.tables(cx, "route_table", "a route table") {
        spec.route_tables.push(read_route_table(cx, t));
    }
    for t in root.tables(cx, "security_group", "a security group") {
        spec.security_groups.push(read_security_group(cx, t));
    }
    for mut t in root.tables(cx, "key_pair", "a key pair") {
        let name = named(cx, &mut t, "key pair");
        let public_key_file = t.opt_str(cx, "public_key_file");
        let public_key = t.opt_str(cx, "public_key");
        if public_key_file.is_some() == public_key.is_some() {
            cx.error(
                "bad-value",
                t.span,
                format!("{} needs exactly one of `public_key_file` and `public_key`", t.what),
            );
        }
        t.finish(cx);
        spec.key_pairs.push(KeyPair { name, public_key_file, public_key });
    }
    for mut t in root.tables(cx, "certificate", "a certificate") {
        let name = named(cx, &mut t, "certificate");
        let arn = t.opt_str(cx, "arn");
        let self_signed = t.opt_bool(cx, "self_signed");
        let domains = t.str_list(cx, "domains");
        t.finish(cx);
        spec.certificates.push(Certificate { name, arn, self_signed, domains });
    }
    for mut t in root.tables(cx, "instance_role", "an instance role") {
        let name = named(cx, &mut t, "instance role");
        let database_secrets = t.str_list(cx, "database_secrets");
        let csr_challenge = t.bool_or(cx, "csr_challenge", false);
        t.finish(cx);
        spec.instance_roles.push(InstanceRole { name, database_secrets, csr_challenge });
    }
    for mut t in root.tables(cx, "db_subnet_group", "a DB subnet group") {
        let name = named(cx, &mut t, "DB subnet group");
        let description = t.opt_str(cx, "description");
        let subnets_span = t.value_span(cx, "subnets");
        let subnets = subnet_selector(cx, &mut t, "subnets", true);
        t.finish(cx);
        spec.db_subnet_groups.push(DbSubnetGroup { name, description, subnets, subnets_span });
    }
    for t in root.tables(cx, "database", "a database") {
        spec.databases.push(read_database(cx, t));
    }
    for mut t in root.tables(cx, "file_system", "a file system") {
        let name = named(cx, &mut t, "file system");
        let performance_mode = one_of(cx, &mut t, "performance_mode", &["generalPurpose", "maxIO"], "generalPurpose");
        let throughput_mode = one_of(cx, &mut t, "throughput_mode", &["bursting", "elastic"], "elastic");
        if performance_mode.value == "maxIO" && throughput_mode.value == "elastic" {
            let msg = format!(
                "{} combines `maxIO` with elastic throughput, which EFS offers only with `generalPurpose`",
                t.what
            );
            cx.error("bad-value", performance_mode.span, msg);
        }
        let encrypted = t.bool_or(cx, "encrypted", true);
        let backup = t.bool_or(cx, "backup", true);
        let mount_targets_span = t.value_span(cx, "mount_targets");
        let mount_targets = subnet_selector(cx, &mut t, "mount_targets", true);
        let security_groups = t.str_list(cx, "security_groups");
        t.finish(cx);
        spec.file_systems.push(FileSystem {
            name,
            performance_mode,
            throughput_mode,
            encrypted,
            backup,
            mount_targets,
            mount_targets_span,
            security_groups,
        });
    }
    for t in root.tables(cx, "instance", "an instance") {
        spec.instances.push(read_instance(cx, t));
    }
    for t in root.tables(cx, "load_balancer", "a load balancer") {
        spec.load_balancers.push(read_load_balancer(cx, t));
    }
    for t in root.tables(cx, "target_group", "a target group") {
        spec.target_groups.push(read_target_group(cx, t));
    }
    if let Some(mut t) = root.opt_table(cx, "outputs") {
        for (key, value) in t.entries() {
            let name = Sp::new(key.get_ref().to_string(), cx.span(key.span()));
            match value.get_ref() {
                DeValue::String(s) => spec.outputs.push(Output {
                    name,
                    value: Sp::new(s.to_string(), cx.span(value.span())),
                    description: None,
                }),
                DeValue::Table(inner) => {
                    let what = format!("output `{}`", name.value);
                    let mut ot = Table::new(inner, cx.span(value.span()), what);
                    let value = ot.str(cx, "value");
                    let description = ot.opt_str(cx, "description");
                    ot.finish(cx);
                    spec.outputs.push(Output { name, value, description });
                }
                other => cx.error(
                    "wrong-type",
                    cx.span(value.span()),
                    format!(
                        "output `{}` must be a string or {{ value, description }}, not {}",
                        name.value,
                        other.type_str()
                    ),
                ),
            }
        }
    }
    spec
}

/// Reads `name`, checks its form and names the table after it for later messages.
fn named(cx: &mut Ctx, t: &mut Table, kind: &str) -> Name {
    let name = t.str(cx, "name");
    if !name.value.is_empty() {
        check_name(cx, &name, kind);
        t.set_what(format!("{kind} `{}`", name.value));
    }
    name
}

/// Checks a name against the naming rule; false when it breaks it (and that is reported).
fn check_name(cx: &mut Ctx, name: &Name, kind: &str) -> bool {
    let n = &name.value;
    let ok = n.len() <= 63
        && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !n.ends_with('-')
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        let msg = format!("{kind} name `{n}` is not a valid name");
        let d = crate::diag::Diagnostic::error("bad-name", name.span, msg).help(
            "names use lowercase letters, digits and hyphens, start with a letter or digit, \
             and have at most 63 characters",
        );
        cx.diags.push(d);
    }
    ok
}

fn tags(cx: &mut Ctx, t: &mut Table) -> Vec<Tag> {
    let Some(mut tt) = t.opt_table(cx, "tags") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in tt.entries() {
        let key = Sp::new(key.get_ref().to_string(), cx.span(key.span()));
        match value.get_ref() {
            DeValue::String(s) => out.push(Tag { key, value: Sp::new(s.to_string(), cx.span(value.span())) }),
            other => cx.error(
                "wrong-type",
                cx.span(value.span()),
                format!("tag `{}` must be a string, not {}", key.value, other.type_str()),
            ),
        }
    }
    out
}

/// A string field limited to a few values; absent gives `default`.
fn one_of(cx: &mut Ctx, t: &mut Table, key: &'static str, options: &[&str], default: &str) -> Sp<String> {
    match t.opt_str(cx, key) {
        None => Sp::new(default.to_string(), t.span),
        Some(v) if options.contains(&v.value.as_str()) => v,
        Some(v) => {
            let mut d = crate::diag::Diagnostic::error(
                "bad-value",
                v.span,
                format!("`{key}` in {} is `{}`; expected one of: {}", t.what, v.value, options.join(", ")),
            );
            if let Some(s) = did_you_mean(&v.value, options.iter().copied()) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            cx.diags.push(d);
            // A refused value reads as empty: later checks treat it as unknown rather than
            // guess the default and report problems the operator never wrote.
            Sp::new(String::new(), v.span)
        }
    }
}

fn parse_cidr(cx: &mut Ctx, text: &str, span: Span) -> Option<Sp<Cidr>> {
    match text.parse::<Cidr>() {
        Ok(c) => Some(Sp::new(c, span)),
        Err(e) => {
            let mut d = crate::diag::Diagnostic::error("bad-cidr", span, format!("`{text}` is not a valid CIDR block"));
            d = d.help(e.to_string());
            cx.diags.push(d);
            None
        }
    }
}

fn cidr_field(cx: &mut Ctx, t: &mut Table, key: &'static str) -> Option<Sp<Cidr>> {
    let text = t.str(cx, key);
    if text.value.is_empty() {
        return None;
    }
    parse_cidr(cx, &text.value, text.span)
}

fn port_field(cx: &mut Ctx, t: &mut Table, key: &'static str) -> Option<Sp<i64>> {
    t.opt_int_in(cx, key, 1..=65535, "port-out-of-range")
}

fn subnet_selector(cx: &mut Ctx, t: &mut Table, key: &'static str, required: bool) -> SubnetSelector {
    let Some(v) = t.raw(key) else {
        if required {
            let msg = format!("{} has no `{key}` (a list of subnet names or {{ tier = \"...\" }}, required)", t.what);
            t.report_missing(key, msg);
        }
        return SubnetSelector::default();
    };
    match v.get_ref() {
        DeValue::Array(items) => {
            let mut names = Vec::new();
            for item in items {
                match item.get_ref() {
                    DeValue::String(s) => names.push(Sp::new(s.to_string(), cx.span(item.span()))),
                    other => cx.error(
                        "wrong-type",
                        cx.span(item.span()),
                        format!("`{key}` in {} lists subnet names, not {}", t.what, other.type_str()),
                    ),
                }
            }
            SubnetSelector::Names(names)
        }
        DeValue::Table(inner) => {
            let mut st = Table::new(inner, cx.span(v.span()), format!("`{key}` of {}", t.what));
            let tier = st.str(cx, "tier");
            st.finish(cx);
            SubnetSelector::Tier(tier)
        }
        other => {
            cx.error(
                "wrong-type",
                cx.span(v.span()),
                format!(
                    "`{key}` in {} must be a list of subnet names or {{ tier = \"...\" }}, not {}",
                    t.what,
                    other.type_str()
                ),
            );
            SubnetSelector::default()
        }
    }
}

fn read_deployment(cx: &mut Ctx, mut t: Table) -> Deployment {
    t.set_what("the deployment table");
    let name = t.str(cx, "name");
    if !name.value.is_empty() && check_name(cx, &name, "deployment") && name.value.len() > names::DEPLOYMENT_MAX {
        let msg = format!(
            "deployment name `{}` has {} characters; strato takes at most {}",
            name.value,
            name.value.len(),
            names::DEPLOYMENT_MAX
        );
        let d = crate::diag::Diagnostic::error("bad-name", name.span, msg).help(
            "every AWS name starts with the deployment name; up to 32 characters leave room for \
             the object's own name within AWS's shortest limit (32 for load balancers)",
        );
        cx.diags.push(d);
    }
    let region = t.str(cx, "region");
    let zones = t.str_list(cx, "zones");
    if zones.is_empty() && t.has("zones") {
        let span = t.value_span(cx, "zones");
        cx.error("missing-field", span, "the deployment lists no availability zones");
    } else if zones.is_empty() {
        t.report_missing(
            "zones",
            "the deployment table has no `zones` (a list of availability zones, required)".to_string(),
        );
    }
    let domain = t.opt_str(cx, "domain");
    let tags = tags(cx, &mut t);
    let span = t.span;
    t.finish(cx);
    Deployment { name, region, zones, domain, tags, span }
}

fn read_vpc(cx: &mut Ctx, mut t: Table) -> Vpc {
    let name = named(cx, &mut t, "vpc");
    let cidr = cidr_field(cx, &mut t, "cidr");
    let dns_support = t.bool_or(cx, "dns_support", true);
    let dns_hostnames = t.bool_or(cx, "dns_hostnames", true);
    let tags = tags(cx, &mut t);
    t.finish(cx);
    Vpc { name, cidr, dns_support, dns_hostnames, tags }
}

fn read_subnet(cx: &mut Ctx, mut t: Table) -> Subnet {
    let name = named(cx, &mut t, "subnet");
    let vpc = t.str(cx, "vpc");
    let tier = t.str(cx, "tier");
    let zone = t.str(cx, "zone");
    let cidr = cidr_field(cx, &mut t, "cidr");
    let tags = tags(cx, &mut t);
    t.finish(cx);
    Subnet { name, vpc, tier, zone, cidr, tags }
}

fn read_route_table(cx: &mut Ctx, mut t: Table) -> RouteTable {
    let name = named(cx, &mut t, "route table");
    let vpc = t.str(cx, "vpc");
    let subnets = t.str_list(cx, "subnets");
    let mut routes = Vec::new();
    for mut rt in t.tables(cx, "route", &format!("a route of {}", name.value)) {
        let destination = cidr_field(cx, &mut rt, "destination");
        let igw = rt.opt_str(cx, "internet_gateway");
        let nat = rt.opt_str(cx, "nat_gateway");
        let target = match (igw, nat) {
            (Some(i), None) => Some(RouteTarget::InternetGateway(i)),
            (None, Some(n)) => Some(RouteTarget::NatGateway(n)),
            _ => {
                cx.error(
                    "bad-value",
                    rt.span,
                    format!("{} needs exactly one target: `internet_gateway` or `nat_gateway`", rt.what),
                );
                None
            }
        };
        let span = rt.span;
        rt.finish(cx);
        routes.push(Route { destination, target, span });
    }
    t.finish(cx);
    RouteTable { name, vpc, routes, subnets }
}

fn read_security_group(cx: &mut Ctx, mut t: Table) -> SecurityGroup {
    let name = named(cx, &mut t, "security group");
    let vpc = t.str(cx, "vpc");
    let description = t.opt_str(cx, "description");
    let mut ingress = Vec::new();
    for mut rt in t.tables(cx, "ingress", &format!("an ingress rule of security group `{}`", name.value)) {
        let protocol = one_of(cx, &mut rt, "protocol", &["tcp", "udp", "icmp", "all"], "tcp");
        let ports = read_ports(cx, &mut rt, &protocol.value);
        let from_groups = rt.str_list(cx, "from_groups");
        let from_cidrs = rt.str_list(cx, "from_cidrs");
        if from_groups.is_empty() && from_cidrs.is_empty() {
            cx.error(
                "missing-field",
                rt.span,
                format!("{} has no source: give `from_groups` or `from_cidrs`", rt.what),
            );
        }
        let description = rt.opt_str(cx, "description");
        let open_to_world = rt.opt_bool(cx, "open_to_world");
        let span = rt.span;
        rt.finish(cx);
        ingress.push(IngressRule { protocol, ports, from_groups, from_cidrs, description, open_to_world, span });
    }
    t.finish(cx);
    SecurityGroup { name, vpc, description, ingress }
}

/// `ports = [443, "8000-8100"]`: single ports as integers, ranges as `"from-to"` strings.
fn read_ports(cx: &mut Ctx, t: &mut Table, protocol: &str) -> Vec<Sp<PortRange>> {
    let Some(v) = t.raw("ports") else {
        if matches!(protocol, "tcp" | "udp") {
            let msg = format!("{} has no `ports` (required for {protocol})", t.what);
            t.report_missing("ports", msg);
        }
        return Vec::new();
    };
    let DeValue::Array(items) = v.get_ref() else {
        let msg =
            format!("`ports` in {} must be an array like [443, \"8000-8100\"], not {}", t.what, v.get_ref().type_str());
        cx.error("wrong-type", cx.span(v.span()), msg);
        return Vec::new();
    };
    if matches!(protocol, "tcp" | "udp") && items.is_empty() {
        let msg = format!("`ports` in {} lists no port", t.what);
        cx.error("missing-field", cx.span(v.span()), msg);
        return Vec::new();
    }
    if matches!(protocol, "icmp" | "all") && !items.is_empty() {
        cx.error(
            "bad-value",
            cx.span(v.span()),
            format!("{} opens every port of `{protocol}`; remove `ports`", t.what),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for item in items {
        let span = cx.span(item.span());
        let range = match item.get_ref() {
            DeValue::Integer(_) => match int_of(item.get_ref()) {
                Some(Ok(p)) => Some((p, p)),
                _ => Some((i64::MAX, i64::MAX)),
            },
            DeValue::String(s) => {
                match s.split_once('-').map(|(a, b)| (a.trim().parse::<i64>(), b.trim().parse::<i64>())) {
                    Some((Ok(a), Ok(b))) if a <= b => Some((a, b)),
                    _ => {
                        let msg = format!("`{s}` in {} is not a port range like \"8000-8100\"", t.what);
                        cx.error("bad-value", span, msg);
                        None
                    }
                }
            }
            other => {
                let msg =
                    format!("`ports` in {} lists integers or \"from-to\" strings, not {}", t.what, other.type_str());
                cx.error("wrong-type", span, msg);
                None
            }
        };
        let Some((from, to)) = range else { continue };
        if !(1..=65535).contains(&from) || !(1..=65535).contains(&to) {
            cx.error("port-out-of-range", span, format!("port in {} is outside 1..=65535", t.what));
            continue;
        }
        out.push(Sp::new(PortRange { from: from as u16, to: to as u16 }, span));
    }
    out
}

fn read_database(cx: &mut Ctx, mut t: Table) -> Database {
    let name = named(cx, &mut t, "database");
    let engine = one_of(cx, &mut t, "engine", &["mysql", "mariadb", "postgres"], "mysql");
    // MySQL defaults to the current long-term release; the other engines name theirs.
    let engine_version = match t.opt_str(cx, "engine_version") {
        Some(v) => v,
        None if engine.value == "mysql" => Sp::new(DEFAULT_MYSQL_VERSION.to_string(), t.span),
        None => {
            if !engine.value.is_empty() && !t.has("engine_version") {
                let msg = format!("{} has no `engine_version` (required for {})", t.what, engine.value);
                t.report_missing("engine_version", msg);
            }
            Sp::new(String::new(), t.span)
        }
    };
    let instance_class = t.str(cx, "instance_class");
    let storage_gb = t.opt_int_in(cx, "storage_gb", 20..=65536, "out-of-range");
    let storage_type = one_of(cx, &mut t, "storage_type", &["gp2", "gp3", "io1", "io2"], "gp3");
    let multi_az = t.bool_or(cx, "multi_az", false);
    let storage_encrypted = t.bool_or(cx, "storage_encrypted", true);
    let backup_retention_days =
        t.opt_int_in(cx, "backup_retention_days", 0..=35, "out-of-range").map_or(7, |v| v.value);
    let deletion_protection = t.bool_or(cx, "deletion_protection", false);
    let final_snapshot = t.bool_or(cx, "final_snapshot", true);
    let master_username = t.opt_str(cx, "master_username").unwrap_or_else(|| Sp::new("admin".into(), t.span));
    let master_secret_arn = t.opt_str(cx, "master_secret_arn");
    let subnet_group = t.str(cx, "subnet_group");
    let security_groups = t.str_list(cx, "security_groups");
    let port = port_field(cx, &mut t, "port");
    let publicly_accessible = t.bool_or(cx, "publicly_accessible", false);
    let aws_name = t.opt_str(cx, "aws_name");
    let apply_immediately = t.bool_or(cx, "apply_immediately", false);
    let allow_replacement = t.bool_or(cx, "allow_replacement", false);
    t.finish(cx);
    Database {
        name,
        engine,
        engine_version,
        instance_class,
        storage_gb,
        storage_type,
        multi_az,
        storage_encrypted,
        backup_retention_days,
        deletion_protection,
        final_snapshot,
        master_username,
        master_secret_arn,
        subnet_group,
        security_groups,
        port,
        publicly_accessible,
        aws_name,
        apply_immediately,
        allow_replacement,
    }
}

/// The MySQL version of a `[[database]]` that names none: 8.4, the long-term release RDS
/// supports longest (Amazon RDS User Guide, "MySQL on Amazon RDS versions").
pub const DEFAULT_MYSQL_VERSION: &str = "8.4";

fn read_instance(cx: &mut Ctx, mut t: Table) -> Instance {
    let name = named(cx, &mut t, "instance");
    let count = t.opt_int_in(cx, "count", 1..=100, "out-of-range");
    let subnet = t.opt_str(cx, "subnet");
    let subnets = t.str_list(cx, "subnets");
    // Decide the shape by what is written, so that a bad `count` value is reported once.
    let counted = t.has("count").then_some(());
    match (&counted, &subnet, subnets.is_empty()) {
        (None, Some(_), true) | (Some(_), None, false) => {}
        (_, Some(s), false) | (Some(_), Some(s), true) => cx.error(
            "bad-value",
            s.span,
            format!("{} takes `subnet` for a single node or `count` with `subnets`, not both", t.what),
        ),
        (None, None, false) => cx.error(
            "missing-field",
            t.value_span(cx, "subnets"),
            format!("{} lists `subnets` but has no `count`; a single node takes `subnet`", t.what),
        ),
        (Some(_), None, true) => cx.error(
            "missing-field",
            t.span,
            format!("{} has a `count` but no `subnets` to spread its nodes over", t.what),
        ),
        (None, None, true) => {
            let msg = format!("{} has no `subnet` (or `count` with `subnets`)", t.what);
            t.report_missing("subnet", msg);
        }
    }
    let instance_type = t.str(cx, "type");
    let image = t.str(cx, "image");
    let key_pair = t.opt_str(cx, "key_pair");
    let role = t.opt_str(cx, "role");
    let security_groups = t.str_list(cx, "security_groups");
    let private_ip = t.opt_str(cx, "private_ip").and_then(|ip| match ip.value.parse::<Ipv4Addr>() {
        Ok(a) => Some(Sp::new(a, ip.span)),
        Err(_) => {
            cx.error("bad-value", ip.span, format!("`{}` is not an IPv4 address", ip.value));
            None
        }
    });
    if let (Some(ip), Some(_)) = (&private_ip, &counted) {
        cx.error(
            "bad-value",
            ip.span,
            format!("{} has a `count`; a fixed `private_ip` fits a single node only", t.what),
        );
    }
    let public_ip = t.bool_or(cx, "public_ip", false);
    let root_volume = match t.opt_table(cx, "root_volume") {
        Some(mut rt) => {
            let size_gb = rt.opt_int_in(cx, "size_gb", 1..=16384, "out-of-range");
            let volume_type = one_of(cx, &mut rt, "type", &["gp3", "gp2", "io1", "io2"], "gp3");
            let encrypted = rt.bool_or(cx, "encrypted", true);
            rt.finish(cx);
            RootVolume { size_gb, volume_type, encrypted }
        }
        None => RootVolume { size_gb: None, volume_type: Sp::new("gp3".into(), t.span), encrypted: true },
    };
    let user_data = t.opt_table(cx, "user_data").map(|mut ut| {
        let template = ut.str(cx, "template");
        let vars = tags_named(cx, &mut ut, "vars");
        ut.finish(cx);
        UserData { template, vars }
    });
    let tags = tags(cx, &mut t);
    t.finish(cx);
    Instance {
        name,
        count,
        subnet,
        subnets,
        instance_type,
        image,
        key_pair,
        role,
        security_groups,
        private_ip,
        public_ip,
        root_volume,
        user_data,
        tags,
    }
}

/// A free-form table of strings under `key`.
fn tags_named(cx: &mut Ctx, t: &mut Table, key: &'static str) -> Vec<Tag> {
    let Some(mut tt) = t.opt_table(cx, key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, value) in tt.entries() {
        let k = Sp::new(k.get_ref().to_string(), cx.span(k.span()));
        match value.get_ref() {
            DeValue::String(s) => out.push(Tag { key: k, value: Sp::new(s.to_string(), cx.span(value.span())) }),
            DeValue::Integer(i) => {
                out.push(Tag { key: k, value: Sp::new(i.as_str().to_string(), cx.span(value.span())) })
            }
            DeValue::Boolean(b) => out.push(Tag { key: k, value: Sp::new(b.to_string(), cx.span(value.span())) }),
            other => cx.error(
                "wrong-type",
                cx.span(value.span()),
                format!("`{key}.{}` must be a string, not {}", k.value, other.type_str()),
            ),
        }
    }
    out
}

fn read_load_balancer(cx: &mut Ctx, mut t: Table) -> LoadBalancer {
    let name = named(cx, &mut t, "load balancer");
    let aws_name = t.opt_str(cx, "aws_name");
    let scheme = one_of(cx, &mut t, "scheme", &["internet-facing", "internal"], "internal");
    let subnets_span = t.value_span(cx, "subnets");
    let subnets = subnet_selector(cx, &mut t, "subnets", true);
    let security_groups = t.str_list(cx, "security_groups");
    let idle_timeout = t.opt_int_in(cx, "idle_timeout", 1..=4000, "out-of-range");
    let deletion_protection = t.bool_or(cx, "deletion_protection", false);
    let mut listeners = Vec::new();
    for mut lt in t.tables(cx, "listener", &format!("a listener of load balancer `{}`", name.value)) {
        let port = port_field(cx, &mut lt, "port");
        if port.is_none() && !lt.has("port") {
            let msg = format!("{} has no `port` (1..=65535, required)", lt.what);
            lt.report_missing("port", msg);
        }
        if let Some(p) = &port {
            lt.set_what(format!("listener {} of load balancer `{}`", p.value, name.value));
        }
        let protocol = one_of(cx, &mut lt, "protocol", &["HTTP", "HTTPS"], "HTTP");
        let certificate = lt.opt_str(cx, "certificate");
        let ssl_policy = lt.opt_str(cx, "ssl_policy");
        let forward = lt.opt_str(cx, "forward");
        let redirect = lt.opt_table(cx, "redirect").map(|mut rt| {
            let protocol = one_of(cx, &mut rt, "protocol", &["HTTP", "HTTPS", "#{protocol}"], "HTTPS");
            let port = port_field(cx, &mut rt, "port");
            let status_code = one_of(cx, &mut rt, "status_code", &["HTTP_301", "HTTP_302"], "HTTP_301");
            rt.finish(cx);
            Action::Redirect { protocol, port, status_code }
        });
        let action = match (forward, redirect) {
            (Some(f), None) => Some(Action::Forward(f)),
            (None, Some(r)) => Some(r),
            _ => {
                cx.error(
                    "bad-value",
                    lt.span,
                    format!("{} needs exactly one default action: `forward` or `redirect`", lt.what),
                );
                None
            }
        };
        let mut rules = Vec::new();
        for mut rt in lt.tables(cx, "rule", &format!("a rule of {}", lt.what)) {
            let priority = rt.opt_int_in(cx, "priority", 1..=50000, "out-of-range");
            if priority.is_none() && !rt.has("priority") {
                let msg = format!("{} has no `priority` (1..=50000, required)", rt.what);
                rt.report_missing("priority", msg);
            }
            let hosts = rt.str_list(cx, "hosts");
            let paths = rt.str_list(cx, "paths");
            if hosts.is_empty() && paths.is_empty() {
                cx.error("missing-field", rt.span, format!("{} has no condition: give `hosts` or `paths`", rt.what));
            }
            let forward = rt.str(cx, "forward");
            let span = rt.span;
            rt.finish(cx);
            rules.push(ListenerRule { priority, hosts, paths, forward, span });
        }
        let span = lt.span;
        lt.finish(cx);
        listeners.push(Listener { port, protocol, certificate, ssl_policy, action, rules, span });
    }
    t.finish(cx);
    LoadBalancer {
        name,
        scheme,
        subnets,
        subnets_span,
        security_groups,
        idle_timeout,
        deletion_protection,
        listeners,
        aws_name,
    }
}

fn read_target_group(cx: &mut Ctx, mut t: Table) -> TargetGroup {
    let name = named(cx, &mut t, "target group");
    let aws_name = t.opt_str(cx, "aws_name");
    let vpc = t.str(cx, "vpc");
    let protocol = one_of(cx, &mut t, "protocol", &["HTTP", "HTTPS"], "HTTPS");
    let port = port_field(cx, &mut t, "port");
    if port.is_none() && !t.has("port") {
        let msg = format!("{} has no `port` (required)", t.what);
        t.report_missing("port", msg);
    }
    let health_check = match t.opt_table(cx, "health_check") {
        Some(mut ht) => {
            let protocol = ht.opt_str(cx, "protocol");
            if let Some(p) = &protocol {
                if p.value != "HTTP" && p.value != "HTTPS" {
                    cx.error(
                        "bad-value",
                        p.span,
                        format!("`protocol` in {} is `{}`; expected HTTP or HTTPS", ht.what, p.value),
                    );
                }
            }
            let path = ht.opt_str(cx, "path").unwrap_or_else(|| Sp::new("/".into(), ht.span));
            let port = port_field(cx, &mut ht, "port");
            let interval = ht.opt_int_in(cx, "interval", 5..=300, "out-of-range").map_or(30, |v| v.value);
            let timeout = ht.opt_int_in(cx, "timeout", 2..=120, "out-of-range").map_or(5, |v| v.value);
            let healthy_threshold =
                ht.opt_int_in(cx, "healthy_threshold", 2..=10, "out-of-range").map_or(3, |v| v.value);
            let unhealthy_threshold =
                ht.opt_int_in(cx, "unhealthy_threshold", 2..=10, "out-of-range").map_or(3, |v| v.value);
            let matcher = ht.opt_str(cx, "matcher").unwrap_or_else(|| Sp::new("200".into(), ht.span));
            ht.finish(cx);
            HealthCheck { protocol, path, port, interval, timeout, healthy_threshold, unhealthy_threshold, matcher }
        }
        None => HealthCheck {
            protocol: None,
            path: Sp::new("/".into(), t.span),
            port: None,
            interval: 30,
            timeout: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 3,
            matcher: Sp::new("200".into(), t.span),
        },
    };
    let stickiness = match t.opt_table(cx, "stickiness") {
        Some(mut st) => {
            let d = st.opt_int_in(cx, "duration_seconds", 1..=604800, "out-of-range");
            let span = st.span;
            st.finish(cx);
            Some(d.unwrap_or(Sp::new(86400, span)))
        }
        None => None,
    };
    let targets = t.str_list(cx, "targets");
    t.finish(cx);
    TargetGroup { name, vpc, protocol, port, health_check, stickiness, targets, aws_name }
}
