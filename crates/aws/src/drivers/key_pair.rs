//! SSH key pair: ImportKeyPair of the operators' public key, named `<deployment>-<name>`.
//! Only the public half ever passes through strato.

use async_trait::async_trait;
use aws_sdk_ec2::primitives::Blob;
use aws_sdk_ec2::types::ResourceType;
use strato_graph::Desired;
use strato_state::Object;

use super::{exists_from, gone_ok, id, mismatch, Created, Cx, Driver};
use crate::error::{from_sdk, AwsError};

pub struct KeyPair;

#[async_trait]
impl Driver for KeyPair {
    async fn create(&self, cx: &Cx<'_>, desired: &Desired, _token: &str) -> Result<Created, AwsError> {
        let Desired::KeyPair { public_key } = desired else {
            return Err(mismatch("ImportKeyPair"));
        };
        let result = cx
            .clients
            .ec2
            .import_key_pair()
            .key_name(cx.name())
            .public_key_material(Blob::new(public_key.as_bytes()))
            .tag_specifications(cx.tag_spec(ResourceType::KeyPair))
            .send()
            .await
            .map_err(|e| from_sdk("ImportKeyPair", e));
        let mut c = match result {
            Ok(out) => Created::new(out.key_pair_id().unwrap_or_default())
                .with("name", cx.name())
                .with("fingerprint", out.key_fingerprint().unwrap_or_default()),
            Err(e) if e.code_is(&["InvalidKeyPair.Duplicate"]) => {
                // Names are unique per region: adopted only when it is this one.
                let out = cx
                    .clients
                    .ec2
                    .describe_key_pairs()
                    .key_names(cx.name())
                    .send()
                    .await
                    .map_err(|e| from_sdk("DescribeKeyPairs", e))?;
                let k = out.key_pairs().first().ok_or(e)?;
                let tags = super::ec2_pairs(k.tags());
                if !cx.is_this(&tags) {
                    return Err(cx.foreign("ImportKeyPair", "key pair", &tags));
                }
                Created::new(k.key_pair_id().unwrap_or_default())
                    .with("name", k.key_name().unwrap_or_default())
                    .with("fingerprint", k.key_fingerprint().unwrap_or_default())
            }
            Err(e) => return Err(e),
        };
        c.ready = true;
        Ok(c)
    }

    async fn exists(&self, cx: &Cx<'_>, obj: &Object) -> Result<bool, AwsError> {
        let r = cx
            .clients
            .ec2
            .describe_key_pairs()
            .key_pair_ids(id(obj)?)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeKeyPairs", e));
        exists_from(r, |o| !o.key_pairs().is_empty())
    }

    async fn find(&self, cx: &Cx<'_>, _obj: &Object) -> Result<Option<Created>, AwsError> {
        let out = cx
            .clients
            .ec2
            .describe_key_pairs()
            .set_filters(Some(cx.tag_filters()))
            .send()
            .await
            .map_err(|e| from_sdk("DescribeKeyPairs", e))?;
        Ok(out.key_pairs().first().map(|k| {
            Created::new(k.key_pair_id().unwrap_or_default())
                .with("name", k.key_name().unwrap_or_default())
                .with("fingerprint", k.key_fingerprint().unwrap_or_default())
        }))
    }

    async fn delete(&self, cx: &Cx<'_>, obj: &Object) -> Result<(), AwsError> {
        // By name when known: names are unique per region, and some emulators ignore a
        // delete by id alone.
        let call = match obj.attribute("name") {
            Some(name) => cx.clients.ec2.delete_key_pair().key_name(name),
            None => cx.clients.ec2.delete_key_pair().key_pair_id(id(obj)?),
        };
        gone_ok(call.send().await.map_err(|e| from_sdk("DeleteKeyPair", e)))
    }
}
