//! Plans of the reference architecture against a state that recorded it as provisioned:
//! which change updates in place, which replaces and how (rolling, or with downtime), what
//! follows a replaced object, what a removed entry deletes, and what drift repairs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use strato_graph::change::{inputs, Inputs};
use strato_graph::plan::{plan, Action, Live, Plan, Recorded};
use strato_graph::Graph;

fn reference() -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

fn graph(text: &str) -> (Graph, Vec<(String, String)>) {
    let (path, _) = reference();
    let doc = strato_spec::load_str("wso2-apim-ei.toml", &path, text.to_string());
    assert!(doc.diagnostics.iter().all(|d| d.severity == strato_spec::Severity::Warning), "{:?}", doc.diagnostics);
    let tags = doc.spec.deployment.tags.iter().map(|t| (t.key.value.clone(), t.value.value.clone())).collect();
    (Graph::from_document(&doc), tags)
}

/// Every attribute an object learns once it exists (an endpoint, an address).
fn known(_: &str, _: &str) -> Option<String> {
    Some("recorded".into())
}

/// The state of `text` provisioned: every node recorded with its inputs.
fn provisioned(text: &str) -> BTreeMap<String, Recorded> {
    let (g, tags) = graph(text);
    let lookup = |_: strato_graph::NodeId, _: &str| Some("recorded".to_string());
    (0..g.nodes().len())
        .map(strato_graph::NodeId)
        .map(|id| {
            let n = g.node(id);
            let r =
                Recorded { kind: n.kind.as_str().into(), inputs: Some(inputs(&g, id, &tags, &lookup)), complete: true };
            (n.address.to_string(), r)
        })
        .collect()
}

/// The plan of `after` against a state that recorded `before`.
fn plan_of(before: &str, after: &str, live: &BTreeMap<String, Live>) -> Plan {
    let recorded = provisioned(before);
    let (g, tags) = graph(after);
    plan(&g, &tags, &recorded, live, &known)
}

fn changed(p: &Plan) -> Vec<(String, Action)> {
    p.changes().map(|c| (c.address.clone(), c.action)).collect()
}

#[test]
fn an_unchanged_spec_plans_nothing() {
    let (_, text) = reference();
    let p = plan_of(&text, &text, &BTreeMap::new());
    assert_eq!(changed(&p), vec![]);
    assert_eq!(p.count(Action::NoChange), 111);
}

#[test]
fn an_instance_type_updates_in_place_with_the_group_named() {
    let (_, text) = reference();
    let after = text.replace("type = \"t2.large\"", "type = \"m5.xlarge\"");
    let p = plan_of(&text, &after, &BTreeMap::new());
    assert_eq!(
        changed(&p),
        vec![("instance.apim-1".into(), Action::Update), ("instance.apim-2".into(), Action::Update)]
    );
    let a = p.get("instance.apim-1").unwrap();
    assert_eq!(a.changes.len(), 1);
    assert_eq!(a.changes[0].attribute, "instance_type");
    assert_eq!(a.changes[0].old.as_deref(), Some("t2.large"));
    assert_eq!(a.changes[0].new.as_deref(), Some("m5.xlarge"));
    assert!(a.downtime, "the instance stops");
    assert_eq!(a.group, p.get("instance.apim-2").unwrap().group, "one group, one node at a time");
    assert!(a.group.is_some());
}

#[test]
fn a_new_node_is_created_with_its_registrations_and_nothing_else_changes() {
    let (_, text) = reference();
    let three =
        text.replacen("count = 2\nsubnets = [\"app-a\", \"app-b\"]", "count = 3\nsubnets = [\"app-a\", \"app-b\"]", 1);
    let p = plan_of(&text, &three, &BTreeMap::new());
    let mut got = changed(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("instance.apim-3".into(), Action::Create),
            ("target_group.apim-devportal.target[apim-3]".into(), Action::Create),
            ("target_group.apim-gateway.target[apim-3]".into(), Action::Create),
            ("target_group.apim-management.target[apim-3]".into(), Action::Create),
        ]
    );
    // And back: the node and its registrations are deleted.
    let p = plan_of(&three, &text, &BTreeMap::new());
    assert_eq!(p.count(Action::Delete), 4);
    assert_eq!(p.changes().count(), 4);
}

#[test]
fn a_new_puppet_address_replaces_the_server_and_its_agents_by_rolling() {
    let (_, text) = reference();
    let after = text.replace("private_ip = \"10.0.30.10\"", "private_ip = \"10.0.30.20\"");
    let p = plan_of(&text, &after, &BTreeMap::new());
    let puppet = p.get("instance.puppet").unwrap();
    assert_eq!(puppet.action, Action::Replace);
    assert!(puppet.replace_because.contains(&"private_ip".to_string()));
    assert!(puppet.rolling && !puppet.downtime, "a new address: old and new side by side");
    let ei = p.get("instance.ei-1").unwrap();
    assert_eq!((ei.action, ei.rolling, ei.downtime), (Action::Replace, true, false));
    assert_eq!(ei.replace_because, vec!["user_data".to_string()]);
    let reg = p.get("target_group.ei-services.target[ei-1]").unwrap();
    assert_eq!((reg.action, reg.rolling), (Action::Replace, true), "a registration follows its instance");
    assert!(p.changes().all(|c| c.action == Action::Replace), "nothing else changes");
    assert!(p.get("instance.bastion").is_some_and(|b| b.action == Action::NoChange), "the bastion has no agent");
}

#[test]
fn a_fixed_address_kept_is_replaced_with_downtime() {
    let (_, text) = reference();
    // The Puppet server's root volume size: a new instance, at the same fixed address.
    let after = text.replacen("root_volume = { size_gb = 30 }", "root_volume = { size_gb = 40 }", 1);
    let p = plan_of(&text, &after, &BTreeMap::new());
    let puppet = p.get("instance.puppet").unwrap();
    assert_eq!(puppet.action, Action::Replace);
    assert!(!puppet.rolling && puppet.downtime, "two instances cannot hold 10.0.30.10 at once");
}

#[test]
fn a_replaced_subnet_takes_its_instances_with_it() {
    let (_, text) = reference();
    let at = text.find("name = \"app-a\"").unwrap();
    let cidr = text[at..].find("cidr = ").unwrap() + at;
    let end = text[cidr..].find('\n').unwrap() + cidr;
    let after = format!("{}cidr = \"10.0.40.0/24\"{}", &text[..cidr], &text[end..]);
    let p = plan_of(&text, &after, &BTreeMap::new());
    assert_eq!(p.get("subnet.app-a").unwrap().action, Action::Replace);
    let apim = p.get("instance.apim-1").unwrap();
    assert_eq!(apim.action, Action::Replace);
    assert_eq!(apim.replace_because, vec!["subnet.app-a is replaced".to_string()]);
    assert!(!apim.rolling && apim.downtime, "its subnet goes first");
    assert_eq!(p.get("instance.apim-2").unwrap().action, Action::NoChange, "apim-2 is in app-b");
}

#[test]
fn a_database_is_replaced_only_with_the_specs_consent() {
    let (_, text) = reference();
    let after = text.replacen("storage_encrypted = true", "storage_encrypted = false", 1);
    let p = plan_of(&text, &after, &BTreeMap::new());
    let db = p.get("database.apim-db").unwrap();
    assert_eq!(db.action, Action::Replace);
    assert!(db.refused.as_deref().is_some_and(|r| r.contains("allow_replacement")), "{:?}", db.refused);
    let allowed = after.replacen("storage_encrypted = false", "storage_encrypted = false\nallow_replacement = true", 1);
    let p = plan_of(&text, &allowed, &BTreeMap::new());
    assert!(p.get("database.apim-db").unwrap().refused.is_none());
    // A class is changed in place, consent or not.
    let class = text.replacen("instance_class = \"db.m5.large\"", "instance_class = \"db.r5.xlarge\"", 1);
    let p = plan_of(&text, &class, &BTreeMap::new());
    assert_eq!(changed(&p), vec![("database.apim-db".into(), Action::Update)]);
}

#[test]
fn drift_is_repaired_from_what_aws_reports() {
    let (_, text) = reference();
    let recorded = provisioned(&text);
    let rules = recorded["security_group.bastion.rules"].inputs.clone().unwrap();
    // A rule revoked by hand: AWS reports the group's rules without it.
    let mut live_rules: Inputs = rules.clone();
    let revoked = live_rules.keys().find(|k| k.starts_with("rule[")).unwrap().clone();
    live_rules.remove(&revoked);
    let mut live = BTreeMap::new();
    live.insert(
        "security_group.bastion.rules".to_string(),
        Live { exists: true, inputs: live_rules, transition: None, sets: vec!["rule["] },
    );
    // An instance terminated by hand.
    live.insert("instance.ei-1".to_string(), Live { exists: false, ..Live::default() });
    let p = plan_of(&text, &text, &live);
    let r = p.get("security_group.bastion.rules").unwrap();
    assert_eq!(r.action, Action::Update);
    assert!(r.drifted());
    assert_eq!(r.changes[0].attribute, revoked);
    assert_eq!(r.changes[0].old, None, "AWS no longer has it");
    let ei = p.get("instance.ei-1").unwrap();
    assert!(ei.action == Action::Create && ei.missing);
    // Its registrations name the instance's new id: they are made again.
    assert_eq!(p.get("target_group.ei-services.target[ei-1]").unwrap().action, Action::Replace);
}

#[test]
fn tags_change_in_place_on_every_taggable_object() {
    let (_, text) = reference();
    let after = text.replace("Environment = \"production\"", "Environment = \"staging\"");
    let p = plan_of(&text, &after, &BTreeMap::new());
    assert!(p.changes().all(|c| c.action == Action::Update && c.changes.len() == 1));
    assert!(p.changes().all(|c| strato_graph::change::taggable(c.kind)));
    assert!(p.get("route_table.public.route[0.0.0.0/0]").is_some_and(|r| r.action == Action::NoChange));
    assert_eq!(p.changes().count(), 82);
}

#[test]
fn a_group_that_kept_objects_use_is_not_deleted_under_them() {
    let (_, text) = reference();
    // AWS cannot change a group's description: a new group, under the same name, which
    // means deleting the old one first, while the databases (updated in place to the new
    // group) still use it.
    let after = text.replace("description = \"RDS MySQL databases\"", "description = \"MySQL\"");
    let p = plan_of(&text, &after, &BTreeMap::new());
    let sg = p.get("security_group.rds").unwrap();
    assert_eq!(sg.action, Action::Replace);
    let why = sg.refused.as_deref().expect("refused");
    assert!(why.contains("database.apim-db"), "{why}");
    // The same for the file system's group: its mount targets change groups in place.
    let after = text.replace("description = \"EFS mount targets\"", "description = \"NFS\"");
    let p = plan_of(&text, &after, &BTreeMap::new());
    let why = p.get("security_group.efs").unwrap().refused.clone().expect("refused");
    assert!(why.contains("mount_target"), "{why}");
    assert_eq!(p.get("security_group.efs.rules").unwrap().action, Action::Replace, "its own rules go with it");
}

#[test]
fn a_certificate_is_replaced_beside_the_old_one() {
    let (_, text) = reference();
    let after = text.replace(
        "domains = [\"wso2.example.com\", \"*.wso2.example.com\"]",
        "domains = [\"wso2.example.org\", \"*.wso2.example.org\"]",
    );
    let p = plan_of(&text, &after, &BTreeMap::new());
    let c = p.get("certificate.wso2").unwrap();
    assert_eq!((c.action, c.rolling, c.downtime), (Action::Replace, true, false));
    assert!(c.refused.is_none());
    // Its listeners move to the new one in place.
    let https = p.changes().filter(|x| x.kind == strato_graph::Kind::Listener).collect::<Vec<_>>();
    assert!(!https.is_empty() && https.iter().all(|l| l.action == Action::Update), "{https:?}");
}
