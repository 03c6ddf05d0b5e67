//! `topo plan --format html` opened in a real browser: Debian's Chromium,
//! headless, driven over the DevTools protocol. The page must load without a
//! console message of warning or error level (its Content-Security-Policy
//! turns any script or network fetch into one), keep inside the viewport at a
//! desktop and a phone width, show every node of every phase where the plan
//! puts it, and paint it: the screenshot has each node's card, with its
//! requests bar, inside the box the layout gives it, and nothing right of the
//! page's column.
//!
//! Chromium comes from `scripts/setup-validators` (`/usr/bin/chromium`, or
//! `$TOPO_CHROMIUM`); a missing browser fails the test.

// Tests: failing loudly, with the context, is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Emulation, Log, Page, Runtime};
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde::Deserialize;

use crate::spec_gen;
use crate::support::{TOPO, root};

fn chromium() -> PathBuf {
    let path = std::env::var_os("TOPO_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.exists(), "no Chromium at {}: run scripts/setup-validators (or set TOPO_CHROMIUM)", path.display());
    path
}

fn browser() -> Browser {
    let options = LaunchOptions::default_builder()
        .path(Some(chromium()))
        // The tests run as root in CI, where Chromium's sandbox cannot start.
        .sandbox(false)
        .window_size(Some((1280, 900)))
        .idle_browser_timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    Browser::new(options).unwrap()
}

/// The plan of `spec` as HTML and as JSON, written to a temporary directory.
struct Rendered {
    dir: tempfile::TempDir,
    json: serde_json::Value,
}

impl Rendered {
    fn of(spec: &Path) -> Rendered {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("plan.html");
        let html =
            run(&["plan", "--spec", spec.to_str().unwrap(), "--format", "html", "--out", page.to_str().unwrap()]);
        assert!(html.is_empty(), "--out prints nothing: {html}");
        let json = serde_json::from_str(&run(&["plan", "--spec", spec.to_str().unwrap(), "--format", "json"])).unwrap();
        Rendered { dir, json }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().join("plan.html").display())
    }

    fn text(&self) -> String {
        fs_err::read_to_string(self.dir.path().join("plan.html")).unwrap()
    }

    /// Each phase's number and node names, as the JSON plan has them.
    fn phases(&self) -> Vec<(u64, Vec<String>)> {
        let phases = self.json["phases"].as_array().unwrap();
        phases
            .iter()
            .map(|p| {
                let nodes = p["nodes"].as_array().unwrap();
                (p["number"].as_u64().unwrap(), nodes.iter().map(|n| n["name"].as_str().unwrap().to_owned()).collect())
            })
            .collect()
    }
}

fn run(args: &[&str]) -> String {
    let out = std::process::Command::new(TOPO).args(args).env("DB_PASSWORD", "unused").output().unwrap();
    assert!(out.status.success(), "topo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// What the page's layout says, measured in the browser (CSS pixels, page coordinates).
#[derive(Debug, Deserialize)]
struct Layout {
    scroll_width: f64,
    client_width: f64,
    height: f64,
    main: Rect,
    phases: Vec<PhaseLayout>,
    /// Elements outside the page's column (not inside a box that scrolls sideways: a table, a `pre`).
    outside: Vec<String>,
    /// Text boxes inside node cards whose content is wider than they are.
    cut: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct PhaseLayout {
    phase: u64,
    nodes: Vec<NodeLayout>,
}

#[derive(Debug, Deserialize)]
struct NodeLayout {
    name: String,
    rect: Rect,
    /// The requests bar's width, in CSS pixels (0 when the node has no requests).
    requests: f64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

const MEASURE: &str = r#"JSON.stringify((() => {
  const box = e => { const r = e.getBoundingClientRect();
    return { x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height }; };
  const main = document.querySelector('main');
  const m = main.getBoundingClientRect();
  const outside = [...main.querySelectorAll('*')]
    .filter(e => !e.parentElement.closest('.scroll, pre'))
    .filter(e => { const r = e.getBoundingClientRect();
      return r.width > 0 && (r.right > m.right + 0.5 || r.left < m.left - 0.5); })
    .map(e => e.tagName.toLowerCase() + (e.getAttribute('class') ? '.' + e.getAttribute('class') : '') + ': ' + e.textContent.slice(0, 80));
  const cut = [...document.querySelectorAll('figure.node figcaption, figure.node .meter > div, figure.node li')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent);
  const phases = [...document.querySelectorAll('section.phase')].map(s => ({
    phase: Number(s.dataset.phase),
    nodes: [...s.querySelectorAll('figure.node')].map(f => ({
      name: f.dataset.node, rect: box(f),
      requests: f.querySelector('.meter rect:nth-of-type(3)').getBoundingClientRect().width,
    })),
  }));
  const de = document.documentElement;
  return { scroll_width: de.scrollWidth, client_width: de.clientWidth, height: de.scrollHeight, main: box(main),
    phases, outside, cut };
})())"#;

/// Console messages and log entries of warning level and above, and uncaught exceptions.
type Complaints = Arc<Mutex<Vec<String>>>;

fn open(browser: &Browser, url: &str, width: u32) -> (Arc<Tab>, Complaints) {
    let tab = browser.new_tab().unwrap();
    let complaints: Complaints = Arc::default();
    let sink = Arc::clone(&complaints);
    tab.add_event_listener(Arc::new(move |event: &Event| {
        let complaint = match event {
            Event::LogEntryAdded(e) => {
                matches!(e.params.entry.level, Log::LogEntryLevel::Warning | Log::LogEntryLevel::Error)
                    .then(|| format!("log: {}", e.params.entry.text))
            }
            Event::RuntimeConsoleAPICalled(e) => matches!(
                e.params.Type,
                Runtime::ConsoleAPICalledEventTypeOption::Error | Runtime::ConsoleAPICalledEventTypeOption::Warning
            )
            .then(|| format!("console: {:?}", e.params.args)),
            Event::RuntimeExceptionThrown(e) => Some(format!("exception: {}", e.params.exception_details.text)),
            _ => None,
        };
        if let Some(complaint) = complaint {
            sink.lock().unwrap().push(complaint);
        }
    }))
    .unwrap();
    tab.enable_log().unwrap();
    tab.enable_runtime().unwrap();
    resize(&tab, width, 900);
    tab.navigate_to(url).unwrap();
    tab.wait_until_navigated().unwrap();
    (tab, complaints)
}

fn resize(tab: &Tab, width: u32, height: u32) {
    tab.call_method(Emulation::SetDeviceMetricsOverride {
        width,
        height,
        device_scale_factor: 1.0,
        mobile: width < 600,
        scale: None,
        screen_width: None,
        screen_height: None,
        position_x: None,
        position_y: None,
        dont_set_visible_size: None,
        screen_orientation: None,
        viewport: None,
        display_feature: None,
        device_posture: None,
    })
    .unwrap();
}

fn measure(tab: &Tab) -> Layout {
    let value = tab.evaluate(MEASURE, false).unwrap().value.expect("the measuring script returns a value");
    serde_json::from_str(value.as_str().unwrap()).unwrap()
}

/// Everything the layout must say of a plan's page at one width.
fn assert_layout(layout: &Layout, rendered: &Rendered, what: &str) {
    assert!(
        layout.scroll_width <= layout.client_width,
        "{what}: the page is {} px wide in a {} px viewport",
        layout.scroll_width,
        layout.client_width
    );
    assert!(layout.outside.is_empty(), "{what}: outside the page's column: {:?}", layout.outside);
    assert!(layout.cut.is_empty(), "{what}: text cut in node cards: {:?}", layout.cut);
    let shown: Vec<(u64, Vec<&str>)> =
        layout.phases.iter().map(|p| (p.phase, p.nodes.iter().map(|n| n.name.as_str()).collect())).collect();
    let planned: Vec<(u64, Vec<String>)> = rendered.phases();
    let planned: Vec<(u64, Vec<&str>)> =
        planned.iter().map(|(n, nodes)| (*n, nodes.iter().map(String::as_str).collect())).collect();
    assert_eq!(shown, planned, "{what}: every node of every phase, in the plan's order");
    let main = layout.main;
    for phase in &layout.phases {
        for node in &phase.nodes {
            let r = node.rect;
            assert!(r.w > 100.0 && r.h > 40.0, "{what}: node {} of phase {} is {r:?}", node.name, phase.phase);
            assert!(
                r.x >= main.x - 0.5 && r.x + r.w <= main.x + main.w + 0.5,
                "{what}: node {} of phase {} at {r:?} is outside the column {main:?}",
                node.name,
                phase.phase
            );
        }
    }
}

/// A screenshot of the whole page at 1280 px, decoded: rows of RGB or RGBA pixels.
struct Shot {
    width: usize,
    height: usize,
    /// Bytes per pixel: 3 (RGB) or 4 (RGBA).
    bytes: usize,
    data: Vec<u8>,
}

impl Shot {
    fn take(tab: &Tab, height: f64) -> Shot {
        let height = height.ceil() as u32;
        resize(tab, 1280, height);
        let png = tab.capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true).unwrap();
        resize(tab, 1280, 900);
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let mut data = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut data).unwrap();
        let bytes = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
            (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
            other => panic!("a screenshot of {other:?}"),
        };
        Shot { width: info.width as usize, height: info.height as usize, bytes, data }
    }

    fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * self.bytes;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Pixels in `r` (CSS px = screenshot px here) for which `is` holds.
    fn count(&self, r: Rect, is: impl Fn([u8; 3]) -> bool) -> usize {
        let (x0, y0) = (r.x.max(0.0) as usize, r.y.max(0.0) as usize);
        let x1 = ((r.x + r.w) as usize).min(self.width);
        let y1 = ((r.y + r.h) as usize).min(self.height);
        (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| is(self.pixel(x, y))).count()
    }
}

/// The requests colour (#0969da), or the over-committed one (#cf222e), give or take anti-aliasing.
fn requests_colour([r, g, b]: [u8; 3]) -> bool {
    let near = |c: [u8; 3]| (r.abs_diff(c[0]) as u32 + g.abs_diff(c[1]) as u32 + b.abs_diff(c[2]) as u32) < 40;
    near([0x09, 0x69, 0xda]) || near([0xcf, 0x22, 0x2e])
}

fn white([r, g, b]: [u8; 3]) -> bool {
    r > 250 && g > 250 && b > 250
}

/// The screenshot shows what the layout says: each node's card painted in its box with its
/// requests bar, and nothing painted right of the page's column.
fn assert_painted(shot: &Shot, layout: &Layout, what: &str) {
    assert_eq!(shot.width, 1280, "{what}: the screenshot is the viewport's width");
    assert!(shot.height as f64 >= layout.height - 1.0, "{what}: the screenshot holds the whole page");
    for phase in &layout.phases {
        for node in &phase.nodes {
            let inked = shot.count(node.rect, |p| !white(p));
            assert!(inked > 500, "{what}: node {} of phase {} is not painted ({inked} px)", node.name, phase.phase);
            if node.requests >= 1.0 {
                let bar = shot.count(node.rect, requests_colour);
                assert!(
                    bar as f64 >= node.requests,
                    "{what}: node {} of phase {}: its requests bar is {} px wide and {bar} px are painted",
                    node.name,
                    phase.phase,
                    node.requests
                );
            }
        }
    }
    let right = layout.main.x + layout.main.w;
    let margin = Rect { x: right + 1.0, y: 0.0, w: 1280.0 - right - 1.0, h: shot.height as f64 };
    let painted = shot.count(margin, |p| !white(p));
    assert_eq!(painted, 0, "{what}: {painted} px painted right of the page's column (x > {right})");
}

/// Specs whose plans the browser opens: the core scenario and the examples with more than one phase.
fn specs() -> Vec<PathBuf> {
    let mut specs = vec![root().join("specs/finanzas.yaml")];
    for entry in fs_err::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") && fs_err::read_to_string(&path).unwrap().contains("\n  2:") {
            specs.push(path);
        }
    }
    specs.sort();
    assert!(specs.len() >= 3, "finanzas and at least two examples: {specs:?}");
    specs
}

#[test]
fn the_html_plan_opens_in_chromium_complete_inside_the_page_and_without_a_complaint() {
    let browser = browser();
    for spec in specs() {
        let rendered = Rendered::of(&spec);
        let what = spec.file_name().unwrap().to_string_lossy().into_owned();
        let (tab, complaints) = open(&browser, &rendered.url(), 1280);
        let layout = measure(&tab);
        assert_layout(&layout, &rendered, &what);
        let shot = Shot::take(&tab, layout.height);
        assert_painted(&shot, &layout, &what);

        resize(&tab, 390, 844);
        let phone = measure(&tab);
        assert_layout(&phone, &rendered, &format!("{what} at 390 px"));
        let complaints = complaints.lock().unwrap();
        assert!(complaints.is_empty(), "{what}: {complaints:?}");
        tab.close(false).unwrap();
    }
}

#[test]
fn the_html_migration_page_lists_every_step() {
    let spec = root().join("specs/finanzas.yaml");
    let spec = spec.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("diff.html");
    fs_err::write(&page, run(&["diff", "--spec", spec, "--from", "1", "--to", "2", "--format", "html"])).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&run(&["diff", "--spec", spec, "--from", "1", "--to", "2", "--format", "json"])).unwrap();
    let titles: Vec<&str> = json["steps"].as_array().unwrap().iter().map(|s| s["title"].as_str().unwrap()).collect();
    assert!(titles.len() > 3, "the move to Swarm takes steps: {titles:?}");

    let browser = browser();
    let (tab, complaints) = open(&browser, &format!("file://{}", page.display()), 1280);
    let shown = tab.evaluate(
        "JSON.stringify([...document.querySelectorAll('ol.steps > li > strong')].map(e => e.textContent))",
        false,
    );
    let shown: Vec<String> = serde_json::from_str(shown.unwrap().value.unwrap().as_str().unwrap()).unwrap();
    assert_eq!(shown, titles, "every step, in order");
    let layout = tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth", false);
    assert_eq!(layout.unwrap().value, Some(serde_json::Value::Bool(true)), "no sideways scrolling");
    let complaints = complaints.lock().unwrap();
    assert!(complaints.is_empty(), "{complaints:?}");
}

#[test]
fn a_large_plan_page_holds_every_node_and_stays_light() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("topo.yaml");
    fs_err::write(&spec, spec_gen::spec(400)).unwrap();
    let rendered = Rendered::of(&spec);
    let nodes: usize = rendered.phases().iter().map(|(_, nodes)| nodes.len()).sum();
    assert!(nodes >= 70, "the generated spec has many nodes: {nodes}");
    let size = rendered.text().len();
    assert!(size < 4 * 1024 * 1024, "a 400-service plan page is {size} bytes");

    let browser = browser();
    let (tab, complaints) = open(&browser, &rendered.url(), 1280);
    let layout = measure(&tab);
    assert_layout(&layout, &rendered, "400 services");
    let complaints = complaints.lock().unwrap();
    assert!(complaints.is_empty(), "{complaints:?}");
}

#[test]
fn the_html_plan_has_no_script_and_fetches_nothing() {
    for spec in specs() {
        let text = Rendered::of(&spec).text();
        assert!(!text.contains("<script"), "{}: no script element", spec.display());
        for remote in ["src=", "href=\"http", "url(", "@import", "<link", "<iframe"] {
            assert!(!text.contains(remote), "{}: nothing fetched, yet it has {remote}", spec.display());
        }
        assert!(text.contains("Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'"));
    }
}
