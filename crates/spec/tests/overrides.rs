//! Overrides (`--set PATH=VALUE`) and overlay files: how paths address a spec, how an overlay
//! merges, which mistakes are refused with which message, and that everything else reaches
//! validation as the usual diagnostics, in text that keeps the spec's comments.

use std::path::{Path, PathBuf};

use strato_spec::overrides::{apply, Override, OverrideError};
use strato_spec::{load, load_str, load_with, Document, LoadError};

const BASE: &str = r#"# The head comment.
[deployment]
name = "t"                 # tags every object
region = "us-east-1"
zones = ["us-east-1a", "us-east-1b"]

[deployment.tags]
Project = "p"

[cidr_set]
admin = ["203.0.113.0/24"]

[image]
al2023 = { ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64" }

[[vpc]]
name = "main"
cidr = "10.0.0.0/16"

# App subnets.
[[subnet]]
name = "app-a"
vpc = "main"
tier = "app"
zone = "us-east-1a"
cidr = "10.0.1.0/24"

[[subnet]]
name = "app-b"
vpc = "main"
tier = "app"
zone = "us-east-1b"
cidr = "10.0.2.0/24"

[[route_table]]
name = "private"
vpc = "main"
subnets = ["app-a", "app-b"]
route = [{ destination = "0.0.0.0/0", nat_gateway = "nat" }]

[[db_subnet_group]]
name = "dbs"
subnets = { tier = "app" }

[[database]]
name = "apim-db"
engine_version = "8.4"
instance_class = "db.t3.medium"
subnet_group = "dbs"

[[instance]]
name = "apim"
count = 2
subnets = ["app-a", "app-b"]
type = "t3.large"
image = "al2023"

[instance.user_data]
template = "node.sh.tpl"
vars = { role = "apim" }
"#;

fn set(text: &str) -> Override {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn sets(texts: &[&str]) -> Vec<Override> {
    texts.iter().map(|t| set(t)).collect()
}

/// `BASE` with the overrides applied.
fn applied(texts: &[&str]) -> String {
    apply(BASE, None, &sets(texts)).unwrap_or_else(|e| panic!("{e}"))
}

fn set_error(texts: &[&str]) -> String {
    apply(BASE, None, &sets(texts)).expect_err("should be refused").to_string()
}

fn overlaid(overlay: &str) -> Result<String, OverrideError> {
    apply(BASE, Some(("team-a.toml", overlay)), &[])
}

/// The value at a path of keys in TOML text, as `toml` reads it.
fn at(text: &str, path: &[&str]) -> toml::Value {
    let mut v: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("not TOML: {e}\n{text}"));
    for p in path {
        v = match v {
            toml::Value::Table(mut t) => t.remove(*p).unwrap_or_else(|| panic!("no `{p}` in {path:?}")),
            toml::Value::Array(a) => match p.parse::<usize>() {
                Ok(i) => a[i].clone(),
                Err(_) => a
                    .into_iter()
                    .find(|e| e.get("name").and_then(toml::Value::as_str) == Some(*p))
                    .unwrap_or_else(|| panic!("no entry `{p}` in {path:?}")),
            },
            other => panic!("{other:?} has no `{p}`"),
        };
    }
    v
}

fn s(v: &str) -> toml::Value {
    toml::Value::String(v.to_string())
}

/// The lines of `after` that differ from `before`, which must have as many lines.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    assert_eq!(before.lines().count(), after.lines().count(), "lines added or removed:\n{after}");
    before.lines().zip(after.lines()).filter(|(a, b)| a != b).map(|(_, b)| b.to_string()).collect()
}

fn reference_spec() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml")
}

fn temp_dir() -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("strato-spec-overrides-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn errors(doc: &Document) -> Vec<String> {
    doc.diagnostics
        .iter()
        .filter(|d| d.severity == strato_spec::Severity::Error)
        .map(|d| format!("{}: {} at {}", d.code, d.message, doc.sources.location(d.span)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Parsing `PATH=VALUE`
// ---------------------------------------------------------------------------------------------

#[test]
fn values_are_toml_or_else_bare_strings() {
    let cases: &[(&str, toml_edit::Value)] = &[
        ("instance.apim.count=3", 3.into()),
        ("vpc.main.dns_support=true", true.into()),
        (r#"deployment.tags.Owner="team-a""#, "team-a".into()),
        ("vpc.main.cidr=10.1.0.0/16", "10.1.0.0/16".into()),
        ("instance.apim.type=m5.large", "m5.large".into()),
        ("deployment.name=team-a", "team-a".into()),
        ("instance.apim.user_data.vars.efs_dns_name=", "".into()),
        ("a.b=x=y", "x=y".into()),
    ];
    for (text, want) in cases {
        let o = set(text);
        assert_eq!(o.value.to_string(), want.to_string(), "{text}");
        assert_eq!(o.text, *text);
    }
    assert_eq!(set(r#"cidr_set.admin=["10.9.0.0/16", "10.8.0.0/16"]"#).value.as_array().map(|a| a.len()), Some(2));
    let table = set("instance.apim.root_volume={ size_gb = 80 }").value;
    assert_eq!(table.as_inline_table().and_then(|t| t.get("size_gb")).and_then(|v| v.as_integer()), Some(80));
}

#[test]
fn paths_are_dotted_keys_and_quoted_segments_may_hold_dots() {
    assert_eq!(set("subnet.app-a.cidr=x").path, ["subnet", "app-a", "cidr"]);
    assert_eq!(set("cidr_set.admin=[]").path, ["cidr_set", "admin"]);
    assert_eq!(set(r#"deployment.tags."team.owner"=x"#).path, ["deployment", "tags", "team.owner"]);
    assert_eq!(set(r#"deployment.tags.'a=b'=x"#).path, ["deployment", "tags", "a=b"]);
    assert_eq!(set(" deployment . name = x ").path, ["deployment", "name"]);
}

#[test]
fn malformed_assignments_are_one_line_errors() {
    let cases = [
        ("deployment.name", "expected PATH=VALUE, e.g. `vpc.main.cidr=10.1.0.0/16`"),
        ("=x", "the path before `=` is empty"),
        ("vpc..cidr=x", "empty segment in the path `vpc..cidr`"),
        ("vpc.main.=x", "empty segment in the path `vpc.main.`"),
        (".vpc=x", "empty segment in the path `.vpc`"),
        (r#"deployment.tags."Owner=x"#, r#"unterminated " in the path of `deployment.tags."Owner=x`"#),
        (r#"deployment.ta"g"s=x"#, r#"quotes must enclose a whole segment of the path of `deployment.ta"g"s=x`"#),
    ];
    for (text, want) in cases {
        let e = text.parse::<Override>().expect_err(text).to_string();
        assert_eq!(e, want, "{text}");
        assert!(!e.contains('\n'));
    }
}

#[test]
fn an_override_can_be_a_clap_value_parser() {
    fn value_parser<T: std::str::FromStr<Err = E> + Clone + Send + Sync + 'static, E>()
    where
        E: std::error::Error + Send + Sync + 'static,
    {
    }
    value_parser::<Override, _>();
}

// ---------------------------------------------------------------------------------------------
// --set
// ---------------------------------------------------------------------------------------------

#[test]
fn each_path_style_sets_its_value() {
    let text = applied(&[
        "deployment.region=eu-west-1",
        "deployment.tags.Owner=team-a",
        r#"cidr_set.admin=["10.9.0.0/16"]"#,
        "image.al2023.os=amazon-2023",
        "vpc.main.cidr=10.1.0.0/16",
        "subnet.app-b.cidr=10.1.2.0/24",
        "instance.apim.count=3",
        "database.apim-db.instance_class=db.r5.large",
        "instance.apim.user_data.vars.role=gateway",
        "route_table.private.route.0.destination=10.8.0.0/16",
        "deployment.zones.1=us-east-1c",
    ]);
    assert_eq!(at(&text, &["deployment", "region"]), s("eu-west-1"));
    assert_eq!(at(&text, &["deployment", "tags", "Owner"]), s("team-a"));
    assert_eq!(at(&text, &["deployment", "tags", "Project"]), s("p"));
    assert_eq!(at(&text, &["cidr_set", "admin"]), toml::Value::Array(vec![s("10.9.0.0/16")]));
    assert_eq!(at(&text, &["image", "al2023", "os"]), s("amazon-2023"));
    assert!(at(&text, &["image", "al2023", "ssm_parameter"]).is_str());
    assert_eq!(at(&text, &["vpc", "main", "cidr"]), s("10.1.0.0/16"));
    assert_eq!(at(&text, &["subnet", "app-b", "cidr"]), s("10.1.2.0/24"));
    assert_eq!(at(&text, &["subnet", "app-a", "cidr"]), s("10.0.1.0/24"));
    assert_eq!(at(&text, &["instance", "apim", "count"]), toml::Value::Integer(3));
    assert_eq!(at(&text, &["database", "apim-db", "instance_class"]), s("db.r5.large"));
    assert_eq!(at(&text, &["instance", "apim", "user_data", "vars", "role"]), s("gateway"));
    assert_eq!(at(&text, &["route_table", "private", "route", "0", "destination"]), s("10.8.0.0/16"));
    assert_eq!(at(&text, &["deployment", "zones", "1"]), s("us-east-1c"));
    // A key added to an inline table reads like one written by hand.
    assert!(text.contains(r#"-x86_64", os = "amazon-2023" }"#), "{text}");
}

#[test]
fn overrides_apply_in_order_and_the_last_wins() {
    let text = applied(&["instance.apim.count=3", "instance.apim.count=5"]);
    assert_eq!(at(&text, &["instance", "apim", "count"]), toml::Value::Integer(5));
}

#[test]
fn a_missing_table_on_the_way_is_created() {
    let text = applied(&["instance.apim.root_volume.size_gb=80", "deployment.tags.extra.x=1"]);
    assert_eq!(at(&text, &["instance", "apim", "root_volume", "size_gb"]), toml::Value::Integer(80));
    let text = apply("[deployment]\nname = \"t\"\n", None, &sets(&["deployment.tags.Owner=a"])).unwrap();
    assert_eq!(at(&text, &["deployment", "tags", "Owner"]), s("a"));
}

#[test]
fn setting_a_value_keeps_every_comment_and_line() {
    let text = applied(&["deployment.name=team-a", "subnet.app-a.cidr=10.1.1.0/24"]);
    assert_eq!(
        changed_lines(BASE, &text),
        ["name = \"team-a\"                 # tags every object", "cidr = \"10.1.1.0/24\""]
    );

    let spec = std::fs::read_to_string(reference_spec()).unwrap();
    let text = apply(&spec, None, &sets(&["deployment.name=team-a", "instance.apim.count=3"])).unwrap();
    assert_eq!(
        changed_lines(&spec, &text),
        ["name = \"team-a\"                 # tags every object; prefix of AWS names", "count = 3"]
    );
}

#[test]
fn unquoted_numbers_stay_strings_where_the_spec_has_strings() {
    let text = applied(&["database.apim-db.engine_version=8.0", "deployment.name=2024"]);
    assert_eq!(at(&text, &["database", "apim-db", "engine_version"]), s("8.0"));
    assert_eq!(at(&text, &["deployment", "name"]), s("2024"));
    // Where the spec has a number, or nothing yet, the value is what it looks like.
    let text = applied(&["instance.apim.count=4", "deployment.tags.Build=42"]);
    assert_eq!(at(&text, &["deployment", "tags", "Build"]), toml::Value::Integer(42));
}

#[test]
fn the_deployment_option_is_a_set_of_deployment_name() {
    let by_option = apply(BASE, None, &[Override::deployment_name("team-a")]).unwrap();
    assert_eq!(by_option, applied(&["deployment.name=team-a"]));
    assert_eq!(Override::deployment_name("team-a").text, "deployment.name=team-a");
    // Whatever it looks like, the name is a string.
    let text = apply(BASE, None, &[Override::deployment_name("true")]).unwrap();
    assert_eq!(at(&text, &["deployment", "name"]), s("true"));
}

#[test]
fn an_unknown_entry_name_is_refused_with_a_suggestion() {
    assert_eq!(
        set_error(&["subnet.app-z.cidr=10.1.0.0/24"]),
        "--set subnet.app-z.cidr=10.1.0.0/24: no [[subnet]] named `app-z` (did you mean `app-a`?)"
    );
    assert_eq!(
        set_error(&["instance.zzzzzz.count=3"]),
        "--set instance.zzzzzz.count=3: no [[instance]] named `zzzzzz` (the names are `apim`)"
    );
    assert_eq!(
        set_error(&["subnet.0.cidr=x"]),
        "--set subnet.0.cidr=x: no [[subnet]] named `0` (the names are `app-a`, `app-b`)"
    );
}

#[test]
fn paths_through_values_and_whole_entries_are_refused() {
    let cases = [
        ("deployment.name.x=1", "--set deployment.name.x=1: `deployment.name` is a string, not a table"),
        ("instance.apim.count.x=1", "--set instance.apim.count.x=1: `instance.apim.count` is an integer, not a table"),
        (
            "subnet.app-a=1",
            "--set subnet.app-a=1: `subnet.app-a` is a whole [[subnet]] entry: set its keys one by one \
             (`subnet.app-a.KEY=VALUE`) or change it with --overlay",
        ),
        ("deployment.zones.5=x", "--set deployment.zones.5=x: `deployment.zones` has 2 element(s), so there is no element 5"),
        (
            "route_table.private.route.first.destination=x",
            "--set route_table.private.route.first.destination=x: `route_table.private.route` is an array without names: \
             address its elements by index (0, 1, ...)",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(set_error(&[text]), want);
    }
}

#[test]
fn entries_without_names_are_addressed_by_index() {
    let spec = "[[security_group]]\nname = \"apim\"\n\n[[security_group.ingress]]\nports = [22]\n\n\
                [[security_group.ingress]]\nports = [443]\n";
    let text = apply(spec, None, &sets(&["security_group.apim.ingress.1.ports=[8443]"])).unwrap();
    assert_eq!(at(&text, &["security_group", "apim", "ingress", "1", "ports", "0"]), toml::Value::Integer(8443));
    assert_eq!(at(&text, &["security_group", "apim", "ingress", "0", "ports", "0"]), toml::Value::Integer(22));
    let e = apply(spec, None, &sets(&["security_group.apim.ingress.0={ ports = [1] }"])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--set security_group.apim.ingress.0={ ports = [1] }: `security_group.apim.ingress.0` is a whole \
         [[security_group.ingress]] entry: set its keys one by one (`security_group.apim.ingress.0.KEY=VALUE`) \
         or change it with --overlay"
    );
}

#[test]
fn a_new_key_or_a_changed_type_reaches_validation_as_the_usual_diagnostic() {
    let dir = temp_dir();
    std::fs::write(dir.join("node.sh.tpl"), "#!/bin/sh\n").unwrap();
    let path = dir.join("spec.toml");
    let doc = load_str("spec.toml", &path, applied(&[r#"instance.apim.count="x""#, "vpc.main.cidrr=10.1.0.0/16"]));
    let found: Vec<_> = doc.diagnostics.iter().map(|d| (d.code, doc.sources.snippet(d.span).to_string())).collect();
    assert!(found.contains(&("wrong-type", "\"x\"".to_string())), "{found:?}");
    assert!(found.iter().any(|(code, text)| *code == "unknown-field" && text == "cidrr"), "{found:?}");
    let wrong = doc.diagnostics.iter().find(|d| d.code == "wrong-type").unwrap();
    assert_eq!(wrong.message, "`count` in instance `apim` must be an integer, not string");
}

// ---------------------------------------------------------------------------------------------
// --overlay
// ---------------------------------------------------------------------------------------------

#[test]
fn an_overlay_merges_tables_and_entries_by_name() {
    let text = overlaid(
        r#"
[deployment]
name = "team-a"
zones = ["us-east-1a"]

[deployment.tags]
Owner = "team-a"

[image]
al2023 = { os = "amazon-2023" }

[[subnet]]
name = "app-b"
cidr = "10.1.2.0/24"

# A third zone.
[[subnet]]
name = "app-c"
vpc = "main"
tier = "app"
zone = "us-east-1c"
cidr = "10.1.3.0/24"

[[route_table]]
name = "private"
route = [{ destination = "0.0.0.0/0", nat_gateway = "nat-b" }]

[[instance]]
name = "apim"

[instance.user_data]
vars = { cluster = "c" }
"#,
    )
    .unwrap();
    assert_eq!(at(&text, &["deployment", "name"]), s("team-a"));
    assert_eq!(at(&text, &["deployment", "region"]), s("us-east-1"));
    assert_eq!(at(&text, &["deployment", "zones"]), toml::Value::Array(vec![s("us-east-1a")]));
    assert_eq!(at(&text, &["deployment", "tags", "Owner"]), s("team-a"));
    assert_eq!(at(&text, &["deployment", "tags", "Project"]), s("p"));
    assert_eq!(at(&text, &["image", "al2023", "os"]), s("amazon-2023"));
    assert!(at(&text, &["image", "al2023", "ssm_parameter"]).is_str());
    assert_eq!(at(&text, &["subnet", "app-b", "cidr"]), s("10.1.2.0/24"));
    assert_eq!(at(&text, &["subnet", "app-b", "zone"]), s("us-east-1b"));
    assert_eq!(at(&text, &["subnet", "app-c", "zone"]), s("us-east-1c"));
    let names: Vec<_> = at(&text, &["subnet"]).as_array().unwrap().iter().map(|e| e["name"].clone()).collect();
    assert_eq!(names, [s("app-a"), s("app-b"), s("app-c")]);
    // An array that is not of named tables is replaced as a whole.
    assert_eq!(at(&text, &["route_table", "private", "route", "0", "nat_gateway"]), s("nat-b"));
    assert_eq!(at(&text, &["instance", "apim", "user_data", "vars", "cluster"]), s("c"));
    assert_eq!(at(&text, &["instance", "apim", "user_data", "vars", "role"]), s("apim"));
    assert_eq!(at(&text, &["instance", "apim", "count"]), toml::Value::Integer(2));
    // The new entry comes right after the spec's own, with the overlay's comment, and the
    // spec's comments stay.
    assert!(text.contains("cidr = \"10.1.2.0/24\"\n\n# A third zone.\n[[subnet]]\nname = \"app-c\""), "{text}");
    assert!(text.contains("name = \"team-a\"                 # tags every object"), "{text}");
    assert!(text.starts_with("# The head comment.\n"));
}

#[test]
fn inline_and_standard_forms_merge_alike() {
    let spec = "vpc = [{ name = \"main\", cidr = \"10.0.0.0/16\" }]\n\n[image.al2023]\nssm_parameter = \"p\"\n";
    let overlay =
        "[[vpc]]\nname = \"main\"\ncidr = \"10.1.0.0/16\"\n\n[[vpc]]\nname = \"other\"\ncidr = \"10.2.0.0/16\"\n\n\
                   [image]\nal2023 = { os = \"amazon-2023\" }\n";
    let text = apply(spec, Some(("o.toml", overlay)), &sets(&["vpc.other.dns_support=true"])).unwrap();
    assert_eq!(at(&text, &["vpc", "main", "cidr"]), s("10.1.0.0/16"));
    assert_eq!(at(&text, &["vpc", "other", "cidr"]), s("10.2.0.0/16"));
    assert_eq!(at(&text, &["vpc", "other", "dns_support"]), toml::Value::Boolean(true));
    assert_eq!(at(&text, &["image", "al2023", "os"]), s("amazon-2023"));
    assert_eq!(at(&text, &["image", "al2023", "ssm_parameter"]), s("p"));
    assert!(text.starts_with("vpc = [{ name = \"main\", cidr = \"10.1.0.0/16\" }, {"), "{text}");
}

#[test]
fn an_overlay_may_add_tables_and_kinds_the_spec_lacks() {
    let text = overlaid(
        r#"
[outputs]
vpc = "${vpc.main.id}"

[[internet_gateway]]
name = "igw"
vpc = "main"
"#,
    )
    .unwrap();
    assert_eq!(at(&text, &["outputs", "vpc"]), s("${vpc.main.id}"));
    assert_eq!(at(&text, &["internet_gateway", "igw", "vpc"]), s("main"));
}

#[test]
fn overlays_apply_before_sets() {
    let text =
        apply(BASE, Some(("o.toml", "[[instance]]\nname = \"apim\"\ncount = 4\n")), &sets(&["instance.apim.count=6"]))
            .unwrap();
    assert_eq!(at(&text, &["instance", "apim", "count"]), toml::Value::Integer(6));
}

#[test]
fn an_overlay_that_is_not_toml_or_has_an_unnamed_entry_is_refused() {
    let e = overlaid("[deployment]\nname = team-a\n").unwrap_err();
    assert!(matches!(e, OverrideError::OverlaySyntax { line: 2, .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.starts_with("--overlay team-a.toml:2:8: invalid TOML: "), "{message}");
    assert!(!message.contains('\n'), "{message}");

    for overlay in
        ["[[subnet]]\ncidr = \"10.1.0.0/24\"\n\n[[subnet]]\nname = \"app-a\"\n", "[[subnet]]\ncidr = \"10.1.0.0/24\"\n"]
    {
        assert_eq!(
            overlaid(overlay).unwrap_err().to_string(),
            "--overlay team-a.toml: [[subnet]] entry 1 has no `name`: [[subnet]] entries are merged by name"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// load_with on the reference spec
// ---------------------------------------------------------------------------------------------

#[test]
fn load_with_nothing_is_load() {
    let path = reference_spec();
    let plain = load(&path).unwrap();
    let with = load_with(&path, None, &[]).unwrap();
    assert_eq!(plain.diagnostics.iter().collect::<Vec<_>>(), with.diagnostics.iter().collect::<Vec<_>>());
    // `Spec` derives only `Debug`; its rendering covers every field and span.
    assert_eq!(format!("{:?}", plain.spec), format!("{:?}", with.spec));
    assert_eq!(plain.sources.get(plain.spec_file).text, with.sources.get(with.spec_file).text);
    assert_eq!(format!("{:?}", plain.sources), format!("{:?}", with.sources));
    assert!(with.overrides.is_empty() && with.overlay.is_none());
    // The reference spec also survives a round trip through the rewrite unchanged.
    let text = std::fs::read_to_string(&path).unwrap();
    let rewritten = apply(&text, Some(("empty.toml", "")), &[]).unwrap();
    assert_eq!(rewritten, text);
}

#[test]
fn a_second_address_plan_from_an_overlay_is_a_valid_spec() {
    let dir = temp_dir();
    let overlay = dir.join("team-a.toml");
    let mut text = String::from(
        "# Team A's copy of the platform, in 10.1.0.0/16.\n[[vpc]]\nname = \"main\"\ncidr = \"10.1.0.0/16\"\n",
    );
    let spec = std::fs::read_to_string(reference_spec()).unwrap();
    let subnets = at(&spec, &["subnet"]);
    for subnet in subnets.as_array().unwrap() {
        let cidr = subnet["cidr"].as_str().unwrap().replacen("10.0.", "10.1.", 1);
        let name = subnet["name"].as_str().unwrap();
        text.push_str(&format!("\n[[subnet]]\nname = \"{name}\"\ncidr = \"{cidr}\"\n"));
    }
    text.push_str("\n[[instance]]\nname = \"puppet\"\nprivate_ip = \"10.1.30.10\"\n");
    std::fs::write(&overlay, text).unwrap();

    let path = reference_spec();
    let overrides = vec![
        Override::deployment_name("team-a"),
        set(r#"deployment.tags.Owner="team-a""#),
        set("vpc.main.cidr=10.1.0.0/16"),
        set("instance.apim.count=3"),
    ];
    let doc = load_with(&path, Some(&overlay), &overrides).unwrap();
    assert_eq!(errors(&doc), Vec::<String>::new());
    assert!(doc.parsed);
    assert_eq!(doc.spec.deployment.name.value, "team-a");
    assert!(doc.spec.deployment.tags.iter().any(|t| t.key.value == "Owner" && t.value.value == "team-a"));
    assert_eq!(doc.spec.vpcs[0].cidr.as_ref().unwrap().value.to_string(), "10.1.0.0/16");
    assert_eq!(doc.spec.subnets.len(), 10);
    assert!(doc.spec.subnets.iter().all(|s| s.cidr.as_ref().unwrap().value.to_string().starts_with("10.1.")));
    assert_eq!(doc.spec.instances.iter().find(|i| i.name.value == "apim").unwrap().count.as_ref().unwrap().value, 3);
    // Templates are still found next to the spec.
    assert!(doc.file_text("bootstrap/wso2-node.sh.tpl").is_some());
    assert_eq!(doc.overlay.as_deref(), Some(overlay.display().to_string().as_str()));
    assert_eq!(
        doc.overrides,
        [
            "deployment.name=team-a",
            r#"deployment.tags.Owner="team-a""#,
            "vpc.main.cidr=10.1.0.0/16",
            "instance.apim.count=3"
        ]
    );
    // Diagnostics name the spec file.
    assert_eq!(doc.sources.get(doc.spec_file).name, path.display().to_string());

    // Without the overlay the old subnets no longer fit the new VPC: the usual diagnostics.
    let doc = load_with(&path, None, &[set("vpc.main.cidr=10.1.0.0/16")]).unwrap();
    assert!(doc.has_errors());
}

#[test]
fn load_with_tells_io_errors_from_override_errors() {
    let path = reference_spec();
    let missing = temp_dir().join("missing.toml");
    match load_with(&path, Some(&missing), &[]) {
        Err(LoadError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    match load_with(&missing, None, &[]) {
        Err(LoadError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    let e = load_with(&path, None, &[set("subnet.app-z.cidr=10.1.0.0/24")]).unwrap_err();
    assert!(matches!(e, LoadError::Override(OverrideError::Set { .. })));
    assert_eq!(
        e.to_string(),
        "--set subnet.app-z.cidr=10.1.0.0/24: no [[subnet]] named `app-z` (did you mean `app-a`?)"
    );
}

#[test]
fn a_spec_that_is_not_toml_gets_its_usual_diagnostics() {
    let dir = temp_dir();
    let path = dir.join("spec.toml");
    std::fs::write(&path, "[deployment]\nname = t\n").unwrap();
    let doc = load_with(&path, None, &[set("deployment.region=x")]).unwrap();
    assert!(!doc.parsed);
    assert_eq!(doc.diagnostics.iter().map(|d| d.code).collect::<Vec<_>>(), ["toml-syntax"]);
    assert_eq!(doc.diagnostics.iter().collect::<Vec<_>>(), load(&path).unwrap().diagnostics.iter().collect::<Vec<_>>());
}
