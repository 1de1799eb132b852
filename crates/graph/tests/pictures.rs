//! The SVG drawings read back as XML: the dependency graph of the reference spec (every
//! node once, in its tier's band and its zone's column; every edge once) and the timeline of
//! a run (every row once, the critical path marked, failures and skips drawn apart).

use std::collections::BTreeMap;
use std::path::PathBuf;

use strato_graph::timeline::{self, Dep, Row, RowOutcome, Timeline};
use strato_graph::{Graph, Kind, NodeId};
use strato_spec::Stage;

fn reference() -> Graph {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy-specs/wso2-apim-ei.toml");
    let doc = strato_spec::load(&path).unwrap();
    assert!(doc.diagnostics.is_empty(), "{:?}", doc.diagnostics);
    Graph::from_document(&doc)
}

/// The first number of a path's `d` or a rect's `x`/`y`.
fn num(node: roxmltree::Node<'_, '_>, attr: &str) -> f64 {
    node.attribute(attr).unwrap_or_else(|| panic!("no {attr}")).parse().unwrap()
}

#[test]
fn the_graph_svg_has_every_node_once_and_every_edge() {
    let g = reference();
    let svg = strato_graph::to_svg(&g, "wso2");
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));

    let mut boxes: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for node in doc.descendants().filter(|n| n.attribute("class") == Some("node")) {
        let address = node.attribute("data-address").unwrap().to_string();
        let rect = node.children().find(|c| c.has_tag_name("rect")).unwrap();
        let text: String = node.children().filter(|c| c.has_tag_name("text")).filter_map(|c| c.text()).collect();
        assert!(!text.trim().is_empty(), "{address} has no label");
        assert!(boxes.insert(address.clone(), (num(rect, "x"), num(rect, "y"))).is_none(), "{address} is drawn twice");
    }
    let addresses: Vec<String> = g.nodes().iter().map(|n| n.address.to_string()).collect();
    assert_eq!(boxes.keys().cloned().collect::<Vec<_>>(), {
        let mut a = addresses.clone();
        a.sort();
        a
    });

    let edges: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("edge"))
        .map(|n| (n.attribute("data-from").unwrap().to_string(), n.attribute("data-to").unwrap().to_string()))
        .collect();
    assert_eq!(edges.len(), g.edges().len());
    for e in g.edges() {
        let pair = (g.node(e.dependency).address.to_string(), g.node(e.dependent).address.to_string());
        assert!(edges.contains(&pair), "no edge {pair:?}");
    }

    // Tiers are bands from top to bottom: every network box is above every security box, and
    // so on down to load balancing.
    let tier_of = |a: &str| g.node(g.find(a).unwrap()).kind.tier();
    for (a, (_, ya)) in &boxes {
        for (b, (_, yb)) in &boxes {
            if tier_of(a) < tier_of(b) {
                assert!(ya < yb, "{a} ({:?}) is not above {b} ({:?})", tier_of(a), tier_of(b));
            }
        }
    }
    // Zones are columns: what sits in one zone shares the horizontal range of its column,
    // apart from another zone's and from the regional objects.
    let mut span: BTreeMap<Option<String>, (f64, f64)> = BTreeMap::new();
    for (i, n) in g.nodes().iter().enumerate() {
        let zone = strato_graph::zone_of(&g, NodeId(i)).map(str::to_string);
        let x = boxes[n.address.as_str()].0;
        let s = span.entry(zone).or_insert((x, x));
        *s = (s.0.min(x), s.1.max(x));
    }
    let zones: Vec<_> = span.keys().cloned().collect();
    assert_eq!(
        zones,
        vec![None, Some("us-east-1a".into()), Some("us-east-1b".into()), Some("us-east-1c".into())],
        "three zones and the regional column"
    );
    for (a, sa) in &span {
        for (b, sb) in &span {
            if a != b {
                assert!(sa.1 < sb.0 || sb.1 < sa.0, "columns {a:?} {sa:?} and {b:?} {sb:?} overlap");
            }
        }
    }
    assert_eq!(strato_graph::zone_of(&g, g.find("instance.apim-1").unwrap()), Some("us-east-1a"));
    assert_eq!(strato_graph::zone_of(&g, g.find("vpc.main").unwrap()), None);

    // The same graph draws the same bytes.
    assert_eq!(svg, strato_graph::to_svg(&reference(), "wso2"));
}

#[test]
fn a_title_with_markup_stays_text() {
    let svg = strato_graph::to_svg(&reference(), "a<b>&\"c\"");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let title = doc.descendants().find(|n| n.has_tag_name("title")).unwrap();
    assert_eq!(title.text(), Some("strato graph: a<b>&\"c\""));
}

fn row(name: &str, kind: Kind, times: (f64, Option<f64>, f64), deps: &[usize], outcome: RowOutcome) -> Row {
    Row {
        name: name.to_string(),
        kind: Some(kind),
        start: Some(times.0),
        created: times.1,
        end: Some(times.2),
        outcome,
        deps: deps.iter().map(|&row| Dep { row, needs: Stage::Ready }).collect(),
    }
}

#[test]
fn the_timeline_svg_has_every_row_once_and_marks_the_critical_path() {
    let mut rows = vec![
        row("vpc.main", Kind::Vpc, (0.0, Some(0.5), 1.0), &[], RowOutcome::Done),
        row("subnet.a", Kind::Subnet, (1.0, None, 2.0), &[0], RowOutcome::Done),
        row("nat_gateway.a", Kind::NatGateway, (2.0, Some(3.0), 90.0), &[1], RowOutcome::Done),
        row("security_group.web", Kind::SecurityGroup, (1.0, None, 3.0), &[0], RowOutcome::Done),
        row("instance.web", Kind::Instance, (3.0, None, 20.0), &[3], RowOutcome::Failed("RunInstances: boom".into())),
        row(
            "target_group.web.target[web]",
            Kind::TargetRegistration,
            (20.0, None, 20.0),
            &[4],
            RowOutcome::Skipped { because: 4 },
        ),
    ];
    rows.push(Row {
        name: "load_balancer.web".into(),
        kind: Some(Kind::LoadBalancer),
        start: None,
        created: None,
        end: None,
        outcome: RowOutcome::NotStarted,
        deps: vec![Dep { row: 3, needs: Stage::Created }],
    });
    let t = Timeline { title: "provision test".into(), elapsed: 90.5, mark: String::new(), rows };
    assert_eq!(timeline::critical_path(&t.rows), vec![0, 1, 2]);
    let svg = timeline::to_svg(&t);
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}"));
    let bars: Vec<_> =
        doc.descendants().filter(|n| n.attribute("class").is_some_and(|c| c.starts_with("bar "))).collect();
    let mut names: Vec<&str> = bars.iter().map(|b| b.attribute("data-name").unwrap()).collect();
    names.sort();
    let mut expected: Vec<&str> = t.rows.iter().map(|r| r.name.as_str()).collect();
    expected.sort();
    assert_eq!(names, expected);
    let class_of =
        |name: &str| bars.iter().find(|b| b.attribute("data-name") == Some(name)).unwrap().attribute("class");
    assert_eq!(class_of("instance.web"), Some("bar failed"));
    assert_eq!(class_of("target_group.web.target[web]"), Some("bar skipped"));
    assert_eq!(class_of("load_balancer.web"), Some("bar not-started"));
    // The critical path's bars carry its colour, and only they.
    let critical: Vec<&str> = bars
        .iter()
        .filter(|b| b.descendants().any(|c| c.attribute("stroke") == Some(timeline::CRITICAL)))
        .map(|b| b.attribute("data-name").unwrap())
        .collect();
    assert_eq!(critical, vec!["vpc.main", "subnet.a", "nat_gateway.a"]);
    assert_eq!(doc.descendants().filter(|n| n.attribute("class") == Some("critical-link")).count(), 2);
    // Created marks where created came before the end: the VPC and the NAT gateway.
    let marked: Vec<&str> = bars
        .iter()
        .filter(|b| b.descendants().any(|c| c.attribute("class") == Some("created")))
        .map(|b| b.attribute("data-name").unwrap())
        .collect();
    assert_eq!(marked, vec!["vpc.main", "nat_gateway.a"]);
    // Each bar's tooltip says what happened.
    let tip = |name: &str| {
        let bar = bars.iter().find(|b| b.attribute("data-name") == Some(name)).unwrap();
        bar.children().find(|c| c.has_tag_name("title")).and_then(|t| t.text()).unwrap().to_string()
    };
    assert!(tip("instance.web").contains("failed: RunInstances: boom"), "{}", tip("instance.web"));
    assert!(tip("nat_gateway.a").contains("created at 3.000 s"), "{}", tip("nat_gateway.a"));
    assert!(tip("nat_gateway.a").contains("on the critical path"));

    let html = timeline::to_html(&t);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>strato provision test</title>"));
    assert!(html.contains(&svg), "the page holds the SVG as it is");
    assert!(!html.contains("src=") && !html.contains("href="), "nothing external");
}
