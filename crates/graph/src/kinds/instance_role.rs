//! `[[instance_role]]`: an IAM role for instances with its instance profile of the same
//! name and one inline policy granting exactly what the spec lists. Instances need it
//! *ready* (its profile usable by EC2). The policy names each database secret's ARN, which
//! RDS gives when the database is *created*; AWS does not tie the role to the database, so
//! those edges only pass a value and destroy need not wait for them.

use strato_spec::Stage;

use super::Module;
use crate::change::Recorder;
use crate::lower::Lowering;
use crate::{Address, Desired, Kind};

pub(super) const MODULE: Module = Module { declare, link: None, kinds: &[Kind::InstanceRole], inputs, in_place };

fn declare(lw: &mut Lowering) {
    let spec = lw.spec();
    for role in &spec.instance_roles {
        let id = lw.add(Address::whole(Kind::InstanceRole, &role.name.value), role.name.span);
        lw.name(id, role.name_in_aws(lw.deployment(), &spec.deployment.region.value));
        for db in &role.database_secrets {
            if let Some(to) = lw.id(Kind::DbInstance, &db.value) {
                lw.value_edge(id, to, Stage::Created, db.span);
            }
        }
        let d = Desired::InstanceRole {
            name: lw.aws_name(id).to_string(),
            secrets: lw.ids(Kind::DbInstance, &role.database_secrets),
            csr_challenge: role.csr_challenge,
        };
        lw.desire(id, d);
    }
}

fn inputs(d: &Desired, r: &mut Recorder<'_>) {
    if let Desired::InstanceRole { name, secrets, csr_challenge } = d {
        r.put("name", name);
        r.nodes("secrets", secrets);
        r.put("reads_challenge", csr_challenge);
    }
}

/// `PutRolePolicy` rewrites the inline policy; the role's name is fixed.
fn in_place(_kind: Kind, attribute: &str) -> bool {
    matches!(attribute, "secrets" | "reads_challenge")
}
