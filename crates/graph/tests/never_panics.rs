//! Property tests: whatever text an operator feeds strato, reading, validating, building the
//! graph, estimating it and rendering the diagnostics never panic, and every diagnostic
//! points inside a file that was read.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use strato_graph::{check, Durations, Graph};
use strato_spec::diag::{render_human, render_json};

fn reference_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml")
}

fn reference_text() -> String {
    std::fs::read_to_string(reference_path()).expect("reference spec")
}

/// The whole pipeline the CLI runs before touching AWS.
fn run(text: String) {
    let doc = strato_spec::load_str("fuzz.toml", &reference_path(), text);
    let graph = if doc.parsed { Graph::from_document(&doc) } else { Graph::default() };
    let mut diags: Vec<_> = doc.diagnostics.iter().cloned().collect();
    diags.extend(check(&graph));
    let _ = graph.estimate(&Durations::default());
    let _ = graph.topological_order();
    for d in &diags {
        let file = &doc.sources.get(d.span.file).text;
        assert!(d.span.start <= d.span.end && d.span.end <= file.len(), "span out of file: {d:?}");
    }
    let _ = render_human(&doc.sources, &diags);
    let _ = render_json(&doc.sources, &diags);
    if diags.is_empty() {
        assert!(graph.topological_order().is_some(), "a valid spec has an order");
    }
}

/// Field names and values of the real language, so generated documents get deep into the
/// reader and the checks instead of failing at the first key.
const KEYS: &[&str] = &[
    "name",
    "vpc",
    "cidr",
    "zone",
    "tier",
    "subnet",
    "subnets",
    "ports",
    "from_groups",
    "from_cidrs",
    "protocol",
    "port",
    "forward",
    "redirect",
    "certificate",
    "targets",
    "count",
    "private_ip",
    "type",
    "image",
    "security_groups",
    "user_data",
    "template",
    "vars",
    "priority",
    "hosts",
    "scheme",
    "instance_class",
    "subnet_group",
    "mount_targets",
    "health_check",
    "stickiness",
    "destination",
    "internet_gateway",
    "nat_gateway",
    "open_to_world",
    "region",
    "zones",
    "domain",
    "role",
    "database_secrets",
    "csr_challenge",
    "aws_name",
    "os",
    "ssl_policy",
    "backup",
    "publicly_accessible",
    "engine_version",
];
const TABLES: &[&str] = &[
    "vpc",
    "subnet",
    "internet_gateway",
    "nat_gateway",
    "route_table",
    "security_group",
    "key_pair",
    "certificate",
    "instance_role",
    "db_subnet_group",
    "database",
    "file_system",
    "instance",
    "load_balancer",
    "target_group",
    "route_table.route",
    "security_group.ingress",
    "load_balancer.listener",
    "load_balancer.listener.rule",
];
const VALUES: &[&str] = &[
    "\"main\"",
    "\"a\"",
    "\"10.0.0.0/16\"",
    "\"10.0.1.0/24\"",
    "\"0.0.0.0/0\"",
    "\"us-east-1a\"",
    "\"us-east-1\"",
    "[\"us-east-1a\", \"us-east-1b\"]",
    "443",
    "0",
    "-1",
    "70000",
    "true",
    "\"HTTPS\"",
    "[22, \"1-65535\"]",
    "[\"a\", \"b\"]",
    "{ tier = \"app\" }",
    "\"${instance.a.private_ip}\"",
    "\"${database.a.endpoint}\"",
    "\"${deployment.csr_challenge_parameter}\"",
    "\"${database.a.master_secret_arn}\"",
    "\"${node.os}\"",
    "\"internal-a\"",
    "\"8.0\"",
    "{ template = \"bootstrap/bastion.sh.tpl\" }",
    "\"10.0.1.4\"",
    "\"t3.micro\"",
    "\"db.m5.large\"",
    "{}",
    "[]",
    "1.5",
    "1979-05-27",
    "\"internet-facing\"",
];

fn document() -> impl Strategy<Value = String> {
    let entry = (0..KEYS.len(), 0..VALUES.len()).prop_map(|(k, v)| format!("{} = {}\n", KEYS[k], VALUES[v]));
    let table = (0..TABLES.len(), prop::collection::vec(entry, 0..8))
        .prop_map(|(t, entries)| format!("[[{}]]\n{}", TABLES[t], entries.concat()));
    let header = "[deployment]\nname = \"d\"\nregion = \"us-east-1\"\nzones = [\"us-east-1a\", \"us-east-1b\"]\n";
    prop::collection::vec(table, 0..12).prop_map(move |tables| format!("{header}{}", tables.concat()))
}

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLines(usize, usize),
    DuplicateLine(usize),
    ReplaceByte(usize, char),
    Insert(usize, String),
}

fn mutated_reference() -> impl Strategy<Value = String> {
    let m = prop_oneof![
        (0usize..2000, 1usize..20).prop_map(|(a, n)| Mutation::DeleteLines(a, n)),
        (0usize..2000).prop_map(Mutation::DuplicateLine),
        (0usize..40000, any::<char>()).prop_map(|(i, c)| Mutation::ReplaceByte(i, c)),
        (0usize..40000, "[\\[\\]{}=\"',.$ a-z0-9\n-]{0,12}").prop_map(|(i, s)| Mutation::Insert(i, s)),
    ];
    prop::collection::vec(m, 1..6).prop_map(|ms| {
        let mut text = reference_text();
        for m in ms {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            match m {
                Mutation::DeleteLines(a, n) => {
                    let a = a % lines.len().max(1);
                    let b = (a + n).min(lines.len());
                    lines.drain(a..b);
                    text = lines.join("\n");
                }
                Mutation::DuplicateLine(a) => {
                    let a = a % lines.len().max(1);
                    let l = lines[a].clone();
                    lines.insert(a, l);
                    text = lines.join("\n");
                }
                Mutation::ReplaceByte(i, c) => {
                    let mut i = i % text.len().max(1);
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    let end = text[i..].chars().next().map_or(i, |ch| i + ch.len_utf8());
                    text.replace_range(i..end, &c.to_string());
                }
                Mutation::Insert(i, s) => {
                    let mut i = i % text.len().max(1);
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    text.insert_str(i, &s);
                }
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        run(text);
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        run(String::from_utf8_lossy(&bytes).into_owned());
    }

    #[test]
    fn generated_documents_never_panic(text in document()) {
        run(text);
    }

    #[test]
    fn mutated_reference_spec_never_panics(text in mutated_reference()) {
        run(text);
    }
}

#[test]
fn the_unmutated_reference_spec_is_valid() {
    let doc = strato_spec::load_str("ref.toml", &reference_path(), reference_text());
    let graph = Graph::from_document(&doc);
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    assert!(check(&graph).is_empty());
}
