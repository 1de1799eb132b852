"""What a region offers and an account may hold: instance types per zone, service quotas.

Instance-type offerings: a session's `missing_offerings` names (zone, type) pairs EC2 does
not offer. `DescribeInstanceTypeOfferings` leaves them out, and `RunInstances` of such a type
into such a zone (by its subnet, its interface's subnet or `Placement.AvailabilityZone`)
answers `Unsupported`, naming the zones that do offer it, as EC2 does. moto answers
`DescribeInstanceTypeOfferings` from its bundled data in one page whatever `MaxResults`
says; with the `pagination` rule the layer honours `MaxResults` and `NextToken`.

Service quotas: moto's Service Quotas knows only the `vpc` defaults (`eu-west-1` ARNs, no
account) and answers `NoSuchResourceException` for every other service. A session's `quotas`
replaces that: `GetServiceQuota` answers the applied values it was given, in AWS's shape,
and `NoSuchResourceException` for any other code; and EC2 enforces three of them: Elastic
IPs (`AddressLimitExceeded`), VPCs per Region, the default VPC included
(`VpcLimitExceeded`), and the vCPUs of running On-Demand Standard instances
(`VcpuLimitExceeded`, on RunInstances and on StartInstances of a stopped instance).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.elastic_ip_addresses import ElasticAddressBackend
from moto.ec2.models.instance_types import INSTANCE_TYPE_OFFERINGS, INSTANCE_TYPES, InstanceTypeOfferingBackend
from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.responses.instances import InstanceResponse
from moto.servicequotas.models import ServiceQuotasBackend
from moto.servicequotas.resources.default_quotas.vpc import VPC_DEFAULT_QUOTAS

from ..context import RequestContext, patch, refuse

# -- instance-type offerings ---------------------------------------------------------------


def _missing(context: RequestContext, instance_type: str, zone: str) -> bool:
    return instance_type in context.session.config.missing_offerings.get(zone, ())


@patch(InstanceTypeOfferingBackend, "describe_instance_type_offerings")
def _describe_instance_type_offerings(
    context: RequestContext, original: Any, self: Any, location_type: str | None = None, filters: Any = None
) -> Any:
    offerings = original(self, location_type, filters)
    missing = context.session.config.missing_offerings
    if not missing or location_type not in ("availability-zone", "availability-zone-id"):
        return offerings
    pairs = {(zone, t) for zone, types in missing.items() for t in types}
    if location_type == "availability-zone-id":
        ids = {zone.name: zone.zone_id for zone in self.describe_availability_zones()}
        pairs = {(ids[zone], t) for zone, t in pairs if zone in ids}
    return [o for o in offerings if (o["Location"], o["InstanceType"]) not in pairs]


@patch(InstanceResponse, "describe_instance_type_offerings")
def _describe_instance_type_offerings_paged(context: RequestContext, original: Any, self: Any) -> Any:
    size = self._get_int_param("MaxResults")
    if not context.rules.pagination or not size:
        return original(self)
    offerings = self.ec2_backend.describe_instance_type_offerings(
        self._get_param("LocationType"), self._filters_from_querystring()
    )
    start = _page_start(self._get_param("NextToken"))
    result: dict[str, Any] = {"InstanceTypeOfferings": offerings[start : start + size]}
    if start + size < len(offerings):
        result["NextToken"] = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
    return ActionResult(result)


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise EC2ClientError("InvalidNextToken", "The specified NextToken is not valid.") from None


def _launch_zone(backend: Any, kwargs: dict[str, Any]) -> str | None:
    """The zone RunInstances launches into, as moto decides it: subnet, then placement."""
    subnet_id = kwargs.get("subnet_id")
    for nic in kwargs.get("nics") or []:
        if subnet_id:
            break
        if nic.get("SubnetId"):
            subnet_id = nic["SubnetId"]
        elif nic.get("NetworkInterfaceId") and nic["NetworkInterfaceId"] in backend.enis:
            return str(backend.enis[nic["NetworkInterfaceId"]].subnet.availability_zone)
    if subnet_id:
        try:
            return str(backend.get_subnet(subnet_id).availability_zone)
        except EC2ClientError:
            return None  # moto answers the unknown subnet itself
    placement = kwargs.get("placement")
    return str(placement) if placement else None


def _check_offering(context: RequestContext, backend: Any, kwargs: dict[str, Any]) -> None:
    instance_type = str(kwargs.get("instance_type") or "m1.small")
    zone = _launch_zone(backend, kwargs)
    if zone is None or not _missing(context, instance_type, zone):
        return
    offerings = INSTANCE_TYPE_OFFERINGS["availability-zone"].get(backend.region_name, [])
    offered = sorted(
        o["Location"]
        for o in offerings
        if o["InstanceType"] == instance_type and o["Location"] != zone and not _missing(context, instance_type, o["Location"])
    )
    message = (
        f"Your requested instance type ({instance_type}) is not supported in your requested Availability Zone "
        f"({zone}). Please retry your request by not specifying an Availability Zone or choosing {', '.join(offered)}."
    )
    refuse(context, "offering.instance_type", EC2ClientError("Unsupported", message))


# -- quotas EC2 enforces -------------------------------------------------------------------

VCPU_QUOTA = "ec2/L-1216C47A"
ELASTIC_IP_QUOTA = "ec2/L-0263D0A3"
VPC_QUOTA = "vpc/L-F678F1CE"

# Families of the Standard bucket: A, C, D, H, I, M, R, T, Z, less the ones with a quota of
# their own (Inf, DL, Trn, Mac dedicated hosts, HPC).
_STANDARD = tuple("acdhimrtz")
_NOT_STANDARD = ("inf", "dl", "trn", "mac", "hpc")
_COUNTED_STATES = ("pending", "running", "shutting-down", "stopping")


def _standard_vcpus(instance_type: str) -> int:
    family = instance_type.split(".", 1)[0]
    if not family.startswith(_STANDARD) or family.startswith(_NOT_STANDARD):
        return 0
    info = INSTANCE_TYPES.get(instance_type, {}).get("VCpuInfo", {})
    return int(info.get("DefaultVCpus", 1))


def _check_vcpus(context: RequestContext, backend: Any, count: int, kwargs: dict[str, Any]) -> None:
    _check_vcpus_requested(context, backend, _standard_vcpus(str(kwargs.get("instance_type") or "m1.small")) * count)


def _check_vcpus_requested(context: RequestContext, backend: Any, requested: int) -> None:
    limit = context.session.config.quota(VCPU_QUOTA)
    if limit is None or not requested:
        return
    used = sum(_standard_vcpus(i.instance_type) for i in backend.all_instances() if i.state in _COUNTED_STATES)
    if used + requested > limit:
        message = (
            f"You have requested more vCPU capacity than your current vCPU limit of {limit:.0f} allows for the "
            "instance bucket that the specified instance type belongs to. Please visit "
            "http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit."
        )
        refuse(context, "quota.vcpus", EC2ClientError("VcpuLimitExceeded", message))


@patch(InstanceBackend, "run_instances")
def _run_instances(
    context: RequestContext, original: Any, self: Any, image_id: str, count: int, *args: Any, **kwargs: Any
) -> Any:
    if context.operation == "RunInstances" and not kwargs.get("launch_template"):
        _check_offering(context, self, kwargs)
        _check_vcpus(context, self, int(count), kwargs)
    return original(self, image_id, count, *args, **kwargs)


@patch(InstanceBackend, "start_instances")
def _start_instances(context: RequestContext, original: Any, self: Any, instance_ids: list[str]) -> Any:
    """A stopped instance holds no vCPUs: starting it counts against the quota like a launch."""
    if context.operation == "StartInstances":
        starting = {i.id: i for i in self.get_multi_instances_by_id(instance_ids) if i.state == "stopped"}
        _check_vcpus_requested(context, self, sum(_standard_vcpus(i.instance_type) for i in starting.values()))
    return original(self, instance_ids)


@patch(ElasticAddressBackend, "allocate_address")
def _allocate_address(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    limit = context.session.config.quota(ELASTIC_IP_QUOTA)
    if context.operation == "AllocateAddress" and limit is not None and len(self.addresses) >= limit:
        error = EC2ClientError("AddressLimitExceeded", "The maximum number of addresses has been reached.")
        refuse(context, "quota.elastic_ips", error)
    return original(self, *args, **kwargs)


@patch(VPCBackend, "create_vpc")
def _create_vpc(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    limit = context.session.config.quota(VPC_QUOTA)
    if context.operation == "CreateVpc" and not kwargs.get("is_default") and limit is not None and len(self.vpcs) >= limit:
        error = EC2ClientError("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
        refuse(context, "quota.vpcs", error)
    return original(self, *args, **kwargs)


# -- Service Quotas ------------------------------------------------------------------------

SERVICE_NAMES = {
    "ec2": "Amazon Elastic Compute Cloud (Amazon EC2)",
    "vpc": "Amazon Virtual Private Cloud (Amazon VPC)",
}

# What AWS says about each quota besides its value: the EC2 ones strato asks for, and the VPC
# ones moto carries.
QUOTAS: dict[str, dict[str, Any]] = {
    VCPU_QUOTA: {
        "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        "Adjustable": True,
        "UsageMetric": {
            "MetricNamespace": "AWS/Usage",
            "MetricName": "ResourceCount",
            "MetricDimensions": {"Class": "Standard/OnDemand", "Resource": "vCPU", "Service": "EC2", "Type": "Resource"},
            "MetricStatisticRecommendation": "Maximum",
        },
    },
    ELASTIC_IP_QUOTA: {"QuotaName": "EC2-VPC Elastic IPs", "Adjustable": True},
    **{
        f"vpc/{q['QuotaCode']}": {"QuotaName": q["QuotaName"], "Adjustable": q["Adjustable"], "Unit": q["Unit"]}
        for q in VPC_DEFAULT_QUOTAS
    },
}


@patch(ServiceQuotasBackend, "get_service_quota")
def _get_service_quota(context: RequestContext, original: Any, self: Any, service_code: str, quota_code: str) -> Any:
    quotas = context.session.config.quotas
    if quotas is None:
        return original(self, service_code, quota_code)
    key = f"{service_code}/{quota_code}"
    if key not in quotas:
        # GetServiceQuota's answer for a quota without an applied value carries no message.
        refuse(context, "quota.no_such_resource", JsonRESTError("NoSuchResourceException", ""))
    known = QUOTAS.get(key, {})
    quota: dict[str, Any] = {
        "ServiceCode": service_code,
        "ServiceName": SERVICE_NAMES.get(service_code, service_code),
        "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{key}",
        "QuotaCode": quota_code,
        "QuotaName": known.get("QuotaName", quota_code),
        "Value": float(quotas[key]),
        "Unit": known.get("Unit", "None"),
        "Adjustable": known.get("Adjustable", True),
        "GlobalQuota": False,
    }
    if "UsageMetric" in known:
        quota["UsageMetric"] = known["UsageMetric"]
    return quota
