//! The checks of instance roles, secrets at boot, image operating systems, TLS policies,
//! engine support and AWS names, each on a small spec: the codes, severities and hints an
//! operator gets.

use std::path::PathBuf;

use strato_spec::{Diagnostic, Document, Severity};

const BASE: &str = r#"
[deployment]
name = "t"
region = "us-east-1"
zones = ["us-east-1a", "us-east-1b"]

[image]
al = { ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" }
plain = { ami = "ami-0123456789abcdef0" }

[[vpc]]
name = "v"
cidr = "10.0.0.0/16"

[[subnet]]
name = "a"
vpc = "v"
tier = "app"
zone = "us-east-1a"
cidr = "10.0.1.0/24"

[[subnet]]
name = "b"
vpc = "v"
tier = "app"
zone = "us-east-1b"
cidr = "10.0.2.0/24"

[[db_subnet_group]]
name = "dbs"
subnets = { tier = "app" }

[[database]]
name = "apim-db"
instance_class = "db.t3.medium"
subnet_group = "dbs"
"#;

/// Loads `BASE` plus `extra`, with templates written next to the spec.
fn load(extra: &str, templates: &[(&str, &str)]) -> Document {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "strato-spec-rules-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in templates {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let path = dir.join("spec.toml");
    strato_spec::load_str("spec.toml", &path, format!("{BASE}{extra}"))
}

/// Loads `BASE` plus `extra` with another deployment name.
fn load_named(deployment: &str, extra: &str) -> Document {
    let text = format!("{BASE}{extra}").replacen("name = \"t\"", &format!("name = \"{deployment}\""), 1);
    strato_spec::load_str("spec.toml", &std::env::temp_dir().join("spec.toml"), text)
}

fn instance(name: &str, extra: &str) -> String {
    format!("\n[[instance]]\nname = \"{name}\"\nsubnet = \"a\"\ntype = \"t3.micro\"\nimage = \"al\"\n{extra}\n")
}

fn role(name: &str, extra: &str) -> String {
    format!("\n[[instance_role]]\nname = \"{name}\"\n{extra}\n")
}

fn diags(doc: &Document) -> Vec<&Diagnostic> {
    doc.diagnostics.iter().collect()
}

/// The one diagnostic with `code`.
fn only<'d>(doc: &'d Document, code: &str) -> &'d Diagnostic {
    let found: Vec<_> = doc.diagnostics.iter().filter(|d| d.code == code).collect();
    assert_eq!(found.len(), 1, "one `{code}` expected in {:#?}", diags(doc));
    found[0]
}

fn codes(doc: &Document) -> Vec<&'static str> {
    doc.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn the_base_is_valid() {
    let doc = load("", &[]);
    assert!(doc.diagnostics.is_empty(), "{:#?}", diags(&doc));
}

#[test]
fn roles_refer_to_databases_and_instances_to_roles_by_name() {
    let extra = format!(
        "{}{}{}{}",
        role("reader", "database_secrets = [\"apim-bd\", \"apim-db\", \"apim-db\"]"),
        role("reader", ""),
        role("typo", "database_secret = [\"apim-db\"]"),
        instance("x", "role = \"raeder\""),
    );
    let doc = load(&extra, &[]);
    let dangling: Vec<_> = doc.diagnostics.iter().filter(|d| d.code == "dangling-reference").collect();
    assert_eq!(dangling.len(), 2, "{:#?}", diags(&doc));
    assert!(dangling[0].message.contains("refers to database `apim-bd`"), "{}", dangling[0].message);
    assert_eq!(dangling[0].help.as_deref(), Some("did you mean `apim-db`?"));
    assert!(dangling[1].message.contains("refers to instance role `raeder`"), "{}", dangling[1].message);
    assert_eq!(dangling[1].help.as_deref(), Some("did you mean `reader`?"));
    assert!(only(&doc, "duplicate-name").message.contains("instance role `reader` is defined twice"));
    assert!(only(&doc, "bad-value").message.contains("lists database `apim-db` twice"));
    assert_eq!(only(&doc, "unknown-field").help.as_deref(), Some("did you mean `database_secrets`?"));
    // No instance has a role by its right name.
    let unused: Vec<_> = doc.diagnostics.iter().filter(|d| d.code == "unused-instance-role").collect();
    assert_eq!(unused.len(), 2, "{unused:#?}");
    assert!(unused.iter().all(|d| d.severity == Severity::Warning));
    assert!(unused[1].message.contains("instance role `typo`"), "{}", unused[1].message);
}

#[test]
fn a_role_nothing_uses_is_a_warning_only() {
    let doc = load(&role("idle", "csr_challenge = true"), &[]);
    assert_eq!(codes(&doc), ["unused-instance-role"]);
    assert!(!doc.has_errors());
}

#[test]
fn the_csr_challenge_itself_never_reaches_user_data() {
    let extra = format!(
        "{}{}",
        instance("x", "user_data = { template = \"x.sh\" }"),
        instance("y", "user_data = { template = \"y.sh\", vars = { c = \"${deployment.csr_challenge}\" } }"),
    );
    let doc = load(&extra, &[("x.sh", "echo '${deployment.csr_challenge}'"), ("y.sh", "echo ${var.c}")]);
    let found: Vec<_> = doc.diagnostics.iter().filter(|d| d.code == "secret-in-user-data").collect();
    assert_eq!(found.len(), 2, "{:#?}", diags(&doc));
    for d in found {
        assert!(d.message.contains("DescribeInstanceAttribute"), "{}", d.message);
        let help = d.help.as_deref().unwrap();
        assert!(help.contains("${deployment.csr_challenge_parameter}") && help.contains("role"), "{help}");
    }
    assert_eq!(doc.diagnostics.len(), 2, "{:#?}", diags(&doc));
}

#[test]
fn reading_the_challenge_at_boot_needs_a_role_that_may() {
    let template = [("boot.sh", "aws ssm get-parameter --name '${deployment.csr_challenge_parameter}'")];
    let ud = "user_data = { template = \"boot.sh\" }";
    // No role at all; the one role that could is named in the hint.
    let extra = format!(
        "{}{}{}",
        role("node", "csr_challenge = true"),
        instance("x", ud),
        instance("y", &format!("role = \"node\"\n{ud}"))
    );
    let doc = load(&extra, &template);
    let d = only(&doc, "challenge-not-granted");
    assert_eq!(d.severity, Severity::Error);
    assert!(d.message.contains("instance `x`") && d.message.contains("no `role`"), "{}", d.message);
    assert_eq!(d.help.as_deref(), Some("add `role = \"node\"` to instance `x`"));
    assert_eq!(doc.sources.snippet(d.span), "${deployment.csr_challenge_parameter}");
    // A role without `csr_challenge = true`.
    let doc = load(&format!("{}{}", role("node", ""), instance("x", &format!("role = \"node\"\n{ud}"))), &template);
    let d = only(&doc, "challenge-not-granted");
    assert!(d.message.contains("its role `node` may not read it"), "{}", d.message);
    assert_eq!(d.notes[0].1, "this role has no `csr_challenge = true`");
    assert_eq!(codes(&doc), ["challenge-not-granted"]);
}

#[test]
fn a_secret_arn_the_role_may_not_read_is_a_warning() {
    let template =
        [("db.sh", "ARN='${database.apim-db.master_secret_arn}' ARN2='${database.apim-db.master_secret_arn}'")];
    let ud = "user_data = { template = \"db.sh\" }";
    let extra = format!(
        "{}{}{}",
        role("plain", "csr_challenge = true"),
        instance("x", &format!("role = \"plain\"\n{ud}")),
        instance("y", ud)
    );
    let doc = load(&extra, &template);
    let found: Vec<_> = doc.diagnostics.iter().filter(|d| d.code == "secret-not-granted").collect();
    assert_eq!(found.len(), 2, "once per instance: {:#?}", diags(&doc));
    assert!(found.iter().all(|d| d.severity == Severity::Warning));
    let x = found.iter().find(|d| d.message.contains("instance `x`")).unwrap();
    assert_eq!(x.help.as_deref(), Some("add `\"apim-db\"` to `database_secrets` of instance role `plain`"));
    let y = found.iter().find(|d| d.message.contains("instance `y`")).unwrap();
    assert!(y.message.contains("no `role`"), "{}", y.message);
    assert!(!doc.has_errors());
    // Granted: nothing to say.
    let extra = format!(
        "{}{}",
        role("reader", "database_secrets = [\"apim-db\"]"),
        instance("x", &format!("role = \"reader\"\n{ud}"))
    );
    assert!(load(&extra, &template).diagnostics.is_empty());
}

#[test]
fn node_os_needs_an_image_whose_os_is_known() {
    let templates = [("os.sh", "dnf install -y https://yum.puppet.com/puppet8-release-${node.os}.noarch.rpm")];
    let ud = "user_data = { template = \"os.sh\" }";
    // Amazon Linux 2023's public parameter says it all.
    assert!(load(&instance("x", ud), &templates).diagnostics.is_empty());
    let doc = load(&instance("x", ud).replace("image = \"al\"", "image = \"plain\""), &templates);
    let d = only(&doc, "unknown-template-reference");
    assert!(d.message.contains("operating system of image `plain` is unknown"), "{}", d.message);
    assert!(d.help.as_deref().unwrap().contains("os = \"amazon-2023\""));
    let doc = load(&instance("x", ud).replace("image = \"al\"", "image = \"ami-0123456789abcdef0\""), &templates);
    assert!(only(&doc, "unknown-template-reference").message.contains("uses AMI `ami-0123456789abcdef0`"));
    let doc = load("\n[image.rhel]\nami = \"ami-0123456789abcdef1\"\nos = \"el-9\"\n", &[]);
    assert!(doc.diagnostics.is_empty(), "{:#?}", diags(&doc));
    let doc = load("\n[image.rhel]\nami = \"ami-0123456789abcdef1\"\nos = \"amazon-linux-2023\"\n", &[]);
    assert_eq!(only(&doc, "bad-value").help.as_deref(), Some("did you mean `amazon-2023`?"));
}

const LB: &str = r#"
[[certificate]]
name = "c"
self_signed = true
domains = ["example.com"]

[[target_group]]
name = "tg"
vpc = "v"
port = 8080
protocol = "HTTP"

[[load_balancer]]
name = "lb"
subnets = { tier = "app" }
"#;

fn listener(protocol: &str, extra: &str) -> String {
    let certificate = if protocol == "HTTPS" { "certificate = \"c\"\n" } else { "" };
    format!(
        "\n[[load_balancer.listener]]\nport = 443\nprotocol = \"{protocol}\"\n{certificate}forward = \"tg\"\n{extra}\n"
    )
}

#[test]
fn only_https_listeners_take_a_tls_policy_and_only_elbs_own() {
    assert!(load(&format!("{LB}{}", listener("HTTPS", "ssl_policy = \"ELBSecurityPolicy-TLS13-1-3-2021-06\"")), &[])
        .diagnostics
        .is_empty());
    let doc = load(&format!("{LB}{}", listener("HTTP", "ssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021-06\"")), &[]);
    let d = only(&doc, "bad-value");
    assert!(d.message.contains("only HTTPS listeners use"), "{}", d.message);
    let doc = load(&format!("{LB}{}", listener("HTTPS", "ssl_policy = \"ELBSecurityPolicy-TLS13-1-2-2021\"")), &[]);
    assert_eq!(codes(&doc), Vec::<&str>::new(), "any predefined name is accepted");
    let doc = load(&format!("{LB}{}", listener("HTTPS", "ssl_policy = \"TLS13-1-2-2021-06\"")), &[]);
    assert_eq!(only(&doc, "bad-value").help.as_deref(), Some("did you mean `ELBSecurityPolicy-TLS13-1-2-2021-06`?"));
}

#[test]
fn mysql_defaults_to_8_4_and_versions_past_standard_support_warn() {
    let doc = load("", &[]);
    assert_eq!(doc.spec.databases[0].engine_version.value, "8.4");
    let doc = load("\n[[database]]\nname = \"old\"\nengine_version = \"8.0.39\"\ninstance_class = \"db.t3.medium\"\nsubnet_group = \"dbs\"\n", &[]);
    let d = only(&doc, "engine-past-standard-support");
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("MySQL 8.0.39") && d.message.contains("2026-07-31"), "{}", d.message);
    assert!(d.notes[0].1.contains("Extended Support") && d.notes[0].1.contains("paid"), "{:?}", d.notes);
    assert_eq!(d.help.as_deref(), Some("use a supported version: `engine_version = \"8.4\"`"));
    let doc = load("\n[[database]]\nname = \"older\"\nengine_version = \"5.7\"\ninstance_class = \"db.t3.medium\"\nsubnet_group = \"dbs\"\n", &[]);
    assert!(only(&doc, "engine-past-standard-support").message.contains("2024-02-29"));
    // Other engines name their version.
    let doc = load("\n[[database]]\nname = \"pg\"\nengine = \"postgres\"\ninstance_class = \"db.t3.medium\"\nsubnet_group = \"dbs\"\n", &[]);
    assert!(only(&doc, "missing-field").message.contains("no `engine_version` (required for postgres)"));
}

#[test]
fn derived_names_always_fit_and_given_names_follow_aws_rules() {
    // A 32-character deployment and 32-character names: no length problem any more.
    let long = "a-deployment-name-of-32-chars-xx";
    assert_eq!(long.len(), 32);
    let spec =
        format!("{LB}{}", listener("HTTP", "")).replace("name = \"lb\"", "name = \"a-load-balancer-name-of-32-chars\"");
    let doc = load_named(long, &spec);
    assert_eq!(doc.spec.deployment.name.value, long);
    assert!(doc.diagnostics.is_empty(), "{:#?}", diags(&doc));

    let given = r#"
[[load_balancer]]
name = "other"
subnets = { tier = "app" }
aws_name = "internal-web"

[[load_balancer]]
name = "third"
subnets = { tier = "app" }
aws_name = "t-lb"

[[target_group]]
name = "tg2"
vpc = "v"
port = 8080
aws_name = "web_tg"

[[database]]
name = "db2"
instance_class = "db.t3.medium"
subnet_group = "dbs"
aws_name = "legacy--db"
"#;
    let doc = load(&format!("{LB}{given}"), &[]);
    let bad: Vec<&str> = doc.diagnostics.iter().filter(|d| d.code == "bad-name").map(|d| d.message.as_str()).collect();
    assert_eq!(bad.len(), 3, "{bad:#?}");
    assert!(bad[0].contains("`internal-web` of load balancer `other`") && bad[0].contains("`internal-`"), "{}", bad[0]);
    assert!(bad[1].contains("`web_tg` of target group `tg2`") && bad[1].contains("`_`"), "{}", bad[1]);
    assert!(bad[2].contains("`legacy--db` of database `db2`") && bad[2].contains("two hyphens"), "{}", bad[2]);
    // `t-lb` is what `lb` is called in AWS already.
    let dup = only(&doc, "duplicate-name");
    assert_eq!(dup.message, "two load balancers are named `t-lb` in AWS");
    assert_eq!(doc.sources.snippet(dup.span), "\"t-lb\"");
}

#[test]
fn deployment_names_have_at_most_32_characters() {
    let doc = load("", &[]);
    assert!(doc.diagnostics.is_empty());
    assert!(load_named(&"a".repeat(32), "").diagnostics.is_empty());
    let doc = load_named(&"a".repeat(33), "");
    let d = only(&doc, "bad-name");
    assert!(d.message.contains("has 33 characters; strato takes at most 32"), "{}", d.message);
}

#[test]
fn derived_rds_identifiers_still_start_with_a_letter() {
    let doc = load_named("9t", "");
    let d = only(&doc, "bad-name");
    assert!(d.message.contains("`9t-apim-db` in RDS, which starts with a digit"), "{}", d.message);
    // A given identifier does not start with the deployment's name.
    let doc = load_named("9t", "aws_name = \"apim\"\n");
    assert!(doc.diagnostics.is_empty(), "{:#?}", diags(&doc));
}
