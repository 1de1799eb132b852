"""Propagation delays: AWS's eventual consistency, answered before moto sees the call.

Right after a create, other calls naming the new id can still be refused as if it did not
exist (the EC2 API reference, "Eventual consistency in the Amazon EC2 API"); ELBv2, RDS and
EFS see fresh EC2 objects late, EC2 sees a fresh IAM instance profile late ("~10 seconds",
the EC2 user guide on launching with a role), and ACM and ELBv2 see a removed listener late
(terraform-provider-aws retries `RegisterTargets`, `RunInstances`, `DeleteTargetGroup` and
ACM `DeleteCertificate` for these). Only ids named in parameters count; filters, tags and
client tokens do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .protocol import AwsRequest
from .session import Session

# EC2's own NotFound answer for a fresh object of each kind: (code, message template).
# NAT gateways answer `NatGatewayNotFound`, the code terraform-provider-aws matches
# (`errCodeNatGatewayNotFound`); EC2 has no `InvalidNatGatewayID.NotFound`.
EC2_NOT_FOUND: dict[str, tuple[str, str]] = {
    "vpc": ("InvalidVpcID.NotFound", "The vpc ID '{id}' does not exist"),
    "subnet": ("InvalidSubnetID.NotFound", "The subnet ID '{id}' does not exist"),
    "security_group": ("InvalidGroup.NotFound", "The security group '{id}' does not exist"),
    "elastic_ip": ("InvalidAllocationID.NotFound", "The allocation ID '{id}' does not exist"),
    "instance": ("InvalidInstanceID.NotFound", "The instance ID '{id}' does not exist"),
    "internet_gateway": ("InvalidInternetGatewayID.NotFound", "The internetGateway ID '{id}' does not exist"),
    "route_table": ("InvalidRouteTableID.NotFound", "The routeTable ID '{id}' does not exist"),
    "nat_gateway": ("NatGatewayNotFound", "The Nat Gateway {id} was not found"),
}

_NOT_NAMING = ("Action", "Version", "ClientToken", "DryRun")
_NOT_NAMING_PREFIXES = ("Filter.", "TagSpecification.", "Tag.")
_LISTENER_CERTIFICATE = re.compile(r"Certificates\.member\.\d+\.CertificateArn$")
_LB_SUBNET = re.compile(r"(Subnets\.member\.\d+|SubnetMappings\.member\.\d+\.SubnetId)$")
_LB_GROUP = re.compile(r"SecurityGroups\.member\.\d+$")
_TARGET_ID = re.compile(r"Targets\.member\.\d+\.Id$")


@dataclass(frozen=True)
class LagRefusal:
    """A propagation refusal: the rule it logs under and AWS's answer."""

    rule: str
    code: str
    message: str
    status: int = 400


def check(session: Session, request: AwsRequest) -> LagRefusal | None:
    """The refusal AWS's propagation delay would give this call now, if any."""
    if request.service == "ec2":
        return _ec2(session, request)
    if request.service == "elasticloadbalancing":
        return _elbv2(session, request)
    if request.service == "rds" and request.operation == "CreateDBSubnetGroup":
        fresh = [v for k, v in request.params.items() if k.startswith("SubnetIds.") and _fresh(session, v, "subnet")]
        if fresh:
            return LagRefusal("lag.not_found", "InvalidSubnet", f"Some input subnets in :[{', '.join(fresh)}] are invalid.")
    if request.service == "elasticfilesystem" and request.operation == "CreateMountTarget":
        return _efs_mount_target(session, request)
    if request.service == "acm" and request.operation == "DeleteCertificate":
        arn = str(request.params.get("CertificateArn", ""))
        released = session.certificates_released.get(arn)
        if released and session.emulated_since(released[0]) < session.config.certificate_in_use_lag:
            return LagRefusal("lag.certificate_in_use", "ResourceInUseException", f"Certificate {arn} in use by {released[1]}")
    return None


def _fresh(session: Session, value: object, kind: str) -> bool:
    return isinstance(value, str) and session.fresh(value, session.config.lag) == kind


def _ec2(session: Session, request: AwsRequest) -> LagRefusal | None:
    for key, value in request.params.items():
        if key in _NOT_NAMING or key.startswith(_NOT_NAMING_PREFIXES) or not isinstance(value, str):
            continue
        kind = session.fresh(value, session.config.lag)
        if kind not in EC2_NOT_FOUND:
            continue
        if request.operation == "CreateNatGateway" and key == "SubnetId":
            return LagRefusal("lag.not_found", "InvalidParameterValue", f"Subnet {value} does not exist")
        code, template = EC2_NOT_FOUND[kind]
        return LagRefusal("lag.not_found", code, template.format(id=value))
    if request.operation == "RunInstances":
        return _instance_profile(session, request)
    return None


def _instance_profile(session: Session, request: AwsRequest) -> LagRefusal | None:
    """An instance profile created, or given its role, less than `iam_lag` ago is invalid to
    RunInstances. An ARN is checked by the name it ends with (unique in an account)."""
    for field, label in (("Name", "name"), ("Arn", "ARN")):
        value = request.params.get(f"IamInstanceProfile.{field}")
        if not isinstance(value, str) or not value:
            continue
        changed = session.instance_profiles_changed.get(value.rsplit("/", 1)[-1])
        if changed is not None and session.emulated_since(changed) < session.config.iam_lag:
            return LagRefusal(
                "lag.iam_propagation",
                "InvalidParameterValue",
                f"Value ({value}) for parameter iamInstanceProfile.{field.lower()} is invalid. "
                f"Invalid IAM Instance Profile {label}",
            )
    return None


def _elbv2(session: Session, request: AwsRequest) -> LagRefusal | None:
    op, params, config = request.operation, request.params, session.config
    if op == "CreateTargetGroup" and _fresh(session, params.get("VpcId"), "vpc"):
        return LagRefusal("lag.not_found", "ValidationError", f"The VPC ID '{params['VpcId']}' is not found")
    if op in ("CreateLoadBalancer", "SetSubnets", "SetSecurityGroups"):
        for key, value in params.items():
            if _LB_SUBNET.match(key) and _fresh(session, value, "subnet"):
                return LagRefusal("lag.not_found", "SubnetNotFound", f"The subnet ID '{value}' is not found")
            if _LB_GROUP.match(key) and _fresh(session, value, "security_group"):
                return LagRefusal("lag.not_found", "InvalidSecurityGroup", f"Security group '{value}' does not exist")
    if op in ("CreateListener", "ModifyListener", "AddListenerCertificates"):
        for key, value in params.items():
            if _LISTENER_CERTIFICATE.match(key) and _fresh(session, value, "certificate"):
                return LagRefusal("lag.certificate_not_found", "CertificateNotFound", f"Certificate '{value}' not found")
    if op == "RegisterTargets":
        for key, value in params.items():
            since = session.running_since.get(value) if _TARGET_ID.match(key) else None
            if since is not None and session.emulated_since(since) < config.register_lag:
                return LagRefusal(
                    "lag.register",
                    "InvalidTarget",
                    f"The following targets are not in a running state and cannot be registered: '{value}'",
                )
    if op == "DeleteTargetGroup":
        arn = params.get("TargetGroupArn", "")
        released = session.target_groups_released.get(arn)
        if released is not None and session.emulated_since(released) < config.target_group_in_use_lag:
            return LagRefusal(
                "lag.target_group_in_use", "ResourceInUse", f"Target group '{arn}' is currently in use by a listener or a rule"
            )
    return None


def _efs_mount_target(session: Session, request: AwsRequest) -> LagRefusal | None:
    subnet = request.params.get("SubnetId")
    if _fresh(session, subnet, "subnet"):
        return LagRefusal("lag.not_found", "SubnetNotFound", f"The subnet ID '{subnet}' does not exist")
    for group in request.params.get("SecurityGroups") or []:
        if _fresh(session, group, "security_group"):
            return LagRefusal("lag.not_found", "SecurityGroupNotFound", f"The SecurityGroup ID '{group}' does not exist")
    return None
