//! The pictures as a person sees them: the timeline of a real provision (and destroy) of the
//! network tier on the local emulator, and the SVG graph of the reference spec, each opened
//! in headless Chromium, its screenshot decoded and looked at: not blank, not an error page,
//! the critical path's colour there, the tiers' colours where the layout puts them.
//!
//! A run that fails midway (on the AWS-faithful layer, which refuses the NAT gateways) is
//! drawn as well, its failures and what they held back set apart.
//!
//! `scripts/test` starts the emulator (`STRATO_TEST_AWS_ENDPOINT`) and the layer
//! (`STRATO_TEST_FAITHFUL_ENDPOINT`), and installs Debian's `chromium` when it is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const NETWORK: [u8; 3] = [0xdb, 0xea, 0xfe];
const SECURITY: [u8; 3] = [0xfd, 0xe6, 0x8a];
const DATA: [u8; 3] = [0xfe, 0xca, 0xca];
const COMPUTE: [u8; 3] = [0xbb, 0xf7, 0xd0];
const BALANCING: [u8; 3] = [0xe9, 0xd5, 0xff];
/// The timeline's critical-path colour (`strato_graph::timeline::CRITICAL`).
const CRITICAL: [u8; 3] = [0xdc, 0x26, 0x26];
/// The timeline's label column ends here (margin and label width, `timeline.rs`).
const LABELS_END: u32 = 24 + 330;

fn endpoint() -> String {
    std::env::var("STRATO_TEST_AWS_ENDPOINT")
        .expect("STRATO_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the local emulator")
}

fn strato(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(args)
        .current_dir(common::repo())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("strato runs")
}

/// A decoded screenshot, RGB.
struct Shot {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
    path: PathBuf,
}

/// Pixels of a rectangle: `x0..x1`, `y0..y1`.
#[derive(Clone, Copy, Debug)]
struct Area {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Shot {
    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    fn all(&self) -> Area {
        Area { x0: 0, y0: 0, x1: self.width, y1: self.height }
    }

    /// The pixels of `area` that `pick` accepts.
    fn matching(&self, area: Area, pick: impl Fn([u8; 3]) -> bool) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        for y in area.y0..area.y1.min(self.height) {
            for x in area.x0..area.x1.min(self.width) {
                if pick(self.pixel(x, y)) {
                    out.push((x, y));
                }
            }
        }
        out
    }

    /// How many pixels of `area` are `colour` (within a small tolerance for rounding).
    fn count(&self, area: Area, colour: [u8; 3]) -> usize {
        self.matching(area, |p| near(p, colour, 3)).len()
    }

    /// The mean position of the pixels of `colour`.
    fn centroid(&self, colour: [u8; 3]) -> (f64, f64) {
        let px = self.matching(self.all(), |p| near(p, colour, 3));
        assert!(!px.is_empty(), "no pixel of {colour:?} in {}", self.path.display());
        let n = px.len() as f64;
        (px.iter().map(|p| f64::from(p.0)).sum::<f64>() / n, px.iter().map(|p| f64::from(p.1)).sum::<f64>() / n)
    }
}

fn near(p: [u8; 3], c: [u8; 3], tolerance: u8) -> bool {
    p.iter().zip(c).all(|(a, b)| a.abs_diff(b) <= tolerance)
}

/// Dark enough to be text.
fn ink(p: [u8; 3]) -> bool {
    p.iter().all(|&v| v < 110)
}

/// Opens `file` in headless Chromium with a window of `width` x `height` and decodes the
/// screenshot. Chromium runs with a fresh profile, no network features, and a deadline: a
/// browser that hangs is killed by its PID.
fn screenshot(file: &Path, width: u32, height: u32) -> Shot {
    let dir = common::scratch_dir("pictures", &format!("chromium-{}", file.file_name().unwrap().to_string_lossy()));
    let png = dir.join("shot.png");
    let log = std::fs::File::create(dir.join("chromium.log")).unwrap();
    let url = format!("file://{}", file.canonicalize().unwrap().display());
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "headless Chromium (`chromium` on PATH) is needed to look at the pictures and did not start ({e}): \
                 apt-get install chromium (scripts/test installs it)"
            )
        });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium (pid {}) did not finish the screenshot of {url} in 120 s; killed", child.id());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(dir.join("chromium.log")).unwrap_or_default();
    assert!(status.success(), "chromium failed ({status}) on {url}:\n{log}");
    let file = std::fs::File::open(&png).unwrap_or_else(|e| panic!("no screenshot of {url} ({e}):\n{log}"));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let rgb: Vec<u8> = buf[..info.buffer_size()]
        .chunks(channels)
        .flat_map(|p| if channels >= 3 { [p[0], p[1], p[2]] } else { [p[0], p[0], p[0]] })
        .collect();
    // The screenshot stays for a person to look at when a check fails; the profile goes.
    let _ = std::fs::remove_dir_all(dir.join("profile"));
    Shot { width: info.width, height: info.height, rgb, path: png }
}

/// The `width` and `height` of an SVG document's root element.
fn svg_size(svg: &str) -> (u32, u32) {
    let root = &svg[..svg.find('>').expect("an SVG root element")];
    let attr = |name: &str| -> u32 {
        let at = root.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {root}")) + name.len() + 3;
        let value = &root[at..at + root[at..].find('"').unwrap()];
        value.parse::<f64>().unwrap_or_else(|_| panic!("{name}={value}")).ceil() as u32
    };
    (attr("width"), attr("height"))
}

/// The `x`, `y`, `width` and `height` of the first `<rect>` after `marker` in an SVG.
fn rect_after(svg: &str, marker: &str) -> (u32, u32, u32, u32) {
    let at = svg.find(marker).unwrap_or_else(|| panic!("no {marker} in the SVG"));
    let rect = &svg[at + svg[at..].find("<rect ").unwrap()..];
    let rect = &rect[..rect.find("/>").unwrap()];
    let attr = |name: &str| -> u32 {
        let from = rect.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("no {name} in {rect}")) + name.len() + 3;
        rect[from..from + rect[from..].find('"').unwrap()].parse::<f64>().unwrap().round() as u32
    };
    (attr("x"), attr("y"), attr("width"), attr("height"))
}

/// Whether a pixel within `reach` of (`x`, `y`) is `colour`: what the SVG puts there is
/// where the browser drew it (an error banner above the picture would push it down).
fn shows_at(shot: &Shot, x: u32, y: u32, reach: u32, colour: [u8; 3]) -> bool {
    let area = Area { x0: x.saturating_sub(reach), y0: y.saturating_sub(reach), x1: x + reach + 1, y1: y + reach + 1 };
    shot.count(area, colour) > 0
}

/// What every picture must show: mostly not background (white, or the bands' and stripes'
/// near-white), yet not filled; text.
fn assert_drawn(shot: &Shot) {
    let total = (shot.width * shot.height) as usize;
    let background = shot.matching(shot.all(), |p| p.iter().all(|&v| v >= 238)).len();
    assert!(background < total * 95 / 100, "{} is almost all background", shot.path.display());
    assert!(background > total / 5, "{} is hardly background at all", shot.path.display());
    let text = shot.matching(shot.all(), ink).len();
    assert!(text > 2000, "{} shows hardly any text ({text} dark pixels)", shot.path.display());
}

#[test]
fn the_graph_of_the_reference_spec_reads_in_a_browser() {
    let dir = common::scratch_dir("pictures", "graph");
    let out = strato(&["graph", "deploy-specs/wso2-apim-ei.toml", "--format", "svg"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let svg = String::from_utf8(out.stdout).unwrap();
    let file = dir.join("graph.svg");
    std::fs::write(&file, &svg).unwrap();
    let (width, height) = svg_size(&svg);
    let shot = screenshot(&file, width, height);
    assert_eq!((shot.width, shot.height), (width, height));
    assert_drawn(&shot);
    // Each tier's boxes are there (a box is about 8000 pixels), in bands from the network at
    // the top to load balancing at the bottom.
    let mut previous = 0.0;
    for (name, colour) in
        [("network", NETWORK), ("security", SECURITY), ("data", DATA), ("compute", COMPUTE), ("balancing", BALANCING)]
    {
        let n = shot.count(shot.all(), colour);
        assert!(n > 8000, "{name}: only {n} pixels of its colour in {}", shot.path.display());
        let (_, y) = shot.centroid(colour);
        assert!(y > previous, "the {name} band is not below the one before it in {}", shot.path.display());
        previous = y;
    }
    // The regional column is the last: security groups (regional) lie right of instances (in
    // the zones' columns).
    assert!(
        shot.centroid(SECURITY).0 > shot.centroid(COMPUTE).0,
        "regional objects are not right of the zones in {}",
        shot.path.display()
    );
    // The VPC's box is where the SVG puts it, in the network's colour.
    let (x, y, w, _) = rect_after(&svg, "data-address=\"vpc.main\"");
    assert!(
        shows_at(&shot, x + w / 2, y + 3, 1, NETWORK),
        "vpc.main's box is not at ({x}, {y}) in {}",
        shot.path.display()
    );
    // The heading is text at the top left.
    let heading = shot.matching(Area { x0: 0, y0: 0, x1: 500, y1: 60 }, ink).len();
    assert!(heading > 300, "no heading in {}", shot.path.display());
}

#[test]
fn the_timeline_of_a_provision_and_a_destroy_reads_in_a_browser() {
    let dir = common::scratch_dir("pictures", "timeline");
    let state = dir.join("state");
    let endpoint = endpoint();
    // A deployment name of its own: other tests provision the same spec on the same emulator.
    let name = format!("pictures-{}", std::process::id());
    let svg_file = dir.join("provision.svg");
    let common = ["--deployment", &name, "--endpoint-url", &endpoint, "--state-dir", state.to_str().unwrap()];
    let mut args = vec!["provision", "deploy-specs/wso2-network.toml", "--output", "json"];
    args.extend(common);
    args.extend(["--timeline", svg_file.to_str().unwrap()]);
    let up = strato(&args);
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "provision failed:\n{stderr}");
    // The event stream ends with the summary (docs/events.md).
    let stdout = String::from_utf8_lossy(&up.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let summary: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("the last line is no summary ({e}): {stdout}"));
    assert_eq!(summary["event"], "summary", "{last}");
    let created = summary["created"].as_u64().unwrap();
    assert!(created > 40, "{summary}");

    let html_file = dir.join("destroy.html");
    let mut args = vec!["destroy", "deploy-specs/wso2-network.toml", "--yes"];
    args.extend(common);
    args.extend(["--timeline", html_file.to_str().unwrap()]);
    let down = strato(&args);
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(down.status.success(), "destroy failed:\n{stderr}");
    assert!(stderr.contains(&format!("Timeline drawn in {}", html_file.display())), "{stderr}");

    // One bar per object, none failed, the critical path named.
    let svg = std::fs::read_to_string(&svg_file).unwrap();
    assert_eq!(svg.matches("<g class=\"bar ").count() as u64, created, "one row per object");
    assert_eq!(svg.matches("<g class=\"bar done\"").count() as u64, created);
    assert!(svg.contains("critical path ("), "no critical path in the heading");
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg "), "not the page with the chart");
    assert!(html.contains("delete accepted"), "a destroy's mark is the accepted delete");

    // The page puts the chart 16 pixels in from its corner.
    for (file, offset) in [(&svg_file, 0), (&html_file, 16)] {
        let text = std::fs::read_to_string(file).unwrap();
        let chart = &text[text.find("<svg ").unwrap()..];
        let (width, height) = svg_size(chart);
        // The first bar of the critical path: its outline is where the SVG puts it.
        let first_critical = chart
            .match_indices("<g class=\"bar ")
            .map(|(at, _)| &chart[at..at + chart[at..].find("</g>").unwrap()])
            .find(|bar| bar.contains("stroke=\"#dc2626\""))
            .expect("a bar on the critical path");
        let (bar_x, bar_y, _, bar_h) = rect_after(first_critical, "<title>");
        let shot = screenshot(file, width + 2 * offset, height + 2 * offset);
        let below_legend = 24 + 118 + 26 + offset;
        let labels = Area { x0: offset, y0: below_legend, x1: LABELS_END - 4 + offset, y1: shot.height };
        let bars = Area { x0: LABELS_END + offset, y0: below_legend, x1: shot.width, y1: shot.height };
        assert_drawn(&shot);
        assert!(
            shows_at(&shot, bar_x + offset, bar_y + bar_h / 2 + offset, 2, CRITICAL),
            "{}: the first critical bar's outline is not at ({bar_x}, {bar_y})",
            shot.path.display()
        );
        // The critical path: its colour on bars and on their names.
        let critical_bars = shot.count(bars, CRITICAL);
        let critical_names = shot.matching(labels, |p| near(p, CRITICAL, 40)).len();
        assert!(critical_bars > 200, "{}: {critical_bars} critical-path pixels on the bars", shot.path.display());
        assert!(critical_names > 50, "{}: no critical-path names", shot.path.display());
        // Bars in the tiers' colours, right of the names and never under them.
        for (name, colour) in [("network", NETWORK), ("security", SECURITY)] {
            let on_bars = shot.count(bars, colour);
            let on_names = shot.count(labels, colour);
            assert!(on_bars > 3000, "{}: only {on_bars} pixels of {name} bars", shot.path.display());
            assert!(on_names < 50, "{}: {on_names} pixels of {name} under the names", shot.path.display());
        }
        // Names in the label column, one per row.
        let names = shot.matching(labels, ink).len();
        assert!(names as u64 > created * 20, "{}: {names} pixels of names", shot.path.display());
    }
}

#[test]
fn a_timeline_that_is_neither_svg_nor_html_is_refused_before_any_call() {
    // Nothing listens on port 9: a call would fail differently and later.
    let dir = common::scratch_dir("pictures", "refused");
    for (path, says) in
        [(dir.join("run.png"), "must end in .svg or .html"), (dir.join("missing/run.svg"), "does not exist")]
    {
        let out = strato(&[
            "provision",
            "deploy-specs/wso2-network.toml",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--state-dir",
            dir.join("state").to_str().unwrap(),
            "--timeline",
            path.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(!dir.join("state").exists(), "no state was opened");
    }
}

#[test]
fn a_run_that_fails_midway_is_drawn_with_its_failures_and_skips() {
    let s = common::Session::new(serde_json::json!({
        "seed": 11,
        "scale": 20.0,
        "rules": common::all_rules(),
        "deny": [{ "operation": "CreateNatGateway", "code": "AccessDenied" }],
    }));
    let dir = common::scratch_dir("pictures", "failed");
    let state = dir.join("state");
    let file = dir.join("failed.svg");
    let spec = "deploy-specs/wso2-network.toml";
    let up = s.strato(&["provision", spec, "--timeline", file.to_str().unwrap()], &state);
    let stderr = common::stderr(&up);
    assert_eq!(up.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("Timeline drawn in {}", file.display())), "{stderr}");
    let svg = std::fs::read_to_string(&file).unwrap();
    let bars = |class: &str| -> Vec<String> {
        let marker = format!("<g class=\"bar {class}\" data-name=\"");
        svg.match_indices(&marker)
            .map(|(at, m)| {
                let rest = &svg[at + m.len()..];
                rest[..rest.find('"').unwrap()].to_string()
            })
            .collect()
    };
    let failed = bars("failed");
    let skipped = bars("skipped");
    assert_eq!(failed.len(), 3, "the three NAT gateways fail: {failed:?}");
    assert!(failed.iter().all(|a| a.starts_with("nat_gateway.")), "{failed:?}");
    // The private routes go through the NAT gateways: skipped, each naming its cause.
    assert!(skipped.iter().any(|a| a.starts_with("route_table.private-")), "{skipped:?}");
    assert!(svg.contains("skipped: nat_gateway."), "a skipped bar names the failure");
    assert!(svg.contains("CreateNatGateway failed: AccessDenied"), "a failed bar's tooltip has the error");
    assert!(bars("done").len() > 40, "what did not need the NAT gateways was made");
    // In the browser: the failures' hatching is there.
    let (width, height) = svg_size(&svg);
    let shot = screenshot(&file, width, height);
    assert_drawn(&shot);
    let hatched = shot.count(shot.all(), [0x7f, 0x1d, 0x1d]);
    assert!(hatched > 30, "{}: no failed bars to see ({hatched} pixels)", shot.path.display());

    let down = s.strato(&["destroy", spec, "--yes"], &state);
    assert!(down.status.success(), "{}", common::stderr(&down));
}
