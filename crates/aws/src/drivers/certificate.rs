//! TLS certificate: an existing ACM certificate named by its ARN (checked, never deleted by
//! strato), or, for local runs, a self-signed certificate strato generates and imports into
//! ACM (deleted on destroy). The private key lives only in memory for the import call.

use async_trait::async_trait;
use aws_sdk_acm::primitives::Blob;
use aws_sdk_acm::types::Tag;
use strato_graph::Desired;
use strato_state::Object;

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
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
        let out = cx
            .clients
            .acm
            .import_certificate()
            .certificate(Blob::new(generated.cert.pem().into_bytes()))
            .private_key(Blob::new(generated.signing_key.serialize_pem().into_bytes()))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| from_sdk("ImportCertificate", e))?;
        let mut c = Created::new(out.certificate_arn().unwrap_or_default()).with("imported", "true");
        c.ready = true;
        Ok(c)
    }

    /// An imported certificate whose import was never recorded: the one carrying this
    /// object's tags.
    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let list = cx.clients.acm.list_certificates().send().await.map_err(|e| from_sdk("ListCertificates", e))?;
        for arn in list.certificate_summary_list().iter().filter_map(|c| c.certificate_arn()) {
            let tags = cx
                .clients
                .acm
                .list_tags_for_certificate()
                .certificate_arn(arn)
                .send()
                .await
                .map_err(|e| from_sdk("ListTagsForCertificate", e))?;
            let tag = |k: &str| tags.tags().iter().find(|t| t.key() == k).and_then(|t| t.value());
            if tag(super::TAG_ADDRESS) == Some(cx.address) && tag(super::TAG_DEPLOYMENT) == Some(cx.deployment) {
                return Ok(Some(Created::new(arn).with("imported", "true")));
            }
        }
        Ok(None)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx.clients.acm.describe_certificate().certificate_arn(id(obj)?).send().await;
        exists_from(r.map_err(|e| from_sdk("DescribeCertificate", e)), |_| true)
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        if obj.attribute("imported") != Some("true") {
            return Ok(()); // The operator's own certificate: not ours to delete.
        }
        let r = cx.clients.acm.delete_certificate().certificate_arn(id(obj)?).send().await;
        gone_ok(r.map_err(|e| from_sdk("DeleteCertificate", e)))
    }
}
