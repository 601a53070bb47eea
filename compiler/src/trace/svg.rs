//! A trace as a self-contained SVG picture: every node a box with its pods,
//! their lxc devices, `cilium_host` and `cilium_vxlan`; the traced path as
//! numbered arrows; a drop as a red stop sign with its reason. No scripts, no
//! external fonts, integer coordinates only, so the output is deterministic.

use std::fmt::Write;

use super::render::verdict_text;
use super::simulate::{program, Family, Hop, Source, Trace, Verdict};
use super::view::{Datapath, NodeConfig, PodRef};
use crate::bpf::{Interface, HOST_DEVICE, OVERLAY_DEVICE};
use crate::layout::Reason;

const MARGIN: i32 = 20;
const TOP: i32 = 70;
const GAP: i32 = 50;
const HEADER_H: i32 = 52;
const ROW_H: i32 = 56;
const POD_X: i32 = 14;
const POD_W: i32 = 250;
const POD_H: i32 = 44;
const DEV_X: i32 = 284;
const HOST_X: i32 = 150;
const DEV_W: i32 = 120;
const DEV_H: i32 = 32;
/// Step badges sit just right of the device where the program runs.
const BADGE_X: i32 = DEV_X + DEV_W + 16;
/// Step labels sit in a column right of every device box, so they never
/// cover one.
const LABEL_X: i32 = DEV_X + DEV_W + 4;
/// The widest label line: `lxc miss · ipcache /32 hit`.
const LABEL_W: i32 = label_width(26);
/// The vertical lane right of the labels that arrows between rows take
/// (a drop's stop sign sits on it).
const LANE_X: i32 = LABEL_X + LABEL_W + 16;
const NODE_W: i32 = LANE_X + 18;
const STATUS_H: i32 = 24;
const LINE_H: i32 = 18;

const PATH: &str = "#1565c0";
const DROP: &str = "#c62828";
const SRC: &str = "#1565c0";
const DST: &str = "#2e7d32";

/// Width of a label box whose longest line has `chars` characters: 9px
/// monospace glyphs are about 5.5px wide, plus 5px padding each side.
const fn label_width(chars: i32) -> i32 {
    (chars * 11 + 1) / 2 + 10
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A larger cluster is drawn in part, so the picture stays readable: the
/// nodes on the path only, and on a crowded node only the pods on the path.
const MAX_NODES_DRAWN: usize = 4;
const MAX_PODS_DRAWN: usize = 12;

struct Layout<'a> {
    nodes: Vec<&'a NodeConfig>,
    /// Pods drawn on each node, in view order.
    rows: Vec<Vec<&'a PodRef>>,
    /// Pods of each node left out.
    hidden_pods: Vec<usize>,
    hidden_nodes: usize,
    pod_rows: i32,
}

impl Layout<'_> {
    fn node_x(&self, node: usize) -> i32 {
        MARGIN + node as i32 * (NODE_W + GAP)
    }
    fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }
    fn row_y(&self, row: usize) -> i32 {
        TOP + HEADER_H + row as i32 * ROW_H
    }
    /// Vertical centre of a pod row (pod box, lxc box and veth).
    fn row_cy(&self, row: usize) -> i32 {
        self.row_y(row) + POD_H / 2
    }
    fn dev_y(&self) -> i32 {
        TOP + HEADER_H + self.pod_rows * ROW_H + 4
    }
    fn status_y(&self) -> i32 {
        self.dev_y() + DEV_H + 8
    }
    fn node_bottom(&self) -> i32 {
        self.status_y() + STATUS_H + 6
    }
    fn underlay_y(&self) -> i32 {
        self.node_bottom() + 30
    }
    fn width(&self) -> i32 {
        let nodes = self.nodes.len().max(1) as i32;
        (2 * MARGIN + nodes * NODE_W + (nodes - 1) * GAP).max(1000)
    }
    fn row_of(&self, node: usize, ip: std::net::IpAddr) -> Option<usize> {
        self.rows[node].iter().position(|p| p.has_ip(ip))
    }
    fn row_named(&self, node: usize, name: &str) -> Option<usize> {
        self.rows[node].iter().position(|p| p.name == name)
    }
}

struct Canvas {
    body: String,
}

impl Canvas {
    fn rect(&mut self, (x, y, w, h): (i32, i32, i32, i32), fill: &str, stroke: &str, stroke_width: i32) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"/>"#
        );
    }
    fn text(&mut self, x: i32, y: i32, size: i32, attrs: &str, text: &str) {
        let _ = writeln!(self.body, r#"<text x="{x}" y="{y}" font-size="{size}"{attrs}>{}</text>"#, esc(text));
    }
    fn line(&mut self, x1: i32, y1: i32, x2: i32, y2: i32, stroke: &str, width: i32) {
        let _ = writeln!(
            self.body,
            r#"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}" stroke-width="{width}"/>"#
        );
    }
    fn arrow(&mut self, points: &[(i32, i32)]) {
        let points: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let _ = writeln!(
            self.body,
            r#"<polyline points="{}" fill="none" stroke="{PATH}" stroke-width="3" stroke-linejoin="round" marker-end="url(#arrowhead)"/>"#,
            points.join(" ")
        );
    }
    /// A device box with its name and, smaller, a detail.
    fn device(&mut self, x: i32, y: i32, name: &str, detail: &str) {
        self.rect((x, y, DEV_W, DEV_H), "#eceff1", "#78909c", 1);
        self.text(x + 8, y + 14, 10, r##" fill="#263238""##, name);
        self.text(x + 8, y + 27, 9, r##" fill="#607d8b""##, detail);
    }

    /// A numbered circle.
    fn badge(&mut self, x: i32, y: i32, number: usize) {
        let _ =
            writeln!(self.body, r#"<circle cx="{x}" cy="{y}" r="10" fill="{PATH}" stroke="white" stroke-width="2"/>"#);
        self.text(x, y + 4, 11, r#" fill="white" font-weight="bold" text-anchor="middle""#, &number.to_string());
    }

    /// A badge at (`x + BADGE_X`, `y`) of the node at `x`, with the program
    /// and its lookups in the label column below it (or above it).
    fn step(&mut self, x: i32, y: i32, number: usize, label: &[String], above: bool) {
        self.badge(x + BADGE_X, y, number);
        let w = label.iter().map(|l| label_width(l.chars().count() as i32)).max().unwrap_or(0);
        let h = label.len() as i32 * 11 + 5;
        let top = if above { y - 12 - h } else { y + 12 };
        let left = x + LABEL_X;
        let _ = writeln!(
            self.body,
            r#"<rect x="{left}" y="{top}" width="{w}" height="{h}" rx="3" fill="white" fill-opacity="0.92" stroke="{PATH}" stroke-width="1"/>"#,
        );
        for (i, line) in label.iter().enumerate() {
            self.text(left + 5, top + 11 + 11 * i as i32, 9, &format!(r#" fill="{PATH}""#), line);
        }
    }

    fn stop_sign(&mut self, x: i32, y: i32) {
        // A regular octagon of radius 13: offsets 13*cos(22.5°)=12, 13*sin(22.5°)=5.
        let offsets = [(5, -12), (12, -5), (12, 5), (5, 12), (-5, 12), (-12, 5), (-12, -5), (-5, -12)];
        let points: Vec<String> = offsets.iter().map(|(dx, dy)| format!("{},{}", x + dx, y + dy)).collect();
        let _ = writeln!(
            self.body,
            r#"<polygon points="{}" fill="{DROP}" stroke="white" stroke-width="2"/>"#,
            points.join(" ")
        );
        self.line(x - 5, y - 5, x + 5, y + 5, "white", 3);
        self.line(x - 5, y + 5, x + 5, y - 5, "white", 3);
    }
}

/// Chooses what to draw: see [`MAX_NODES_DRAWN`] and [`MAX_PODS_DRAWN`].
fn plan<'a>(view: &'a dyn Datapath, trace: &Trace) -> Layout<'a> {
    let on_path = |node: &str| trace.src.node() == node || trace.hops.iter().any(|h| h.node == node);
    let all = view.nodes();
    let nodes: Vec<&NodeConfig> = all.iter().filter(|n| all.len() <= MAX_NODES_DRAWN || on_path(&n.name)).collect();
    let mut rows = Vec::new();
    let mut hidden_pods = Vec::new();
    for node in &nodes {
        let pods: Vec<&PodRef> = view.pods().iter().filter(|p| p.node == node.name).collect();
        let shown: Vec<&PodRef> = if pods.len() <= MAX_PODS_DRAWN {
            pods.clone()
        } else {
            let sender = |p: &PodRef| matches!(&trace.src, Source::Pod(src) if src.name == p.name);
            pods.iter().copied().filter(|p| sender(p) || p.has_ip(trace.packet.dst)).collect()
        };
        hidden_pods.push(pods.len() - shown.len());
        rows.push(shown);
    }
    let pod_rows = rows
        .iter()
        .zip(&hidden_pods)
        .map(|(shown, &hidden)| shown.len() + usize::from(hidden > 0))
        .max()
        .unwrap_or(0)
        .max(1) as i32;
    Layout { hidden_nodes: all.len() - nodes.len(), nodes, rows, hidden_pods, pod_rows }
}

/// How a trace SVG's first line (the `<svg>` element) and its title (the
/// second line) start: what [`is_trace_svg`] recognises.
const SVG_START: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" "#;
const TITLE_START: &str = "routec trace: ";

/// True when `head` (a file's first bytes) starts as [`render_svg`]'s
/// output does: `trace -o` replaces only such a file.
pub fn is_trace_svg(head: &[u8]) -> bool {
    let mut lines = head.split(|&b| b == b'\n');
    let svg = lines.next().is_some_and(|l| l.starts_with(SVG_START.as_bytes()));
    let title = format!("<title>{TITLE_START}");
    svg && lines.next().is_some_and(|l| l.starts_with(title.as_bytes()))
}

/// Renders `trace` over the cluster drawing of `view`.
pub fn render_svg(view: &dyn Datapath, trace: &Trace) -> String {
    let layout = plan(view, trace);
    let mut canvas = Canvas { body: String::new() };

    draw_cluster(trace, &layout, &mut canvas);
    let mut steps = Vec::new();
    draw_path(trace, &layout, &mut canvas, &mut steps);

    // The numbered steps, in full, under the drawing.
    let mut y = layout.underlay_y() + 40;
    for (number, text) in &steps {
        canvas.badge(MARGIN + 10, y - 4, *number);
        canvas.text(MARGIN + 28, y, 11, "", text);
        y += LINE_H + 4;
    }
    let verdict_colour = if trace.verdict.is_delivered() { DST } else { DROP };
    canvas.text(
        MARGIN,
        y + 8,
        13,
        &format!(r#" fill="{verdict_colour}" font-weight="bold""#),
        &format!("result: {}", verdict_text(&trace.verdict)),
    );
    let height = y + 24;
    // Wide enough for the longest step line (11px glyphs are about 6.6px
    // wide) and the result line (13px bold, about 8px).
    let longest_step = steps.iter().map(|(_, t)| t.chars().count() as i32).max().unwrap_or(0);
    let result_chars = verdict_text(&trace.verdict).chars().count() as i32 + 8;
    let width = layout.width().max(2 * MARGIN + 28 + (longest_step * 66 + 9) / 10).max(2 * MARGIN + result_chars * 8);

    let packet = &trace.packet;
    let name = |pod: Option<&PodRef>| pod.map_or(String::new(), |p| format!(" ({})", p.name));
    let title = format!(
        "{TITLE_START}{}{} -> {}{}, {}",
        packet.src,
        match &trace.src {
            Source::Pod(pod) => name(Some(pod)),
            Source::Node { name, .. } => format!(" (node {name})"),
        },
        packet.dst,
        name(trace.dst.pod.as_ref()),
        packet.proto.as_str()
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"{SVG_START}width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">"#
    );
    let _ = writeln!(out, "<title>{}</title>", esc(&title));
    let _ = writeln!(
        out,
        r#"<defs><marker id="arrowhead" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{PATH}"/></marker></defs>"#
    );
    let _ = writeln!(out, r#"<rect x="0" y="0" width="{width}" height="{height}" fill="white"/>"#);
    let _ = writeln!(
        out,
        r##"<text x="{MARGIN}" y="30" font-size="15" font-weight="bold" fill="#212121">{}</text>"##,
        esc(&title)
    );
    let _ = writeln!(
        out,
        r##"<text x="{MARGIN}" y="50" font-size="11" fill="#616161">TTL {}, {} maps; arrows: the packet's path, numbered as the steps below{}</text>"##,
        packet.ttl,
        match trace.mode {
            super::view::Mode::Offline => "build",
            super::view::Mode::Live => "live kernel",
        },
        match layout.hidden_nodes {
            0 => String::new(),
            n => format!("; {n} nodes off the path not drawn"),
        }
    );
    out.push_str(&canvas.body);
    out.push_str("</svg>\n");
    out
}

fn draw_cluster(trace: &Trace, layout: &Layout, canvas: &mut Canvas) {
    let node_h = layout.node_bottom() - TOP;
    for (i, node) in layout.nodes.iter().enumerate() {
        let x = layout.node_x(i);
        canvas.rect((x, TOP, NODE_W, node_h), "#f5f7fa", "#546e7a", 2);
        canvas.text(x + 14, TOP + 22, 14, r##" font-weight="bold" fill="#263238""##, &node.name);
        // The pod-cidr and router of the traced packet's family.
        let family = trace.packet.family();
        let router = node.routers().find(|r| Family::of(*r) == family);
        let router = router.map_or_else(|| "none".to_string(), |r| r.to_string());
        let cidr = format!(" · pod-cidr {}", node.pod_cidr_text(family).unwrap_or_else(|| "none".to_string()));
        canvas.text(
            x + 14,
            TOP + 40,
            11,
            r##" fill="#455a64""##,
            &format!("{}{cidr} · router {router}", node.constants.node_ipv4),
        );

        for (row, pod) in layout.rows[i].iter().enumerate() {
            let y = layout.row_y(row);
            let cy = layout.row_cy(row);
            let (stroke, width) = if matches!(&trace.src, Source::Pod(src) if src.name == pod.name && src.node == pod.node)
            {
                (SRC, 3)
            } else if trace.dst.pod.as_ref().is_some_and(|d| d.name == pod.name && d.node == pod.node) {
                (DST, 3)
            } else {
                ("#90a4ae", 1)
            };
            canvas.line(x + POD_X + POD_W, cy, x + DEV_X, cy, "#90a4ae", 2);
            canvas.rect((x + POD_X, y, POD_W, POD_H), "white", stroke, width);
            canvas.text(x + POD_X + 8, y + 18, 10, r##" font-weight="bold" fill="#263238""##, &pod.name);
            canvas.text(
                x + POD_X + 8,
                y + 34,
                10,
                r##" fill="#455a64""##,
                &format!(
                    "{} · endpoint {}",
                    pod.ips().map(|ip| ip.to_string()).collect::<Vec<_>>().join(" · "),
                    pod.endpoint
                ),
            );
            let ifindex = pod.ifindex.map_or("ifindex from loader".to_string(), |i| format!("ifindex {i}"));
            canvas.device(x + DEV_X, cy - DEV_H / 2, &pod.lxc, &ifindex);
        }
        if layout.hidden_pods[i] > 0 {
            let y = layout.row_y(layout.rows[i].len());
            let more = format!("+ {} more pods, not on this path", layout.hidden_pods[i]);
            canvas.text(x + POD_X + 8, y + 18, 10, r##" fill="#607d8b" font-style="italic""##, &more);
        }
        let dev_y = layout.dev_y();
        canvas.device(x + HOST_X, dev_y, HOST_DEVICE, &router);
        if node.constants.native_routing {
            canvas.device(x + DEV_X, dev_y, &node.device, "underlay, native routing");
        } else {
            let overlay = format!("{} VNI {}", node.overlay, node.constants.vni);
            canvas.device(x + DEV_X, dev_y, OVERLAY_DEVICE, &overlay);
        }
        // The underlay link of the node.
        canvas.line(x + DEV_X + DEV_W / 2, dev_y + DEV_H, x + DEV_X + DEV_W / 2, layout.underlay_y(), "#90a4ae", 2);
    }
    let count = layout.nodes.len();
    if count > 0 {
        let y = layout.underlay_y();
        let first = layout.node_x(0) + DEV_X + DEV_W / 2;
        let last = layout.node_x(count - 1) + DEV_X + DEV_W / 2;
        canvas.line(MARGIN, y, last.max(first) + 40, y, "#90a4ae", 4);
        let device = layout.nodes.first().map_or("eth0", |n| n.device.as_str());
        canvas.text(MARGIN, y + 16, 10, r##" fill="#607d8b""##, &format!("underlay ({device} of every node)"));
    }
}

/// The badge label: the program, its destination lookups (and source
/// lookups that missed), its verdict.
fn badge_label(hop: &Hop) -> Vec<String> {
    let lookups: Vec<String> = hop
        .lookups
        .iter()
        .filter(|l| !l.purpose.ends_with("source") || !l.hit)
        .map(|l| {
            let map = l.map.trim_start_matches("cilium_");
            let hit = if l.hit { "hit" } else { "miss" };
            let prefix = l
                .matched_key
                .as_ref()
                .and_then(|m| m.split_once('/'))
                .map_or(String::new(), |(_, len)| format!(" /{len}"));
            format!("{map}{prefix} {hit}")
        })
        .collect();
    let mut label = vec![hop.program.to_string()];
    if !lookups.is_empty() {
        label.push(lookups.join(" · "));
    }
    label.push(format!("=> {}", hop.reason.name));
    label
}

/// One-line description of a hop for the step list.
fn step_text(hop: &Hop) -> String {
    let lookups: Vec<String> = hop
        .lookups
        .iter()
        .map(|l| {
            let address = l.key.split(['/', ' ']).next().unwrap_or("");
            let result = match (&l.matched_key, l.hit) {
                (Some(matched), true) => format!("hit {matched}"),
                (None, true) => "hit".to_string(),
                (_, false) => "miss".to_string(),
            };
            format!("{} {address} ({}) {result}", l.map, l.purpose)
        })
        .collect();
    let checks = if hop.checks.is_empty() { String::new() } else { format!("{}; ", hop.checks.join("; ")) };
    format!(
        "{} {} on {}: {checks}{} => {} ({})",
        hop.node,
        hop.program,
        hop.device,
        lookups.join(", "),
        hop.reason.name,
        hop.reason.code
    )
}

fn draw_path(trace: &Trace, layout: &Layout, canvas: &mut Canvas, steps: &mut Vec<(usize, String)>) {
    let from_container = program(Interface::Lxc).name;
    let from_host = program(Interface::Host).name;
    let Some(src_node) = layout.node_index(trace.src.node()) else {
        return;
    };
    // A pod sends out of its eth0 into its lxc; a node's stack out of cilium_host.
    let src_cy = match &trace.src {
        Source::Pod(pod) => {
            let Some(row) = layout.row_named(src_node, &pod.name) else {
                return;
            };
            let (sx, cy) = (layout.node_x(src_node), layout.row_cy(row));
            canvas.arrow(&[(sx + POD_X + POD_W, cy), (sx + DEV_X - 2, cy)]);
            cy
        }
        Source::Node { .. } => layout.dev_y() + DEV_H / 2,
    };

    for (i, hop) in trace.hops.iter().enumerate() {
        let number = i + 1;
        steps.push((number, step_text(hop)));
        let Some(node) = layout.node_index(&hop.node) else {
            continue;
        };
        let x = layout.node_x(node);
        let lane = x + LANE_X;
        let dev_cy = layout.dev_y() + DEV_H / 2;
        // Where the program runs: the source lxc or the overlay device.
        let (start, start_y) = if hop.program == from_container {
            ((x + DEV_X + DEV_W, src_cy), src_cy)
        } else if hop.program == from_host {
            ((x + HOST_X + DEV_W / 2, layout.dev_y()), dev_cy)
        } else {
            ((x + DEV_X + DEV_W, dev_cy), dev_cy)
        };
        // The label goes above the badge on the device row, below it elsewhere.
        let above = hop.program != from_container;
        let label = badge_label(hop);
        let reason = hop.reason.reason();
        match reason {
            Reason::LocalDelivery | Reason::OverlayDelivery | Reason::NetdevDelivery => {
                if let Some(row) = layout.row_of(node, trace.packet.dst) {
                    let cy = layout.row_cy(row);
                    canvas.arrow(&[start, (lane, start_y), (lane, cy), (x + DEV_X + DEV_W + 2, cy)]);
                    canvas.arrow(&[(x + DEV_X, cy + 6), (x + POD_X + POD_W + 2, cy + 6)]);
                }
                canvas.step(x, start_y, number, &label, above);
            }
            Reason::HostDelivery => {
                let above_devices = layout.dev_y() - 8;
                if let Some(row) = layout.row_of(node, trace.packet.dst) {
                    let cy = layout.row_cy(row);
                    canvas.arrow(&[
                        start,
                        (start.0, above_devices),
                        (lane, above_devices),
                        (lane, cy),
                        (x + DEV_X + DEV_W + 2, cy),
                    ]);
                    canvas.arrow(&[(x + DEV_X, cy + 6), (x + POD_X + POD_W + 2, cy + 6)]);
                }
                // Right of cilium_vxlan the space below the line is free.
                canvas.step(x, above_devices, number, &label, false);
            }
            _ if hop.program == from_host => {
                // Between the pods and the devices, to a stop on the lane.
                let above_devices = layout.dev_y() - 8;
                canvas.arrow(&[start, (start.0, above_devices), (lane - 16, above_devices)]);
                canvas.stop_sign(lane - 2, above_devices);
                canvas.step(x, above_devices, number, &label, true);
                draw_drop_status(canvas, layout, x, hop);
            }
            Reason::TunnelEncap | Reason::NativeForward => {
                canvas.arrow(&[start, (lane, start_y), (lane, dev_cy), (x + DEV_X + DEV_W + 2, dev_cy)]);
                canvas.step(x, start_y, number, &label, above);
                let from_x = x + DEV_X + DEV_W / 2 - 8;
                let underlay = layout.underlay_y() - 6;
                match &trace.verdict {
                    Verdict::LeftCluster { tunnel_endpoint, .. } => {
                        canvas.arrow(&[(from_x, layout.dev_y() + DEV_H), (from_x, underlay), (from_x + 60, underlay)]);
                        canvas.text(
                            from_x + 66,
                            underlay + 4,
                            10,
                            &format!(r#" fill="{DROP}""#),
                            &format!("to {tunnel_endpoint}: no node"),
                        );
                    }
                    _ => {
                        if let Some(next) = trace.hops.get(i + 1).and_then(|h| layout.node_index(&h.node)) {
                            let to_x = layout.node_x(next) + DEV_X + DEV_W / 2 - 8;
                            canvas.arrow(&[
                                (from_x, layout.dev_y() + DEV_H),
                                (from_x, underlay),
                                (to_x, underlay),
                                (to_x, layout.dev_y() + DEV_H + 2),
                            ]);
                        }
                    }
                }
            }
            Reason::ToStack => {
                let host_x = x + HOST_X + DEV_W / 2;
                let below = layout.dev_y() + DEV_H + 5;
                if hop.program == from_container {
                    canvas.arrow(&[
                        start,
                        (lane, start_y),
                        (lane, below),
                        (host_x, below),
                        (host_x, layout.dev_y() + DEV_H + 2),
                    ]);
                } else {
                    canvas.arrow(&[(x + DEV_X, dev_cy), (x + HOST_X + DEV_W + 2, dev_cy)]);
                }
                canvas.step(x, start_y, number, &label, above);
            }
            _ => {
                canvas.arrow(&[start, (lane - 16, start_y)]);
                canvas.stop_sign(lane - 2, start_y);
                canvas.step(x, start_y, number, &label, above);
                draw_drop_status(canvas, layout, x, hop);
            }
        }
    }
}

/// The red strip at the bottom of the node where the packet died.
fn draw_drop_status(canvas: &mut Canvas, layout: &Layout, x: i32, hop: &Hop) {
    let status = format!("dropped by {}: {} ({})", hop.program, hop.reason.name, hop.reason.code);
    let sy = layout.status_y();
    canvas.rect((x + POD_X, sy, NODE_W - 2 * POD_X, STATUS_H), "#ffebee", DROP, 2);
    canvas.stop_sign(x + POD_X + 14, sy + STATUS_H / 2);
    canvas.text(x + POD_X + 32, sy + 16, 11, &format!(r#" fill="{DROP}" font-weight="bold""#), &status);
}
