"""EFS rules: file system and mount target lifecycles, and what blocks their deletion.

A file system is `creating` for 5-15 s and a mount target `creating` for ~85 s
(typical AWS figures); a mount target can only be created once its file system is
`available` (API_CreateMountTarget: IncorrectFileSystemLifeCycleState). A deleted mount
target is `deleting` for 30-60 s, still counts against its file system
(API_DeleteFileSystem: FileSystemInUse) and holds its ENI, which then lingers.
"""

from __future__ import annotations

from typing import Any

from moto.efs.exceptions import EFSError, FileSystemInUse
from moto.efs.models import EFSBackend, FileSystem, MountTarget

from .. import interfaces
from ..context import RequestContext, patch, refuse
from ..session import Session


@patch(EFSBackend, "create_file_system")
def _create_file_system(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    file_system = original(self, *args, **kwargs)
    file_system.life_cycle_state = "creating"

    def available() -> None:
        if file_system.life_cycle_state == "creating":
            file_system.life_cycle_state = "available"

    context.session.after(file_system.file_system_id, "file_system", "create", available)
    return file_system


@patch(EFSBackend, "delete_file_system")
def _delete_file_system(context: RequestContext, original: Any, self: Any, file_system_id: str) -> Any:
    file_system: FileSystem | None = self.file_systems_by_id.get(file_system_id)
    if file_system is None:
        return original(self, file_system_id)
    if file_system.number_of_mount_targets:
        message = (
            f"The file system '{file_system_id}' cannot be deleted because it has mount targets. "
            "You must delete the mount targets, and then try again."
        )
        refuse(context, "deletion.file_system", FileSystemInUse(message))
    if file_system.life_cycle_state == "deleting":
        return None
    file_system.life_cycle_state = "deleting"

    def gone() -> None:
        if self.file_systems_by_id.get(file_system_id) is file_system:
            original(self, file_system_id)

    context.session.after(file_system_id, "file_system", "delete", gone)
    return None


@patch(EFSBackend, "create_mount_target")
def _create_mount_target(
    context: RequestContext, original: Any, self: Any, file_system_id: str, subnet_id: str, *args: Any, **kwargs: Any
) -> Any:
    file_system = self.file_systems_by_id.get(file_system_id)
    if file_system is not None and file_system.life_cycle_state != "available":
        error = EFSError(
            "IncorrectFileSystemLifeCycleState",
            f"File system '{file_system_id}' is in '{file_system.life_cycle_state}' state, not 'available'.",
        )
        error.code = 409
        refuse(context, "state.mount_target", error)
    mount_target = original(self, file_system_id, subnet_id, *args, **kwargs)
    eni = self.ec2_backend.enis[mount_target.network_interface_id]
    description = f"EFS mount target for {file_system_id} ({mount_target.mount_target_id})"
    interfaces.mark_managed(eni, description, None, "interface")
    mount_target.life_cycle_state = "creating"

    def available() -> None:
        if mount_target.life_cycle_state == "creating":
            mount_target.life_cycle_state = "available"

    context.session.after(mount_target.mount_target_id, "mount_target", "create", available)
    return mount_target


@patch(EFSBackend, "delete_mount_target")
def _delete_mount_target(context: RequestContext, original: Any, self: Any, mount_target_id: str) -> Any:
    mount_target: MountTarget | None = self.mount_targets_by_id.get(mount_target_id)
    if mount_target is None:
        return original(self, mount_target_id)
    if mount_target.life_cycle_state != "deleting":
        mount_target.life_cycle_state = "deleting"
        session = context.session
        session.after(mount_target_id, "mount_target", "delete", lambda: _mount_target_gone(session, self, mount_target))
    return None


def _mount_target_gone(session: Session, backend: Any, mount_target: MountTarget) -> None:
    """The mount target leaves its file system; its interface lingers for a while."""
    if backend.mount_targets_by_id.pop(mount_target.mount_target_id, None) is None:
        return
    mount_target.clean_up()
    linger = session.config.linger.mount_target
    eni_ids = [mount_target.network_interface_id] if mount_target.network_interface_id else []
    interfaces.release(session, backend.ec2_backend, eni_ids, mount_target.mount_target_id, "mount_target", linger)
