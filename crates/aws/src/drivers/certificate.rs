//! TLS certificate: an existing ACM certificate named by its ARN (checked, never deleted by
//! strato), or, for local runs, a self-signed certificate strato generates and imports into
//! ACM (deleted on destroy). The private key lives only in memory for the import call.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_acm::primitives::Blob;
use aws_sdk_acm::types::{Filters, KeyAlgorithm, Tag};
use strato_graph::Desired;
use strato_state::Object;

use super::{acm_once, exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError, Class};

pub struct Certificate;

#[async_trait]
impl Driver for Certificate {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::Certificate { arn, domains } = desired else { return Err(mismatch("ImportCertificate")) };
        if let Some(arn) = arn {
            cx.clients
                .acm
                .describe_certificate()
                .certificate_arn(arn)
                .send()
                .await
                .map_err(|e| from_sdk("DescribeCertificate", e))?;
            let mut c = Created::new(arn).with("imported", "false");
            c.ready = true;
            return Ok(c);
        }
        let generated = rcgen::generate_simple_self_signed(domains.clone())
            .map_err(|e| AwsError::new("generate a self-signed certificate", Class::Fatal, e.to_string()))?;
        let tags: Vec<Tag> = cx
            .tag_list()
            .into_iter()
            .filter_map(|t| Tag::builder().key(t.key()?).value(t.value()?).build().ok())
            .collect();
        // ImportCertificate has no idempotency token: an unanswered import looks for the
        // tagged certificate before it is sent again.
        let import = || async {
            let out = cx
                .clients
                .acm
                .import_certificate()
                .certificate(Blob::new(generated.cert.pem().into_bytes()))
                .private_key(Blob::new(generated.signing_key.serialize_pem().into_bytes()))
                .set_tags(Some(tags.clone()))
                .customize()
                .config_override(acm_once())
                .send()
                .await
                .map_err(|e| from_sdk("ImportCertificate", e))?;
            Ok(Created::new(out.certificate_arn().unwrap_or_default()).with("imported", "true"))
        };
        let probe = Object::new("certificate");
        let mut c = super::create_untokened(cx, import, || self.find(cx, &probe)).await?;
        c.ready = true;
        Ok(c)
    }

    /// An imported certificate whose import was never recorded: the one carrying this
    /// object's tags. ListCertificates returns only RSA certificates unless asked for other
    /// key types, and pages (ACM API reference, `Filters.keyTypes`); strato's own are ECDSA
    /// P-256 (rcgen's default key).
    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let includes = Filters::builder()
            .key_types(KeyAlgorithm::EcPrime256v1)
            .key_types(KeyAlgorithm::EcSecp384r1)
            .key_types(KeyAlgorithm::Rsa2048)
            .key_types(KeyAlgorithm::Rsa3072)
            .key_types(KeyAlgorithm::Rsa4096)
            .build();
        let mut pages = cx.clients.acm.list_certificates().includes(includes).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk("ListCertificates", e))?;
            for arn in page.certificate_summary_list().iter().filter_map(|c| c.certificate_arn()) {
                let tags = cx
                    .clients
                    .acm
                    .list_tags_for_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .map_err(|e| from_sdk("ListTagsForCertificate", e));
                // Deleted by someone else between the two calls.
                let Some(tags) = super::found(tags)? else { continue };
                let tags: Vec<(String, String)> = tags
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().unwrap_or_default().to_string()))
                    .collect();
                if cx.is_this(&tags) {
                    return Ok(Some(Created::new(arn).with("imported", "true")));
                }
            }
        }
        Ok(None)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.acm.describe_certificate().certificate_arn(id(obj)?).send().await;
        exists_from(r.map_err(|e| from_sdk("DescribeCertificate", e)), |_| true)
    }

    /// ACM still counts a certificate in use for a while after its listeners are gone:
    /// `ResourceInUseException` is retried for 20 minutes, as TF does
    /// (internal/service/acm/certificate.go, `certificateCrossServicePropagationTimeout`).
    /// When the window closes, the error names what ACM says still uses it.
    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        if obj.attribute("imported") != Some("true") {
            return Ok(()); // The operator's own certificate: not ours to delete.
        }
        let arn = id(obj)?;
        let in_use = |e: &AwsError| e.code_is(&["ResourceInUseException"]);
        let r = cx
            .retry_refused(IN_USE_WINDOW, in_use, || async {
                let r = cx.clients.acm.delete_certificate().certificate_arn(arn).send().await;
                gone_ok(r.map_err(|e| from_sdk("DeleteCertificate", e)))
            })
            .await;
        match r {
            Err(e) if in_use(&e) => {
                let users = cx.clients.acm.describe_certificate().certificate_arn(arn).send().await.ok();
                let users: Vec<String> =
                    users.and_then(|o| o.certificate().map(|c| c.in_use_by().to_vec())).unwrap_or_default();
                Err(e.naming("ACM says it is used by", &users))
            }
            other => other,
        }
    }
}

/// See [`Certificate::delete`].
const IN_USE_WINDOW: Duration = Duration::from_secs(20 * 60);
