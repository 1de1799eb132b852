"""AWS's API request token buckets ("Request throttling for the Amazon EC2 API", "Request
throttling for the ELB API", "Throttling quotas in Amazon RDS"), in real time.

EC2 throttles per account and region with separate buckets for describe calls, mutating
calls, `RunInstances` and NAT gateway create/delete
(https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html); ELBv2 limits
`CreateLoadBalancer` on its own and every call from a shared bucket; RDS shares one bucket
among all calls. A call takes one token from each bucket it belongs to, or none if any of
them is empty, and then fails with the service's throttling error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BucketSpec:
    """A bucket's name (the rule is `bucket.<name>`), burst size and refill per second."""

    name: str
    capacity: float
    refill: float


EC2_DESCRIBE = BucketSpec("ec2_describe", 100, 20)
EC2_MUTATING = BucketSpec("ec2_mutating", 50, 5)
EC2_RUN_INSTANCES = BucketSpec("ec2_run_instances", 5, 2)
EC2_NAT_GATEWAY = BucketSpec("ec2_nat_gateway", 10, 1)
ELBV2_CREATE_LOAD_BALANCER = BucketSpec("elbv2_create_load_balancer", 10, 0.2)
ELBV2 = BucketSpec("elbv2", 40, 10)
RDS = BucketSpec("rds", 300, 12)


def buckets_for(service: str, operation: str) -> tuple[BucketSpec, ...]:
    """The buckets a call draws from; empty for services without modelled limits."""
    if service == "ec2":
        if operation.startswith(("Describe", "Get")):
            return (EC2_DESCRIBE,)
        if operation == "RunInstances":
            return (EC2_RUN_INSTANCES,)
        if operation in ("CreateNatGateway", "DeleteNatGateway"):
            return (EC2_NAT_GATEWAY,)
        return (EC2_MUTATING,)
    if service == "elasticloadbalancing":
        if operation == "CreateLoadBalancer":
            return (ELBV2_CREATE_LOAD_BALANCER, ELBV2)
        return (ELBV2,)
    if service == "rds":
        return (RDS,)
    return ()


class TokenBucket:
    """A token bucket refilled lazily from the real clock."""

    def __init__(self, spec: BucketSpec, now: float) -> None:
        self.spec = spec
        self.tokens = spec.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last look, up to the burst size."""
        self.tokens = min(self.spec.capacity, self.tokens + (now - self.stamp) * self.spec.refill)
        self.stamp = now

    def has_token(self) -> bool:
        return self.tokens >= 1

    def take(self) -> None:
        self.tokens -= 1
