//! `[[key_pair]]`: an EC2 key pair imported from a public key, given inline or in a file
//! next to the spec. It needs nothing; instances need it *created*.

use super::Module;
use crate::change::{fingerprint, Recorder};
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::KeyPair], inputs, in_place };

fn declare(lw: &mut Lowering) {
    let doc = lw.doc();
    for kp in &doc.spec.key_pairs {
        let id = lw.add(Address::whole(Kind::KeyPair, &kp.name.value), kp.name.span);
        let key = match (&kp.public_key_file, &kp.public_key) {
            (Some(f), _) => doc.file_text(&f.value).map(str::to_string),
            (None, Some(k)) => Some(k.value.clone()),
            _ => None,
        };
        if let Some(key) = key {
            lw.desire(id, Desired::KeyPair { public_key: key.trim().to_string() });
        }
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::KeyPair { public_key } = d {
        r.put("public_key", fingerprint(public_key));
    }
}

/// EC2 has no call that changes a key pair's key: a new one is imported.
fn in_place(_kind: Kind, _attribute: &str) -> bool {
    false
}
