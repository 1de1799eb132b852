"""ACM rules: certificates in use cannot be deleted; ListCertificates filters and pages.

`DeleteCertificate` answers `ResourceInUseException` while a load balancer listener serves
the certificate (API_DeleteCertificate). `ListCertificates` without `Includes.keyTypes`
returns only RSA_1024 and RSA_2048 certificates (API_ListCertificates: "Default filtering
returns only RSA_1024 and RSA_2048 certificates that have at least one domain") and pages
with `NextToken`; the layer pages at most two items at a time so paging code is exercised.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from moto.acm.models import AWSCertificateManagerBackend
from moto.acm.responses import AWSCertificateManagerResponse
from moto.core.exceptions import AWSError
from moto.elbv2.models import elbv2_backends

from ..context import RequestContext, patch, refuse

DEFAULT_KEY_TYPES = ["RSA_1024", "RSA_2048"]
PAGE_SIZE = 2


@patch(AWSCertificateManagerBackend, "import_certificate")
def _import_certificate(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    arn = original(self, *args, **kwargs)
    context.session.note_created(arn, "certificate")
    return arn


@patch(AWSCertificateManagerBackend, "request_certificate")
def _request_certificate(context: RequestContext, original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    arn = original(self, *args, **kwargs)
    context.session.note_created(arn, "certificate")
    return arn


@patch(AWSCertificateManagerBackend, "delete_certificate")
def _delete_certificate(context: RequestContext, original: Any, self: Any, arn: str) -> Any:
    if context.rules.deletion:
        elbv2 = elbv2_backends[self.account_id][self.region_name]
        for lb in elbv2.load_balancers.values():
            if any(arn in listener.certificates for listener in lb.listeners.values()):
                error = AWSError(f"Certificate {arn} in use by {lb.arn}", "ResourceInUseException")
                refuse(context, "deletion.certificate", error)
    return original(self, arn)


@patch(AWSCertificateManagerResponse, "list_certificates")
def _list_certificates(context: RequestContext, original: Any, self: Any) -> Any:
    if not context.rules.pagination:
        return original(self)
    statuses = self._get_param("CertificateStatuses")
    includes = dict(self._get_param("Includes") or {})
    includes.setdefault("keyTypes", DEFAULT_KEY_TYPES)
    certificates = list(self.acm_backend.list_certificates(statuses, includes))
    start = _page_start(self._get_param("NextToken"))
    size = min(int(self._get_param("MaxItems") or PAGE_SIZE), PAGE_SIZE)
    summaries = []
    for bundle in certificates[start : start + size]:
        summary = bundle.describe()["Certificate"]
        summary["InUse"] = bool(summary.pop("InUseBy", []))
        summary["Exported"] = bundle.cert_options["Export"] == "ENABLED"
        summaries.append(summary)
    result: dict[str, Any] = {"CertificateSummaryList": summaries}
    if start + size < len(certificates):
        result["NextToken"] = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
    return json.dumps(result)


def _page_start(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise AWSError("The NextToken is invalid.", "InvalidArgsException") from None
