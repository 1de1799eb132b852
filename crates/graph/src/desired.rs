//! What each object should look like in AWS: the spec's settings for one node, with
//! references turned into node ids, so a driver needs nothing but the node and the ids of
//! its dependencies. The kind modules ([`crate::kinds`]) fill them in.

use std::net::Ipv4Addr;

use strato_spec::net::Cidr;

use crate::{NodeId, UserData};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Desired {
    Vpc {
        cidr: Cidr,
        dns_support: bool,
        dns_hostnames: bool,
    },
    Subnet {
        vpc: NodeId,
        cidr: Cidr,
        zone: String,
    },
    InternetGateway {
        vpc: NodeId,
    },
    ElasticIp,
    NatGateway {
        subnet: NodeId,
        eip: NodeId,
    },
    RouteTable {
        vpc: NodeId,
    },
    /// `target` is an internet gateway or a NAT gateway node.
    Route {
        table: NodeId,
        destination: Cidr,
        target: NodeId,
    },
    RouteTableAssociation {
        table: NodeId,
        subnet: NodeId,
    },
    SecurityGroup {
        vpc: NodeId,
        description: String,
    },
    SecurityGroupRules {
        group: NodeId,
        rules: Vec<Permission>,
    },
    KeyPair {
        public_key: String,
    },
    /// An existing ACM certificate, or a self-signed one strato generates and imports.
    Certificate {
        arn: Option<String>,
        domains: Vec<String>,
    },
    /// An IAM role for instances, with its instance profile of the same name and one inline
    /// policy that grants exactly what the spec lists.
    InstanceRole {
        /// The IAM name of the role and of its instance profile.
        name: String,
        /// Databases whose master-user secret the role may read
        /// (`secretsmanager:GetSecretValue` on each secret's ARN).
        secrets: Vec<NodeId>,
        /// The role may read the deployment's CSR challenge parameter (`ssm:GetParameter`).
        csr_challenge: bool,
    },
    DbSubnetGroup {
        description: String,
        subnets: Vec<NodeId>,
    },
    DbInstance(Box<DbInstance>),
    FileSystem {
        performance_mode: String,
        throughput_mode: String,
        encrypted: bool,
        /// AWS Backup's automatic daily backups (`CreateFileSystem` `Backup`).
        backup: bool,
    },
    MountTarget {
        file_system: NodeId,
        subnet: NodeId,
        security_groups: Vec<NodeId>,
    },
    Instance(Box<InstanceSpec>),
    LoadBalancer {
        internet_facing: bool,
        subnets: Vec<NodeId>,
        security_groups: Vec<NodeId>,
        idle_timeout: Option<i64>,
        deletion_protection: bool,
    },
    TargetGroup(Box<TargetGroupSpec>),
    Listener {
        load_balancer: NodeId,
        port: i64,
        protocol: String,
        certificate: Option<NodeId>,
        ssl_policy: Option<String>,
        action: ListenerAction,
    },
    ListenerRule {
        listener: NodeId,
        priority: i64,
        hosts: Vec<String>,
        paths: Vec<String>,
        forward: NodeId,
    },
    TargetRegistration {
        target_group: NodeId,
        instance: NodeId,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbInstance {
    /// The RDS identifier: the node's `aws_name`.
    pub identifier: String,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: i64,
    pub storage_type: String,
    pub multi_az: bool,
    pub storage_encrypted: bool,
    pub backup_retention_days: i64,
    pub deletion_protection: bool,
    pub final_snapshot: bool,
    pub publicly_accessible: bool,
    pub master_username: String,
    /// An existing secret; `None` means RDS manages the password.
    pub master_secret_arn: Option<String>,
    pub subnet_group: NodeId,
    pub security_groups: Vec<NodeId>,
    pub port: Option<i64>,
    /// `ModifyDBInstance` applies class, storage and Multi-AZ changes now, not in the
    /// maintenance window.
    pub apply_immediately: bool,
    /// The spec lets strato replace the database (its data is lost).
    pub allow_replacement: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Image {
    /// Resolved at provision time from a public SSM parameter.
    SsmParameter(String),
    Ami(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceSpec {
    pub instance_type: String,
    pub image: Image,
    pub subnet: NodeId,
    pub private_ip: Option<Ipv4Addr>,
    pub public_ip: bool,
    pub security_groups: Vec<NodeId>,
    pub key_pair: Option<NodeId>,
    /// An instance-role node: the instance is launched with its instance profile.
    pub role: Option<NodeId>,
    pub root_size_gb: Option<i64>,
    pub root_volume_type: String,
    pub root_encrypted: bool,
    pub user_data: Option<UserData>,
    /// The entry's own tags, on top of the deployment's.
    pub tags: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetGroupSpec {
    /// The AWS name: the node's `aws_name`, at most 32 characters.
    pub name: String,
    pub vpc: NodeId,
    pub protocol: String,
    pub port: i64,
    pub health_protocol: String,
    pub health_path: String,
    pub health_port: Option<i64>,
    pub health_interval: i64,
    pub health_timeout: i64,
    pub healthy_threshold: i64,
    pub unhealthy_threshold: i64,
    pub matcher: String,
    pub stickiness_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerAction {
    Forward(NodeId),
    Redirect { protocol: String, port: Option<i64>, status_code: String },
}

/// One ingress permission: a protocol and port range from sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    /// -1 for every port (icmp, all).
    pub from_port: i32,
    pub to_port: i32,
    pub groups: Vec<NodeId>,
    pub cidrs: Vec<Cidr>,
    pub description: Option<String>,
}
