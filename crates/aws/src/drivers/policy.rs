//! The least-privilege IAM policy for a spec: [`CALLS`] is the one table of every AWS call
//! strato makes (each `client.method()` of this crate), which IAM actions it needs, on
//! which resources, and when it is made (always, for some kinds of object, for an S3 state);
//! [`document`] keeps the rows a spec's kinds and state use and groups their actions into
//! statements with stable `Sid`s, scoped by the deployment's tags or names where AWS allows.
//!
//! Sources for actions, resource types and condition keys: the AWS Service Authorization
//! Reference, one page per service:
//! - EC2: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html>
//!   (`aws:RequestTag/${TagKey}` on the resources a create makes, `aws:ResourceTag/${TagKey}`
//!   on existing VPCs, subnets, gateways, addresses, route tables, groups, key pairs and
//!   instances, `ec2:CreateAction` on `CreateTags` for tags given at creation; every
//!   `Describe*` action "does not support resource-level permissions", hence `"*"`);
//! - Elastic Load Balancing V2:
//!   <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html>
//!   (load balancer, target group, listener and rule ARNs carry the load balancer's or target
//!   group's name; `Describe*` take `"*"`; a create with tags needs `AddTags` too);
//! - RDS: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html>
//!   (`db:`, `subgrp:`, `snapshot:` ARNs carry the identifier; `CreateDBInstance` is also
//!   authorized on the default parameter and option groups; a create with tags needs
//!   `AddTagsToResource`; a final snapshot needs `CreateDBSnapshot`);
//! - EFS: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticfilesystem.html>
//!   (`aws:RequestTag` on `CreateFileSystem`, `aws:ResourceTag` on the file system,
//!   `elasticfilesystem:CreateAction` on `TagResource`; `CreateMountTarget` depends on
//!   `ec2:CreateNetworkInterface`, `DeleteMountTarget` on `ec2:DeleteNetworkInterface`);
//! - ACM: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscertificatemanager.html>
//!   (`aws:RequestTag` on `ImportCertificate` and `AddTagsToCertificate`, `aws:ResourceTag`
//!   on the certificate);
//! - IAM: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html>
//!   (role and instance-profile ARNs carry path and name; `iam:PassedToService` on
//!   `PassRole`; `iam:AWSServiceName` on `CreateServiceLinkedRole`);
//! - Systems Manager: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html>
//!   (parameter ARNs carry the name; AWS's public parameters have no account);
//! - S3: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>
//!   (`ListObjectsV2` is `s3:ListBucket` on the bucket, with `s3:prefix`);
//! - KMS: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html>
//!   (`kms:ResourceAliases` for a key named by its alias);
//! - Service Quotas: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_servicequotas.html>;
//! - STS: `GetCallerIdentity` needs no permission ("No permissions are required to perform
//!   this operation", STS API reference, GetCallerIdentity).
//!
//! Reads (`Describe*`, `List*`, most `Get*`) are granted on `"*"`: most do not support
//! resource-level permissions, and the ownership checks read other people's objects to say
//! whose they are.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use strato_graph::Kind;
use strato_spec::names::{aws_name, ELB_MAX, IAM_ROLE_MAX, RDS_MAX};

use super::TAG_DEPLOYMENT;

/// When a call is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// On every provision or destroy (the preflight, ownership checks, tag discovery, the
    /// deployment's CSR challenge, which a destroy removes whatever the spec has).
    Always,
    /// When the spec has an object of one of these kinds.
    Kinds(&'static [Kind]),
    /// When the deployment's state is on S3.
    StateS3,
}

/// Where a grant applies: one statement of the document each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// `"*"`: reads.
    Read,
    /// EC2 creates, on the resources they make, when the request carries the deployment's tag.
    Ec2Create,
    /// EC2 tags given at creation (`ec2:CreateAction`).
    Ec2TagOnCreate,
    /// EC2 changes and deletes of what carries the deployment's tag.
    Ec2Tagged,
    /// `RunInstances` on AWS's images (an AMI is not the deployment's).
    Ec2Images,
    /// The network interfaces EFS makes and deletes for mount targets, in the caller's name.
    EfsInterfaces,
    /// RDS databases, subnet groups and final snapshots by their names, and the default
    /// parameter and option groups a database uses.
    RdsNamed,
    /// The master-user password RDS keeps in Secrets Manager for strato.
    RdsSecret,
    /// Load balancers, target groups, listeners and rules by their names.
    ElbNamed,
    /// `CreateFileSystem` (and its tags) with the deployment's tag.
    EfsCreate,
    /// File systems that carry the deployment's tag.
    EfsTagged,
    /// `ImportCertificate` (and its tags) with the deployment's tag.
    AcmCreate,
    /// Certificates that carry the deployment's tag.
    AcmTagged,
    /// Instance roles and profiles by path and name.
    IamNamed,
    /// Passing the deployment's roles to EC2 (an instance profile at launch).
    IamPassRole,
    /// Service-linked roles AWS makes on first use of a service in an account.
    ServiceLinkedRole(&'static str),
    /// The deployment's CSR challenge parameter.
    SsmChallenge,
    /// AWS's public parameters (the latest AMIs).
    SsmPublic,
    /// The deployment's state objects.
    StateObjects,
    /// Listing the state prefix.
    StateList,
    /// The state's SSE-KMS key.
    StateKms,
}

/// One AWS call strato makes: the SDK client and method, the operation (as the call counter
/// records it), and the IAM actions it needs.
#[derive(Clone, Copy, Debug)]
pub struct Call {
    /// The field of [`crate::Clients`] (or `s3`, the state's client).
    pub client: &'static str,
    /// The SDK's fluent method.
    pub method: &'static str,
    /// The API operation.
    pub operation: &'static str,
    /// The IAM actions the call needs and where: usually the operation's own action, plus
    /// what AWS authorizes besides (tags at creation, dependent actions, passed roles).
    pub grants: &'static [(&'static str, Scope)],
    pub when: When,
}

use Kind as K;
use Scope as S;
use When::{Always, Kinds, StateS3};

const NETWORK: &[Kind] = &[
    K::Vpc,
    K::Subnet,
    K::InternetGateway,
    K::ElasticIp,
    K::NatGateway,
    K::RouteTable,
    K::Route,
    K::RouteTableAssociation,
    K::SecurityGroup,
    K::SecurityGroupRules,
    K::KeyPair,
    K::Instance,
];
const ROUTES: &[Kind] = &[K::RouteTable, K::Route, K::RouteTableAssociation];
const GROUPS: &[Kind] = &[K::SecurityGroup, K::SecurityGroupRules];
const ELB: &[Kind] = &[K::LoadBalancer, K::TargetGroup, K::Listener, K::ListenerRule, K::TargetRegistration];
const RDS: &[Kind] = &[K::DbSubnetGroup, K::DbInstance];
const EFS: &[Kind] = &[K::FileSystem, K::MountTarget];

macro_rules! call {
    ($client:literal $method:literal $op:literal, $when:expr, [$(($action:literal, $scope:expr)),* $(,)?]) => {
        Call { client: $client, method: $method, operation: $op, grants: &[$(($action, $scope)),*], when: $when }
    };
}

/// Every AWS call strato makes. A test reads the crate's source and fails on a call missing
/// here; the emulator test runs provision and destroy with only the generated policy.
pub const CALLS: &[Call] = &[
    // Identity, zones, quotas: the preflight.
    call!("sts" "get_caller_identity" "GetCallerIdentity", Always, []),
    call!("ec2" "describe_availability_zones" "DescribeAvailabilityZones", Always, [("ec2:DescribeAvailabilityZones", S::Read)]),
    call!("ec2" "describe_instance_type_offerings" "DescribeInstanceTypeOfferings", Kinds(&[K::Instance]), [("ec2:DescribeInstanceTypeOfferings", S::Read)]),
    call!("ec2" "describe_instance_types" "DescribeInstanceTypes", Kinds(&[K::Instance]), [("ec2:DescribeInstanceTypes", S::Read)]),
    call!("quotas" "get_service_quota" "GetServiceQuota", Kinds(&[K::Vpc, K::ElasticIp, K::Instance]), [("servicequotas:GetServiceQuota", S::Read)]),
    // EC2 reads: finding objects by tag, ownership, tag discovery (`list --tagged`,
    // `destroy --sweep`) and waits; tag discovery reads every EC2 kind, so always.
    call!("ec2" "describe_tags" "DescribeTags", Always, [("ec2:DescribeTags", S::Read)]),
    call!("ec2" "describe_vpcs" "DescribeVpcs", Always, [("ec2:DescribeVpcs", S::Read)]),
    call!("ec2" "describe_subnets" "DescribeSubnets", Always, [("ec2:DescribeSubnets", S::Read)]),
    call!("ec2" "describe_internet_gateways" "DescribeInternetGateways", Always, [("ec2:DescribeInternetGateways", S::Read)]),
    call!("ec2" "describe_addresses" "DescribeAddresses", Always, [("ec2:DescribeAddresses", S::Read)]),
    call!("ec2" "describe_nat_gateways" "DescribeNatGateways", Always, [("ec2:DescribeNatGateways", S::Read)]),
    call!("ec2" "describe_route_tables" "DescribeRouteTables", Always, [("ec2:DescribeRouteTables", S::Read)]),
    call!("ec2" "describe_security_groups" "DescribeSecurityGroups", Always, [("ec2:DescribeSecurityGroups", S::Read)]),
    call!("ec2" "describe_security_group_rules" "DescribeSecurityGroupRules", Always, [("ec2:DescribeSecurityGroupRules", S::Read)]),
    call!("ec2" "describe_key_pairs" "DescribeKeyPairs", Always, [("ec2:DescribeKeyPairs", S::Read)]),
    call!("ec2" "describe_instances" "DescribeInstances", Always, [("ec2:DescribeInstances", S::Read)]),
    call!("ec2" "describe_network_interfaces" "DescribeNetworkInterfaces", Always, [("ec2:DescribeNetworkInterfaces", S::Read)]),
    // VPC.
    call!("ec2" "create_vpc" "CreateVpc", Kinds(&[K::Vpc]), [("ec2:CreateVpc", S::Ec2Create), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "modify_vpc_attribute" "ModifyVpcAttribute", Kinds(&[K::Vpc]), [("ec2:ModifyVpcAttribute", S::Ec2Tagged)]),
    call!("ec2" "delete_vpc" "DeleteVpc", Kinds(&[K::Vpc]), [("ec2:DeleteVpc", S::Ec2Tagged)]),
    // Subnets.
    call!("ec2" "create_subnet" "CreateSubnet", Kinds(&[K::Subnet]), [("ec2:CreateSubnet", S::Ec2Create), ("ec2:CreateSubnet", S::Ec2Tagged), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "delete_subnet" "DeleteSubnet", Kinds(&[K::Subnet]), [("ec2:DeleteSubnet", S::Ec2Tagged)]),
    // Internet gateway.
    call!("ec2" "create_internet_gateway" "CreateInternetGateway", Kinds(&[K::InternetGateway]), [("ec2:CreateInternetGateway", S::Ec2Create), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "attach_internet_gateway" "AttachInternetGateway", Kinds(&[K::InternetGateway]), [("ec2:AttachInternetGateway", S::Ec2Tagged)]),
    call!("ec2" "detach_internet_gateway" "DetachInternetGateway", Kinds(&[K::InternetGateway]), [("ec2:DetachInternetGateway", S::Ec2Tagged)]),
    call!("ec2" "delete_internet_gateway" "DeleteInternetGateway", Kinds(&[K::InternetGateway]), [("ec2:DeleteInternetGateway", S::Ec2Tagged)]),
    // Elastic IPs and NAT gateways.
    call!("ec2" "allocate_address" "AllocateAddress", Kinds(&[K::ElasticIp]), [("ec2:AllocateAddress", S::Ec2Create), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "release_address" "ReleaseAddress", Kinds(&[K::ElasticIp]), [("ec2:ReleaseAddress", S::Ec2Tagged)]),
    call!("ec2" "create_nat_gateway" "CreateNatGateway", Kinds(&[K::NatGateway]), [("ec2:CreateNatGateway", S::Ec2Create), ("ec2:CreateNatGateway", S::Ec2Tagged), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "delete_nat_gateway" "DeleteNatGateway", Kinds(&[K::NatGateway]), [("ec2:DeleteNatGateway", S::Ec2Tagged)]),
    // Route tables, routes, associations.
    call!("ec2" "create_route_table" "CreateRouteTable", Kinds(ROUTES), [("ec2:CreateRouteTable", S::Ec2Create), ("ec2:CreateRouteTable", S::Ec2Tagged), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "delete_route_table" "DeleteRouteTable", Kinds(ROUTES), [("ec2:DeleteRouteTable", S::Ec2Tagged)]),
    call!("ec2" "create_route" "CreateRoute", Kinds(ROUTES), [("ec2:CreateRoute", S::Ec2Tagged)]),
    call!("ec2" "replace_route" "ReplaceRoute", Kinds(ROUTES), [("ec2:ReplaceRoute", S::Ec2Tagged)]),
    call!("ec2" "delete_route" "DeleteRoute", Kinds(ROUTES), [("ec2:DeleteRoute", S::Ec2Tagged)]),
    call!("ec2" "associate_route_table" "AssociateRouteTable", Kinds(ROUTES), [("ec2:AssociateRouteTable", S::Ec2Tagged)]),
    call!("ec2" "disassociate_route_table" "DisassociateRouteTable", Kinds(ROUTES), [("ec2:DisassociateRouteTable", S::Ec2Tagged)]),
    // Security groups and their rules.
    call!("ec2" "create_security_group" "CreateSecurityGroup", Kinds(GROUPS), [("ec2:CreateSecurityGroup", S::Ec2Create), ("ec2:CreateSecurityGroup", S::Ec2Tagged), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "delete_security_group" "DeleteSecurityGroup", Kinds(GROUPS), [("ec2:DeleteSecurityGroup", S::Ec2Tagged)]),
    call!("ec2" "authorize_security_group_ingress" "AuthorizeSecurityGroupIngress", Kinds(GROUPS), [("ec2:AuthorizeSecurityGroupIngress", S::Ec2Tagged)]),
    call!("ec2" "revoke_security_group_ingress" "RevokeSecurityGroupIngress", Kinds(GROUPS), [("ec2:RevokeSecurityGroupIngress", S::Ec2Tagged)]),
    // Key pairs.
    call!("ec2" "import_key_pair" "ImportKeyPair", Kinds(&[K::KeyPair]), [("ec2:ImportKeyPair", S::Ec2Create), ("ec2:CreateTags", S::Ec2TagOnCreate)]),
    call!("ec2" "delete_key_pair" "DeleteKeyPair", Kinds(&[K::KeyPair]), [("ec2:DeleteKeyPair", S::Ec2Tagged)]),
    // Instances: launched in the deployment's subnets and groups, with its key pair and
    // role, from an AWS image found through SSM's public parameters.
    call!("ec2" "run_instances" "RunInstances", Kinds(&[K::Instance]), [
        ("ec2:RunInstances", S::Ec2Create),
        ("ec2:RunInstances", S::Ec2Tagged),
        ("ec2:RunInstances", S::Ec2Images),
        ("ec2:CreateTags", S::Ec2TagOnCreate),
        ("iam:PassRole", S::IamPassRole),
    ]),
    call!("ec2" "modify_instance_attribute" "ModifyInstanceAttribute", Kinds(&[K::Instance]), [("ec2:ModifyInstanceAttribute", S::Ec2Tagged)]),
    call!("ec2" "stop_instances" "StopInstances", Kinds(&[K::Instance]), [("ec2:StopInstances", S::Ec2Tagged)]),
    call!("ec2" "start_instances" "StartInstances", Kinds(&[K::Instance]), [("ec2:StartInstances", S::Ec2Tagged)]),
    call!("ec2" "terminate_instances" "TerminateInstances", Kinds(&[K::Instance]), [("ec2:TerminateInstances", S::Ec2Tagged)]),
    call!("ssm" "get_parameter" "GetParameter", Kinds(&[K::Instance]), [("ssm:GetParameter", S::SsmPublic)]),
    // The spec's tags changed on live EC2 objects.
    call!("ec2" "create_tags" "CreateTags", Kinds(NETWORK), [("ec2:CreateTags", S::Ec2Tagged)]),
    call!("ec2" "delete_tags" "DeleteTags", Kinds(NETWORK), [("ec2:DeleteTags", S::Ec2Tagged)]),
    // Instance roles.
    call!("iam" "get_role" "GetRole", Kinds(&[K::InstanceRole]), [("iam:GetRole", S::IamNamed)]),
    // `provision --check-services`: one read to learn whether the endpoint serves IAM
    // (ListRoles has no resource type in the Service Authorization Reference: `*`).
    call!("iam" "list_roles" "ListRoles", Kinds(&[K::InstanceRole]), [("iam:ListRoles", S::Read)]),
    call!("iam" "create_role" "CreateRole", Kinds(&[K::InstanceRole]), [("iam:CreateRole", S::IamNamed), ("iam:TagRole", S::IamNamed)]),
    call!("iam" "put_role_policy" "PutRolePolicy", Kinds(&[K::InstanceRole]), [("iam:PutRolePolicy", S::IamNamed)]),
    call!("iam" "list_role_policies" "ListRolePolicies", Kinds(&[K::InstanceRole]), [("iam:ListRolePolicies", S::IamNamed)]),
    call!("iam" "delete_role_policy" "DeleteRolePolicy", Kinds(&[K::InstanceRole]), [("iam:DeleteRolePolicy", S::IamNamed)]),
    call!("iam" "delete_role" "DeleteRole", Kinds(&[K::InstanceRole]), [("iam:DeleteRole", S::IamNamed)]),
    call!("iam" "get_instance_profile" "GetInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:GetInstanceProfile", S::IamNamed)]),
    call!("iam" "create_instance_profile" "CreateInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:CreateInstanceProfile", S::IamNamed), ("iam:TagInstanceProfile", S::IamNamed)]),
    // AddRoleToInstanceProfile depends on iam:PassRole (Service Authorization Reference, IAM).
    call!("iam" "add_role_to_instance_profile" "AddRoleToInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:AddRoleToInstanceProfile", S::IamNamed), ("iam:PassRole", S::IamPassRole)]),
    call!("iam" "remove_role_from_instance_profile" "RemoveRoleFromInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:RemoveRoleFromInstanceProfile", S::IamNamed)]),
    call!("iam" "delete_instance_profile" "DeleteInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:DeleteInstanceProfile", S::IamNamed)]),
    call!("iam" "tag_role" "TagRole", Kinds(&[K::InstanceRole]), [("iam:TagRole", S::IamNamed)]),
    call!("iam" "untag_role" "UntagRole", Kinds(&[K::InstanceRole]), [("iam:UntagRole", S::IamNamed)]),
    call!("iam" "tag_instance_profile" "TagInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:TagInstanceProfile", S::IamNamed)]),
    call!("iam" "untag_instance_profile" "UntagInstanceProfile", Kinds(&[K::InstanceRole]), [("iam:UntagInstanceProfile", S::IamNamed)]),
    // The CSR challenge: made by a provision whose roles read it; looked for and deleted by
    // every destroy, whatever the spec has.
    call!("ssm" "put_parameter" "PutParameter", Kinds(&[K::InstanceRole]), [("ssm:PutParameter", S::SsmChallenge), ("ssm:AddTagsToResource", S::SsmChallenge)]),
    call!("ssm" "list_tags_for_resource" "ListTagsForResource", Always, [("ssm:ListTagsForResource", S::SsmChallenge)]),
    call!("ssm" "delete_parameter" "DeleteParameter", Always, [("ssm:DeleteParameter", S::SsmChallenge)]),
    // Certificates.
    call!("acm" "import_certificate" "ImportCertificate", Kinds(&[K::Certificate]), [("acm:ImportCertificate", S::AcmCreate), ("acm:AddTagsToCertificate", S::AcmCreate)]),
    call!("acm" "list_certificates" "ListCertificates", Kinds(&[K::Certificate]), [("acm:ListCertificates", S::Read)]),
    call!("acm" "describe_certificate" "DescribeCertificate", Kinds(&[K::Certificate]), [("acm:DescribeCertificate", S::Read)]),
    call!("acm" "list_tags_for_certificate" "ListTagsForCertificate", Kinds(&[K::Certificate]), [("acm:ListTagsForCertificate", S::Read)]),
    call!("acm" "delete_certificate" "DeleteCertificate", Kinds(&[K::Certificate]), [("acm:DeleteCertificate", S::AcmTagged)]),
    call!("acm" "add_tags_to_certificate" "AddTagsToCertificate", Kinds(&[K::Certificate]), [("acm:AddTagsToCertificate", S::AcmTagged)]),
    call!("acm" "remove_tags_from_certificate" "RemoveTagsFromCertificate", Kinds(&[K::Certificate]), [("acm:RemoveTagsFromCertificate", S::AcmTagged)]),
    // RDS. Without a spec, a destroy asks RDS for databases that carry the deployment's
    // name (`ownership::strangers`): DescribeDBInstances always.
    call!("rds" "describe_db_instances" "DescribeDBInstances", Always, [("rds:DescribeDBInstances", S::Read)]),
    call!("rds" "describe_db_subnet_groups" "DescribeDBSubnetGroups", Kinds(RDS), [("rds:DescribeDBSubnetGroups", S::Read)]),
    call!("rds" "list_tags_for_resource" "ListTagsForResource", Kinds(RDS), [("rds:ListTagsForResource", S::RdsNamed)]),
    call!("rds" "create_db_subnet_group" "CreateDBSubnetGroup", Kinds(&[K::DbSubnetGroup]), [("rds:CreateDBSubnetGroup", S::RdsNamed), ("rds:AddTagsToResource", S::RdsNamed)]),
    call!("rds" "modify_db_subnet_group" "ModifyDBSubnetGroup", Kinds(&[K::DbSubnetGroup]), [("rds:ModifyDBSubnetGroup", S::RdsNamed)]),
    call!("rds" "delete_db_subnet_group" "DeleteDBSubnetGroup", Kinds(&[K::DbSubnetGroup]), [("rds:DeleteDBSubnetGroup", S::RdsNamed)]),
    // `ManageMasterUserPassword`: RDS makes the secret in the caller's name ("Required
    // permissions for Secrets Manager integration", RDS User Guide, rds-secrets-manager).
    call!("rds" "create_db_instance" "CreateDBInstance", Kinds(&[K::DbInstance]), [
        ("rds:CreateDBInstance", S::RdsNamed),
        ("rds:AddTagsToResource", S::RdsNamed),
        ("secretsmanager:CreateSecret", S::RdsSecret),
        ("secretsmanager:TagResource", S::RdsSecret),
        ("kms:DescribeKey", S::RdsSecret),
        ("iam:CreateServiceLinkedRole", S::ServiceLinkedRole("rds.amazonaws.com")),
    ]),
    call!("rds" "modify_db_instance" "ModifyDBInstance", Kinds(&[K::DbInstance]), [("rds:ModifyDBInstance", S::RdsNamed)]),
    // A final snapshot is a `CreateDBSnapshot` in the caller's name.
    call!("rds" "delete_db_instance" "DeleteDBInstance", Kinds(&[K::DbInstance]), [("rds:DeleteDBInstance", S::RdsNamed), ("rds:CreateDBSnapshot", S::RdsNamed)]),
    call!("rds" "add_tags_to_resource" "AddTagsToResource", Kinds(RDS), [("rds:AddTagsToResource", S::RdsNamed)]),
    call!("rds" "remove_tags_from_resource" "RemoveTagsFromResource", Kinds(RDS), [("rds:RemoveTagsFromResource", S::RdsNamed)]),
    // EFS.
    call!("efs" "describe_file_systems" "DescribeFileSystems", Kinds(EFS), [("elasticfilesystem:DescribeFileSystems", S::Read)]),
    call!("efs" "describe_mount_targets" "DescribeMountTargets", Kinds(EFS), [("elasticfilesystem:DescribeMountTargets", S::Read)]),
    call!("efs" "create_file_system" "CreateFileSystem", Kinds(&[K::FileSystem]), [
        ("elasticfilesystem:CreateFileSystem", S::EfsCreate),
        ("elasticfilesystem:TagResource", S::EfsCreate),
        ("iam:CreateServiceLinkedRole", S::ServiceLinkedRole("elasticfilesystem.amazonaws.com")),
    ]),
    call!("efs" "put_backup_policy" "PutBackupPolicy", Kinds(&[K::FileSystem]), [("elasticfilesystem:PutBackupPolicy", S::EfsTagged)]),
    call!("efs" "update_file_system" "UpdateFileSystem", Kinds(&[K::FileSystem]), [("elasticfilesystem:UpdateFileSystem", S::EfsTagged)]),
    call!("efs" "delete_file_system" "DeleteFileSystem", Kinds(&[K::FileSystem]), [("elasticfilesystem:DeleteFileSystem", S::EfsTagged)]),
    call!("efs" "tag_resource" "TagResource", Kinds(&[K::FileSystem]), [("elasticfilesystem:TagResource", S::EfsTagged)]),
    call!("efs" "untag_resource" "UntagResource", Kinds(&[K::FileSystem]), [("elasticfilesystem:UntagResource", S::EfsTagged)]),
    call!("efs" "create_mount_target" "CreateMountTarget", Kinds(&[K::MountTarget]), [
        ("elasticfilesystem:CreateMountTarget", S::EfsTagged),
        ("ec2:CreateNetworkInterface", S::EfsInterfaces),
        ("ec2:DescribeNetworkInterfaces", S::Read),
        ("ec2:DescribeSubnets", S::Read),
    ]),
    call!("efs" "modify_mount_target_security_groups" "ModifyMountTargetSecurityGroups", Kinds(&[K::MountTarget]), [
        ("elasticfilesystem:ModifyMountTargetSecurityGroups", S::EfsTagged),
        ("ec2:ModifyNetworkInterfaceAttribute", S::EfsInterfaces),
    ]),
    call!("efs" "delete_mount_target" "DeleteMountTarget", Kinds(&[K::MountTarget]), [
        ("elasticfilesystem:DeleteMountTarget", S::EfsTagged),
        ("ec2:DeleteNetworkInterface", S::EfsInterfaces),
    ]),
    // Elastic Load Balancing.
    call!("elb" "describe_load_balancers" "DescribeLoadBalancers", Kinds(ELB), [("elasticloadbalancing:DescribeLoadBalancers", S::Read)]),
    call!("elb" "describe_load_balancer_attributes" "DescribeLoadBalancerAttributes", Kinds(ELB), [("elasticloadbalancing:DescribeLoadBalancerAttributes", S::Read)]),
    call!("elb" "describe_target_groups" "DescribeTargetGroups", Kinds(ELB), [("elasticloadbalancing:DescribeTargetGroups", S::Read)]),
    call!("elb" "describe_target_group_attributes" "DescribeTargetGroupAttributes", Kinds(ELB), [("elasticloadbalancing:DescribeTargetGroupAttributes", S::Read)]),
    call!("elb" "describe_target_health" "DescribeTargetHealth", Kinds(ELB), [("elasticloadbalancing:DescribeTargetHealth", S::Read)]),
    call!("elb" "describe_listeners" "DescribeListeners", Kinds(ELB), [("elasticloadbalancing:DescribeListeners", S::Read)]),
    call!("elb" "describe_rules" "DescribeRules", Kinds(ELB), [("elasticloadbalancing:DescribeRules", S::Read)]),
    call!("elb" "describe_tags" "DescribeTags", Kinds(ELB), [("elasticloadbalancing:DescribeTags", S::Read)]),
    call!("elb" "create_load_balancer" "CreateLoadBalancer", Kinds(&[K::LoadBalancer]), [
        ("elasticloadbalancing:CreateLoadBalancer", S::ElbNamed),
        ("elasticloadbalancing:AddTags", S::ElbNamed),
        ("iam:CreateServiceLinkedRole", S::ServiceLinkedRole("elasticloadbalancing.amazonaws.com")),
    ]),
    call!("elb" "modify_load_balancer_attributes" "ModifyLoadBalancerAttributes", Kinds(&[K::LoadBalancer]), [("elasticloadbalancing:ModifyLoadBalancerAttributes", S::ElbNamed)]),
    call!("elb" "set_security_groups" "SetSecurityGroups", Kinds(&[K::LoadBalancer]), [("elasticloadbalancing:SetSecurityGroups", S::ElbNamed)]),
    call!("elb" "set_subnets" "SetSubnets", Kinds(&[K::LoadBalancer]), [("elasticloadbalancing:SetSubnets", S::ElbNamed)]),
    call!("elb" "delete_load_balancer" "DeleteLoadBalancer", Kinds(&[K::LoadBalancer]), [("elasticloadbalancing:DeleteLoadBalancer", S::ElbNamed)]),
    call!("elb" "create_target_group" "CreateTargetGroup", Kinds(&[K::TargetGroup]), [("elasticloadbalancing:CreateTargetGroup", S::ElbNamed), ("elasticloadbalancing:AddTags", S::ElbNamed)]),
    call!("elb" "modify_target_group" "ModifyTargetGroup", Kinds(&[K::TargetGroup]), [("elasticloadbalancing:ModifyTargetGroup", S::ElbNamed)]),
    call!("elb" "modify_target_group_attributes" "ModifyTargetGroupAttributes", Kinds(&[K::TargetGroup]), [("elasticloadbalancing:ModifyTargetGroupAttributes", S::ElbNamed)]),
    call!("elb" "delete_target_group" "DeleteTargetGroup", Kinds(&[K::TargetGroup]), [("elasticloadbalancing:DeleteTargetGroup", S::ElbNamed)]),
    call!("elb" "create_listener" "CreateListener", Kinds(&[K::Listener]), [("elasticloadbalancing:CreateListener", S::ElbNamed), ("elasticloadbalancing:AddTags", S::ElbNamed)]),
    call!("elb" "modify_listener" "ModifyListener", Kinds(&[K::Listener]), [("elasticloadbalancing:ModifyListener", S::ElbNamed)]),
    call!("elb" "delete_listener" "DeleteListener", Kinds(&[K::Listener]), [("elasticloadbalancing:DeleteListener", S::ElbNamed)]),
    call!("elb" "create_rule" "CreateRule", Kinds(&[K::ListenerRule]), [("elasticloadbalancing:CreateRule", S::ElbNamed), ("elasticloadbalancing:AddTags", S::ElbNamed)]),
    call!("elb" "modify_rule" "ModifyRule", Kinds(&[K::ListenerRule]), [("elasticloadbalancing:ModifyRule", S::ElbNamed)]),
    call!("elb" "delete_rule" "DeleteRule", Kinds(&[K::ListenerRule]), [("elasticloadbalancing:DeleteRule", S::ElbNamed)]),
    call!("elb" "register_targets" "RegisterTargets", Kinds(&[K::TargetRegistration]), [("elasticloadbalancing:RegisterTargets", S::ElbNamed)]),
    call!("elb" "deregister_targets" "DeregisterTargets", Kinds(&[K::TargetRegistration]), [("elasticloadbalancing:DeregisterTargets", S::ElbNamed)]),
    call!("elb" "add_tags" "AddTags", Kinds(ELB), [("elasticloadbalancing:AddTags", S::ElbNamed)]),
    call!("elb" "remove_tags" "RemoveTags", Kinds(ELB), [("elasticloadbalancing:RemoveTags", S::ElbNamed)]),
    // The state on S3 (`state_s3.rs`), encrypted with SSE-S3 or the given KMS key.
    call!("s3" "get_object" "GetObject", StateS3, [("s3:GetObject", S::StateObjects), ("kms:Decrypt", S::StateKms)]),
    call!("s3" "put_object" "PutObject", StateS3, [("s3:PutObject", S::StateObjects), ("kms:GenerateDataKey", S::StateKms)]),
    call!("s3" "delete_object" "DeleteObject", StateS3, [("s3:DeleteObject", S::StateObjects)]),
    call!("s3" "list_objects_v2" "ListObjectsV2", StateS3, [("s3:ListBucket", S::StateList)]),
];

/// An S3 state store: `s3://bucket/prefix`.
#[derive(Clone, Debug)]
pub struct StateBucket {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
    /// The SSE-KMS key (id, ARN, `alias/...` or an alias ARN); SSE-S3 without it.
    pub kms_key: Option<String>,
}

/// What the policy is for.
#[derive(Clone, Debug)]
pub struct Target {
    pub deployment: String,
    pub region: String,
    /// The kinds of object the spec has.
    pub kinds: BTreeSet<Kind>,
    /// Where the state is kept, when on S3.
    pub state: Option<StateBucket>,
    /// The AWS account id, when known; `*` in every ARN otherwise.
    pub account: Option<String>,
}

/// `aws`, or the partition of the China and GovCloud (US) regions ("Amazon Resource Names",
/// IAM User Guide, reference-arns).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// What every name strato gives under `limit` starts with: `<deployment>-`, or as much of
/// it as a shortened name keeps ([`aws_name`]). Read off `aws_name` itself, so the two
/// cannot disagree.
pub fn name_prefix(deployment: &str, limit: usize) -> String {
    let long = aws_name(deployment, &"x".repeat(limit), limit);
    let short = aws_name(deployment, "", limit);
    long.chars().zip(short.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a).collect()
}

impl Call {
    /// Whether a provision, update or destroy of `target` makes this call.
    pub fn made_for(&self, target: &Target) -> bool {
        match self.when {
            Always => true,
            Kinds(kinds) => kinds.iter().any(|k| target.kinds.contains(k)),
            StateS3 => target.state.is_some(),
        }
    }
}

/// The calls a provision, update or destroy of `target` makes.
pub fn calls_for(target: &Target) -> impl Iterator<Item = &'static Call> + '_ {
    CALLS.iter().filter(move |c| c.made_for(target))
}

/// The IAM actions of the table's call of `operation` (on `client`'s service), if any.
pub fn actions_of(client: &str, operation: &str) -> Option<Vec<&'static str>> {
    CALLS
        .iter()
        .find(|c| c.client == client && c.operation == operation)
        .map(|c| c.grants.iter().map(|(a, _)| *a).collect())
}

/// The EC2 resource types of the kinds present, as ARNs of the region.
fn ec2_resources(target: &Target, arn: &dyn Fn(&str) -> String) -> Vec<String> {
    let types: &[(Kind, &[&str])] = &[
        (K::Vpc, &["vpc"]),
        (K::Subnet, &["subnet"]),
        (K::InternetGateway, &["internet-gateway"]),
        (K::ElasticIp, &["elastic-ip"]),
        (K::NatGateway, &["natgateway"]),
        (K::RouteTable, &["route-table"]),
        (K::SecurityGroup, &["security-group", "security-group-rule"]),
        (K::KeyPair, &["key-pair"]),
        (K::Instance, &["instance", "volume", "network-interface"]),
    ];
    let mut out: Vec<String> = types
        .iter()
        .filter(|(k, _)| target.kinds.contains(k))
        .flat_map(|(_, ts)| ts.iter().map(|t| arn(&format!("{t}/*"))))
        .collect();
    out.dedup();
    out
}

/// The policy document (IAM JSON policy language, version 2012-10-17) for exactly the calls
/// a provision, update and destroy of `target` make.
pub fn document(target: &Target) -> Value {
    let p = partition(&target.region);
    let r = target.region.as_str();
    let d = target.deployment.as_str();
    // The account, when given; else left open: the policy is written before strato has
    // seen the account.
    let a = target.account.as_deref().unwrap_or("*");
    let ec2 = |res: &str| format!("arn:{p}:ec2:{r}:{a}:{res}");

    let mut actions: BTreeMap<Scope, BTreeSet<&'static str>> = BTreeMap::new();
    let mut creates: BTreeSet<&'static str> = BTreeSet::new();
    let mut efs_creates: BTreeSet<&'static str> = BTreeSet::new();
    for call in calls_for(target) {
        for &(action, scope) in call.grants {
            actions.entry(scope).or_default().insert(action);
            match (scope, call.client) {
                (S::Ec2TagOnCreate, _) => {
                    creates.insert(call.operation);
                }
                (S::EfsCreate, _) if action == "elasticfilesystem:TagResource" => {
                    efs_creates.insert(call.operation);
                }
                _ => {}
            }
        }
    }

    let tag_is = |key: &str| json!({ "StringEquals": { format!("{key}/{TAG_DEPLOYMENT}"): d } });
    let lb = name_prefix(d, ELB_MAX);
    let db = name_prefix(d, RDS_MAX);
    let role = name_prefix(d, IAM_ROLE_MAX);
    let mut linked: Vec<&str> = Vec::new();
    let mut statements: Vec<Value> = Vec::new();
    for (scope, acts) in &actions {
        let acts: Vec<&str> = acts.iter().copied().collect();
        let (sid, resource, condition): (&str, Value, Option<Value>) = match scope {
            // Describe, List and most Get actions support no resource-level permissions
            // (Service Authorization Reference: no resource type in their row), and the
            // ownership checks read other people's objects.
            S::Read => ("ReadEverywhere", json!("*"), None),
            S::Ec2Create => {
                ("Ec2CreateWithDeploymentTag", json!(ec2_resources(target, &ec2)), Some(tag_is("aws:RequestTag")))
            }
            S::Ec2TagOnCreate => {
                let mut c = tag_is("aws:RequestTag");
                c["StringEquals"]["ec2:CreateAction"] = json!(creates.iter().collect::<Vec<_>>());
                ("Ec2TagOnCreate", json!(ec2_resources(target, &ec2)), Some(c))
            }
            S::Ec2Tagged => {
                ("Ec2ChangeDeploymentResources", json!(ec2_resources(target, &ec2)), Some(tag_is("aws:ResourceTag")))
            }
            // AWS's images (found through SSM's public parameters, or named by the spec)
            // belong to no account strato knows and carry none of its tags.
            S::Ec2Images => ("Ec2LaunchFromImages", json!(format!("arn:{p}:ec2:{r}::image/*")), None),
            // EFS makes a mount target's network interface in the caller's name; the new
            // interface has no tags to scope by.
            S::EfsInterfaces => (
                "EfsMountTargetInterfaces",
                json!([ec2("network-interface/*"), ec2("subnet/*"), ec2("security-group/*")]),
                None,
            ),
            S::RdsNamed => {
                let rds = |res: &str| format!("arn:{p}:rds:{r}:{a}:{res}");
                let mut res = Vec::new();
                if target.kinds.contains(&K::DbInstance) {
                    res.push(rds(&format!("db:{db}*")));
                    // Final snapshots are named `<identifier>-final-<time>`.
                    res.push(rds(&format!("snapshot:{db}*")));
                    res.push(rds("pg:default.*"));
                    res.push(rds("og:default:*"));
                }
                if target.kinds.contains(&K::DbSubnetGroup) {
                    res.push(rds(&format!("subgrp:{d}-*")));
                }
                ("RdsDeploymentNames", json!(res), None)
            }
            // The secret RDS makes for a database's master user is named `rds!db-<id>`.
            S::RdsSecret => (
                "RdsManagedMasterPassword",
                json!([
                    format!("arn:{p}:secretsmanager:{r}:{a}:secret:rds!db-*"),
                    format!("arn:{p}:kms:{r}:{a}:key/*")
                ]),
                None,
            ),
            S::ElbNamed => {
                let elb = |res: &str| format!("arn:{p}:elasticloadbalancing:{r}:{a}:{res}");
                let mut res = Vec::new();
                if target.kinds.iter().any(|k| matches!(k, K::LoadBalancer | K::Listener | K::ListenerRule)) {
                    res.push(elb(&format!("loadbalancer/app/{lb}*")));
                    res.push(elb(&format!("listener/app/{lb}*")));
                    res.push(elb(&format!("listener-rule/app/{lb}*")));
                }
                if target.kinds.iter().any(|k| matches!(k, K::TargetGroup | K::TargetRegistration)) {
                    res.push(elb(&format!("targetgroup/{lb}*")));
                }
                ("ElbDeploymentNames", json!(res), None)
            }
            S::EfsCreate => {
                let mut c = tag_is("aws:RequestTag");
                c["StringEquals"]["elasticfilesystem:CreateAction"] = json!(efs_creates.iter().collect::<Vec<_>>());
                // `CreateFileSystem` itself is not a tagging call: the create action key
                // applies to `TagResource` only, so the two get their own statements.
                let create: Vec<&str> =
                    acts.iter().copied().filter(|a| *a != "elasticfilesystem:TagResource").collect();
                let fs = format!("arn:{p}:elasticfilesystem:{r}:{a}:file-system/*");
                if acts.contains(&"elasticfilesystem:TagResource") {
                    statements.push(json!({
                        "Sid": "EfsTagOnCreate",
                        "Effect": "Allow",
                        "Action": ["elasticfilesystem:TagResource"],
                        "Resource": fs,
                        "Condition": c,
                    }));
                }
                statements.push(json!({
                    "Sid": "EfsCreateWithDeploymentTag",
                    "Effect": "Allow",
                    "Action": create,
                    "Resource": fs,
                    "Condition": tag_is("aws:RequestTag"),
                }));
                continue;
            }
            S::EfsTagged => (
                "EfsChangeDeploymentFileSystems",
                json!(format!("arn:{p}:elasticfilesystem:{r}:{a}:file-system/*")),
                Some(tag_is("aws:ResourceTag")),
            ),
            S::AcmCreate => (
                "AcmImportWithDeploymentTag",
                json!(format!("arn:{p}:acm:{r}:{a}:certificate/*")),
                Some(tag_is("aws:RequestTag")),
            ),
            S::AcmTagged => (
                "AcmChangeDeploymentCertificates",
                json!(format!("arn:{p}:acm:{r}:{a}:certificate/*")),
                Some(tag_is("aws:ResourceTag")),
            ),
            // IAM is global: no region in its ARNs. strato's roles and profiles have the
            // path `/strato/`.
            S::IamNamed => (
                "IamDeploymentRoles",
                json!([
                    format!("arn:{p}:iam::{a}:role/strato/{role}*"),
                    format!("arn:{p}:iam::{a}:instance-profile/strato/{role}*")
                ]),
                None,
            ),
            S::IamPassRole => (
                "IamPassDeploymentRolesToEc2",
                json!(format!("arn:{p}:iam::{a}:role/strato/{role}*")),
                Some(json!({ "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } })),
            ),
            S::ServiceLinkedRole(service) => {
                linked.push(service);
                continue;
            }
            S::SsmChallenge => (
                "SsmDeploymentChallenge",
                json!(format!("arn:{p}:ssm:{r}:{a}:parameter{}", strato_spec::names::csr_challenge_parameter(d))),
                None,
            ),
            // AWS's public parameters (`/aws/service/...`) have no account in their ARN.
            S::SsmPublic => {
                ("SsmPublicImageParameters", json!(format!("arn:{p}:ssm:{r}::parameter/aws/service/*")), None)
            }
            S::StateObjects | S::StateList | S::StateKms => {
                let Some(state) = &target.state else { continue };
                match scope {
                    S::StateObjects => {
                        let key = match state.prefix.as_str() {
                            "" => format!("{d}/*"),
                            pre => format!("{pre}/{d}/*"),
                        };
                        ("StateObjects", json!(format!("arn:{p}:s3:::{}/{key}", state.bucket)), None)
                    }
                    // `ListObjectsV2` of the store's prefix: which deployments it holds.
                    S::StateList => {
                        let condition = match state.prefix.as_str() {
                            "" => None,
                            pre => Some(json!({ "StringEquals": { "s3:prefix": format!("{pre}/") } })),
                        };
                        ("StateList", json!(format!("arn:{p}:s3:::{}", state.bucket)), condition)
                    }
                    _ => {
                        let Some(key) = &state.kms_key else { continue };
                        let (resource, condition) = kms_key(p, r, a, key);
                        ("StateKmsKey", json!(resource), condition)
                    }
                }
            }
        };
        let mut statement = json!({ "Sid": sid, "Effect": "Allow", "Action": acts, "Resource": resource });
        if let Some(c) = condition {
            statement["Condition"] = c;
        }
        statements.push(statement);
    }
    if !linked.is_empty() {
        linked.sort_unstable();
        linked.dedup();
        statements.push(json!({
            "Sid": "IamServiceLinkedRoles",
            "Effect": "Allow",
            "Action": ["iam:CreateServiceLinkedRole"],
            "Resource": format!("arn:{p}:iam::{a}:role/aws-service-role/*"),
            "Condition": { "StringEquals": { "iam:AWSServiceName": linked } },
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// A KMS key as a policy resource: its ARN; a key id in the region; an alias by the aliases
/// of the key it names (`kms:ResourceAliases`), since aliases are not resources of
/// encryption actions.
fn kms_key(p: &str, r: &str, a: &str, key: &str) -> (String, Option<Value>) {
    if key.starts_with("arn:") && key.contains(":key/") {
        (key.to_string(), None)
    } else if let Some(alias) = key.strip_prefix("alias/").or_else(|| key.split_once(":alias/").map(|(_, a)| a)) {
        let region = if key.starts_with("arn:") { key.split(':').nth(3).unwrap_or(r) } else { r };
        (
            format!("arn:{p}:kms:{region}:{a}:key/*"),
            Some(json!({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": format!("alias/{alias}") } })),
        )
    } else {
        (format!("arn:{p}:kms:{r}:{a}:key/{key}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `client.method(` of the crate's source, for the clients of [`crate::Clients`]
    /// and the state's S3 client; whitespace around the dot is allowed, so calls split over
    /// lines are found.
    fn calls_in_source() -> BTreeSet<(String, String)> {
        let clients = ["ec2", "rds", "efs", "elb", "acm", "ssm", "iam", "sts", "quotas", "s3"];
        // Methods of the clients that are no AWS operation.
        let not_operations = ["clone", "config", "iter", "from_conf", "new"];
        let mut found = BTreeSet::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![root];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") || path.ends_with("policy.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let b = text.as_bytes();
                let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                for client in clients {
                    let mut at = 0;
                    while let Some(i) = text[at..].find(client).map(|i| i + at) {
                        at = i + client.len();
                        if i > 0 && ident(b[i - 1]) || b.get(at).is_some_and(|&c| ident(c)) {
                            continue;
                        }
                        let mut j = at;
                        while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
                            j += 1;
                        }
                        if b.get(j) != Some(&b'.') {
                            continue;
                        }
                        j += 1;
                        while b.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
                            j += 1;
                        }
                        let start = j;
                        while b.get(j).is_some_and(|&c| ident(c)) {
                            j += 1;
                        }
                        let method = &text[start..j];
                        if !method.is_empty() && b.get(j) == Some(&b'(') && !not_operations.contains(&method) {
                            found.insert((client.to_string(), method.to_string()));
                        }
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_table_has_every_call_the_crate_makes_and_no_other() {
        let made = calls_in_source();
        assert!(made.len() > 100, "the source scan finds the calls: {made:?}");
        let table: BTreeSet<(String, String)> =
            CALLS.iter().map(|c| (c.client.to_string(), c.method.to_string())).collect();
        let missing: Vec<_> = made.difference(&table).collect();
        assert!(missing.is_empty(), "calls made but not in drivers::policy::CALLS: {missing:?}");
        let stale: Vec<_> = table.difference(&made).collect();
        assert!(stale.is_empty(), "rows of CALLS no code makes: {stale:?}");
    }

    #[test]
    fn rows_are_unique_and_name_their_operation() {
        let mut seen = BTreeSet::new();
        for c in CALLS {
            assert!(seen.insert((c.client, c.method)), "{}.{} twice", c.client, c.method);
            let pascal: String = c.method.split('_').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect();
            assert!(pascal.eq_ignore_ascii_case(c.operation), "{} is not {}", c.method, c.operation);
            if c.operation != "GetCallerIdentity" {
                assert!(!c.grants.is_empty(), "{} needs at least its own action", c.operation);
            }
        }
    }

    fn target(kinds: &[Kind], state: Option<StateBucket>) -> Target {
        Target {
            deployment: "wso2".into(),
            region: "eu-west-1".into(),
            kinds: kinds.iter().copied().collect(),
            state,
            account: None,
        }
    }

    fn statement<'v>(doc: &'v Value, sid: &str) -> Option<&'v Value> {
        doc["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid)
    }

    fn all_actions(doc: &Value) -> BTreeSet<String> {
        doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()))
            .collect()
    }

    #[test]
    fn only_the_kinds_present_get_actions() {
        let network = document(&target(&[K::Vpc, K::Subnet], None));
        let actions = all_actions(&network);
        assert!(actions.contains("ec2:CreateVpc") && actions.contains("ec2:DeleteSubnet"));
        for absent in [
            "rds:CreateDBInstance",
            "elasticloadbalancing:CreateLoadBalancer",
            "iam:CreateRole",
            "ec2:RunInstances",
            "s3:PutObject",
            "ec2:CreateNatGateway",
        ] {
            assert!(!actions.contains(absent), "{absent} without its kind");
        }
        assert!(statement(&network, "IamServiceLinkedRoles").is_none());
        let full = document(&target(&[K::DbInstance, K::LoadBalancer], None));
        let linked = statement(&full, "IamServiceLinkedRoles").unwrap();
        assert_eq!(
            linked["Condition"]["StringEquals"]["iam:AWSServiceName"],
            json!(["elasticloadbalancing.amazonaws.com", "rds.amazonaws.com"])
        );
    }

    #[test]
    fn ec2_changes_are_scoped_by_the_deployment_tag() {
        let doc = document(&target(&[K::Vpc, K::Subnet, K::Instance, K::InstanceRole], None));
        let tagged = statement(&doc, "Ec2ChangeDeploymentResources").unwrap();
        assert_eq!(tagged["Condition"], json!({ "StringEquals": { "aws:ResourceTag/strato:deployment": "wso2" } }));
        assert!(tagged["Action"].as_array().unwrap().contains(&json!("ec2:TerminateInstances")));
        assert!(tagged["Resource"].as_array().unwrap().contains(&json!("arn:aws:ec2:eu-west-1:*:instance/*")));
        let create = statement(&doc, "Ec2CreateWithDeploymentTag").unwrap();
        assert_eq!(create["Condition"], json!({ "StringEquals": { "aws:RequestTag/strato:deployment": "wso2" } }));
        let on_create = statement(&doc, "Ec2TagOnCreate").unwrap();
        assert_eq!(on_create["Action"], json!(["ec2:CreateTags"]));
        assert_eq!(
            on_create["Condition"]["StringEquals"]["ec2:CreateAction"],
            json!(["CreateSubnet", "CreateVpc", "RunInstances"])
        );
        // No EC2 mutation anywhere without a tag condition, but the image a launch reads.
        for s in doc["Statement"].as_array().unwrap() {
            let mutates_ec2 = s["Action"].as_array().unwrap().iter().any(|a| {
                let a = a.as_str().unwrap();
                a.starts_with("ec2:") && crate::journal::mutating(&a[4..])
            });
            if mutates_ec2 && s["Sid"] != "Ec2LaunchFromImages" && s["Sid"] != "EfsMountTargetInterfaces" {
                assert!(s["Condition"].is_object(), "{s}");
            }
        }
        let pass = statement(&doc, "IamPassDeploymentRolesToEc2").unwrap();
        assert_eq!(pass["Resource"], json!("arn:aws:iam::*:role/strato/wso2-*"));
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], json!("ec2.amazonaws.com"));
    }

    #[test]
    fn reads_are_on_every_resource_and_nothing_else_is() {
        let doc = document(&target(&[K::Vpc, K::DbInstance, K::LoadBalancer, K::FileSystem], None));
        let read = statement(&doc, "ReadEverywhere").unwrap();
        assert_eq!(read["Resource"], json!("*"));
        for a in read["Action"].as_array().unwrap() {
            let op = a.as_str().unwrap().split_once(':').unwrap().1;
            assert!(!crate::journal::mutating(op), "{a} is no read");
        }
        for s in doc["Statement"].as_array().unwrap() {
            if s["Sid"] != "ReadEverywhere" {
                assert_ne!(s["Resource"], json!("*"), "{s}");
            }
        }
    }

    #[test]
    fn names_scope_rds_elb_and_iam_even_when_shortened() {
        assert_eq!(name_prefix("wso2", ELB_MAX), "wso2-");
        let long = "wso2-staging-eu-west-1-team-blue";
        let p = name_prefix(long, ELB_MAX);
        for name in ["apim-analytics-dashboard", "x", "public"] {
            let n = aws_name(long, name, ELB_MAX);
            assert!(n.starts_with(&p), "{n} starts with {p}");
        }
        let doc = document(&target(&[K::DbInstance, K::DbSubnetGroup, K::LoadBalancer, K::TargetGroup], None));
        let rds = statement(&doc, "RdsDeploymentNames").unwrap();
        assert!(rds["Resource"].as_array().unwrap().contains(&json!("arn:aws:rds:eu-west-1:*:db:wso2-*")));
        assert!(rds["Resource"].as_array().unwrap().contains(&json!("arn:aws:rds:eu-west-1:*:subgrp:wso2-*")));
        let elb = statement(&doc, "ElbDeploymentNames").unwrap();
        assert!(elb["Resource"]
            .as_array()
            .unwrap()
            .contains(&json!("arn:aws:elasticloadbalancing:eu-west-1:*:targetgroup/wso2-*")));
        let china = document(&Target { region: "cn-north-1".into(), ..target(&[K::Vpc], None) });
        assert!(china.to_string().contains("arn:aws-cn:ec2:cn-north-1:*:vpc/*"), "{china}");
    }

    #[test]
    fn an_s3_state_gets_its_objects_its_listing_and_its_key() {
        let state =
            StateBucket { bucket: "states".into(), prefix: "team/a".into(), kms_key: Some("alias/strato".into()) };
        let doc = document(&target(&[K::Vpc], Some(state)));
        let objects = statement(&doc, "StateObjects").unwrap();
        assert_eq!(objects["Resource"], json!("arn:aws:s3:::states/team/a/wso2/*"));
        assert_eq!(objects["Action"], json!(["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]));
        let list = statement(&doc, "StateList").unwrap();
        assert_eq!(list["Condition"], json!({ "StringEquals": { "s3:prefix": "team/a/" } }));
        let kms = statement(&doc, "StateKmsKey").unwrap();
        assert_eq!(kms["Condition"], json!({ "ForAnyValue:StringEquals": { "kms:ResourceAliases": "alias/strato" } }));
        assert!(statement(&document(&target(&[K::Vpc], None)), "StateObjects").is_none());
        let plain = StateBucket { bucket: "states".into(), prefix: String::new(), kms_key: None };
        let doc = document(&target(&[K::Vpc], Some(plain)));
        assert!(statement(&doc, "StateKmsKey").is_none());
        assert_eq!(statement(&doc, "StateObjects").unwrap()["Resource"], json!("arn:aws:s3:::states/wso2/*"));
    }

    #[test]
    fn sids_are_unique_and_the_whole_policy_fits_a_role_inline_policy() {
        let every: Vec<Kind> = strato_graph::KINDS.iter().map(|k| k.kind).collect();
        let state = StateBucket { bucket: "states".into(), prefix: "p".into(), kms_key: Some("k".into()) };
        let doc = document(&target(&every, Some(state)));
        let sids: Vec<&str> = doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        let unique: BTreeSet<&&str> = sids.iter().collect();
        assert_eq!(unique.len(), sids.len(), "{sids:?}");
        assert!(sids.iter().all(|s| s.chars().all(|c| c.is_ascii_alphanumeric())), "{sids:?}");
        // A role's inline policies: at most 10,240 characters, whitespace not counted (IAM
        // User Guide, "IAM and AWS STS quotas"); a managed policy holds 6,144, which every
        // kind at once exceeds (docs/iam-policy.md).
        let size = doc.to_string().chars().filter(|c| !c.is_whitespace()).count();
        assert!(size <= 10240, "{size} characters");
    }
}
