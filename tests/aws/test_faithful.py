"""Tests of the AWS-faithful layer: each rule refuses the wrong order or input with AWS's
answer, and the right order passes once AWS would let it.

The module starts one layer server on a free loopback port and stops it by its PID. Each
test opens its own session (its own moto account), usually at a high `scale` so emulated
minutes pass in fractions of a second. Tests not about propagation delays set `lag` to 0.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from functools import partial
import unittest
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
AMI = "ami-12c6146b"  # one of moto's built-in images
NO_RETRIES = BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=20)

_server: subprocess.Popen[bytes] | None = None
_url = ""
_log = ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def setUpModule() -> None:
    global _server, _url, _log
    port = _free_port()
    _url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="faithful-", suffix=".log", delete=False)
    _log = log.name
    _server = subprocess.Popen(
        [sys.executable, str(HERE / "faithful.py"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{_url}/_faithful/health", timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    tearDownModule()
    raise RuntimeError(f"the layer did not start; see {log.name}")


def tearDownModule() -> None:
    if _server is not None and _server.poll() is None:
        os.kill(_server.pid, signal.SIGTERM)
        _server.wait(timeout=10)
    # The server's log is kept only when it has something to say.
    if _log and os.path.exists(_log) and os.path.getsize(_log) == 0:
        os.remove(_log)


def _control(method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{_url}/_faithful{path}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition", every: float = 0.02) -> Any:
    """Poll `condition` until it returns something truthy (every 0.1 s or slower for ELBv2,
    whose shared bucket refills 10 calls a second)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


class Session:
    """A layer session and boto3 clients signed with its access key."""

    def __init__(self, **config: Any) -> None:
        created = _control("POST", "/sessions", config)
        self.id: str = created["id"]
        self.access_key: str = created["access_key"]
        self.account_id: str = created["account_id"]
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=_url,
                region_name=REGION,
                aws_access_key_id=self.access_key,
                aws_secret_access_key="faithful",
                config=NO_RETRIES,
            )
        return self._clients[service]

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def rds(self) -> Any:
        return self.client("rds")

    @property
    def elbv2(self) -> Any:
        return self.client("elbv2")

    @property
    def efs(self) -> Any:
        return self.client("efs")

    @property
    def acm(self) -> Any:
        return self.client("acm")

    def log(self) -> dict[str, Any]:
        return _control("GET", f"/sessions/{self.id}/log")

    def inventory(self) -> dict[str, Any]:
        return _control("GET", f"/sessions/{self.id}/inventory")

    def patch(self, **config: Any) -> Any:
        return _control("PATCH", f"/sessions/{self.id}", config)

    def end(self) -> None:
        _control("DELETE", f"/sessions/{self.id}")

    def rules_logged(self, type_: str = "refused") -> dict[str, int]:
        return self.log()["summary"].get(type_, {})

    # -- building blocks -------------------------------------------------------------------

    def vpc(self, cidr: str = "10.0.0.0/16") -> str:
        return self.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]

    def subnet(self, vpc_id: str, cidr: str, zone: str = "us-east-1a") -> str:
        return self.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]

    def group(self, vpc_id: str, name: str = "app") -> str:
        return self.ec2.create_security_group(GroupName=name, Description="app servers", VpcId=vpc_id)["GroupId"]

    def network(self) -> tuple[str, str, str, str]:
        """A VPC with two subnets in different zones and a security group."""
        vpc_id = self.vpc()
        first = self.subnet(vpc_id, "10.0.1.0/24", "us-east-1a")
        second = self.subnet(vpc_id, "10.0.2.0/24", "us-east-1b")
        return vpc_id, first, second, self.group(vpc_id)

    def internet_gateway(self, vpc_id: str) -> str:
        igw_id = self.ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        self.ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        return igw_id

    def load_balancer(self, name: str, subnets: list[str], groups: list[str], scheme: str = "internet-facing") -> str:
        lb = self.elbv2.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=groups, Scheme=scheme)
        return lb["LoadBalancers"][0]["LoadBalancerArn"]

    def target_group(self, vpc_id: str, name: str = "app") -> str:
        tg = self.elbv2.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="instance")
        return tg["TargetGroups"][0]["TargetGroupArn"]

    def db_subnet_group(self, subnets: list[str], name: str = "db") -> str:
        self.rds.create_db_subnet_group(DBSubnetGroupName=name, DBSubnetGroupDescription="db", SubnetIds=subnets)
        return name

    def database(self, identifier: str, group: str, multi_az: bool = False) -> dict[str, Any]:
        return self.rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            DBInstanceClass="db.t3.micro",
            Engine="mysql",
            MasterUsername="admin",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            DBSubnetGroupName=group,
            MultiAZ=multi_az,
            PubliclyAccessible=False,
        )["DBInstance"]

    def db_status(self, identifier: str) -> str | None:
        try:
            return self.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]["DBInstanceStatus"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise

    def instance(self, subnet_id: str, groups: list[str]) -> str:
        reservation = self.ec2.run_instances(
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet_id, SecurityGroupIds=groups
        )
        return reservation["Instances"][0]["InstanceId"]

    def instance_state(self, instance_id: str) -> str:
        reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        return reservations[0]["Instances"][0]["State"]["Name"]

    def target_health(self, tg: str) -> list[tuple[str, str, str | None]]:
        """(target id, state, reason) of every target DescribeTargetHealth lists."""
        descriptions = self.elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
        return [(d["Target"]["Id"], d["TargetHealth"]["State"], d["TargetHealth"].get("Reason")) for d in descriptions]

    def listener(self, lb: str, tg: str) -> str:
        forward = [{"Type": "forward", "TargetGroupArn": tg}]
        return self.elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=forward)["Listeners"][0]["ListenerArn"]

    def enis(self, **filters: str) -> list[dict[str, Any]]:
        spec = [{"Name": name.replace("_", "-"), "Values": [value]} for name, value in filters.items()]
        return self.ec2.describe_network_interfaces(Filters=spec)["NetworkInterfaces"]


def certificate(key_type: str = "rsa", domain: str = "app.example.com") -> tuple[bytes, bytes]:
    """A self-signed certificate and its key, PEM-encoded."""
    key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048) if key_type == "rsa" else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class LayerTestCase(unittest.TestCase):
    """Assertions on AWS errors as boto3 sees them."""

    def assertRefused(self, code: str, call: Callable[..., Any], *args: Any, status: int | None = None, message: str | None = None, **kwargs: Any) -> ClientError:
        with self.assertRaises(ClientError) as caught:
            call(*args, **kwargs)
        error = caught.exception.response
        self.assertEqual(error["Error"]["Code"], code, error["Error"].get("Message"))
        if status is not None:
            self.assertEqual(error["ResponseMetadata"]["HTTPStatusCode"], status)
        if message is not None:
            self.assertIn(message, error["Error"]["Message"])
        return caught.exception


# -- deletion rules ------------------------------------------------------------------------


class DeletionRules(LayerTestCase):
    def test_subnet_delete_refused_while_load_balancer_interfaces_linger(self) -> None:
        s = Session(scale=600, lag=0, linger={"load_balancer": 300})
        vpc_id, first, second, group = s.network()
        lb = s.load_balancer("web", [first, second], [group])
        self.assertEqual(len(s.enis(subnet_id=first)), 1)
        s.elbv2.delete_load_balancer(LoadBalancerArn=lb)
        interface = s.enis(subnet_id=first)[0]
        self.assertEqual(interface["RequesterId"], "amazon-elb")
        self.assertTrue(interface["Description"].startswith("ELB app/web/"))
        self.assertRefused(
            "DependencyViolation",
            s.ec2.delete_subnet,
            SubnetId=first,
            message=f"The subnet '{first}' has dependencies and cannot be deleted.",
        )
        wait_until(lambda: not s.enis(subnet_id=first), what="the interfaces to be released")
        s.ec2.delete_subnet(SubnetId=first)
        self.assertEqual(s.rules_logged()["deletion.subnet"], 1)
        self.assertIn("linger", {lc["phase"] for lc in s.log()["lifecycles"]})

    def test_subnet_delete_refused_while_instance_shuts_down(self) -> None:
        s = Session(scale=150, lag=0)
        vpc_id, first, _, group = s.network()
        instance_id = s.instance(first, [group])
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        s.ec2.terminate_instances(InstanceIds=[instance_id])
        self.assertEqual(s.instance_state(instance_id), "shutting-down")
        self.assertRefused("DependencyViolation", s.ec2.delete_subnet, SubnetId=first)
        wait_until(lambda: s.instance_state(instance_id) == "terminated", what="terminated")
        s.ec2.delete_subnet(SubnetId=first)

    def test_igw_detach_refused_while_internet_facing_load_balancer_interfaces_linger(self) -> None:
        s = Session(scale=600, lag=0, linger={"load_balancer": 300})
        vpc_id, first, second, group = s.network()
        igw_id = s.internet_gateway(vpc_id)
        lb = s.load_balancer("public-web", [first, second], [group])
        self.assertTrue(all("Association" in eni for eni in s.enis(vpc_id=vpc_id)))
        s.elbv2.delete_load_balancer(LoadBalancerArn=lb)
        self.assertRefused(
            "DependencyViolation",
            s.ec2.detach_internet_gateway,
            InternetGatewayId=igw_id,
            VpcId=vpc_id,
            message=f"Network {vpc_id} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.",
        )
        wait_until(lambda: not s.enis(vpc_id=vpc_id), what="the interfaces to be released")
        s.ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        s.ec2.delete_internet_gateway(InternetGatewayId=igw_id)
        self.assertEqual(s.rules_logged()["deletion.igw_detach"], 1)

    def test_igw_detach_refused_while_an_elastic_ip_is_mapped(self) -> None:
        s = Session(scale=600, lag=0)
        vpc_id, first, _, group = s.network()
        igw_id = s.internet_gateway(vpc_id)
        instance_id = s.instance(first, [group])
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        allocation = s.ec2.allocate_address(Domain="vpc")["AllocationId"]
        association = s.ec2.associate_address(AllocationId=allocation, InstanceId=instance_id)["AssociationId"]
        self.assertRefused("DependencyViolation", s.ec2.detach_internet_gateway, InternetGatewayId=igw_id, VpcId=vpc_id)
        self.assertRefused("InvalidIPAddress.InUse", s.ec2.release_address, AllocationId=allocation)
        s.ec2.disassociate_address(AssociationId=association)
        s.ec2.release_address(AllocationId=allocation)
        s.ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)

    def test_security_group_delete_refused_while_referenced_or_used(self) -> None:
        s = Session(scale=150, lag=0)
        vpc_id, first, _, web = s.network()
        db = s.group(vpc_id, "db")
        permission = {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": web}]}
        s.ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[permission])
        self.assertRefused(
            "DependencyViolation", s.ec2.delete_security_group, GroupId=web, message=f"resource {web} has a dependent object"
        )
        s.ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=[permission])
        instance_id = s.instance(first, [web])
        self.assertRefused("DependencyViolation", s.ec2.delete_security_group, GroupId=web)
        s.ec2.terminate_instances(InstanceIds=[instance_id])
        self.assertRefused("DependencyViolation", s.ec2.delete_security_group, GroupId=web)  # still shutting down
        wait_until(lambda: s.instance_state(instance_id) == "terminated", what="terminated")
        s.ec2.delete_security_group(GroupId=web)
        self.assertEqual(s.rules_logged()["deletion.security_group"], 3)

    def test_default_security_group_cannot_be_deleted(self) -> None:
        s = Session(scale=600, lag=0)
        vpc_id = s.vpc()
        groups = s.ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
        default = next(g["GroupId"] for g in groups if g["GroupName"] == "default")
        self.assertRefused("CannotDelete", s.ec2.delete_security_group, GroupId=default)
        self.assertEqual(s.rules_logged()["deletion.default_security_group"], 1)

    def test_vpc_delete_refused_with_gateway_groups_or_subnets(self) -> None:
        s = Session(scale=600, lag=0)
        vpc_id, first, second, group = s.network()
        igw_id = s.internet_gateway(vpc_id)
        message = f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
        self.assertRefused("DependencyViolation", s.ec2.delete_vpc, VpcId=vpc_id, message=message)
        s.ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
        self.assertRefused("DependencyViolation", s.ec2.delete_vpc, VpcId=vpc_id)  # the group
        s.ec2.delete_security_group(GroupId=group)
        self.assertRefused("DependencyViolation", s.ec2.delete_vpc, VpcId=vpc_id)  # the subnets
        s.ec2.delete_subnet(SubnetId=first)
        s.ec2.delete_subnet(SubnetId=second)
        s.ec2.delete_vpc(VpcId=vpc_id)
        self.assertEqual(s.rules_logged()["deletion.vpc"], 3)

    def test_elastic_ip_held_by_nat_gateway_until_deleted(self) -> None:
        s = Session(scale=200, lag=0, linger={"nat_gateway": 120})
        vpc_id, first, _, _ = s.network()
        s.internet_gateway(vpc_id)
        allocation = s.ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = s.ec2.create_nat_gateway(SubnetId=first, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        state = lambda: s.ec2.describe_nat_gateways(NatGatewayIds=[nat])["NatGateways"][0]["State"]  # noqa: E731
        wait_until(lambda: state() == "available", what="available")
        s.ec2.delete_nat_gateway(NatGatewayId=nat)
        self.assertEqual(state(), "deleting")
        self.assertRefused("InvalidIPAddress.InUse", s.ec2.release_address, AllocationId=allocation)
        wait_until(lambda: state() == "deleted", what="deleted")
        s.ec2.release_address(AllocationId=allocation)
        self.assertRefused("DependencyViolation", s.ec2.delete_subnet, SubnetId=first)  # its interface lingers
        wait_until(lambda: not s.enis(subnet_id=first), what="the interface to be released")
        s.ec2.delete_subnet(SubnetId=first)
        self.assertEqual(s.rules_logged()["deletion.elastic_ip"], 1)

    def test_db_subnet_group_delete_refused_while_its_database_is_deleting(self) -> None:
        s = Session(scale=600, lag=0, linger={"db_instance": 300})
        _, first, second, _ = s.network()
        group = s.db_subnet_group([first, second])
        s.database("orders", group)
        wait_until(lambda: s.db_status("orders") == "available", what="available")
        s.rds.delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
        self.assertEqual(s.db_status("orders"), "deleting")
        self.assertRefused(
            "InvalidDBSubnetGroupStateFault",
            s.rds.delete_db_subnet_group,
            DBSubnetGroupName=group,
            message="because at least one database instance: orders is still using it.",
        )
        wait_until(lambda: s.db_status("orders") is None, what="the database to be gone")
        s.rds.delete_db_subnet_group(DBSubnetGroupName=group)
        # Its interface outlives it, holding the subnet.
        self.assertRefused("DependencyViolation", s.ec2.delete_subnet, SubnetId=first)
        wait_until(lambda: not s.enis(subnet_id=first), what="the interface to be released")
        s.ec2.delete_subnet(SubnetId=first)
        self.assertEqual(s.rules_logged()["deletion.db_subnet_group"], 1)

    def test_database_deletion_protection(self) -> None:
        s = Session(scale=6000, lag=0)
        _, first, second, _ = s.network()
        group = s.db_subnet_group([first, second])
        s.rds.create_db_instance(
            DBInstanceIdentifier="ledger",
            DBInstanceClass="db.t3.micro",
            Engine="mysql",
            MasterUsername="admin",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            DBSubnetGroupName=group,
            DeletionProtection=True,
        )
        self.assertRefused(
            "InvalidParameterCombination", s.rds.delete_db_instance, DBInstanceIdentifier="ledger", SkipFinalSnapshot=True
        )
        self.assertEqual(s.rules_logged()["deletion.db_instance_protection"], 1)

    def test_certificate_delete_refused_while_served_and_just_after(self) -> None:
        s = Session(scale=60, lag=0, certificate_in_use_lag=30)
        vpc_id, first, second, group = s.network()
        cert, key = certificate()
        arn = s.acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        lb = s.load_balancer("tls", [first, second], [group])
        tg = s.target_group(vpc_id)
        listener = s.elbv2.create_listener(
            LoadBalancerArn=lb,
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": arn}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}],
        )["Listeners"][0]["ListenerArn"]
        self.assertRefused("ResourceInUseException", s.acm.delete_certificate, CertificateArn=arn, message=f"in use by {lb}")
        s.elbv2.delete_listener(ListenerArn=listener)
        self.assertRefused("ResourceInUseException", s.acm.delete_certificate, CertificateArn=arn)
        time.sleep(0.5)  # 30 emulated seconds
        s.acm.delete_certificate(CertificateArn=arn)
        self.assertEqual(s.rules_logged()["deletion.certificate"], 1)
        self.assertEqual(s.rules_logged("lag")["lag.certificate_in_use"], 1)

    def test_target_group_delete_refused_while_forwarded_and_just_after(self) -> None:
        s = Session(scale=60, lag=0, target_group_in_use_lag=30)
        vpc_id, first, second, group = s.network()
        lb = s.load_balancer("web", [first, second], [group])
        tg = s.target_group(vpc_id)
        listener = s.elbv2.create_listener(
            LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]
        )["Listeners"][0]["ListenerArn"]
        message = f"Target group '{tg}' is currently in use by a listener or a rule"
        self.assertRefused("ResourceInUse", s.elbv2.delete_target_group, TargetGroupArn=tg, message=message)
        s.elbv2.delete_listener(ListenerArn=listener)
        self.assertRefused("ResourceInUse", s.elbv2.delete_target_group, TargetGroupArn=tg, message=message)
        time.sleep(0.5)  # 30 emulated seconds
        s.elbv2.delete_target_group(TargetGroupArn=tg)
        self.assertEqual(s.rules_logged()["deletion.target_group"], 1)
        self.assertEqual(s.rules_logged("lag")["lag.target_group_in_use"], 1)

    def test_load_balancer_deletion_protection(self) -> None:
        s = Session(scale=600, lag=0)
        _, first, second, group = s.network()
        lb = s.load_balancer("guarded", [first, second], [group], scheme="internal")
        attribute = [{"Key": "deletion_protection.enabled", "Value": "true"}]
        s.elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=attribute)
        self.assertRefused("OperationNotPermitted", s.elbv2.delete_load_balancer, LoadBalancerArn=lb)
        attribute[0]["Value"] = "false"
        s.elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb, Attributes=attribute)
        s.elbv2.delete_load_balancer(LoadBalancerArn=lb)
        self.assertEqual(s.rules_logged()["deletion.load_balancer_protection"], 1)

    def test_route_tables_main_and_associated(self) -> None:
        s = Session(scale=600, lag=0)
        vpc_id, first, _, _ = s.network()
        tables = s.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
        main = tables[0]["RouteTableId"]
        self.assertRefused("DependencyViolation", s.ec2.delete_route_table, RouteTableId=main)
        table = s.ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
        association = s.ec2.associate_route_table(RouteTableId=table, SubnetId=first)["AssociationId"]
        self.assertRefused("DependencyViolation", s.ec2.delete_route_table, RouteTableId=table)
        s.ec2.disassociate_route_table(AssociationId=association)
        s.ec2.delete_route_table(RouteTableId=table)
        logged = s.rules_logged()
        self.assertEqual((logged["deletion.main_route_table"], logged["deletion.route_table"]), (1, 1))

    def test_file_system_delete_refused_while_a_mount_target_is_deleting(self) -> None:
        s = Session(scale=100, lag=0)
        _, first, _, group = s.network()
        fs = s.efs.create_file_system(CreationToken="data", Encrypted=True)["FileSystemId"]
        fs_state = lambda: s.efs.describe_file_systems(FileSystemId=fs)["FileSystems"][0]["LifeCycleState"]  # noqa: E731
        wait_until(lambda: fs_state() == "available", what="the file system")
        mt = s.efs.create_mount_target(FileSystemId=fs, SubnetId=first, SecurityGroups=[group])["MountTargetId"]
        mt_state = lambda: s.efs.describe_mount_targets(MountTargetId=mt)["MountTargets"][0]["LifeCycleState"]  # noqa: E731
        wait_until(lambda: mt_state() == "available", what="the mount target")
        s.efs.delete_mount_target(MountTargetId=mt)
        self.assertEqual(mt_state(), "deleting")
        self.assertRefused("FileSystemInUse", s.efs.delete_file_system, FileSystemId=fs, status=409)
        self.assertRefused("DependencyViolation", s.ec2.delete_security_group, GroupId=group)
        wait_until(lambda: not s.efs.describe_mount_targets(FileSystemId=fs)["MountTargets"], what="the mount target to go")
        s.efs.delete_file_system(FileSystemId=fs)
        wait_until(lambda: not s.enis(subnet_id=first), what="the interface to be released")
        s.ec2.delete_security_group(GroupId=group)
        self.assertEqual(s.rules_logged()["deletion.file_system"], 1)


# -- input rules ---------------------------------------------------------------------------


class InputRules(LayerTestCase):
    def test_rule_description_with_an_apostrophe_is_refused(self) -> None:
        s = Session(lag=0)
        group = s.group(s.vpc())
        permission: dict[str, Any] = {
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
            "IpRanges": [{"CidrIp": "10.0.0.0/16", "Description": "HTTPS from the operators' VPN"}],
        }
        self.assertRefused(
            "InvalidParameterValue",
            s.ec2.authorize_security_group_ingress,
            GroupId=group,
            IpPermissions=[permission],
            message="Invalid rule description. Valid descriptions are strings less than 256 characters",
        )
        self.assertEqual(s.ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"], [])
        permission["IpRanges"][0]["Description"] = "HTTPS from the operators VPN"
        s.ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[permission])
        self.assertEqual(s.rules_logged()["input.sg_description"], 1)

    def test_group_names_and_descriptions(self) -> None:
        s = Session(lag=0)
        vpc_id = s.vpc()
        self.assertRefused(
            "InvalidParameterValue",
            s.ec2.create_security_group,
            GroupName="sg-web",
            Description="web",
            VpcId=vpc_id,
            message="Group names may not be in the format sg-*.",
        )
        self.assertRefused("InvalidParameterValue", s.ec2.create_security_group, GroupName="w" * 256, Description="web", VpcId=vpc_id)
        self.assertRefused("InvalidParameterValue", s.ec2.create_security_group, GroupName="web", Description="the team's web", VpcId=vpc_id)
        self.assertRefused("InvalidParameterValue", s.ec2.create_security_group, GroupName="web", Description="d" * 256, VpcId=vpc_id)
        s.ec2.create_security_group(GroupName="web", Description="web servers (HTTPS) #1", VpcId=vpc_id)
        logged = s.rules_logged()
        self.assertEqual((logged["input.sg_name"], logged["input.sg_description"]), (2, 2))

    def test_rds_identifiers(self) -> None:
        s = Session(scale=6000, lag=0)
        _, first, second, _ = s.network()
        group = s.db_subnet_group([first, second])
        for bad in ("1orders", "orders--db", "orders-", "o" * 64, "orders_db"):
            self.assertRefused("InvalidParameterValue", s.database, bad, group, message="is not a valid identifier")
        s.database("o" * 63, group)
        wait_until(lambda: s.db_status("o" * 63) == "available", what="available")
        self.assertRefused(
            "InvalidParameterValue",
            s.rds.delete_db_instance,
            DBInstanceIdentifier="o" * 63,
            FinalDBSnapshotIdentifier="final--snapshot",
            message="The parameter FinalDBSnapshotIdentifier is not a valid identifier.",
        )
        self.assertRefused("InvalidParameterCombination", s.rds.delete_db_instance, DBInstanceIdentifier="o" * 63)
        s.rds.delete_db_instance(DBInstanceIdentifier="o" * 63, FinalDBSnapshotIdentifier="orders-final-20261126t143015")
        wait_until(lambda: s.db_status("o" * 63) is None, what="gone")
        self.assertEqual(s.inventory()["db_snapshot"], 1)
        logged = s.rules_logged()
        self.assertEqual((logged["input.rds_identifier"], logged["input.rds_final_snapshot"]), (6, 1))

    def test_db_subnet_group_names(self) -> None:
        s = Session(lag=0)
        _, first, second, _ = s.network()
        self.assertRefused("InvalidParameterValue", s.db_subnet_group, [first, second], name="default")
        self.assertRefused("InvalidParameterValue", s.db_subnet_group, [first, second], name="db/group")
        self.assertRefused("InvalidParameterValue", s.db_subnet_group, [first, second], name="g" * 256)
        s.db_subnet_group([first, second], name="db_group.main 1")
        self.assertEqual(s.rules_logged()["input.db_subnet_group_name"], 3)

    def test_load_balancer_and_target_group_names(self) -> None:
        s = Session(lag=0)
        vpc_id, first, second, group = s.network()
        for bad in ("a" * 33, "internal-web", "-web", "web-", "web_1"):
            self.assertRefused("ValidationError", s.load_balancer, bad, [first, second], [group])
        self.assertRefused(
            "ValidationError", s.load_balancer, "a" * 33, [first, second], [group], message="cannot be longer than '32' characters"
        )
        self.assertRefused("ValidationError", s.target_group, vpc_id, "t" * 33)
        s.load_balancer("a" * 32, [first, second], [group])
        s.target_group(vpc_id, "t" * 32)
        self.assertEqual(s.rules_logged()["input.elb_name"], 7)

    def test_key_pair_names(self) -> None:
        s = Session(lag=0)
        self.assertRefused("InvalidParameterValue", s.ec2.create_key_pair, KeyName="k" * 256)
        self.assertRefused("InvalidParameterValue", s.ec2.create_key_pair, KeyName="clé")
        s.ec2.create_key_pair(KeyName="k" * 255)
        self.assertEqual(s.rules_logged()["input.key_pair_name"], 2)


# -- lifecycles and state rules ------------------------------------------------------------


class Lifecycles(LayerTestCase):
    def test_network_objects_pass_through_their_states(self) -> None:
        s = Session(scale=150, lag=0)
        vpc = s.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]
        self.assertEqual(vpc["State"], "pending")
        subnet = s.ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.0.1.0/24")["Subnet"]
        self.assertEqual(subnet["State"], "pending")
        s.internet_gateway(vpc["VpcId"])
        allocation = s.ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = s.ec2.create_nat_gateway(SubnetId=subnet["SubnetId"], AllocationId=allocation)["NatGateway"]
        self.assertEqual(nat["State"], "pending")
        nat_state = lambda: s.ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]["State"]  # noqa: E731
        self.assertEqual(s.ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]["State"], "available")
        wait_until(lambda: nat_state() == "available", what="available")
        nat_eni = s.enis(subnet_id=subnet["SubnetId"])[0]
        self.assertEqual(nat_eni["Description"], f"Interface for NAT Gateway {nat['NatGatewayId']}")
        instance = s.ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"])["Instances"][0]
        self.assertEqual(instance["State"]["Name"], "pending")
        wait_until(lambda: s.instance_state(instance["InstanceId"]) == "running", what="running")
        terminating = s.ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])["TerminatingInstances"][0]
        self.assertEqual(terminating["PreviousState"]["Name"], "running")
        self.assertEqual(s.instance_state(instance["InstanceId"]), "shutting-down")
        wait_until(lambda: s.instance_state(instance["InstanceId"]) == "terminated", what="terminated")
        s.ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
        self.assertEqual(nat_state(), "deleting")
        wait_until(lambda: nat_state() == "deleted", what="deleted")
        self.assertEqual(s.inventory()["nat_gateway"], 0)
        phases = {(lc["kind"], lc["phase"]): lc["emulated_seconds"] for lc in s.log()["lifecycles"]}
        self.assertEqual(phases[("nat_gateway", "create")], 100)
        self.assertEqual(phases[("instance", "delete")], 45)

    def test_database_creating_backing_up_available_without_endpoint_until_then(self) -> None:
        s = Session(scale=150, lag=0)  # 360 emulated seconds in 2.4 s, 0.2 s of them backing up
        _, first, second, _ = s.network()
        group = s.db_subnet_group([first, second])
        db = s.database("orders", group)
        self.assertEqual(db["DBInstanceStatus"], "creating")
        self.assertNotIn("Endpoint", db)
        seen = set()

        def available() -> bool:
            described = s.rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]
            seen.add(described["DBInstanceStatus"])
            if described["DBInstanceStatus"] != "available":
                self.assertNotIn("Endpoint", described)
            return described["DBInstanceStatus"] == "available"

        wait_until(available, what="available")
        self.assertIn("backing-up", seen)
        s.rds.modify_db_instance(DBInstanceIdentifier="orders", BackupRetentionPeriod=7, ApplyImmediately=True)
        self.assertEqual(s.db_status("orders"), "modifying")
        lifecycle = next(lc for lc in s.log()["lifecycles"] if lc["kind"] == "db_instance")
        self.assertEqual(lifecycle["emulated_seconds"], 360)

    def test_deleting_a_creating_database_with_a_final_snapshot_is_refused(self) -> None:
        s = Session(scale=60, lag=0)
        _, first, second, _ = s.network()
        group = s.db_subnet_group([first, second])
        s.database("orders", group)
        self.assertRefused(
            "InvalidDBInstanceState",
            s.rds.delete_db_instance,
            DBInstanceIdentifier="orders",
            FinalDBSnapshotIdentifier="orders-final",
            message="Instance orders is currently creating - a final snapshot cannot be taken.",
        )
        s.rds.delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
        self.assertRefused(
            "InvalidDBInstanceState",
            s.rds.delete_db_instance,
            DBInstanceIdentifier="orders",
            SkipFinalSnapshot=True,
            message="Instance orders is already being deleted.",
        )
        logged = s.rules_logged()
        self.assertEqual((logged["state.db_delete"], logged["state.db_already_deleting"]), (1, 1))

    def test_modifying_a_database_that_is_not_available_is_refused(self) -> None:
        s = Session(scale=60, lag=0)
        _, first, second, _ = s.network()
        s.database("orders", s.db_subnet_group([first, second]))
        self.assertRefused(
            "InvalidDBInstanceState",
            s.rds.modify_db_instance,
            DBInstanceIdentifier="orders",
            BackupRetentionPeriod=7,
            ApplyImmediately=True,
        )
        self.assertEqual(s.rules_logged()["state.db_modify"], 1)

    def test_register_targets_needs_a_running_instance_for_a_while(self) -> None:
        s = Session(scale=60, lag=0, register_lag=30)
        vpc_id, first, _, group = s.network()
        tg = s.target_group(vpc_id)
        instance_id = s.instance(first, [group])
        self.assertRefused(
            "InvalidTarget",
            s.elbv2.register_targets,
            TargetGroupArn=tg,
            Targets=[{"Id": instance_id}],
            message=f"The following targets are not in a running state and cannot be registered: '{instance_id}'",
        )
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        self.assertRefused("InvalidTarget", s.elbv2.register_targets, TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        time.sleep(0.5)  # 30 emulated seconds
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        self.assertEqual(s.rules_logged()["state.register"], 1)
        self.assertEqual(s.rules_logged("lag")["lag.register"], 1)
        self.assertEqual(s.inventory()["target_registration"], 1)

    def test_load_balancer_provisioning_until_active(self) -> None:
        s = Session(scale=300, lag=0)
        _, first, second, group = s.network()
        lb = s.elbv2.create_load_balancer(Name="web", Subnets=[first, second], SecurityGroups=[group])["LoadBalancers"][0]
        self.assertEqual(lb["State"]["Code"], "provisioning")
        state = lambda: s.elbv2.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]["State"]["Code"]  # noqa: E731
        self.assertEqual(state(), "provisioning")
        wait_until(lambda: state() == "active", what="active")

    def test_mount_target_needs_an_available_file_system(self) -> None:
        s = Session(scale=10, lag=0)
        _, first, _, group = s.network()
        fs = s.efs.create_file_system(CreationToken="data")
        self.assertEqual(fs["LifeCycleState"], "creating")
        self.assertRefused(
            "IncorrectFileSystemLifeCycleState",
            s.efs.create_mount_target,
            FileSystemId=fs["FileSystemId"],
            SubnetId=first,
            SecurityGroups=[group],
            status=409,
        )
        self.assertEqual(s.rules_logged()["state.mount_target"], 1)

    def test_failed_nat_gateway(self) -> None:
        s = Session(scale=600, lag=0, fail_nat_gateways=1)
        vpc_id, first, _, _ = s.network()
        s.internet_gateway(vpc_id)
        allocation = s.ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat_id = s.ec2.create_nat_gateway(SubnetId=first, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
        describe = lambda: s.ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"][0]  # noqa: E731
        nat = wait_until(lambda: describe() if describe()["State"] != "pending" else None, what="settled")
        self.assertEqual((nat["State"], nat["FailureCode"]), ("failed", "InternalError"))
        s.ec2.release_address(AllocationId=allocation)  # a failed NAT gateway lets go of its address

    def test_database_without_publicly_accessible_in_a_vpc_with_a_gateway_is_public_and_multi_az_spans_two_zones(
        self,
    ) -> None:
        s = Session(scale=6000, lag=0)
        vpc_id, first, second, group = s.network()
        s.internet_gateway(vpc_id)
        subnets = s.db_subnet_group([first, second])
        db = s.rds.create_db_instance(
            DBInstanceIdentifier="exposed",
            DBInstanceClass="db.t3.micro",
            Engine="mysql",
            MasterUsername="admin",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            DBSubnetGroupName=subnets,
            VpcSecurityGroupIds=[group],
            MultiAZ=True,
        )["DBInstance"]
        self.assertTrue(db["PubliclyAccessible"])
        interfaces = s.enis(description="RDSNetworkInterface")
        self.assertEqual(len({eni["AvailabilityZone"] for eni in interfaces}), 2)  # Multi-AZ: two zones
        self.assertTrue(all("Association" in eni for eni in interfaces))
        self.assertEqual([g["GroupId"] for g in interfaces[0]["Groups"]], [group])


# -- day two: target health, stop and start, database modifications ------------------------


class TargetHealth(LayerTestCase):
    def running_instance(self, s: Session, subnet: str, group: str) -> str:
        instance_id = s.instance(subnet, [group])
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        return instance_id

    def test_a_target_is_unused_until_forwarded_then_initial_for_interval_times_threshold(self) -> None:
        s = Session(scale=60, lag=0, register_lag=0)
        vpc_id, first, second, group = s.network()
        instance_id = self.running_instance(s, first, group)
        # 10 s x 3 checks: 30 emulated seconds, half a real second.
        tg = s.elbv2.create_target_group(
            Name="app", Protocol="HTTP", Port=80, VpcId=vpc_id, HealthCheckIntervalSeconds=10, HealthyThresholdCount=3
        )["TargetGroups"][0]["TargetGroupArn"]
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        self.assertEqual(s.target_health(tg), [(instance_id, "unused", "Target.NotInUse")])
        lb = s.load_balancer("web", [first, second], [group])
        time.sleep(0.6)  # registered long ago: the checks start with the listener, not before
        s.listener(lb, tg)
        started = time.monotonic()
        self.assertEqual(s.target_health(tg), [(instance_id, "initial", "Elb.RegistrationInProgress")])
        transitional = [t for t in s.inventory()["transitional"] if t["kind"] == "target_registration"]
        self.assertEqual([t["state"] for t in transitional], ["initial"])
        wait_until(lambda: s.target_health(tg) == [(instance_id, "healthy", None)], what="healthy", every=0.1)
        self.assertGreaterEqual(time.monotonic() - started, 0.45)
        registrations = [lc for lc in s.log()["lifecycles"] if (lc["kind"], lc["phase"]) == ("target", "register")]
        self.assertEqual([(lc["id"], lc["emulated_seconds"]) for lc in registrations], [(f"{tg}|{instance_id}", 30.0)])
        self.assertNotIn("target_registration", {t["kind"] for t in s.inventory()["transitional"]})

    def test_a_stopped_instance_is_unused_and_checked_again_once_it_runs(self) -> None:
        s = Session(scale=100, lag=0, register_lag=0)  # starting, stopping, 10 s x 3 checks: 0.3 s each
        vpc_id, first, second, group = s.network()
        instance_id = self.running_instance(s, first, group)
        tg = s.elbv2.create_target_group(
            Name="app", Protocol="HTTP", Port=80, VpcId=vpc_id, HealthCheckIntervalSeconds=10, HealthyThresholdCount=3
        )["TargetGroups"][0]["TargetGroupArn"]
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        s.listener(s.load_balancer("web", [first, second], [group]), tg)
        wait_until(lambda: s.target_health(tg) == [(instance_id, "healthy", None)], what="healthy", every=0.1)
        s.ec2.stop_instances(InstanceIds=[instance_id])
        self.assertEqual(s.target_health(tg), [(instance_id, "unused", "Target.InvalidState")])
        wait_until(lambda: s.instance_state(instance_id) == "stopped", what="stopped")
        description = s.elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"]
        self.assertEqual(description["Description"], "Target is in the stopped state")
        s.ec2.start_instances(InstanceIds=[instance_id])
        self.assertEqual(s.target_health(tg), [(instance_id, "unused", "Target.InvalidState")])  # pending
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        self.assertEqual(s.target_health(tg), [(instance_id, "initial", "Elb.RegistrationInProgress")])
        wait_until(lambda: s.target_health(tg) == [(instance_id, "healthy", None)], what="healthy again", every=0.1)
        registrations = [lc for lc in s.log()["lifecycles"] if (lc["kind"], lc["phase"]) == ("target", "register")]
        self.assertEqual([lc["emulated_seconds"] for lc in registrations], [30.0, 30.0])

    def test_a_deregistered_target_drains_for_the_delay_and_can_come_back(self) -> None:
        s = Session(scale=60, lag=0, register_lag=0)
        vpc_id, first, second, group = s.network()
        instance_id = self.running_instance(s, first, group)
        tg = s.target_group(vpc_id)
        delay = [{"Key": "deregistration_delay.timeout_seconds", "Value": "60"}]  # one real second
        s.elbv2.modify_target_group_attributes(TargetGroupArn=tg, Attributes=delay)
        s.listener(s.load_balancer("web", [first, second], [group]), tg)
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        s.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        self.assertEqual(s.target_health(tg), [(instance_id, "draining", "Target.DeregistrationInProgress")])
        s.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])  # no error (moto: InvalidTarget)
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        self.assertEqual(s.target_health(tg), [(instance_id, "initial", "Elb.RegistrationInProgress")])
        s.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        started = time.monotonic()
        inventory = s.inventory()
        self.assertEqual(inventory["target_registration"], 1)
        self.assertIn({"id": f"{tg}|{instance_id}", "kind": "target_registration", "state": "draining"}, inventory["transitional"])
        wait_until(lambda: s.target_health(tg) == [], what="the target to be gone", every=0.1)
        self.assertGreaterEqual(time.monotonic() - started, 0.95)
        self.assertEqual(s.inventory()["target_registration"], 0)
        drains = [lc for lc in s.log()["lifecycles"] if (lc["kind"], lc["phase"]) == ("target", "deregister")]
        self.assertEqual([lc["emulated_seconds"] for lc in drains], [60.0, 60.0])

    def test_a_terminated_instance_leaves_its_target_group(self) -> None:
        s = Session(scale=150, lag=0, register_lag=0)
        vpc_id, first, second, group = s.network()
        instance_id = self.running_instance(s, first, group)
        tg = s.target_group(vpc_id)
        s.listener(s.load_balancer("web", [first, second], [group]), tg)
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        s.ec2.terminate_instances(InstanceIds=[instance_id])
        self.assertEqual(s.target_health(tg), [(instance_id, "unused", "Target.InvalidState")])  # shutting down
        wait_until(lambda: s.instance_state(instance_id) == "terminated", what="terminated")
        self.assertEqual(s.target_health(tg), [])
        self.assertEqual(s.inventory()["target_registration"], 0)

    def test_without_the_lifecycle_rule_targets_are_healthy_at_once_but_not_in_use_without_a_listener(self) -> None:
        s = Session(lag=0, register_lag=0, rules={"lifecycle": False})
        vpc_id, first, second, group = s.network()
        instance_id = s.instance(first, [group])
        tg = s.target_group(vpc_id)
        s.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        self.assertEqual(s.target_health(tg), [(instance_id, "unused", "Target.NotInUse")])
        s.listener(s.load_balancer("web", [first, second], [group]), tg)
        self.assertEqual(s.target_health(tg), [(instance_id, "healthy", None)])
        s.elbv2.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance_id}])
        self.assertEqual(s.target_health(tg), [])


class StopAndStart(LayerTestCase):
    def test_stopping_then_stopped_and_pending_then_running(self) -> None:
        s = Session(scale=100, lag=0)  # 30 emulated seconds: 0.3 s
        _, first, _, group = s.network()
        instance_id = s.instance(first, [group])
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        stopping = s.ec2.stop_instances(InstanceIds=[instance_id])["StoppingInstances"][0]
        self.assertEqual((stopping["PreviousState"]["Name"], stopping["CurrentState"]["Name"]), ("running", "stopping"))
        self.assertEqual(s.instance_state(instance_id), "stopping")
        wait_until(lambda: s.instance_state(instance_id) == "stopped", what="stopped")
        s.ec2.stop_instances(InstanceIds=[instance_id])  # already stopped: nothing changes
        self.assertEqual(s.instance_state(instance_id), "stopped")
        s.ec2.start_instances(InstanceIds=[instance_id])
        self.assertEqual(s.instance_state(instance_id), "pending")
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running again")
        phases = {(lc["kind"], lc["phase"]): lc["emulated_seconds"] for lc in s.log()["lifecycles"]}
        self.assertEqual((phases[("instance", "stop")], phases[("instance", "start")]), (30, 30))

    def test_the_instance_type_changes_only_on_a_stopped_instance(self) -> None:
        s = Session(scale=100, lag=0)
        _, first, _, group = s.network()
        instance_id = s.instance(first, [group])
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        resize = partial(s.ec2.modify_instance_attribute, InstanceId=instance_id, InstanceType={"Value": "t3.large"})
        message = f"The instance '{instance_id}' is not in the 'stopped' state."
        self.assertRefused("IncorrectInstanceState", resize, status=400, message=message)
        s.ec2.stop_instances(InstanceIds=[instance_id])
        self.assertRefused("IncorrectInstanceState", resize, message=message)  # still stopping
        self.assertRefused(
            "IncorrectInstanceState", s.ec2.modify_instance_attribute, InstanceId=instance_id, UserData={"Value": base64.b64encode(b"#!/bin/sh")}
        )
        s.ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": True})  # any state
        wait_until(lambda: s.instance_state(instance_id) == "stopped", what="stopped")
        resize()
        described = s.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        self.assertEqual(described["InstanceType"], "t3.large")
        self.assertEqual(s.rules_logged(), {"state.instance_attribute": 3})

    def test_stop_and_start_refused_in_the_states_aws_refuses_them(self) -> None:
        s = Session(scale=60, lag=0)
        _, first, _, group = s.network()
        instance_id = s.instance(first, [group])
        self.assertRefused(
            "IncorrectInstanceState",
            s.ec2.stop_instances,
            InstanceIds=[instance_id],
            message=f"Instance '{instance_id}' cannot be stopped as it has never reached the 'running' state.",
        )
        wait_until(lambda: s.instance_state(instance_id) == "running", what="running")
        s.ec2.stop_instances(InstanceIds=[instance_id])
        self.assertRefused(
            "IncorrectInstanceState",
            s.ec2.start_instances,
            InstanceIds=[instance_id],
            message=f"The instance '{instance_id}' is not in a state from which it can be started.",
        )
        s.ec2.terminate_instances(InstanceIds=[instance_id])
        self.assertRefused(
            "IncorrectInstanceState",
            s.ec2.stop_instances,
            InstanceIds=[instance_id],
            message=f"This instance '{instance_id}' is not in a state from which it can be stopped.",
        )
        self.assertEqual(s.rules_logged(), {"state.instance_stop": 2, "state.instance_start": 1})

    def test_starting_a_stopped_instance_counts_against_the_vcpu_quota(self) -> None:
        s = Session(scale=600, lag=0, quotas={"ec2/L-1216C47A": 2})
        _, first, _, group = s.network()
        one = s.instance(first, [group])  # t3.micro: 2 vCPUs
        wait_until(lambda: s.instance_state(one) == "running", what="running")
        s.ec2.stop_instances(InstanceIds=[one])
        wait_until(lambda: s.instance_state(one) == "stopped", what="stopped")
        s.instance(first, [group])  # a stopped instance holds no vCPUs
        self.assertRefused("VcpuLimitExceeded", s.ec2.start_instances, InstanceIds=[one], status=400)
        self.assertEqual(s.instance_state(one), "stopped")
        self.assertEqual(s.rules_logged(), {"quota.vcpus": 1})


class DatabaseModifications(LayerTestCase):
    def available_database(self, s: Session) -> None:
        _, first, second, _ = s.network()
        s.database("orders", s.db_subnet_group([first, second]))
        wait_until(lambda: s.db_status("orders") == "available", what="available")

    def described(self, s: Session) -> dict[str, Any]:
        return s.rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]

    def test_without_apply_immediately_class_and_storage_wait_for_the_maintenance_window(self) -> None:
        s = Session(scale=6000, lag=0)
        self.available_database(s)
        self.assertEqual(self.described(s)["PendingModifiedValues"], {})
        answer = s.rds.modify_db_instance(
            DBInstanceIdentifier="orders",
            DBInstanceClass="db.t3.large",
            AllocatedStorage=50,
            BackupRetentionPeriod=7,  # non-zero to non-zero: applied as soon as possible
            DeletionProtection=True,
        )["DBInstance"]
        self.assertEqual(answer["PendingModifiedValues"], {"DBInstanceClass": "db.t3.large", "AllocatedStorage": 50})
        wait_until(lambda: s.db_status("orders") == "available", what="available")
        time.sleep(0.1)  # ten emulated minutes: the maintenance window never comes
        db = self.described(s)
        self.assertEqual((db["DBInstanceClass"], db["AllocatedStorage"]), ("db.t3.micro", 20))
        self.assertEqual((db["BackupRetentionPeriod"], db["DeletionProtection"]), (7, True))
        self.assertEqual(db["PendingModifiedValues"], {"DBInstanceClass": "db.t3.large", "AllocatedStorage": 50})
        # Backups off is an outage: it waits too, and the instance stays available.
        answer = s.rds.modify_db_instance(DBInstanceIdentifier="orders", BackupRetentionPeriod=0)["DBInstance"]
        self.assertEqual(answer["DBInstanceStatus"], "available")
        self.assertEqual(answer["PendingModifiedValues"]["BackupRetentionPeriod"], 0)
        self.assertEqual(self.described(s)["BackupRetentionPeriod"], 7)
        # Asking for the current class again takes the pending one back.
        answer = s.rds.modify_db_instance(DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro")["DBInstance"]
        self.assertEqual(answer["PendingModifiedValues"], {"AllocatedStorage": 50, "BackupRetentionPeriod": 0})
        self.assertRefused(
            "InvalidParameterCombination",
            s.rds.modify_db_instance,
            DBInstanceIdentifier="orders",
            message="No modifications were requested",
        )
        self.assertEqual(s.rules_logged(), {"input.db_no_modification": 1})

    def test_apply_immediately_is_minutes_of_modifying_showing_the_change_as_pending(self) -> None:
        s = Session(scale=600, lag=0)  # 300 emulated seconds: half a real second
        self.available_database(s)
        s.rds.modify_db_instance(DBInstanceIdentifier="orders", AllocatedStorage=50)  # pending
        answer = s.rds.modify_db_instance(DBInstanceIdentifier="orders", DBInstanceClass="db.t3.large", ApplyImmediately=True)["DBInstance"]
        started = time.monotonic()
        self.assertEqual(answer["DBInstanceStatus"], "modifying")
        self.assertEqual(answer["DBInstanceClass"], "db.t3.micro")
        self.assertEqual(answer["PendingModifiedValues"], {"AllocatedStorage": 50, "DBInstanceClass": "db.t3.large"})
        self.assertRefused(
            "InvalidDBInstanceState",
            s.rds.modify_db_instance,
            DBInstanceIdentifier="orders",
            DBInstanceClass="db.t3.xlarge",
            ApplyImmediately=True,
        )
        wait_until(lambda: s.db_status("orders") == "available", what="available")
        self.assertGreaterEqual(time.monotonic() - started, 0.45)
        db = self.described(s)
        self.assertEqual((db["DBInstanceClass"], db["AllocatedStorage"], db["PendingModifiedValues"]), ("db.t3.large", 50, {}))
        modify = [lc["emulated_seconds"] for lc in s.log()["lifecycles"] if (lc["kind"], lc["phase"]) == ("db_instance", "modify")]
        self.assertEqual(modify, [300])
        self.assertEqual(s.rules_logged(), {"state.db_modify": 1})

    def test_multi_az_with_apply_immediately_is_applied_after_modifying(self) -> None:
        s = Session(scale=600, lag=0)
        self.available_database(s)
        answer = s.rds.modify_db_instance(DBInstanceIdentifier="orders", MultiAZ=True, ApplyImmediately=True)["DBInstance"]
        self.assertEqual((answer["DBInstanceStatus"], answer["MultiAZ"]), ("modifying", False))
        self.assertEqual(answer["PendingModifiedValues"], {"MultiAZ": True})
        wait_until(lambda: s.db_status("orders") == "available", what="available")
        self.assertTrue(self.described(s)["MultiAZ"])


# -- propagation delays --------------------------------------------------------------------


class PropagationDelays(LayerTestCase):
    def test_fresh_ids_are_not_found_for_a_while(self) -> None:
        s = Session(scale=60, lag=60)  # 1 s of real time
        vpc_id = s.vpc()
        self.assertRefused(
            "InvalidVpcID.NotFound", s.ec2.describe_vpcs, VpcIds=[vpc_id], message=f"The vpc ID '{vpc_id}' does not exist"
        )
        self.assertEqual(len(s.ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"]), 1)
        self.assertRefused("ValidationError", s.target_group, vpc_id, message=f"The VPC ID '{vpc_id}' is not found")
        time.sleep(1)
        subnet = s.subnet(vpc_id, "10.0.1.0/24")
        group = s.group(vpc_id)
        self.assertRefused("InvalidSubnetID.NotFound", s.ec2.describe_subnets, SubnetIds=[subnet])
        self.assertRefused("InvalidGroup.NotFound", s.ec2.describe_security_groups, GroupIds=[group])
        allocation = s.ec2.allocate_address(Domain="vpc")["AllocationId"]
        self.assertRefused(
            "InvalidParameterValue",
            s.ec2.create_nat_gateway,
            SubnetId=subnet,
            AllocationId=allocation,
            message=f"Subnet {subnet} does not exist",
        )
        self.assertRefused("InvalidSubnet", s.db_subnet_group, [subnet], message=f"Some input subnets in :[{subnet}] are invalid.")
        self.assertRefused("SubnetNotFound", s.load_balancer, "web", [subnet], [group])
        self.assertRefused("SubnetNotFound", s.efs.create_mount_target, FileSystemId="fs-12345678", SubnetId=subnet)
        time.sleep(1)
        s.ec2.describe_subnets(SubnetIds=[subnet])
        s.db_subnet_group([subnet])
        self.assertEqual(s.rules_logged("lag")["lag.not_found"], 8)

    def test_listener_with_a_fresh_certificate(self) -> None:
        s = Session(scale=60, lag=0)
        vpc_id, first, second, group = s.network()
        lb = s.load_balancer("tls", [first, second], [group])
        tg = s.target_group(vpc_id)
        s.patch(lag=30)
        cert, key = certificate()
        arn = s.acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        listener: dict[str, Any] = {
            "LoadBalancerArn": lb,
            "Protocol": "HTTPS",
            "Port": 443,
            "Certificates": [{"CertificateArn": arn}],
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}],
        }
        self.assertRefused("CertificateNotFound", s.elbv2.create_listener, **listener)
        time.sleep(0.5)
        s.elbv2.create_listener(**listener)
        self.assertEqual(s.rules_logged("lag")["lag.certificate_not_found"], 1)

    def test_a_fresh_instance_profile_is_invalid_to_run_instances(self) -> None:
        s = Session(scale=120, lag=0, iam_lag=60)  # 0.5 s of real time
        iam = s.client("iam")
        iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
        arn = iam.create_instance_profile(InstanceProfileName="app")["InstanceProfile"]["Arn"]
        launch = partial(s.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro")
        self.assertRefused(
            "InvalidParameterValue",
            launch,
            IamInstanceProfile={"Name": "app"},
            status=400,
            message="Value (app) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
        )
        self.assertRefused(
            "InvalidParameterValue",
            launch,
            IamInstanceProfile={"Arn": arn},
            message=f"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
        )
        # A profile that does not exist at all: EC2's answer, not IAM's NoSuchEntity (moto's).
        self.assertRefused(
            "InvalidParameterValue",
            launch,
            IamInstanceProfile={"Name": "none"},
            status=400,
            message="Value (none) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
        )
        time.sleep(0.5)
        iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
        self.assertRefused("InvalidParameterValue", launch, IamInstanceProfile={"Name": "app"})  # the role is fresh
        time.sleep(0.5)
        launch(IamInstanceProfile={"Name": "app"})
        launch(IamInstanceProfile={"Arn": arn})
        self.assertEqual(s.rules_logged("lag"), {"lag.iam_propagation": 3})
        self.assertEqual(s.rules_logged(), {"input.iam_instance_profile": 1})


# -- throttling and faults -----------------------------------------------------------------


class ThrottlingAndFaults(LayerTestCase):
    SHAPES: dict[str, tuple[str, dict[str, Any], str, int]] = {
        "ec2": ("describe_vpcs", {}, "RequestLimitExceeded", 503),
        "rds": ("describe_db_instances", {}, "Throttling", 400),
        "elbv2": ("describe_load_balancers", {}, "Throttling", 400),
        "acm": ("list_certificates", {}, "ThrottlingException", 400),
        "ssm": ("get_parameter", {"Name": "/app/x"}, "ThrottlingException", 400),
        "efs": ("describe_file_systems", {}, "ThrottlingException", 429),
    }

    def test_throttling_shapes_per_service(self) -> None:
        s = Session(faults={"throttle": 1.0})
        for service, (operation, params, code, status) in self.SHAPES.items():
            with self.subTest(service=service):
                self.assertRefused(code, getattr(s.client(service), operation), status=status, **params)
        self.assertEqual(s.rules_logged("fault")["fault.throttle"], 6)

    def test_server_error_shapes(self) -> None:
        s = Session(faults={"http500": 1.0})
        self.assertRefused("InternalError", s.ec2.describe_vpcs, status=500)
        self.assertRefused("InternalFailure", s.rds.describe_db_instances, status=500)
        s.patch(faults={"http500": 0.0, "http503": 1.0})
        self.assertRefused("Unavailable", s.ec2.describe_vpcs, status=503)
        self.assertRefused("ServiceUnavailable", s.efs.describe_file_systems, status=503)

    def test_run_instances_bucket(self) -> None:
        s = Session(scale=600, lag=0)
        _, first, _, group = s.network()
        started = time.monotonic()
        for _ in range(5):
            s.instance(first, [group])
        # The sixth call of a burst is throttled; on a slow machine a refilled token (2 a
        # second, in real time) may let one or two more through first.
        launched = 5
        while True:
            try:
                s.instance(first, [group])
                launched += 1
            except ClientError as error:
                self.assertEqual(error.response["Error"]["Code"], "RequestLimitExceeded")
                self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 503)
                break
        self.assertLessEqual(launched, 5 + 2 * (time.monotonic() - started) + 1)
        self.assertEqual(s.rules_logged("throttled"), {"bucket.ec2_run_instances": 1})
        time.sleep(0.5)
        s.instance(first, [group])

    def test_create_load_balancer_bucket(self) -> None:
        s = Session(scale=600, lag=0)
        _, first, second, group = s.network()
        for n in range(10):
            s.load_balancer(f"web{n}", [first, second], [group])
        self.assertRefused("Throttling", s.load_balancer, "web10", [first, second], [group], status=400, message="Rate exceeded")
        self.assertEqual(s.rules_logged("throttled"), {"bucket.elbv2_create_load_balancer": 1})
        s.elbv2.describe_load_balancers()  # the shared ELBv2 bucket still has tokens

    def test_drop_before_and_after(self) -> None:
        s = Session(lag=0, faults={"drop_before": 1.0})
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            s.ec2.create_vpc(CidrBlock="10.0.0.0/16")
        self.assertEqual(s.inventory()["vpc"], 0)
        s.patch(faults={"drop_before": 0.0, "drop_after": 1.0})
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            s.ec2.create_vpc(CidrBlock="10.0.0.0/16")
        self.assertEqual(s.inventory()["vpc"], 1)  # carried out, though the client saw no answer
        summary = s.rules_logged("fault")
        self.assertEqual((summary["fault.drop_before"], summary["fault.drop_after"]), (1, 1))

    def test_slow_answers(self) -> None:
        s = Session(faults={"slow": 1.0, "slow_seconds": 0.3})
        started = time.monotonic()
        s.ec2.describe_vpcs()
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_same_seed_same_faults(self) -> None:
        def outcomes(seed: int) -> list[bool]:
            s = Session(seed=seed, faults={"throttle": 0.5})
            results = []
            for _ in range(30):
                try:
                    s.ec2.describe_vpcs()
                    results.append(True)
                except ClientError:
                    results.append(False)
            return results

        first, second, other = outcomes(7), outcomes(7), outcomes(8)
        self.assertEqual(first, second)
        self.assertNotEqual(first, other)
        self.assertIn(False, first)
        self.assertIn(True, first)

    def test_same_seed_same_sampled_durations(self) -> None:
        def durations(seed: int) -> list[float]:
            s = Session(seed=seed, durations="sampled", lag=0)
            for n in range(5):
                s.vpc(f"10.{n}.0.0/16")
            return [lc["emulated_seconds"] for lc in s.log()["lifecycles"]]

        first, second = durations(3), durations(3)
        self.assertEqual(first, second)
        self.assertTrue(all(1 <= d <= 5 for d in first))
        self.assertGreater(len(set(first)), 1)

    def test_unavailable_service_and_denied_operation(self) -> None:
        s = Session(unavailable=["elasticloadbalancing"], deny=[{"operation": "CreateDBInstance", "code": "AccessDenied"}])
        self.assertRefused("ServiceUnavailable", s.elbv2.describe_load_balancers, status=503)
        error = self.assertRefused("AccessDenied", s.database, "orders", "none", status=403)
        self.assertIn(f"arn:aws:iam::{s.account_id}:user/test is not authorized to perform: rds:CreateDBInstance", str(error))
        s.ec2.describe_vpcs()
        self.assertEqual(s.rules_logged("denied"), {"deny": 1})


# -- offerings and quotas ------------------------------------------------------------------


class OfferingsAndQuotas(LayerTestCase):
    def test_instance_type_missing_from_a_zone(self) -> None:
        s = Session(lag=0, missing_offerings={"us-east-1c": ["c5.xlarge"]})
        types = [{"Name": "instance-type", "Values": ["c5.xlarge", "t3.micro"]}]

        def offerings(session: Session, **kwargs: Any) -> list[dict[str, Any]]:
            pages = session.ec2.get_paginator("describe_instance_type_offerings").paginate(
                LocationType="availability-zone", Filters=types, **kwargs
            )
            return [o for page in pages for o in page["InstanceTypeOfferings"]]

        plain = offerings(Session(lag=0))  # moto's own answer, from its bundled data
        self.assertIn({"InstanceType": "c5.xlarge", "Location": "us-east-1c", "LocationType": "availability-zone"}, plain)
        expected = [o for o in plain if (o["InstanceType"], o["Location"]) != ("c5.xlarge", "us-east-1c")]
        self.assertEqual(offerings(s), expected)
        first = s.ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=types, MaxResults=5)
        self.assertEqual(len(first["InstanceTypeOfferings"]), 5)
        self.assertIn("NextToken", first)
        self.assertEqual(offerings(s, PaginationConfig={"PageSize": 5}), expected)

        vpc_id = s.vpc()
        in_c, in_a = s.subnet(vpc_id, "10.0.1.0/24", "us-east-1c"), s.subnet(vpc_id, "10.0.2.0/24", "us-east-1a")
        launch = partial(s.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="c5.xlarge")
        message = (
            "Your requested instance type (c5.xlarge) is not supported in your requested Availability Zone "
            "(us-east-1c). Please retry your request by not specifying an Availability Zone or choosing "
            "us-east-1a, us-east-1b, us-east-1d, us-east-1f."  # moto's data has no c5.xlarge in us-east-1e
        )
        self.assertRefused("Unsupported", launch, SubnetId=in_c, status=400, message=message)
        self.assertRefused("Unsupported", launch, Placement={"AvailabilityZone": "us-east-1c"}, message=message)
        launch(SubnetId=in_a)
        launch(SubnetId=in_c, InstanceType="t3.micro")
        self.assertEqual(s.rules_logged(), {"offering.instance_type": 2})

    def test_service_quotas_as_moto_has_them_or_as_the_session_sets_them(self) -> None:
        plain = Session(lag=0).client("service-quotas")
        # moto knows only the VPC defaults and no EC2 quota at all.
        self.assertRefused(
            "NoSuchResourceException",
            plain.get_service_quota,
            ServiceCode="ec2",
            QuotaCode="L-1216C47A",
            message="This service is not available in the current Region.",
        )
        self.assertEqual(plain.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]["Value"], 5.0)

        s = Session(lag=0, quotas={"ec2/L-1216C47A": 32, "ec2/L-0263D0A3": 5, "vpc/L-F678F1CE": 5})
        quotas = s.client("service-quotas")
        vcpus = quotas.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]
        self.assertEqual(
            vcpus,
            {
                "ServiceCode": "ec2",
                "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                "QuotaArn": f"arn:aws:servicequotas:{REGION}:{s.account_id}:ec2/L-1216C47A",
                "QuotaCode": "L-1216C47A",
                "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                "Value": 32.0,
                "Unit": "None",
                "Adjustable": True,
                "GlobalQuota": False,
                "UsageMetric": {
                    "MetricNamespace": "AWS/Usage",
                    "MetricName": "ResourceCount",
                    "MetricDimensions": {"Class": "Standard/OnDemand", "Resource": "vCPU", "Service": "EC2", "Type": "Resource"},
                    "MetricStatisticRecommendation": "Maximum",
                },
            },
        )
        addresses = quotas.get_service_quota(ServiceCode="ec2", QuotaCode="L-0263D0A3")["Quota"]
        self.assertEqual((addresses["QuotaName"], addresses["Value"]), ("EC2-VPC Elastic IPs", 5.0))
        vpcs = quotas.get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")["Quota"]
        self.assertEqual((vpcs["QuotaName"], vpcs["Value"]), ("VPCs per Region", 5.0))
        error = self.assertRefused(
            "NoSuchResourceException", quotas.get_service_quota, ServiceCode="vpc", QuotaCode="L-A4707A72", status=400
        )
        self.assertEqual(error.response["Error"]["Message"], "")
        self.assertEqual(s.rules_logged(), {"quota.no_such_resource": 1})

    def test_ec2_enforces_the_quotas_a_session_sets(self) -> None:
        s = Session(scale=600, lag=0, quotas={"ec2/L-0263D0A3": 2, "vpc/L-F678F1CE": 2, "ec2/L-1216C47A": 4})
        first = s.ec2.allocate_address(Domain="vpc")["AllocationId"]
        s.ec2.allocate_address(Domain="vpc")
        self.assertRefused(
            "AddressLimitExceeded", s.ec2.allocate_address, Domain="vpc", status=400,
            message="The maximum number of addresses has been reached.",
        )
        s.ec2.release_address(AllocationId=first)
        s.ec2.allocate_address(Domain="vpc")

        vpc_id = s.vpc()  # the default VPC counts too: two of two
        self.assertRefused(
            "VpcLimitExceeded", s.vpc, "10.1.0.0/16", status=400, message="The maximum number of VPCs has been reached."
        )
        s.ec2.delete_vpc(VpcId=vpc_id)
        vpc_id = s.vpc()

        subnet = s.subnet(vpc_id, "10.0.1.0/24")
        launch = partial(s.ec2.run_instances, ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet)
        one = launch()["Instances"][0]["InstanceId"]
        launch()  # 2 + 2 vCPUs of 4
        self.assertRefused(
            "VcpuLimitExceeded",
            launch,
            status=400,
            message="You have requested more vCPU capacity than your current vCPU limit of 4 allows for the instance bucket",
        )
        s.ec2.terminate_instances(InstanceIds=[one])
        wait_until(lambda: s.instance_state(one) == "terminated", what="terminated")
        launch()
        self.assertEqual(s.rules_logged(), {"quota.elastic_ips": 1, "quota.vpcs": 1, "quota.vcpus": 1})


# -- sessions, pagination, inventory -------------------------------------------------------


class Idempotency(LayerTestCase):
    """What AWS documents as idempotent stays so, where moto makes a second object."""

    def test_a_repeated_client_token_returns_the_first_answer(self) -> None:
        s = Session(scale=600, lag=0)
        _, first, _, group = s.network()
        launch = partial(
            s.ec2.run_instances,
            ImageId=AMI, MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=first,
            SecurityGroupIds=[group], ClientToken="token-1",
        )
        one, two = launch(), launch()
        self.assertEqual(one["Instances"][0]["InstanceId"], two["Instances"][0]["InstanceId"])
        self.assertEqual(s.inventory()["instance"], 1)
        launch(ClientToken="token-2")
        self.assertEqual(s.inventory()["instance"], 2)

    def test_same_settings_return_the_same_load_balancing_objects(self) -> None:
        s = Session(scale=600, lag=0)
        vpc_id, first, second, group = s.network()
        self.assertEqual(s.target_group(vpc_id), s.target_group(vpc_id))
        self.assertRefused(
            "DuplicateTargetGroupName",
            s.elbv2.create_target_group, Name="app", Protocol="HTTP", Port=8080, VpcId=vpc_id,
        )
        lb = s.load_balancer("web", [first, second], [group])
        self.assertEqual(lb, s.load_balancer("web", [first, second], [group]))
        self.assertEqual(len(s.enis(subnet_id=first)), 1, "no second set of interfaces")
        forward = [{"Type": "forward", "TargetGroupArn": s.target_group(vpc_id)}]
        listen = partial(s.elbv2.create_listener, LoadBalancerArn=lb, Port=80, DefaultActions=forward)
        one = listen(Protocol="HTTP")["Listeners"][0]["ListenerArn"]
        self.assertEqual(one, listen(Protocol="HTTP")["Listeners"][0]["ListenerArn"])
        self.assertRefused("DuplicateListener", listen, Protocol="HTTPS", Certificates=[{"CertificateArn": "arn:x"}])
        self.assertEqual(s.inventory()["listener"], 1)


class Sessions(LayerTestCase):
    def test_sessions_are_isolated(self) -> None:
        first, second = Session(lag=0), Session(lag=0)
        vpc_id = first.vpc()
        seen = {v["VpcId"] for v in second.ec2.describe_vpcs()["Vpcs"]}
        self.assertNotIn(vpc_id, seen)
        self.assertNotEqual(first.account_id, second.account_id)
        self.assertEqual((first.inventory()["vpc"], second.inventory()["vpc"]), (1, 0))
        first.end()
        with self.assertRaises(urllib.error.HTTPError):
            first.log()

    def test_unknown_access_keys_reach_plain_moto(self) -> None:
        plain = boto3.client(
            "ec2", endpoint_url=_url, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test", config=NO_RETRIES
        )
        vpc = plain.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]
        self.assertEqual(vpc["State"], "available")  # no lifecycle outside a session
        plain.describe_vpcs(VpcIds=[vpc["VpcId"]])  # and no propagation delay
        plain.delete_vpc(VpcId=vpc["VpcId"])
        with urllib.request.urlopen(f"{_url}/moto-api/", timeout=10) as answer:
            self.assertEqual(answer.status, 200)

    def test_bad_configuration_is_refused(self) -> None:
        for config in (
            {"scale": 0},
            {"rules": {"delete": True}},
            {"faults": {"throttle": 2}},
            {"unavailable": ["s4"]},
            {"missing_offerings": {"us-east-1c": "c5.xlarge"}},
            {"quotas": {"L-1216C47A": 32}},
        ):
            with self.subTest(config=config), self.assertRaises(urllib.error.HTTPError) as caught:
                _control("POST", "/sessions", config)
            self.assertEqual(caught.exception.code, 400)

    def test_list_certificates_hides_ecdsa_unless_asked_and_pages(self) -> None:
        s = Session(lag=0)
        rsa_arns = set()
        for n in range(3):
            cert, key = certificate("rsa", f"rsa{n}.example.com")
            rsa_arns.add(s.acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"])
        cert, key = certificate("ec", "ec.example.com")
        ec_arn = s.acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        first = s.acm.list_certificates()
        self.assertEqual(len(first["CertificateSummaryList"]), 2)
        second = s.acm.list_certificates(NextToken=first["NextToken"])
        self.assertNotIn("NextToken", second)
        listed = {c["CertificateArn"] for c in first["CertificateSummaryList"] + second["CertificateSummaryList"]}
        self.assertEqual(listed, rsa_arns)
        pages = s.acm.get_paginator("list_certificates").paginate(Includes={"keyTypes": ["EC_prime256v1"]})
        self.assertEqual([c["CertificateArn"] for page in pages for c in page["CertificateSummaryList"]], [ec_arn])

    def test_log_counts_every_call_per_operation_and_the_mutating_ones(self) -> None:
        s = Session(lag=0, deny=[{"operation": "CreateDBInstance", "code": "AccessDenied"}])
        s.client("sts").get_caller_identity()
        s.client("sts").get_caller_identity()
        s.ec2.describe_tags()
        s.client("service-quotas").get_service_quota(ServiceCode="vpc", QuotaCode="L-F678F1CE")
        log = s.log()
        expected = {"ec2:DescribeTags": 1, "servicequotas:GetServiceQuota": 1, "sts:GetCallerIdentity": 2}
        self.assertEqual((log["calls"], log["mutating"]), (expected, 0))
        # Served, denied, dropped, faulted: each reached the layer and counts.
        s.vpc()
        self.assertRefused("AccessDenied", s.database, "orders", "none")
        s.patch(faults={"drop_before": 1.0})
        with self.assertRaises((ConnectionClosedError, EndpointConnectionError)):
            s.vpc("10.1.0.0/16")
        s.patch(faults={"drop_before": 0.0, "http500": 1.0})
        self.assertRefused("InternalError", s.ec2.describe_vpcs)
        s.patch(faults={"http500": 0.0})
        s.client("ssm").put_parameter(Name="/app/x", Value="1", Type="String")
        s.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument="{}")
        s.client("logs").create_log_group(logGroupName="app")  # awsJson, though not modelled
        s.client("s3").list_buckets()  # REST: no operation the layer reads
        Session(lag=0).vpc()  # another session's calls are its own
        log = s.log()
        expected |= {
            "ec2:CreateVpc": 2,
            "ec2:DescribeVpcs": 1,
            "iam:CreateRole": 1,
            "logs:CreateLogGroup": 1,
            "rds:CreateDBInstance": 1,
            "s3:?": 1,
            "ssm:PutParameter": 1,
        }
        self.assertEqual((log["calls"], log["mutating"]), (expected, 7))

    def test_inventory_counts_live_objects_and_transitional_ones(self) -> None:
        s = Session(scale=60, lag=0)
        vpc_id, first, second, group = s.network()
        s.ec2.authorize_security_group_ingress(
            GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
        )
        s.load_balancer("web", [first, second], [group])
        inventory = s.inventory()
        expected = {"vpc": 1, "subnet": 2, "security_group": 1, "security_group_rules": 1, "security_group_rule": 1}
        self.assertEqual({k: inventory[k] for k in expected}, expected)
        self.assertEqual((inventory["load_balancer"], inventory["network_interface"], inventory["route_table"]), (1, 2, 0))
        self.assertIn({"kind": "load_balancer", "state": "provisioning"}, [{k: t[k] for k in ("kind", "state")} for t in inventory["transitional"]])


    def test_inventory_counts_iam_roles_profiles_and_inline_policies_but_not_service_linked_roles(self) -> None:
        s = Session(lag=0)
        iam = s.client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        allow = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
        iam.create_role(RoleName="app", AssumeRolePolicyDocument=trust)
        iam.create_role(RoleName="worker", Path="/strato/", AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=allow)
        iam.put_role_policy(RoleName="app", PolicyName="write", PolicyDocument=allow)
        iam.create_instance_profile(InstanceProfileName="app")
        iam.add_role_to_instance_profile(InstanceProfileName="app", RoleName="app")
        iam.create_service_linked_role(AWSServiceName="elasticloadbalancing.amazonaws.com")
        Session(lag=0).client("iam").create_role(RoleName="other", AssumeRolePolicyDocument=trust)
        inventory = s.inventory()
        self.assertEqual((inventory["iam_role"], inventory["instance_profile"], inventory["iam_role_policy"]), (2, 1, 2))
        self.assertEqual(sorted(inventory["objects"]["iam_role"]), ["app", "worker"])
        self.assertEqual(inventory["objects"]["instance_profile"], ["app"])
        self.assertEqual(sorted(inventory["objects"]["iam_role_policy"]), ["app|read", "app|write"])
        iam.delete_role_policy(RoleName="app", PolicyName="write")
        iam.remove_role_from_instance_profile(InstanceProfileName="app", RoleName="app")
        iam.delete_instance_profile(InstanceProfileName="app")
        iam.delete_role(RoleName="worker")
        inventory = s.inventory()
        self.assertEqual((inventory["iam_role"], inventory["instance_profile"], inventory["iam_role_policy"]), (1, 0, 1))

if __name__ == "__main__":
    unittest.main()
