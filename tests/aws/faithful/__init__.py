"""An AWS-faithful layer around moto server, for strato's tests.

moto answers every call at once and accepts deletes that AWS refuses, so a provision or
destroy order that passes on moto can still fail on AWS. This package serves moto in-process
behind a WSGI middleware that, per test session, enforces what AWS enforces (as the API
references of EC2, RDS, ELBv2, EFS, ACM, IAM and Service Quotas document it): dependency
checks on deletes, input rules, lifecycles that take time, network interfaces that outlive
their owner, propagation delays, instance-type offerings per zone, service quotas,
token-bucket throttling, pagination, injected faults, and what updates in place meet
(target health, instance stop and start, database modifications).

Modules:
- `config`: the session configuration (JSON in, typed and validated).
- `session`: one test session: its account, clock, schedule, random decisions and log.
- `buckets`: AWS's API token buckets.
- `protocol`: reading an AWS request (service, operation, parameters) and writing AWS errors.
- `context`: the global lock, the current request, and the monkeypatching helpers.
- `gate`: decisions taken before moto sees a request (unavailable, deny, buckets, faults);
  `lag`: the propagation delays, answered there too.
- `interfaces`: AWS-managed network interfaces and their lingering.
- `health`: ELBv2 target health, derived from the session's clock.
- `patches`: the rules, hooked into moto's backends (one module per service, and `capacity`
  for offerings and quotas).
- `inventory`: counting what a session's account holds.
- `app`: the WSGI middleware and the control API; `server`: the command line.

Importing this package is cheap; `app` imports moto and applies the patches.
"""
