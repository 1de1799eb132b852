//! Day two, on the AWS-faithful layer (`tests/aws/`) with every rule on: a live deployment
//! of the reference architecture changed the ways an operator changes it. For each change,
//! `plan` names it exactly, `provision` applies it, the live objects (read back through the
//! SDK) match the spec, and a second `plan` has nothing left to do. Replacements of nodes
//! behind target groups roll one member at a time, with a healthy target in every group
//! throughout; drift made behind strato's back is named by `status` and repaired by
//! `provision`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{all_rules, base64_decode, json_out, mutating, reference_copy, runtime, stderr, Session};
use serde_json::{json, Value};

fn session(seed: u64) -> Session {
    Session::new(json!({ "seed": seed, "scale": 60.0, "rules": all_rules() }))
}

/// A live deployment of (an editable copy of) the reference spec.
struct Live {
    s: Session,
    spec: std::path::PathBuf,
    state: std::path::PathBuf,
    _dir: std::path::PathBuf,
}

impl Live {
    fn new(name: &str, seed: u64) -> Live {
        Live::with(name, seed, |t| t)
    }

    /// A live deployment of the reference spec as `edit` changes it.
    fn with(name: &str, seed: u64, edit: impl Fn(String) -> String) -> Live {
        let s = session(seed);
        let (dir, spec) = reference_copy(name, edit);
        let state = dir.join("state");
        let live = Live { s, spec, state, _dir: dir };
        let out = live.run(&["provision", "--output", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        live
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut full: Vec<&str> = vec![args[0], self.spec.to_str().unwrap()];
        full.extend(&args[1..]);
        self.s.strato(&full, &self.state)
    }

    fn edit(&self, edit: impl Fn(String) -> String) {
        let text = std::fs::read_to_string(&self.spec).unwrap();
        let changed = edit(text.clone());
        assert_ne!(text, changed, "the edit changes the spec");
        std::fs::write(&self.spec, changed).unwrap();
    }

    /// `plan --output json`: the objects that change, by address, with their action.
    fn plan(&self) -> Value {
        let out = self.run(&["plan", "--output", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json_out(&out)
    }

    /// Applies the spec and checks that nothing is left to do: `plan --detailed-exitcode`
    /// exits 0, with no mutating call.
    fn apply(&self) -> Value {
        let out = self.run(&["provision", "--yes", "--output", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        let before = mutating(&self.s);
        let again = self.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(again.status.code(), Some(0), "nothing left to do:\n{}", String::from_utf8_lossy(&again.stdout));
        assert_eq!(mutating(&self.s), before, "plan only reads");
        json_out(&out)
    }

    fn sdk(&self) -> aws_config::SdkConfig {
        runtime().block_on(self.s.sdk())
    }

    fn state(&self) -> Value {
        let path = self.state.join("wso2").join("state.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn id(&self, address: &str) -> String {
        self.state()["objects"][address]["id"].as_str().unwrap_or_else(|| panic!("{address} recorded")).to_string()
    }
}

/// The planned objects whose action is not `no-change`: address → (action, changed
/// attributes).
fn changes(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] != "no-change")
        .map(|o| {
            let attrs = o["changes"].as_array().unwrap().iter().map(|c| c["attribute"].as_str().unwrap().to_string());
            (o["address"].as_str().unwrap().to_string(), o["action"].as_str().unwrap().to_string(), attrs.collect())
        })
        .collect()
}

fn only(plan: &Value, expected: &[(&str, &str, &[&str])]) {
    let got = changes(plan);
    let want: Vec<(String, String, Vec<String>)> = expected
        .iter()
        .map(|(a, action, attrs)| (a.to_string(), action.to_string(), attrs.iter().map(|s| s.to_string()).collect()))
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut want_sorted = want;
    want_sorted.sort();
    assert_eq!(got_sorted, want_sorted, "the plan names exactly the change");
}

fn instance(sdk: &aws_config::SdkConfig, id: &str) -> aws_sdk_ec2::types::Instance {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    runtime().block_on(async {
        let out = ec2.describe_instances().instance_ids(id).send().await.unwrap();
        out.reservations()[0].instances()[0].clone()
    })
}

/// Ingress of a group as `(protocol, from, to, source)`.
fn ingress(sdk: &aws_config::SdkConfig, group: &str) -> Vec<(String, i32, i32, String)> {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    runtime().block_on(async {
        let f = aws_sdk_ec2::types::Filter::builder().name("group-id").values(group).build();
        let out = ec2.describe_security_group_rules().filters(f).send().await.unwrap();
        let mut rules: Vec<_> = out
            .security_group_rules()
            .iter()
            .filter(|r| r.is_egress() != Some(true))
            .map(|r| {
                let source = r
                    .cidr_ipv4()
                    .map(str::to_string)
                    .or_else(|| r.referenced_group_info().and_then(|g| g.group_id()).map(str::to_string))
                    .unwrap_or_default();
                (r.ip_protocol().unwrap_or_default().to_string(), r.from_port().unwrap(), r.to_port().unwrap(), source)
            })
            .collect();
        rules.sort();
        rules
    })
}

fn db_class(sdk: &aws_config::SdkConfig, ident: &str) -> String {
    let rds = aws_sdk_rds::Client::new(sdk);
    runtime().block_on(async {
        let out = rds.describe_db_instances().db_instance_identifier(ident).send().await.unwrap();
        out.db_instances()[0].db_instance_class().unwrap().to_string()
    })
}

fn target_ids(sdk: &aws_config::SdkConfig, tg: &str) -> Vec<(String, String)> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    runtime().block_on(async {
        let out = elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
        let mut t: Vec<(String, String)> = out
            .target_health_descriptions()
            .iter()
            .map(|d| {
                let id = d.target().and_then(|t| t.id()).unwrap_or_default().to_string();
                let state = d.target_health().and_then(|h| h.state()).map_or("", |s| s.as_str()).to_string();
                (id, state)
            })
            .collect();
        t.sort();
        t
    })
}

fn user_data(sdk: &aws_config::SdkConfig, id: &str) -> String {
    let ec2 = aws_sdk_ec2::Client::new(sdk);
    runtime().block_on(async {
        let out = ec2
            .describe_instance_attribute()
            .instance_id(id)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await
            .unwrap();
        let b64 = out.user_data().and_then(|u| u.value()).unwrap_or_default().to_string();
        String::from_utf8(base64_decode(&b64)).unwrap()
    })
}

/// Each change of the operator trial, one after the other on one live deployment.
#[test]
fn each_change_of_the_operator_trial_is_planned_applied_and_done() {
    let d = Live::new("trial", 91);
    let sdk = d.sdk();

    // An unchanged deployment: nothing to do, and planning it only reads.
    let before = mutating(&d.s);
    let out = d.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No changes"));
    assert_eq!(mutating(&d.s), before, "plan makes read calls only");
    only(&d.plan(), &[]);
    let out = d.run(&["plan", "--detailed-exitcode", "--refresh=false"]);
    assert_eq!(out.status.code(), Some(0));

    // The API Manager's instance type: in place, stopped and started one node at a time.
    let apim_1 = d.id("instance.apim-1");
    d.edit(|t| t.replace("type = \"t2.large\"", "type = \"m5.xlarge\""));
    let detailed = d.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(detailed.status.code(), Some(2), "changes: exit 2");
    only(
        &d.plan(),
        &[("instance.apim-1", "update", &["instance_type"]), ("instance.apim-2", "update", &["instance_type"])],
    );
    let refused = d.run(&["provision"]);
    assert_eq!(refused.status.code(), Some(2), "no change to existing objects without --yes");
    assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
    let applied = d.apply();
    assert_eq!(applied["updated"], 2);
    assert_eq!(d.id("instance.apim-1"), apim_1, "the same instance");
    for a in ["instance.apim-1", "instance.apim-2"] {
        let i = instance(&sdk, &d.id(a));
        assert_eq!(i.instance_type().unwrap().as_str(), "m5.xlarge", "{a}");
        assert_eq!(i.state().unwrap().name().unwrap().as_str(), "running", "{a}");
    }

    // A rule added (NFS port 2999), an admin CIDR changed (one rule revoked, one added).
    d.edit(|t| {
        t.replace("ports = [2049]", "ports = [2049, 2999]")
            .replace("admin = [\"203.0.113.0/24\"]", "admin = [\"192.0.2.0/24\"]")
    });
    let plan = d.plan();
    only(
        &plan,
        &[
            ("security_group.efs.rules", "update", &["rule[tcp 2999 from security_group.apim]"]),
            (
                "security_group.bastion.rules",
                "update",
                &["rule[tcp 22 from 192.0.2.0/24]", "rule[tcp 22 from 203.0.113.0/24]"],
            ),
        ],
    );
    d.apply();
    let bastion = d.state()["objects"]["security_group.bastion"]["id"].as_str().unwrap().to_string();
    assert_eq!(ingress(&sdk, &bastion), vec![("tcp".into(), 22, 22, "192.0.2.0/24".into())]);
    let efs = d.id("security_group.efs");
    let apim_sg = d.id("security_group.apim");
    assert_eq!(
        ingress(&sdk, &efs),
        vec![("tcp".into(), 2049, 2049, apim_sg.clone()), ("tcp".into(), 2999, 2999, apim_sg)]
    );

    // The deployment's tags: a changed value and a new key, on every taggable object.
    d.edit(|t| t.replace("Environment = \"production\"", "Environment = \"staging\"\nOwner = \"team-blue\""));
    let plan = d.plan();
    let tagged = changes(&plan);
    assert!(tagged.iter().all(|(_, action, attrs)| action == "update"
        && attrs == &vec!["tag:Environment".to_string(), "tag:Owner".to_string()]));
    assert!(tagged.iter().any(|(a, _, _)| a == "database.apim-db"));
    assert!(tagged.iter().any(|(a, _, _)| a == "load_balancer.apim-public"));
    assert!(!tagged.iter().any(|(a, _, _)| a.contains(".target[") || a.contains(".route[")), "untaggable kinds");
    d.apply();
    let i = instance(&sdk, &d.id("instance.apim-1"));
    let tag = |k: &str| i.tags().iter().find(|t| t.key() == Some(k)).and_then(|t| t.value()).map(str::to_string);
    assert_eq!(tag("Environment").as_deref(), Some("staging"));
    assert_eq!(tag("Owner").as_deref(), Some("team-blue"));
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let lb_tags = runtime().block_on(async {
        let out = elb.describe_tags().resource_arns(d.id("load_balancer.apim-public")).send().await.unwrap();
        out.tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect::<Vec<_>>()
    });
    assert!(lb_tags.contains(&("Environment".into(), "staging".into())), "{lb_tags:?}");

    // The API Manager database's class, applied now.
    d.edit(|t| {
        t.replacen("instance_class = \"db.m5.large\"", "instance_class = \"db.r5.xlarge\"\napply_immediately = true", 1)
    });
    only(&d.plan(), &[("database.apim-db", "update", &["instance_class"])]);
    d.apply();
    assert_eq!(db_class(&sdk, &d.id("database.apim-db")), "db.r5.xlarge");

    // Node count 2 -> 3 -> 2: one node and its three registrations come and go; the
    // others are untouched.
    let apim_2 = d.id("instance.apim-2");
    let gateway = d.id("target_group.apim-gateway");
    d.edit(|t| {
        t.replacen("count = 2\nsubnets = [\"app-a\", \"app-b\"]", "count = 3\nsubnets = [\"app-a\", \"app-b\"]", 1)
    });
    only(
        &d.plan(),
        &[
            ("instance.apim-3", "create", &[]),
            ("target_group.apim-gateway.target[apim-3]", "create", &[]),
            ("target_group.apim-devportal.target[apim-3]", "create", &[]),
            ("target_group.apim-management.target[apim-3]", "create", &[]),
        ],
    );
    d.apply();
    let apim_3 = d.id("instance.apim-3");
    let ids: Vec<String> = target_ids(&sdk, &gateway).into_iter().map(|(id, _)| id).collect();
    assert!(ids.contains(&apim_3) && ids.contains(&apim_2) && ids.contains(&apim_1), "{ids:?}");
    d.edit(|t| {
        t.replacen("count = 3\nsubnets = [\"app-a\", \"app-b\"]", "count = 2\nsubnets = [\"app-a\", \"app-b\"]", 1)
    });
    only(
        &d.plan(),
        &[
            ("instance.apim-3", "delete", &[]),
            ("target_group.apim-gateway.target[apim-3]", "delete", &[]),
            ("target_group.apim-devportal.target[apim-3]", "delete", &[]),
            ("target_group.apim-management.target[apim-3]", "delete", &[]),
        ],
    );
    let applied = d.apply();
    assert_eq!(applied["deleted"], 4);
    let ids: Vec<String> = target_ids(&sdk, &gateway).into_iter().map(|(id, _)| id).collect();
    assert!(!ids.contains(&apim_3), "apim-3 is no longer registered: {ids:?}");
    assert_eq!(instance(&sdk, &apim_3).state().unwrap().name().unwrap().as_str(), "terminated");
    assert_eq!(d.id("instance.apim-1"), apim_1, "the others are untouched");

    // The Puppet server's address: a new server, and every agent told the new address
    // (their user data changes, so they are replaced, rolling).
    d.edit(|t| t.replace("private_ip = \"10.0.30.10\"", "private_ip = \"10.0.30.20\""));
    let plan = d.plan();
    let puppet = plan["objects"].as_array().unwrap().iter().find(|o| o["address"] == "instance.puppet").unwrap();
    assert_eq!(puppet["action"], "replace");
    let attrs: Vec<&str> =
        puppet["changes"].as_array().unwrap().iter().map(|c| c["attribute"].as_str().unwrap()).collect();
    assert!(attrs.contains(&"private_ip"), "{attrs:?}");
    let ei = plan["objects"].as_array().unwrap().iter().find(|o| o["address"] == "instance.ei-1").unwrap();
    assert_eq!(ei["action"], "replace");
    assert_eq!(ei["rolling"], true);
    assert_eq!(ei["replace_because"], json!(["user_data"]));
    assert!(changes(&plan)
        .iter()
        .all(|(a, action, _)| action == "replace" && (a.starts_with("instance.") || a.contains(".target["))));
    d.apply();
    assert_eq!(instance(&sdk, &d.id("instance.puppet")).private_ip_address(), Some("10.0.30.20"));
    let ud = user_data(&sdk, &d.id("instance.ei-1"));
    assert!(ud.contains("10.0.30.20") && !ud.contains("10.0.30.10"), "the agents point at the new address");
    assert_ne!(d.id("instance.apim-1"), apim_1, "replaced");

    // A route's target, a listener rule's host, a health check and the mount targets'
    // groups: each changed in place (ReplaceRoute, ModifyRule, ModifyTargetGroup,
    // ModifyMountTargetSecurityGroups), nothing replaced.
    d.edit(|t| {
        t.replace(
            "route = [{ destination = \"0.0.0.0/0\", nat_gateway = \"nat-b\" }]",
            "route = [{ destination = \"0.0.0.0/0\", nat_gateway = \"nat-a\" }]",
        )
        .replace("hosts = [\"devportal.${deployment.domain}\"]", "hosts = [\"portal.${deployment.domain}\"]")
        .replace("path = \"/services/Version\"", "path = \"/services/Version2\"")
        .replacen("security_groups = [\"efs\"]\n", "security_groups = [\"efs\", \"apim\"]\n", 1)
    });
    only(
        &d.plan(),
        &[
            ("route_table.private-b.route[0.0.0.0/0]", "update", &["target"]),
            ("load_balancer.apim-public.listener[443].rule[10]", "update", &["hosts"]),
            ("target_group.apim-gateway", "update", &["health_path"]),
            ("file_system.apim-shared.mount_target[app-a]", "update", &["security_groups"]),
            ("file_system.apim-shared.mount_target[app-b]", "update", &["security_groups"]),
            ("file_system.apim-shared.mount_target[app-c]", "update", &["security_groups"]),
        ],
    );
    let rule = d.id("load_balancer.apim-public.listener[443].rule[10]");
    d.apply();
    assert_eq!(d.id("load_balancer.apim-public.listener[443].rule[10]"), rule, "the same rule");
    runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let rtb = d.id("route_table.private-b");
        let out = ec2.describe_route_tables().route_table_ids(&rtb).send().await.unwrap();
        let route = out.route_tables()[0]
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .unwrap()
            .clone();
        assert_eq!(route.nat_gateway_id(), Some(d.id("nat_gateway.nat-a").as_str()));
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
        let out = elb.describe_rules().rule_arns(&rule).send().await.unwrap();
        let hosts: Vec<String> = out.rules()[0]
            .conditions()
            .iter()
            .filter_map(|c| c.host_header_config())
            .flat_map(|h| h.values().to_vec())
            .collect();
        assert_eq!(hosts, vec!["portal.wso2.example.com".to_string()]);
        let out = elb.describe_target_groups().target_group_arns(&gateway).send().await.unwrap();
        assert_eq!(out.target_groups()[0].health_check_path(), Some("/services/Version2"));
        let efs = aws_sdk_efs::Client::new(&sdk);
        let mt = d.id("file_system.apim-shared.mount_target[app-a]");
        let out = efs.describe_mount_target_security_groups().mount_target_id(&mt).send().await.unwrap();
        let mut groups = out.security_groups().to_vec();
        groups.sort();
        let mut want = vec![d.id("security_group.efs"), d.id("security_group.apim")];
        want.sort();
        assert_eq!(groups, want);
    });

    let out = d.run(&["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A new image for the API Manager pair: each node is replaced by a new one that is
/// healthy in all its target groups before the old one is deregistered, drained and
/// terminated, one node at a time. Sampled through `DescribeTargetHealth` throughout: every
/// group always has two healthy targets (the pair never loses a serving member).
#[test]
fn a_rolling_replacement_keeps_every_target_group_in_service() {
    let d = Live::new("rolling", 92);
    let sdk = d.sdk();
    let groups: Vec<String> = ["apim-gateway", "apim-devportal", "apim-management"]
        .iter()
        .map(|g| d.id(&format!("target_group.{g}")))
        .collect();
    let old: Vec<String> = ["instance.apim-1", "instance.apim-2"].iter().map(|a| d.id(a)).collect();
    let current = instance(&sdk, &old[0]).image_id().unwrap().to_string();
    let other = runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let out = ec2.describe_images().owners("amazon").send().await.unwrap();
        out.images().iter().filter_map(|i| i.image_id()).find(|id| *id != current).unwrap().to_string()
    });
    // A second alias for the same OS on another AMI, for the API Manager entry only.
    d.edit(|t| {
        let alias = format!("[image]\nal2023-next = {{ ami = \"{other}\", os = \"amazon-2023\" }}\n");
        t.replacen("[image]\n", &alias, 1).replacen(
            "type = \"t2.large\"\nimage = \"al2023\"",
            "type = \"t2.large\"\nimage = \"al2023-next\"",
            1,
        )
    });
    let plan = d.plan();
    let rolling: Vec<(String, String, Vec<String>)> = changes(&plan);
    assert!(rolling.iter().any(|(a, action, attrs)| a == "instance.apim-1"
        && action == "replace"
        && attrs == &vec!["image".to_string()]));
    assert!(plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "replace")
        .all(|o| o["rolling"] == true && o["downtime"] == false));

    // Sample every group's health while the replacement runs.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (done, sdk, groups) = (done.clone(), sdk.clone(), groups.clone());
        std::thread::spawn(move || {
            let mut samples: Vec<(usize, Vec<(String, String)>)> = Vec::new();
            let mut i = 0;
            let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
            let rt = runtime();
            while !done.load(Ordering::SeqCst) {
                let g = i % groups.len();
                // The account's ELB bucket is shared with strato: a throttled sample is
                // skipped, not a failure.
                let answer = rt.block_on(elb.describe_target_health().target_group_arn(&groups[g]).send());
                if let Ok(out) = answer {
                    let targets = out
                        .target_health_descriptions()
                        .iter()
                        .map(|d| {
                            let id = d.target().and_then(|t| t.id()).unwrap_or_default().to_string();
                            let state = d.target_health().and_then(|h| h.state()).map_or("", |s| s.as_str());
                            (id, state.to_string())
                        })
                        .collect();
                    samples.push((g, targets));
                    i += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            samples
        })
    };
    let out = d.run(&["provision", "--yes", "--output", "json"]);
    done.store(true, Ordering::SeqCst);
    let samples = sampler.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(samples.len() > 10, "sampled throughout: {}", samples.len());
    for (g, targets) in &samples {
        // Both nodes of the pair serve at every instant: a node leaves its group only once
        // its successor is healthy in it, and only one node is replaced at a time.
        let healthy = targets.iter().filter(|(_, s)| s == "healthy").count();
        assert!(healthy >= 2, "target group {} had {healthy} healthy target(s): {targets:?}", groups[*g]);
    }
    // The replacement went one node at a time: some sample saw a new node healthy next to an
    // old one still serving.
    assert!(samples.iter().any(|(_, t)| {
        t.iter().any(|(id, s)| old.contains(id) && s == "healthy")
            && t.iter().any(|(id, s)| !old.contains(id) && s == "healthy")
    }));
    let new: Vec<String> = ["instance.apim-1", "instance.apim-2"].iter().map(|a| d.id(a)).collect();
    for (n, o) in new.iter().zip(&old) {
        assert_ne!(n, o);
        assert_eq!(instance(&sdk, n).image_id(), Some(other.as_str()));
        assert_eq!(instance(&sdk, o).state().unwrap().name().unwrap().as_str(), "terminated");
    }
    for g in &groups {
        let ids: Vec<String> = target_ids(&sdk, g).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids.iter().filter(|id| new.contains(id)).count(), 2, "{ids:?}");
        assert!(!ids.iter().any(|id| old.contains(id)), "old nodes deregistered: {ids:?}");
    }
    let again = d.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stdout));
    let out = d.run(&["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Drift made by hand: an instance terminated, a rule revoked, a database class changed.
/// `status` names each (missing; the rule; the class, expected and actual) and exits 1;
/// `provision` repairs all three, and `status` is then in sync.
#[test]
fn drift_is_named_by_status_and_repaired_by_provision() {
    // Applied now, not in the maintenance window: the repair is seen at once.
    let d = Live::with("drift", 93, |t| {
        t.replacen("instance_class = \"db.m5.large\"", "instance_class = \"db.m5.large\"\napply_immediately = true", 1)
    });
    let sdk = d.sdk();
    let out = d.run(&["status", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "in sync after provisioning:\n{}", String::from_utf8_lossy(&out.stdout));

    let ei_1 = d.id("instance.ei-1");
    let bastion = d.id("security_group.bastion");
    let db = d.id("database.apim-db");
    runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        ec2.terminate_instances().instance_ids(&ei_1).send().await.unwrap();
        let f = aws_sdk_ec2::types::Filter::builder().name("group-id").values(&bastion).build();
        let rules = ec2.describe_security_group_rules().filters(f).send().await.unwrap();
        let ssh = rules.security_group_rules().iter().find(|r| r.is_egress() != Some(true)).unwrap();
        ec2.revoke_security_group_ingress()
            .group_id(&bastion)
            .security_group_rule_ids(ssh.security_group_rule_id().unwrap())
            .send()
            .await
            .unwrap();
        let rds = aws_sdk_rds::Client::new(&sdk);
        rds.modify_db_instance()
            .db_instance_identifier(&db)
            .db_instance_class("db.t3.medium")
            .apply_immediately(true)
            .send()
            .await
            .unwrap();
    });
    let out = d.run(&["status", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "not in sync: exit 1");
    let status = json_out(&out);
    let row = |a: &str| status["objects"].as_array().unwrap().iter().find(|o| o["address"] == a).unwrap().clone();
    let ei = row("instance.ei-1");
    assert!(ei["status"] == "missing" || ei["status"].as_str().unwrap().starts_with("in transition"), "{ei}");
    let rules = row("security_group.bastion.rules");
    assert_eq!(rules["status"], "changed", "{rules}");
    assert_eq!(rules["changed"][0]["attribute"], "rule[tcp 22 from 203.0.113.0/24]");
    assert_eq!(rules["changed"][0]["actual"], Value::Null);
    let database = row("database.apim-db");
    assert_eq!(database["status"], "changed", "{database}");
    let class = database["changed"].as_array().unwrap().iter().find(|c| c["attribute"] == "instance_class").unwrap();
    assert_eq!(class["expected"], "db.m5.large");
    assert_eq!(class["actual"], "db.t3.medium");
    let text = d.run(&["status"]);
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("instance_class: expected \"db.m5.large\", actual \"db.t3.medium\""), "{text}");

    // The plan repairs what drifted.
    let plan = d.plan();
    let by = |a: &str| plan["objects"].as_array().unwrap().iter().find(|o| o["address"] == a).unwrap().clone();
    assert_eq!(by("security_group.bastion.rules")["drifted"], true);
    assert_eq!(by("database.apim-db")["action"], "update");
    // Wait until the by-hand modification has finished: RDS refuses another meanwhile.
    wait_available(&sdk, &db);
    d.apply();
    assert_ne!(d.id("instance.ei-1"), ei_1, "a new ei-1");
    assert_eq!(instance(&sdk, &d.id("instance.ei-1")).state().unwrap().name().unwrap().as_str(), "running");
    assert_eq!(ingress(&sdk, &bastion), vec![("tcp".into(), 22, 22, "203.0.113.0/24".into())]);
    assert_eq!(db_class(&sdk, &db), "db.m5.large");
    let out = d.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "in sync again:\n{}", String::from_utf8_lossy(&out.stdout));
    let out = d.run(&["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn wait_available(sdk: &aws_config::SdkConfig, ident: &str) {
    let rds = aws_sdk_rds::Client::new(sdk);
    for _ in 0..600 {
        let available = runtime().block_on(async {
            let out = rds.describe_db_instances().db_instance_identifier(ident).send().await.unwrap();
            let i = &out.db_instances()[0];
            i.db_instance_status() == Some("available")
                && i.pending_modified_values().is_none_or(|p| p.db_instance_class().is_none())
        });
        if available {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("database {ident} stayed busy");
}

/// `--target`: only the targeted object and what it needs are planned and provisioned; a
/// targeted destroy removes the object and what depends on it, nothing else.
#[test]
fn targets_limit_plan_provision_and_destroy() {
    let d = Live::new("target", 94);
    d.edit(|t| {
        t.replace("type = \"t2.large\"", "type = \"m5.xlarge\"").replace("ports = [2049]", "ports = [2049, 2999]")
    });
    let out = d.run(&["plan", "--output", "json", "--target", "instance.apim-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    only(&json_out(&out), &[("instance.apim-1", "update", &["instance_type"])]);
    let out = d.run(&["provision", "--yes", "--target", "instance.apim-1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    only(
        &d.plan(),
        &[
            ("instance.apim-2", "update", &["instance_type"]),
            ("security_group.efs.rules", "update", &["rule[tcp 2999 from security_group.apim]"]),
        ],
    );
    let out = d.run(&["plan", "--target", "instance.apim-9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("instance.apim-9"), "{}", stderr(&out));

    let out = d.run(&["destroy", "--yes", "--target", "instance.bastion", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json_out(&out)["deleted"], 1);
    let state = d.state();
    assert!(state["objects"].get("instance.bastion").is_none());
    assert!(state["objects"].get("instance.puppet").is_some());
    let out = d.run(&["destroy", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
