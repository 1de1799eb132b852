//! The monthly cost `plan` shows: the reference spec's total against the same sum worked
//! out here from the spec's text and the price table's text, and the change a day-two plan
//! shows for a bigger instance type against a state that records the spec as provisioned.
//! No AWS: the state is written here and the plan is not refreshed.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";
const PRICES: &str = "crates/graph/src/prices-us-east-1.toml";

fn strato(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .current_dir(common::repo())
        .output()
        .expect("strato runs");
    assert!(out.status.success(), "strato {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn plan_json(state: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["plan", SPEC, "--state", state.to_str().unwrap(), "--refresh=false", "--output", "json"];
    args.extend_from_slice(extra);
    serde_json::from_slice(&strato(&args).stdout).expect("plan JSON")
}

fn toml_file(path: &str) -> toml::Table {
    std::fs::read_to_string(common::repo().join(path)).unwrap().parse().unwrap()
}

fn num(v: &toml::Value) -> f64 {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64)).unwrap_or_else(|| panic!("not a number: {v:?}"))
}

/// The spec's monthly cost in dollars, from its text and the table's text alone, and how
/// many priced lines strato should show (each rounded to the cent).
fn expected_total(spec: &toml::Table, prices: &toml::Table) -> (f64, usize) {
    let hours = num(&prices["hours_per_month"]);
    let price = |table: &str, key: &str| num(&prices[table][key]);
    let ipv4 = num(&prices["public_ipv4_hour"]) * hours;
    let entries = |name: &str| spec.get(name).and_then(|v| v.as_array()).cloned().unwrap_or_default();
    let (mut total, mut lines) = (0.0, 0);
    for i in entries("instance") {
        let count = i.get("count").and_then(|c| c.as_integer()).unwrap_or(1) as f64;
        let root = i.get("root_volume");
        let gb = root.and_then(|r| r.get("size_gb")).map_or(num(&prices["default_root_gb"]), num);
        let volume = root.and_then(|r| r.get("type")).and_then(|t| t.as_str()).unwrap_or("gp3");
        let mut each = price("ec2_hour", i["type"].as_str().unwrap()) * hours + gb * price("ebs_gb_month", volume);
        lines += 2 * count as usize;
        if i.get("public_ip").and_then(|p| p.as_bool()) == Some(true) {
            each += ipv4;
            lines += count as usize;
        }
        total += count * each;
    }
    for d in entries("database") {
        let copies = if d["multi_az"].as_bool() == Some(true) { 2.0 } else { 1.0 };
        let engine = d["engine"].as_str().unwrap();
        let hourly = num(&prices["rds_hour"][engine][d["instance_class"].as_str().unwrap()]);
        let storage = num(&d["storage_gb"]) * price("rds_storage_gb_month", d["storage_type"].as_str().unwrap());
        total += copies * (hourly * hours + storage);
        lines += 2;
    }
    // A NAT gateway and its Elastic IP.
    let nats = entries("nat_gateway").len() as f64;
    total += nats * (num(&prices["nat_gateway_hour"]) * hours + ipv4);
    lines += 2 * nats as usize;
    let subnets = entries("subnet");
    for lb in entries("load_balancer") {
        total += num(&prices["load_balancer_hour"]) * hours;
        lines += 1;
        if lb["scheme"].as_str() == Some("internet-facing") {
            // One public address per zone: the subnets the selector picks.
            let zones = match &lb["subnets"] {
                toml::Value::Array(a) => a.len(),
                t => subnets.iter().filter(|s| s.get("tier") == t.get("tier")).count(),
            };
            total += zones as f64 * ipv4;
            lines += 1;
        }
    }
    (total, lines)
}

fn dollars(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not an amount: {v}"))
}

#[test]
fn the_reference_spec_costs_the_sum_of_its_parts() {
    let state = common::scratch_dir("cost", "first");
    let plan = plan_json(&state, &[]);
    let cost = &plan["cost"];
    assert_eq!(cost["currency"], "USD");
    assert_eq!(cost["region"], "us-east-1");
    assert_eq!(cost["as_of"], toml_file(PRICES)["as_of"].as_str().unwrap());
    assert!(cost["delta"].is_null(), "a first plan has no change in cost: {}", cost["delta"]);

    let lines = cost["lines"].as_array().unwrap();
    let priced: Vec<f64> = lines.iter().filter(|l| l["basis"] == "monthly").map(|l| dollars(&l["monthly"])).collect();
    let sum: f64 = priced.iter().sum();
    assert!((dollars(&cost["total"]) - sum).abs() < 0.005, "total {} is not the sum of its lines {sum}", cost["total"]);

    let (expected, count) = expected_total(&toml_file(SPEC), &toml_file(PRICES));
    assert_eq!(priced.len(), count, "priced lines: {lines:#?}");
    // Each line is rounded to the cent.
    let slack = 0.005 * count as f64;
    assert!((sum - expected).abs() <= slack, "strato says {sum:.2}, the table says {expected:.2}");
    assert!(expected > 1000.0, "the reference architecture costs more than that: {expected}");

    // The file system is billed by use, and nothing is left unpriced.
    assert_eq!(lines.iter().filter(|l| l["basis"] == "by_use").count(), 1);
    assert_eq!(cost["unknown"].as_array().unwrap().len(), 0);

    // The text shows the same total and the table's date.
    let text = String::from_utf8(strato(&["plan", SPEC, "--state", state.to_str().unwrap(), "--refresh=false"]).stdout)
        .unwrap();
    let total_row = text.lines().find(|l| l.trim_start().starts_with("total")).expect("a total row");
    let shown: f64 = total_row.split('$').nth(1).unwrap().replace(',', "").trim().parse().unwrap();
    assert!((shown - sum).abs() < 0.005, "{total_row}");
    assert!(text.contains(cost["as_of"].as_str().unwrap()), "{text}");
    let block: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("Cost per month")).collect();
    assert!(block.len() > 5, "no cost block:\n{text}");
    assert!(block.iter().all(|l| l.chars().count() <= 80), "a cost line is wider than 80:\n{}", block.join("\n"));
}

/// Writes a state that records every object of the spec as provisioned, with the inputs
/// the spec gives it.
fn provisioned_state(dir: &Path) {
    let doc = strato_spec::load(&common::repo().join(SPEC)).unwrap();
    let graph = strato_graph::Graph::from_document(&doc);
    let d = &doc.spec.deployment;
    let mut state = strato_state::State::new(&d.name.value, &d.region.value);
    state.deployment_id = Some("d-cost-test".into());
    let tags: Vec<(String, String)> = d.tags.iter().map(|t| (t.key.value.clone(), t.value.value.clone())).collect();
    let none = |_: strato_graph::NodeId, _: &str| None;
    for (i, node) in graph.nodes().iter().enumerate() {
        let mut o = strato_state::Object::new(node.kind.as_str());
        o.status = strato_state::Status::Ready;
        o.id = Some(format!("id-{i}"));
        o.inputs = strato_graph::change::inputs(&graph, strato_graph::NodeId(i), &tags, &none);
        state.objects.insert(node.address.to_string(), o);
    }
    let at = dir.join(&d.name.value);
    std::fs::create_dir_all(&at).unwrap();
    std::fs::write(at.join("state.json"), serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

#[test]
fn a_bigger_instance_type_shows_its_change_in_cost() {
    let state = common::scratch_dir("cost", "day-two");
    provisioned_state(&state);
    let same = plan_json(&state, &[]);
    assert_eq!(dollars(&same["cost"]["delta"]), 0.0, "nothing changed: {}", same["cost"]["delta"]);
    let now = dollars(&same["cost"]["current_total"]);
    assert!((now - dollars(&same["cost"]["total"])).abs() < 0.005);

    // Both `ei` nodes go from c5.xlarge to c5.2xlarge.
    let bigger = plan_json(&state, &["--set", "instance.ei.type=c5.2xlarge"]);
    let cost = &bigger["cost"];
    let prices = toml_file(PRICES);
    let hours = num(&prices["hours_per_month"]);
    let each = (num(&prices["ec2_hour"]["c5.2xlarge"]) - num(&prices["ec2_hour"]["c5.xlarge"])) * hours;
    let delta = dollars(&cost["delta"]);
    assert!((delta - 2.0 * each).abs() < 0.011, "delta {delta}, expected {:.2}", 2.0 * each);
    assert!((dollars(&cost["current_total"]) - now).abs() < 0.005, "the state's cost does not depend on the spec");
    assert!((dollars(&cost["total"]) - (now + delta)).abs() < 0.005);
    // The plan changes the type of those two and of nothing else.
    let retyped: Vec<&str> = bigger["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["changes"].as_array().unwrap().iter().any(|c| c["attribute"] == "instance_type"))
        .map(|o| o["address"].as_str().unwrap())
        .collect();
    assert_eq!(retyped, ["instance.ei-1", "instance.ei-2"]);

    // The text shows now, after and the change.
    let text = String::from_utf8(
        strato(&[
            "plan",
            SPEC,
            "--state",
            state.to_str().unwrap(),
            "--refresh=false",
            "--set",
            "instance.ei.type=c5.2xlarge",
        ])
        .stdout,
    )
    .unwrap();
    let total_row = text.lines().find(|l| l.trim_start().starts_with("total")).expect("a total row");
    assert!(total_row.ends_with(&format!("+${:.2}", 2.0 * each)), "{total_row}");
    assert!(text.contains("now") && text.contains("after") && text.contains("change"), "{text}");
}

#[test]
fn an_instance_type_missing_from_the_table_is_named_and_left_out() {
    let state = common::scratch_dir("cost", "unknown");
    let known = plan_json(&state, &[]);
    let plan = plan_json(&state, &["--set", "instance.bastion.type=m5zn.large"]);
    let cost = &plan["cost"];
    assert_eq!(cost["unknown"], serde_json::json!(["instance.bastion"]));
    let line = cost["lines"].as_array().unwrap().iter().find(|l| l["basis"] == "unknown").unwrap();
    assert!(line["monthly"].is_null());
    assert!(line["note"].as_str().unwrap().contains("m5zn.large"), "{line}");
    let t3_micro = num(&toml_file(PRICES)["ec2_hour"]["t3.micro"]) * 730.0;
    let less = dollars(&known["cost"]["total"]) - dollars(&cost["total"]);
    assert!((less - t3_micro).abs() < 0.006, "the total leaves out the bastion's {t3_micro:.2}: {less}");
}

#[test]
fn figures_for_another_region_say_they_are_us_east_1s() {
    let state = common::scratch_dir("cost", "region");
    let spec = "tests/specs/valid/minimal.toml";
    let text = String::from_utf8(strato(&["plan", spec, "--state", state.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("the deployment is in eu-west-1; these are us-east-1's prices"), "{text}");
    assert!(text.contains("us-east-1 prices of"), "{text}");
}

#[test]
fn every_type_the_repository_specs_use_is_priced() {
    let prices = toml_file(PRICES);
    let mut specs: Vec<String> = Vec::new();
    for dir in ["deploy-specs", "tests/specs/valid"] {
        for e in std::fs::read_dir(common::repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                specs.push(p.strip_prefix(common::repo()).unwrap().to_str().unwrap().to_string());
            }
        }
    }
    assert!(specs.len() >= 4, "{specs:?}");
    let mut seen = 0;
    for spec in &specs {
        let t = toml_file(spec);
        let entries = |name: &str| t.get(name).and_then(|v| v.as_array()).cloned().unwrap_or_default();
        for i in entries("instance") {
            let ty = i["type"].as_str().unwrap();
            assert!(prices["ec2_hour"].get(ty).is_some(), "{spec}: instance type {ty} has no price");
            seen += 1;
        }
        for d in entries("database") {
            let engine = d.get("engine").and_then(|e| e.as_str()).unwrap_or("mysql");
            let class = d["instance_class"].as_str().unwrap();
            assert!(prices["rds_hour"][engine].get(class).is_some(), "{spec}: {class} ({engine}) has no price");
            seen += 1;
        }
    }
    assert!(seen >= 10, "only {seen} types found in {specs:?}");
    // The classes the day-two tests change databases to.
    for class in ["db.r5.xlarge", "db.r5.large", "db.t3.large"] {
        assert!(prices["rds_hour"]["mysql"].get(class).is_some(), "{class}");
    }
}
