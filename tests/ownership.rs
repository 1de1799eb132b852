//! Safe in a shared account, on the AWS-faithful layer (`tests/aws/`): strato adopts and
//! deletes only what carries its deployment's id, refuses before the first create when
//! something else claims the deployment or its names, refuses a destroy before deleting
//! anything when one object would refuse, keeps the CSR challenge out of user data, gives
//! each instance role exactly what its bootstrap reads, and checks credentials, endpoint,
//! offerings and quotas before it changes anything.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{
    all_rules, base64_decode, json_out, mutating, reference_copy, runtime, spec_copy, stderr, temp_dir, Session,
};
use serde_json::{json, Value};

const REFERENCE: &str = "deploy-specs/wso2-apim-ei.toml";
const NETWORK: &str = "deploy-specs/wso2-network.toml";

fn session(extra: Value) -> Session {
    let mut config = json!({ "seed": 8, "scale": 60.0, "rules": all_rules() });
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    Session::new(config)
}

/// The live objects of the session's account, without the kinds a run leaves by design
/// (final snapshots).
fn live(s: &Session) -> BTreeMap<String, u64> {
    let mut counts = s.counts();
    counts.remove("db_snapshot");
    counts.retain(|_, n| *n > 0);
    counts
}

fn rds(s: &Session) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&runtime().block_on(s.sdk()))
}

/// A database made by hand under the name strato would give its own: provision refuses
/// before creating anything and names it; destroy leaves it alone.
#[test]
fn a_database_made_by_hand_is_refused_not_adopted_and_survives_destroy() {
    let s = session(json!({}));
    let state = temp_dir("hand-made-db");
    let rds = rds(&s);
    runtime().block_on(async {
        rds.create_db_instance()
            .db_instance_identifier("wso2-apim-db")
            .db_instance_class("db.t3.micro")
            .engine("mysql")
            .master_username("someone")
            .master_user_password("not-strato-1")
            .allocated_storage(20)
            .send()
            .await
            .unwrap();
    });
    let before = live(&s);
    let calls = mutating(&s);

    let up = s.strato(&["provision", REFERENCE], &state);
    assert_eq!(up.status.code(), Some(2), "{}", stderr(&up));
    let text = stderr(&up);
    assert!(text.contains("database wso2-apim-db, which belongs to something not made by strato"), "{text}");
    assert!(text.contains("nothing was created"), "{text}");
    assert_eq!(mutating(&s), calls, "no mutating call");
    assert_eq!(live(&s), before);
    assert!(!state.join("wso2/state.json").exists(), "no state written");

    let down = s.strato(&["destroy", REFERENCE, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(stderr(&down).contains("Nothing to destroy"), "{}", stderr(&down));
    runtime().block_on(async {
        let db = rds.describe_db_instances().db_instance_identifier("wso2-apim-db").send().await.unwrap();
        assert_eq!(db.db_instances()[0].master_username(), Some("someone"), "the database is untouched");
    });
    assert_eq!(live(&s), before);

    // A state that holds only the intent to create `database.apim-db` (a run killed before
    // CreateDBInstance answered): the destroy looks for it by name, finds a database that
    // does not carry this deployment's id, and forgets the intent instead of deleting it.
    let intent = json!({
        "version": 1, "deployment": "wso2", "deployment_id": "00000000000000aa", "region": "us-east-1",
        "serial": 1,
        "objects": { "database.apim-db": {
            "kind": "db_instance", "status": "pending", "attributes": { "name": "wso2-apim-db" },
            "client_token": "strato-test"
        } }
    });
    std::fs::create_dir_all(state.join("wso2")).unwrap();
    std::fs::write(state.join("wso2/state.json"), intent.to_string()).unwrap();
    let down = s.strato(&["destroy", REFERENCE, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(mutating(&s), calls, "no mutating call");
    runtime().block_on(async {
        let db = rds.describe_db_instances().db_instance_identifier("wso2-apim-db").send().await.unwrap();
        assert_ne!(db.db_instances()[0].db_instance_status(), Some("deleting"), "not adopted, not deleted");
        assert_eq!(db.db_instances()[0].master_username(), Some("someone"));
    });
    assert!(!state.join("wso2/state.json").exists(), "the intent is forgotten");
}

/// Two operators, one deployment name, two state directories: the second is refused
/// before it creates anything, its destroy deletes nothing, and the first deployment is
/// intact until its own destroy removes all of it.
#[test]
fn two_deployments_of_one_name_never_touch_each_other() {
    let s = session(json!({}));
    let first = temp_dir("same-name-first");
    let second = temp_dir("same-name-second");
    let up = s.strato(&["provision", NETWORK], &first);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let built = live(&s);
    let calls = mutating(&s);

    let again = s.strato(&["provision", NETWORK], &second);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    let text = stderr(&again);
    assert!(text.contains("has no state here"), "{text}");
    assert!(text.contains("which belongs to strato deployment `wso2-network` with id"), "{text}");
    assert!(text.contains("another name"), "says what to do: {text}");
    assert_eq!(mutating(&s), calls, "the second provision made no mutating call");
    assert_eq!(live(&s), built);

    let refused = s.strato(&["destroy", NETWORK, "--yes"], &second);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("tagged with its name"), "{}", stderr(&refused));
    assert_eq!(mutating(&s), calls, "the second destroy made no mutating call");
    assert_eq!(live(&s), built, "the first deployment is intact");

    let down = s.strato(&["destroy", NETWORK, "--yes"], &first);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(live(&s), BTreeMap::new(), "nothing left");
}

/// The state is lost: provision refuses and names what it found, so does destroy; with the
/// state back, destroy removes everything.
#[test]
fn with_its_state_lost_provision_refuses_and_names_what_it_found() {
    let s = session(json!({}));
    let state = temp_dir("lost-state");
    let up = s.strato(&["provision", NETWORK], &state);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let file = state.join("wso2-network/state.json");
    let aside = state.join("aside.json");
    std::fs::rename(&file, &aside).unwrap();
    let built = live(&s);

    let again = s.strato(&["provision", NETWORK, "--output", "json"], &state);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    let report = json_out(&again);
    let problem = report["preflight"]["problems"][0].as_str().unwrap_or_default();
    assert!(problem.contains("has no state here"), "{report}");
    assert!(problem.contains("vpc vpc-") && problem.contains("(vpc.main)"), "names what it found: {problem}");
    assert!(problem.contains("restore the state file"), "{problem}");
    assert_eq!(live(&s), built, "no second VPC");

    let refused = s.strato(&["destroy", NETWORK, "--yes"], &state);
    assert_eq!(refused.status.code(), Some(1), "not `Nothing to destroy`: {}", stderr(&refused));
    assert_eq!(live(&s), built);

    // (A run that finds no state leaves no directory behind.)
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::rename(&aside, &file).unwrap();
    let down = s.strato(&["destroy", NETWORK, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(live(&s), BTreeMap::new());
}

/// The reference architecture under a 32-character deployment name, with deletion
/// protection on one database: every name fits AWS's rules; no user data holds the CSR
/// challenge; the Puppet server's role reads exactly the two database secrets and the
/// challenge parameter; a destroy is refused before anything is deleted; with the spec
/// gone, `destroy --deployment` lifts the protection, lists the final snapshots, and
/// leaves nothing behind, IAM and SSM included.
#[test]
fn the_reference_architecture_under_a_long_name_keeps_secrets_out_and_refuses_destroy_whole() {
    const NAME: &str = "wso2-staging-eu-west-1-team-blue";
    assert_eq!(NAME.len(), 32);
    let (dir, spec) = reference_copy("long-name", |text| {
        text.replacen("name = \"wso2\" ", &format!("name = \"{NAME}\" "), 1).replacen(
            "deletion_protection = false      # set true",
            "deletion_protection = true       # set true",
            1,
        )
    });
    let s = session(json!({}));
    let state = dir.join("state");
    let spec_arg = spec.to_str().unwrap();
    let up = s.strato(&["provision", spec_arg], &state);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    assert!(s.summary("refused").values().all(|n| *n == 0), "{:?}", s.summary("refused"));

    let conf = runtime().block_on(s.sdk());
    let ec2 = aws_sdk_ec2::Client::new(&conf);
    let ssm = aws_sdk_ssm::Client::new(&conf);
    let iam = aws_sdk_iam::Client::new(&conf);
    let rds = aws_sdk_rds::Client::new(&conf);
    let parameter = format!("/strato/{NAME}/csr-challenge");
    runtime().block_on(async {
        let challenge = ssm.get_parameter().name(&parameter).with_decryption(true).send().await.unwrap();
        let challenge = challenge.parameter().unwrap().value().unwrap().to_string();
        assert!(challenge.len() >= 32);

        // No rendered user data holds the challenge; every Puppet node reads it at boot.
        let out = ec2.describe_instances().send().await.unwrap();
        let instances: Vec<_> = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated"))
            .cloned()
            .collect();
        assert_eq!(instances.len(), 12);
        for i in &instances {
            let id = i.instance_id().unwrap();
            let attr = ec2
                .describe_instance_attribute()
                .instance_id(id)
                .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
                .send()
                .await
                .unwrap();
            let encoded = attr.user_data().and_then(|u| u.value()).unwrap_or_default();
            let text = String::from_utf8(base64_decode(encoded)).unwrap();
            assert!(!text.contains(&challenge), "{id}: the challenge is in its user data");
            let name = i.tags().iter().find(|t| t.key() == Some("strato:address")).and_then(|t| t.value()).unwrap();
            if name == "instance.bastion" {
                assert!(i.iam_instance_profile().is_none(), "the bastion needs no role");
            } else {
                assert!(text.contains(&parameter), "{name} fetches the challenge at boot");
                assert!(i.iam_instance_profile().is_some(), "{name} has an instance profile");
            }
        }

        // The Puppet server's role: exactly the two secrets and the one parameter.
        let roles = iam.list_roles().path_prefix("/strato/").send().await.unwrap();
        let puppet = roles.roles().iter().find(|r| r.role_name().contains("puppet-server")).expect("a role");
        assert!(puppet.role_name().len() <= 64);
        let policy = iam.get_role_policy().role_name(puppet.role_name()).policy_name("strato").send().await.unwrap();
        let policy: Value = serde_json::from_str(&url_decode(policy.policy_document())).unwrap();
        let mut secrets = Vec::new();
        for db in ["apim-db", "analytics-db"] {
            let out = rds.describe_db_instances().db_instance_identifier(format!("{NAME}-{db}")).send().await.unwrap();
            secrets.push(out.db_instances()[0].master_user_secret().unwrap().secret_arn().unwrap().to_string());
        }
        secrets.sort();
        let mut granted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for st in policy["Statement"].as_array().unwrap() {
            assert_eq!(st["Effect"], "Allow");
            let resources = match &st["Resource"] {
                Value::String(r) => vec![r.clone()],
                Value::Array(rs) => rs.iter().map(|r| r.as_str().unwrap().to_string()).collect(),
                other => panic!("{other}"),
            };
            granted.entry(st["Action"].as_str().unwrap().to_string()).or_default().extend(resources);
        }
        granted.values_mut().for_each(|v| v.sort());
        let expected = BTreeMap::from([
            ("secretsmanager:GetSecretValue".to_string(), secrets),
            (
                "ssm:GetParameter".to_string(),
                vec![format!("arn:aws:ssm:us-east-1:{}:parameter{parameter}", s.account_id)],
            ),
        ]);
        assert_eq!(granted, expected);
    });

    // One protected database: the destroy deletes nothing and says why.
    let built = live(&s);
    let calls = mutating(&s);
    let refused = s.strato(&["destroy", spec_arg, "--yes"], &state);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let text = stderr(&refused);
    assert!(text.contains("database.apim-db") && text.contains("deletion protection"), "{text}");
    assert!(text.contains("nothing was deleted"), "{text}");
    assert_eq!(mutating(&s), calls, "no mutating call");
    assert_eq!(live(&s), built);

    // The spec is gone: the state alone is enough.
    std::fs::remove_dir_all(spec.parent().unwrap()).unwrap();
    let down =
        s.strato(&["destroy", "--deployment", NAME, "--yes", "--lift-deletion-protection", "--output", "json"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let report = json_out(&down);
    let snapshots: Vec<&str> =
        report["final_snapshots"].as_array().unwrap().iter().map(|s| s["address"].as_str().unwrap()).collect();
    assert_eq!(snapshots.len(), 2, "{report}");
    assert_eq!(live(&s), BTreeMap::new(), "nothing left");
    runtime().block_on(async {
        let roles = iam.list_roles().path_prefix("/strato/").send().await.unwrap();
        assert!(roles.roles().is_empty(), "{:?}", roles.roles());
        let profiles = iam.list_instance_profiles().path_prefix("/strato/").send().await.unwrap();
        assert!(profiles.instance_profiles().is_empty());
        assert!(ssm.get_parameter().name(&parameter).send().await.is_err(), "the challenge parameter is gone");
    });
}

/// IAM returns policy documents URL-encoded (RFC 3986).
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// No credentials anywhere: one clear line, exit 2, nothing written.
#[test]
fn missing_credentials_are_one_clear_message() {
    let s = session(json!({}));
    let state = temp_dir("no-credentials");
    let out = s
        .command(&["provision", NETWORK], &state)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_CONFIG_FILE", state.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", state.join("none"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains("credentials") && errors[0].contains("default credential chain"), "{}", errors[0]);
    assert!(!state.join("wso2-network").exists());
    assert_eq!(live(&s), BTreeMap::new());
}

/// An endpoint that accepts connections and never answers is named within about 30 s.
#[test]
fn an_endpoint_that_never_answers_is_named_quickly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let state = temp_dir("silent-endpoint");
    let start = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(["provision", NETWORK, "--endpoint-url", &url, "--state-dir", state.to_str().unwrap()])
        .current_dir(common::repo())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(took < Duration::from_secs(40), "named after {took:?}");
    let text = stderr(&out);
    assert!(text.contains(&format!("cannot reach AWS at {url}")), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("error:")).count(), 1, "{text}");
    assert!(!state.join("wso2-network").exists());
}

/// An instance type its zone does not offer: one clear message, exit 2, no mutating call.
/// Quotas too small for the run: the same, every problem at once.
#[test]
fn offerings_and_quotas_are_checked_before_anything_is_created() {
    let s = session(json!({ "missing_offerings": { "us-east-1c": ["c5.large"] } }));
    let state = temp_dir("preflight-offerings");
    let out = s.strato(&["provision", REFERENCE], &state);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    let errors: Vec<&str> = text.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(
        errors[0].contains("instance type c5.large is not offered in us-east-1c")
            && errors[0].contains("instance.apim-analytics-dashboard")
            && errors[0].contains("instance.ei-analytics-dashboard"),
        "{text}"
    );
    assert_eq!(mutating(&s), 0, "{}", s.log()["calls"]);
    assert_eq!(live(&s), BTreeMap::new());
    assert!(!state.join("wso2").exists());

    // 36 vCPUs and 3 Elastic IPs beside one already held: both quotas are named at once.
    let s = session(json!({ "quotas": { "ec2/L-1216C47A": 32, "ec2/L-0263D0A3": 3, "vpc/L-F678F1CE": 5 } }));
    runtime().block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&s.sdk().await);
        ec2.allocate_address().domain(aws_sdk_ec2::types::DomainType::Vpc).send().await.unwrap();
    });
    let calls = mutating(&s);
    let out = s.strato(&["provision", REFERENCE, "--output", "json"], &state);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report = json_out(&out);
    let problems: Vec<&str> =
        report["preflight"]["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(problems.len(), 2, "{report}");
    assert!(
        problems.iter().any(|p| p.contains("3 Elastic IP(s) beside the 1 held") && p.contains("L-0263D0A3")),
        "{report}"
    );
    assert!(
        problems.iter().any(|p| p.contains("36 vCPUs") && p.contains("quota is 32") && p.contains("L-1216C47A")),
        "{report}"
    );
    assert_eq!(mutating(&s), calls, "{}", s.log()["calls"]);
}

/// A run stopped between `CreateRole` and the rest of an instance role (its policy, its
/// profile) leaves a role and an intent: the next provision finishes the role, and a destroy
/// from such a state deletes it, so no role is left behind either way.
#[test]
fn an_instance_role_cut_short_is_finished_or_deleted() {
    let (dir, spec) = spec_copy("cut-role", "wso2-network.toml", |text| {
        text + "\n[[instance_role]]\nname = \"probe\"\ncsr_challenge = true\n"
    });
    let s = session(json!({}));
    let state = dir.join("state");
    let spec = spec.to_str().unwrap();
    let up = s.strato(&["provision", spec], &state);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let iam = aws_sdk_iam::Client::new(&runtime().block_on(s.sdk()));
    let role = "wso2-network-probe-us-east-1";
    let file = state.join("wso2-network/state.json");

    // What a run stopped right after CreateRole leaves: the role, and only an intent.
    let cut_short = || {
        runtime().block_on(async {
            iam.remove_role_from_instance_profile().instance_profile_name(role).role_name(role).send().await.unwrap();
            iam.delete_instance_profile().instance_profile_name(role).send().await.unwrap();
            iam.delete_role_policy().role_name(role).policy_name("strato").send().await.unwrap();
        });
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let o = &mut v["objects"]["instance_role.probe"];
        o["status"] = json!("pending");
        o.as_object_mut().unwrap().remove("id");
        o["attributes"] = json!({ "name": role });
        std::fs::write(&file, v.to_string()).unwrap();
    };
    cut_short();
    let again = s.strato(&["provision", spec], &state);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    runtime().block_on(async {
        let p = iam.get_instance_profile().instance_profile_name(role).send().await.unwrap();
        let roles: Vec<&str> = p.instance_profile().unwrap().roles().iter().map(|r| r.role_name()).collect();
        assert_eq!(roles, [role], "the profile holds the role again");
        let policy = iam.get_role_policy().role_name(role).policy_name("strato").send().await.unwrap();
        assert!(url_decode(policy.policy_document()).contains("ssm:GetParameter"));
    });

    cut_short();
    let down = s.strato(&["destroy", spec, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    runtime().block_on(async {
        assert!(iam.get_role().role_name(role).send().await.is_err(), "no role left behind");
    });
    assert_eq!(live(&s), BTreeMap::new());
}

/// A provision stopped after it made the CSR challenge and before its first create leaves
/// the parameter and a state with only the deployment's id: the next provision takes the
/// parameter as its own, and a destroy from such a state removes it.
#[test]
fn a_provision_stopped_before_its_first_create_leaves_nothing_in_the_way() {
    let (dir, spec) = spec_copy("stopped-early", "wso2-network.toml", |text| {
        text + "\n[[instance_role]]\nname = \"probe\"\ncsr_challenge = true\n"
    });
    let s = session(json!({}));
    let state = dir.join("state");
    let spec = spec.to_str().unwrap();
    let ssm = aws_sdk_ssm::Client::new(&runtime().block_on(s.sdk()));
    let parameter = "/strato/wso2-network/csr-challenge";
    let stopped_early = || {
        let id = "00000000000000bb";
        let v = json!({
            "version": 1, "deployment": "wso2-network", "deployment_id": id, "region": "us-east-1",
            "serial": 1, "objects": {}
        });
        std::fs::create_dir_all(state.join("wso2-network")).unwrap();
        std::fs::write(state.join("wso2-network/state.json"), v.to_string()).unwrap();
        runtime().block_on(async {
            let tag = |k: &str, v: &str| aws_sdk_ssm::types::Tag::builder().key(k).value(v).build().unwrap();
            ssm.put_parameter()
                .name(parameter)
                .value("0123456789abcdef0123456789abcdef")
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .tags(tag("strato:deployment", "wso2-network"))
                .tags(tag("strato:deployment-id", id))
                .send()
                .await
                .unwrap();
        });
    };

    stopped_early();
    let up = s.strato(&["provision", spec], &state);
    assert_eq!(up.status.code(), Some(0), "the parameter is this deployment's: {}", stderr(&up));
    let down = s.strato(&["destroy", spec, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(live(&s), BTreeMap::new());

    stopped_early();
    let down = s.strato(&["destroy", spec, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert!(stderr(&down).contains("Nothing to destroy"), "{}", stderr(&down));
    runtime().block_on(async {
        assert!(ssm.get_parameter().name(parameter).send().await.is_err(), "the parameter is gone");
    });
    assert!(!state.join("wso2-network/state.json").exists());
    assert_eq!(live(&s), BTreeMap::new());
}

/// The preflight asks only the services the spec uses: the network tier provisions and
/// destroys with RDS, ELB and EFS unavailable (as on an emulator that lacks them).
#[test]
fn the_preflight_asks_only_the_services_the_spec_uses() {
    let s = session(json!({ "unavailable": ["rds", "elasticloadbalancing", "elasticfilesystem"] }));
    let state = temp_dir("only-used-services");
    let up = s.strato(&["provision", NETWORK], &state);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let down = s.strato(&["destroy", NETWORK, "--yes"], &state);
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let calls = s.log()["calls"].clone();
    let asked: Vec<&String> = calls
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| {
            k.starts_with("rds:") || k.starts_with("elasticloadbalancing:") || k.starts_with("elasticfilesystem:")
        })
        .collect();
    assert!(asked.is_empty(), "{asked:?}");
    assert_eq!(live(&s), BTreeMap::new());
}
