//! The dependency graph as an SVG picture, laid out without external tools: one horizontal
//! band per tier (network, security, data, compute, load balancing: the order a platform is
//! built in, read from each kind's row of [`crate::KINDS`]), one column per availability
//! zone and one for regional objects. A node is in a zone when AWS places it there: a subnet
//! by its zone, and what sits in one subnet (a NAT gateway, a route-table association, a
//! mount target, an instance) or on one instance (a target registration, whose
//! `RegisterTargets` entry carries the instance's zone) in that subnet's zone; everything
//! else is regional.
//!
//! Nodes are boxes in their tier's colour, labelled with the address after its kind's prefix
//! (shortened in the middle to fit, the whole address in the box's tooltip) and the kind. Edges run from a
//! dependency to what waits for it, solid where the dependent needs the dependency *ready*,
//! dashed where *created* is enough. The output depends only on the graph: the same spec
//! always draws the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use strato_spec::Stage;

use crate::{Desired, Graph, NodeId, Tier};

const MARGIN: i64 = 24;
const BOX_W: i64 = 212;
const BOX_H: i64 = 38;
const GAP_X: i64 = 14;
const GAP_Y: i64 = 14;
/// Left column with the tiers' names.
const BAND_LABEL_W: i64 = 150;
/// Space around the boxes inside a cell.
const PAD: i64 = 14;
/// Rows a cell aims at before it grows another column.
const ROWS_PER_CELL: usize = 6;
const MAX_SUB_COLUMNS: usize = 5;
/// The font stack of strato's drawings (the graph and the timeline).
pub(crate) const FONT: &str = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif";
const INK: &str = "#0f172a";
const MUTED: &str = "#475569";
const EDGE: &str = "#64748b";

/// The availability zone AWS places a node in; `None` for regional objects.
pub fn zone_of(g: &Graph, id: NodeId) -> Option<&str> {
    let subnet_zone = |s: NodeId| match &g.node(s).desired {
        Some(Desired::Subnet { zone, .. }) => Some(zone.as_str()),
        _ => None,
    };
    match g.node(id).desired.as_ref()? {
        Desired::Subnet { zone, .. } => Some(zone),
        Desired::NatGateway { subnet, .. }
        | Desired::RouteTableAssociation { subnet, .. }
        | Desired::MountTarget { subnet, .. } => subnet_zone(*subnet),
        Desired::Instance(spec) => subnet_zone(spec.subnet),
        Desired::TargetRegistration { instance, .. } => zone_of(g, *instance),
        _ => None,
    }
}

/// Text safe inside an XML element or attribute.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// About how wide `chars` characters of a sans-serif font of `size` pixels are: a
/// conservative average, so that shortened text never overflows its box.
pub(crate) fn text_width(chars: usize, size: f64) -> f64 {
    chars as f64 * size * 0.62
}

/// `s`, shortened in the middle with an ellipsis to fit `width` pixels at `size`: both ends
/// of an address tell most (its kind and its key).
pub(crate) fn fit(s: &str, width: f64, size: f64) -> String {
    let max = ((width / (size * 0.62)).floor() as usize).max(4);
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max {
        return s.to_string();
    }
    let keep = max - 1;
    let head = keep.div_ceil(2);
    let tail = keep - head;
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Where one node is drawn: its box's top-left corner.
#[derive(Clone, Copy)]
struct Place {
    x: i64,
    y: i64,
}

/// The dependency graph as a standalone SVG document.
pub fn to_svg(g: &Graph, title: &str) -> String {
    // Columns: the zones in name order, then the regional one.
    let zones: Vec<Option<&str>> = {
        let mut z: Vec<Option<&str>> = (0..g.nodes().len()).map(|i| zone_of(g, NodeId(i))).collect();
        z.sort();
        z.dedup();
        // `None` sorts first; regional objects go last.
        let regional_first = usize::from(z.first() == Some(&None));
        z.rotate_left(regional_first);
        if z.is_empty() {
            z.push(None);
        }
        z
    };
    let column = |id: NodeId| zones.iter().position(|z| *z == zone_of(g, id)).unwrap_or(zones.len() - 1);
    // Cells: (tier, column) -> nodes, in kind order and then spec order.
    let mut cells: BTreeMap<(Tier, usize), Vec<NodeId>> = BTreeMap::new();
    for (i, n) in g.nodes().iter().enumerate() {
        cells.entry((n.kind.tier(), column(NodeId(i)))).or_default().push(NodeId(i));
    }
    for ids in cells.values_mut() {
        ids.sort_by_key(|id| (g.node(*id).kind, *id));
    }
    // Each column is as many boxes wide as its fullest cell needs; each band as tall as its
    // tallest cell.
    let sub_columns: Vec<usize> = (0..zones.len())
        .map(|c| {
            let most = cells.iter().filter(|((_, col), _)| *col == c).map(|(_, ids)| ids.len()).max().unwrap_or(1);
            most.div_ceil(ROWS_PER_CELL).clamp(1, MAX_SUB_COLUMNS)
        })
        .collect();
    let tiers: Vec<Tier> = Tier::ALL.into_iter().filter(|t| cells.keys().any(|(tier, _)| tier == t)).collect();
    let band_rows: Vec<usize> = tiers
        .iter()
        .map(|t| {
            (0..zones.len())
                .map(|c| cells.get(&(*t, c)).map_or(0, |ids| ids.len().div_ceil(sub_columns[c])))
                .max()
                .unwrap_or(1)
                .max(1)
        })
        .collect();
    let column_w: Vec<i64> = sub_columns.iter().map(|&k| PAD * 2 + k as i64 * BOX_W + (k as i64 - 1) * GAP_X).collect();
    let band_h: Vec<i64> = band_rows.iter().map(|&r| PAD * 2 + r as i64 * BOX_H + (r as i64 - 1) * GAP_Y).collect();

    let header_h = 96;
    let column_head_h = 28;
    let grid_x = MARGIN + BAND_LABEL_W;
    let grid_y = MARGIN + header_h + column_head_h;
    let column_x: Vec<i64> = column_w.iter().scan(grid_x, |x, w| Some(std::mem::replace(x, *x + w))).collect();
    let band_y: Vec<i64> = band_h.iter().scan(grid_y, |y, h| Some(std::mem::replace(y, *y + h))).collect();
    let width = grid_x + column_w.iter().sum::<i64>() + MARGIN;
    let height = grid_y + band_h.iter().sum::<i64>() + MARGIN;

    let mut place = vec![Place { x: 0, y: 0 }; g.nodes().len()];
    for ((tier, c), ids) in &cells {
        let band = tiers.iter().position(|t| t == tier).unwrap_or(0);
        for (k, id) in ids.iter().enumerate() {
            let (row, sub) = (k / sub_columns[*c], k % sub_columns[*c]);
            place[id.0] = Place {
                x: column_x[*c] + PAD + sub as i64 * (BOX_W + GAP_X),
                y: band_y[band] + PAD + row as i64 * (BOX_H + GAP_Y),
            };
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}">"#
    );
    let _ = writeln!(out, "<title>{}</title>", esc(&format!("strato graph: {title}")));
    out.push_str(&format!(
        r#"<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{EDGE}"/></marker></defs>
"#
    ));
    let _ = writeln!(out, r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##);
    // Heading and legend.
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="20" font-weight="bold" fill="{INK}">{}</text>"#,
        MARGIN + 20,
        esc(&format!("Dependency graph of `{title}`"))
    );
    let _ = writeln!(
        out,
        r#"<text x="{MARGIN}" y="{}" font-size="13" fill="{MUTED}">{} objects, {} dependencies; arrows point from what is needed to what waits for it; columns are availability zones</text>"#,
        MARGIN + 42,
        g.nodes().len(),
        g.edges().len()
    );
    legend(&mut out, MARGIN, MARGIN + 60, &tiers);

    // Bands and columns.
    for (b, tier) in tiers.iter().enumerate() {
        let fill = if b % 2 == 0 { "#f8fafc" } else { "#f1f5f9" };
        let _ = writeln!(
            out,
            r#"<rect class="band" x="{MARGIN}" y="{}" width="{}" height="{}" fill="{fill}"/>"#,
            band_y[b],
            width - 2 * MARGIN,
            band_h[b]
        );
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="8" height="{}" fill="{}"/>"#,
            MARGIN,
            band_y[b],
            band_h[b],
            tier.colour()
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="14" font-weight="bold" fill="{INK}">{}</text>"#,
            MARGIN + 16,
            band_y[b] + 24,
            esc(tier.title())
        );
    }
    for (c, zone) in zones.iter().enumerate() {
        let label = zone.unwrap_or("regional");
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="14" font-weight="bold" fill="{INK}" text-anchor="middle">{}</text>"#,
            column_x[c] + column_w[c] / 2,
            grid_y - 9,
            esc(label)
        );
        if c > 0 {
            let _ = writeln!(
                out,
                r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#cbd5e1" stroke-width="1"/>"##,
                grid_y - column_head_h,
                height - MARGIN,
                x = column_x[c]
            );
        }
    }

    // Edges under the boxes.
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    for e in g.edges() {
        let (from, to) = (place[e.dependency.0], place[e.dependent.0]);
        let d = edge_path(from, to);
        let dash = match e.needs {
            Stage::Ready => "",
            Stage::Created => r#" stroke-dasharray="5 4""#,
        };
        let _ = writeln!(
            out,
            r#"<path class="edge" data-from="{}" data-to="{}" d="{d}" stroke="{EDGE}" stroke-opacity="0.55" stroke-width="1.2"{dash} marker-end="url(#arrow)"/>"#,
            esc(g.node(e.dependency).address.as_str()),
            esc(g.node(e.dependent).address.as_str()),
        );
    }
    out.push_str("</g>\n");

    // Boxes.
    for (i, n) in g.nodes().iter().enumerate() {
        let p = place[i];
        let address = n.address.as_str();
        let _ = writeln!(
            out,
            r#"<g class="node" data-address="{}" data-kind="{}"><title>{}</title>"#,
            esc(address),
            n.kind,
            esc(&format!("{address} ({})", n.kind))
        );
        let _ = writeln!(
            out,
            r#"<rect x="{}" y="{}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{}" stroke="{MUTED}" stroke-width="1"/>"#,
            p.x,
            p.y,
            n.kind.info().colour
        );
        // The kind is the second line: the first is the rest of the address.
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="11.5" font-weight="bold" fill="{INK}">{}</text>"#,
            p.x + 8,
            p.y + 16,
            // Bold glyphs are wider: fitted as a size larger.
            esc(&fit(n.address.path(), (BOX_W - 14) as f64, 12.5))
        );
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{}" font-size="10" fill="{MUTED}">{}</text></g>"#,
            p.x + 8,
            p.y + 31,
            n.kind
        );
    }
    out.push_str("</svg>\n");
    out
}

/// A curve from a dependency to its dependent: down from the bottom of a box to the top of
/// one below, sideways from the side of a box to one beside it.
fn edge_path(from: Place, to: Place) -> String {
    let (fx, tx) = (from.x + BOX_W / 2, to.x + BOX_W / 2);
    if to.y >= from.y + BOX_H {
        let (fy, ty) = (from.y + BOX_H, to.y);
        let bend = ((ty - fy) / 2).max(20);
        return format!("M{fx},{fy} C{fx},{} {tx},{} {tx},{ty}", fy + bend, ty - bend);
    }
    if to.y + BOX_H <= from.y {
        // Upwards (a dependency drawn below its dependent): out of the top, into the bottom.
        let (fy, ty) = (from.y, to.y + BOX_H);
        let bend = ((fy - ty) / 2).max(20);
        return format!("M{fx},{fy} C{fx},{} {tx},{} {tx},{ty}", fy - bend, ty + bend);
    }
    // Side by side in one row: from the facing sides.
    let (fy, ty) = (from.y + BOX_H / 2, to.y + BOX_H / 2);
    let (fx, tx) = if to.x >= from.x { (from.x + BOX_W, to.x) } else { (from.x, to.x + BOX_W) };
    let mid = (fx + tx) / 2;
    format!("M{fx},{fy} C{mid},{fy} {mid},{ty} {tx},{ty}")
}

/// The tiers' colours and the two kinds of arrow.
fn legend(out: &mut String, x: i64, y: i64, tiers: &[Tier]) {
    let mut at = x;
    for t in tiers {
        let _ = writeln!(
            out,
            r#"<g class="legend"><rect x="{at}" y="{y}" width="18" height="14" rx="3" fill="{}" stroke="{MUTED}"/><text x="{}" y="{}" font-size="12" fill="{INK}">{}</text></g>"#,
            t.colour(),
            at + 24,
            y + 12,
            esc(t.title())
        );
        at += 24 + text_width(t.title().len(), 12.0) as i64 + 18;
    }
    at += 12;
    let _ = writeln!(
        out,
        r#"<path d="M{at},{} l34,0" stroke="{EDGE}" stroke-width="1.5" marker-end="url(#arrow)"/><text x="{}" y="{}" font-size="12" fill="{INK}">needs it ready</text>"#,
        y + 7,
        at + 42,
        y + 12
    );
    at += 42 + text_width(14, 12.0) as i64 + 18;
    let _ = writeln!(
        out,
        r#"<path d="M{at},{} l34,0" stroke="{EDGE}" stroke-width="1.5" stroke-dasharray="5 4" marker-end="url(#arrow)"/><text x="{}" y="{}" font-size="12" fill="{INK}">needs it created</text>"#,
        y + 7,
        at + 42,
        y + 12
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_both_ends() {
        assert_eq!(fit("vpc.main", 200.0, 11.5), "vpc.main");
        let long = "target_group.apim-analytics-dashboard.target[apim-analytics-dashboard]";
        let short = fit(long, 198.0, 11.5);
        assert!(short.chars().count() < long.len(), "{short}");
        assert!(short.starts_with("target_group.") && short.ends_with("dashboard]") && short.contains('…'), "{short}");
        assert!(text_width(short.chars().count(), 11.5) <= 198.0);
    }

    #[test]
    fn esc_escapes_markup() {
        assert_eq!(esc(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
