"""RDS rules: identifiers, subnet group names, the DB instance lifecycle and what it holds.

A DB instance is `creating` (~5.5 min single-AZ, ~11.5 min Multi-AZ) then `backing-up`
before `available`, with no endpoint until then; a delete is `deleting` for 5-7 min, during
which it still holds its subnet group and its network interfaces (API_DeleteDBSubnetGroup:
InvalidDBSubnetGroupStateFault). A final snapshot cannot be taken of an instance still
`creating` or `modifying` (InvalidDBInstanceState). The
instance places one ENI in a subnet of its group (two, in different AZs, for Multi-AZ) with
its VPC security groups. Without `PubliclyAccessible`, an instance in a VPC with an internet
gateway is public (API_CreateDBInstance, "PubliclyAccessible": "If the subnets are part of a
VPC that has an internet gateway attached to it, the DB instance is public").

ModifyDBInstance: moto applies every change at once whatever `ApplyImmediately` says and
has no `PendingModifiedValues`. AWS (API_ModifyDBInstance, per parameter) applies the class,
storage, Multi-AZ, engine version, IOPS, storage type and throughput, and a backup retention
change to or from 0, "during the next maintenance window" unless `ApplyImmediately`, and
shows them meanwhile in `PendingModifiedValues`; the layer never reaches a maintenance
window, so they stay pending. With `ApplyImmediately` they (and any pending ones) are
applied after ~5 min of `modifying`, still shown as pending until then. Everything else
(a retention change between non-zero values, `DeletionProtection`, groups, ...) is applied
at once, with a short `modifying`. A call that changes nothing without `ApplyImmediately`
answers `InvalidParameterCombination` "No modifications were requested", as AWS does in
public traces (with `ApplyImmediately` AWS accepts it).
"""

from __future__ import annotations

import re
from typing import Any

from moto.ec2.models import ec2_backends
from moto.rds.exceptions import DBSnapshotAlreadyExistsError, RDSClientError
from moto.rds.models import DBInstance, RDSBackend
from moto.rds.responses import RDSResponse

from .. import interfaces
from ..context import RequestContext, logged_as, patch, refuse
from ..session import Session

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_SUBNET_GROUP_NAME = re.compile(r"[A-Za-z0-9._ -]{1,255}")
_NO_ENDPOINT = ("creating", "backing-up")
_NO_FINAL_SNAPSHOT = ("creating", "backing-up", "modifying")


def _check_identifier(context: RequestContext, value: str, parameter: str, max_length: int) -> None:
    """1 to `max_length` letters, digits and hyphens; a letter first; no `--`; no trailing `-`."""
    if not context.rules.input:
        return
    if not value:
        message = f"The parameter {parameter} must be provided and must not be blank."
    elif (
        len(value) > max_length
        or not value.isascii()
        or not _IDENTIFIER.fullmatch(value)
        or "--" in value
        or value.endswith("-")
    ):
        message = (
            f"The parameter {parameter} is not a valid identifier. Identifiers must begin with a letter; "
            "must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or "
            "contain two consecutive hyphens."
        )
    else:
        return
    refuse(context, "input.rds_identifier", RDSClientError("InvalidParameterValue", message))


def _invalid_state(message: str) -> RDSClientError:
    return RDSClientError("InvalidDBInstanceState", message)


_original_endpoint: property = DBInstance.__dict__["endpoint"]


def _endpoint(self: DBInstance) -> Any:
    """No endpoint while the instance is still being created."""
    if self.status in _NO_ENDPOINT:
        return None
    return _original_endpoint.fget(self)  # type: ignore[misc]


setattr(DBInstance, "endpoint", property(_endpoint))


@patch(RDSBackend, "create_db_instance")
def _create_db_instance(context: RequestContext, original: Any, self: Any, db_kwargs: Any) -> Any:
    if context.operation != "CreateDBInstance":
        return original(self, db_kwargs)
    _check_identifier(context, db_kwargs.get("db_instance_identifier") or "", "DBInstanceIdentifier", 63)
    ec2 = ec2_backends[self.account_id][self.region_name]
    group = self.subnet_groups.get(db_kwargs.get("db_subnet_group_name") or "")
    vpc_id = group.vpc_id if group is not None else ec2.default_vpc.id
    default_group = ec2.get_default_security_group(vpc_id)
    if group is not None and default_group is not None and not db_kwargs.get("vpc_security_group_ids"):
        # Without groups, an instance gets the default group of its subnet group's VPC.
        db_kwargs["vpc_security_group_ids"] = [default_group.id]
    if db_kwargs.get("publicly_accessible") is None:
        db_kwargs["publicly_accessible"] = any(
            igw.vpc is not None and igw.vpc.id == vpc_id for igw in ec2.internet_gateways.values()
        )
    db = original(self, db_kwargs)
    subnets = list(group._subnets) if group is not None else list(ec2.get_default_subnets().values())
    db._faithful_enis = [
        interfaces.create(
            ec2, subnet, list(db.vpc_security_group_ids), "RDSNetworkInterface", "amazon-rds", bool(db.publicly_accessible)
        ).id
        for subnet in _placement(db, subnets)
    ]
    session = context.session
    variant = "multi_az" if db.multi_az else "single_az"
    creating = session.duration(f"db_instance.create.{variant}")
    backing_up = session.duration("db_instance.backup")
    db.status = "creating"

    def backed_up() -> None:
        if db.status == "creating":
            db.status = "backing-up"

    def available() -> None:
        if db.status == "backing-up":
            db.status = "available"

    session.phases(db.db_instance_identifier, "db_instance", "create", [(creating, backed_up), (backing_up, available)])
    return db


def _placement(db: Any, subnets: list[Any]) -> list[Any]:
    """The subnet of the primary, and for Multi-AZ one of the standby in another AZ (a DB
    instance's `SecondaryAvailabilityZone`, which moto's model lacks)."""
    if not subnets:
        return []
    primary = next((s for s in subnets if s.availability_zone == db.availability_zone), subnets[0])
    db.availability_zone = primary.availability_zone
    chosen = [primary]
    if db.multi_az:
        standby = next((s for s in subnets if s.availability_zone != primary.availability_zone), None)
        if standby is not None:
            db.secondary_availability_zone = standby.availability_zone
            chosen.append(standby)
    return chosen


# Settings AWS applies in the maintenance window unless ApplyImmediately, by moto's attribute
# name, with their PendingModifiedValues member.
_DEFERRED = {
    "db_instance_class": "DBInstanceClass",
    "allocated_storage": "AllocatedStorage",
    "multi_az": "MultiAZ",
    "engine_version": "EngineVersion",
    "iops": "Iops",
    "storage_type": "StorageType",
    "storage_throughput": "StorageThroughput",
}
# Parameters that name no setting: a call with nothing else requests no modification.
_NOT_SETTINGS = ("db_instance_identifier", "apply_immediately", "allow_major_version_upgrade")


def _pending(db: DBInstance) -> dict[str, Any]:
    """Attribute -> value of the modifications waiting for the maintenance window or under way."""
    return db.__dict__.setdefault("_faithful_pending", {})


def _pending_modified_values(self: DBInstance) -> dict[str, Any]:
    names = {**_DEFERRED, "backup_retention_period": "BackupRetentionPeriod"}
    return {names[key]: value for key, value in _pending(self).items()}


setattr(DBInstance, "pending_modified_values", property(_pending_modified_values))


@patch(RDSBackend, "modify_db_instance")
def _modify_db_instance(
    context: RequestContext, original: Any, self: Any, db_instance_identifier: str, db_kwargs: Any
) -> Any:
    db = self.databases.get(db_instance_identifier)
    if context.operation != "ModifyDBInstance" or db is None:
        return original(self, db_instance_identifier, db_kwargs)
    if db.status != "available":
        refuse(context, "state.db_modify", _invalid_state("Database instance is not in available state."))
    apply_now = bool(db_kwargs.get("apply_immediately"))
    settings = {k: v for k, v in db_kwargs.items() if k not in _NOT_SETTINGS and v is not None}
    if not settings and not apply_now and context.rules.input:
        message = "No modifications were requested"
        refuse(context, "input.db_no_modification", RDSClientError("InvalidParameterCombination", message))
    # Changes that wait: the deferrable settings that differ, and a retention to or from 0.
    deferred = {k: v for k, v in settings.items() if k in _DEFERRED and v != getattr(db, k, None)}
    retention = settings.get("backup_retention_period")
    if retention is not None and (int(retention) == 0) != (int(db.backup_retention_period or 0) == 0):
        deferred["backup_retention_period"] = retention
    for key in settings:
        if key in _DEFERRED or key in deferred:
            db_kwargs.pop(key, None)
    immediate = any(k not in _DEFERRED and k not in deferred for k in settings)
    db = original(self, db_instance_identifier, db_kwargs)
    pending = _pending(db)
    for key in settings:
        if key in _DEFERRED and key not in deferred:
            pending.pop(key, None)  # the current value asked again: nothing waits any more
    pending.update(deferred)
    session = context.session
    if apply_now and pending:
        # "the modifications in this request and any pending modifications are asynchronously
        # applied as soon as possible" (ApplyImmediately): shown pending until then.
        db.status = "modifying"

        def applied() -> None:
            if db.status == "modifying":
                for key, value in pending.items():
                    setattr(db, key, value)
                pending.clear()
                db.status = "available"

        session.after(db.db_instance_identifier, "db_instance", "modify", applied, "scale")
    elif immediate:
        db.status = "modifying"

        def available() -> None:
            if db.status == "modifying":
                db.status = "available"

        session.after(db.db_instance_identifier, "db_instance", "modify", available)
    return db


@patch(RDSResponse, "delete_db_instance")
def _check_final_snapshot_name(context: RequestContext, original: Any, self: Any) -> Any:
    """Snapshot identifiers follow the instance identifier rules, up to 255 characters."""
    final = self.params.get("FinalDBSnapshotIdentifier")
    if final is not None:
        _check_identifier(context, final, "FinalDBSnapshotIdentifier", 255)
    return original(self)


@patch(RDSBackend, "delete_db_instance")
def _delete_db_instance(
    context: RequestContext,
    original: Any,
    self: Any,
    db_instance_identifier: str,
    final_db_snapshot_identifier: str | None = None,
    skip_final_snapshot: bool | None = False,
    delete_automated_backups: bool | None = True,
) -> Any:
    options = {
        "final_db_snapshot_identifier": final_db_snapshot_identifier,
        "skip_final_snapshot": skip_final_snapshot,
        "delete_automated_backups": delete_automated_backups,
    }
    db = self.databases.get(db_instance_identifier)
    if context.operation != "DeleteDBInstance" or db is None:
        return original(self, db_instance_identifier, **options)
    if db.deletion_protection:
        with logged_as(context, "deletion.db_instance_protection", "InvalidParameterCombination"):
            return original(self, db_instance_identifier, **options)
    if db.status == "deleting":
        refuse(context, "state.db_already_deleting", _invalid_state(f"Instance {db_instance_identifier} is already being deleted."))
    if not skip_final_snapshot:
        if not final_db_snapshot_identifier:
            if context.rules.input:
                message = "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
                refuse(context, "input.rds_final_snapshot", RDSClientError("InvalidParameterCombination", message))
        elif db.status in _NO_FINAL_SNAPSHOT:
            message = f"Instance {db_instance_identifier} is currently {db.status} - a final snapshot cannot be taken."
            refuse(context, "state.db_delete", _invalid_state(message))
        elif final_db_snapshot_identifier in self.database_snapshots:
            raise DBSnapshotAlreadyExistsError(final_db_snapshot_identifier)
    session = context.session
    db.status = "deleting"

    def gone() -> None:
        # moto removes the instance and takes the final snapshot now.
        if self.databases.get(db_instance_identifier) is db:
            original(self, db_instance_identifier, **options)
        _release(session, db)

    session.after(db.db_instance_identifier, "db_instance", "delete", gone, "multi_az" if db.multi_az else "single_az")
    return db


def _release(session: Session, db: DBInstance) -> None:
    ec2 = ec2_backends[db.account_id][db.region]
    linger = session.config.linger.db_instance
    interfaces.release(session, ec2, getattr(db, "_faithful_enis", []), db.db_instance_identifier, "db_instance", linger)


@patch(RDSBackend, "create_subnet_group")
def _create_subnet_group(context: RequestContext, original: Any, self: Any, subnet_name: str, *args: Any, **kwargs: Any) -> Any:
    """Up to 255 letters, digits, periods, underscores, spaces and hyphens; not `default`."""
    if context.rules.input:
        if not _SUBNET_GROUP_NAME.fullmatch(subnet_name or ""):
            message = (
                f"The parameter DBSubnetGroupName is not a valid identifier: '{subnet_name}'. It must contain "
                "only letters, digits, periods, underscores, spaces or hyphens and be at most 255 characters."
            )
            refuse(context, "input.db_subnet_group_name", RDSClientError("InvalidParameterValue", message))
        if subnet_name.lower() == "default":
            message = "The DBSubnetGroupName 'default' is reserved and cannot be used."
            refuse(context, "input.db_subnet_group_name", RDSClientError("InvalidParameterValue", message))
    return original(self, subnet_name, *args, **kwargs)


@patch(RDSBackend, "delete_subnet_group")
def _delete_subnet_group(context: RequestContext, original: Any, self: Any, subnet_name: str) -> Any:
    """Refused while any DB instance, whatever its status (`deleting` too), uses the group."""
    group = self.subnet_groups.get(subnet_name)
    if context.rules.deletion and group is not None:
        name = group.name
        for db in self.databases.values():
            if getattr(db, "db_subnet_group", None) is group:
                message = (
                    f"Cannot delete the subnet group '{name}' because at least one database instance: "
                    f"{db.db_instance_identifier} is still using it."
                )
                refuse(context, "deletion.db_subnet_group", RDSClientError("InvalidDBSubnetGroupStateFault", message))
    return original(self, subnet_name)
