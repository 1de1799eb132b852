"""IAM rules: when EC2 can first use an instance profile, and how it names an unknown one.

EC2 sees a new instance profile, or the role just added to it, only after a while ("~10
seconds", the EC2 user guide on launching an instance with an IAM role): the layer notes
when `CreateInstanceProfile` and `AddRoleToInstanceProfile` succeed, and `lag` refuses a
`RunInstances` naming the profile for `iam_lag` emulated seconds. For a profile that does
not exist at all, moto answers IAM's `NoSuchEntity` (404) where EC2 answers
`InvalidParameterValue` "Invalid IAM Instance Profile name" (400).
"""

from __future__ import annotations

from typing import Any

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.responses import instances as ec2_instance_responses
from moto.iam.exceptions import NotFoundException
from moto.iam.models import IAMBackend

from ..context import RequestContext, current, patch, refuse


@patch(IAMBackend, "create_instance_profile")
def _create_instance_profile(context: RequestContext, original: Any, self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    profile = original(self, name, *args, **kwargs)
    context.session.instance_profiles_changed[name] = context.session.now()
    return profile


@patch(IAMBackend, "add_role_to_instance_profile")
def _add_role_to_instance_profile(
    context: RequestContext, original: Any, self: Any, profile_name: str, role_name: str
) -> Any:
    result = original(self, profile_name, role_name)
    context.session.instance_profiles_changed[profile_name] = context.session.now()
    return result


_filter_iam_instance_profiles = ec2_instance_responses.filter_iam_instance_profiles


def _filter_instance_profiles(
    account_id: str, partition: str, iam_instance_profile_arn: str | None, iam_instance_profile_name: str | None
) -> Any:
    """moto's check that RunInstances names an existing profile, answered as EC2 does."""
    try:
        return _filter_iam_instance_profiles(account_id, partition, iam_instance_profile_arn, iam_instance_profile_name)
    except NotFoundException:
        context = current()
        if context is None or not context.rules.input:
            raise
        if iam_instance_profile_arn:
            value, parameter, label = iam_instance_profile_arn, "arn", "ARN"
        else:
            value, parameter, label = str(iam_instance_profile_name), "name", "name"
        message = f"Value ({value}) for parameter iamInstanceProfile.{parameter} is invalid. Invalid IAM Instance Profile {label}"
        refuse(context, "input.iam_instance_profile", EC2ClientError("InvalidParameterValue", message))


# The EC2 response module imported the function by name; its calls go through this binding.
ec2_instance_responses.filter_iam_instance_profiles = _filter_instance_profiles
