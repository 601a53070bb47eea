//! A [`Plan`] for people (Terraform's `+`, `~`, `-`, `-/+` lines and `Plan:`
//! summaries) and for programs (a versioned JSON document).

use std::fmt::Write as _;

use serde::Serialize;

use super::change::{Action, Change, Plan, Summary, Value};

/// Version of the JSON document; bumped when a field's meaning changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// How the two builds are named in the output (their paths, as given).
#[derive(Debug, Clone, Copy)]
pub struct Sides<'a> {
    pub old: &'a str,
    pub new: &'a str,
}

fn plan_line(summary: Summary) -> String {
    format!("Plan: {} to add, {} to change, {} to destroy.", summary.add, summary.change, summary.destroy)
}

/// A value's fields as `(name, text)` rows, in its JSON form's order.
fn rows(value: &Value) -> Vec<(String, String)> {
    let json = serde_json::to_value(value).expect("plain data serializes");
    match json {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter(|(name, _)| name != "key_hex" && name != "value_hex")
            .map(|(name, v)| (name, scalar_text(&v)))
            .collect(),
        other => vec![("value".to_string(), scalar_text(&other))],
    }
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

fn key_hex(value: Option<&Value>) -> Option<&str> {
    match value {
        Some(Value::Entry(entry)) => Some(&entry.key_hex),
        _ => None,
    }
}

fn render_change(out: &mut String, change: &Change) {
    let _ = writeln!(
        out,
        "  {} {}[{}]  ({})",
        change.action.symbol(),
        change.kind.as_str(),
        change.address,
        change.subject
    );
    match (key_hex(change.before.as_ref()), key_hex(change.after.as_ref())) {
        (Some(old), Some(new)) if old != new => {
            let _ = writeln!(out, "      key: {old}\n        -> {new}");
        }
        (Some(key), _) | (None, Some(key)) => {
            let _ = writeln!(out, "      key: {key}");
        }
        (None, None) => {}
    }
    match (&change.before, &change.after) {
        (Some(before), Some(after)) => {
            let after_rows = rows(after);
            for ((name, old), (_, new)) in rows(before).into_iter().zip(after_rows) {
                if old != new {
                    let _ = writeln!(out, "      {name}: {old} -> {new}");
                }
            }
        }
        (Some(value), None) | (None, Some(value)) => {
            for (name, text) in rows(value) {
                let _ = writeln!(out, "      {name}: {text}");
            }
        }
        (None, None) => {}
    }
}

/// The text plan: per node its changes and a `Plan:` line (or `No
/// changes.`), then the total.
pub fn render_text(plan: &Plan, sides: Sides) -> String {
    render_text_titled(plan, &format!("routec diff {} -> {}", sides.old, sides.new))
}

/// [`render_text`] under another first line (`routec plan`'s).
pub fn render_text_titled(plan: &Plan, title: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    for note in &plan.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if !plan.has_changes() {
        let _ = writeln!(out, "\nNo changes. Every node's datapath would stay as it is.");
        return out;
    }
    for node in &plan.nodes {
        let _ = write!(out, "\nnode {}", node.node);
        match node.status {
            Action::NoOp => {
                let _ = writeln!(out, ": No changes.");
                continue;
            }
            Action::Create => out.push_str(" (joins: its whole datapath is created)"),
            Action::Delete => out.push_str(" (leaves: its whole datapath is removed)"),
            _ => {}
        }
        out.push('\n');
        for change in &node.changes {
            render_change(&mut out, change);
        }
        let _ = writeln!(out, "  {}", plan_line(node.summary()));
    }
    let changed = plan.nodes.iter().filter(|n| n.status != Action::NoOp).count();
    let _ = writeln!(out, "\nTotal, {changed} of {} nodes changing:\n{}", plan.nodes.len(), plan_line(plan.summary()));
    out
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    format_version: u32,
    old: &'a str,
    new: &'a str,
    notes: &'a [String],
    nodes: Vec<JsonNode<'a>>,
    changes: Vec<JsonChange<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonNode<'a> {
    node: &'a str,
    actions: &'static [&'static str],
    #[serde(flatten)]
    summary: Summary,
}

#[derive(Serialize)]
struct JsonChange<'a> {
    node: &'a str,
    kind: &'static str,
    address: &'a str,
    subject: String,
    actions: &'static [&'static str],
    before: Option<&'a Value>,
    after: Option<&'a Value>,
}

/// The JSON plan: one entry per node and one per change (pretty, with a
/// final newline).
pub fn render_json(plan: &Plan, sides: Sides) -> String {
    let document = JsonDocument {
        format_version: JSON_FORMAT_VERSION,
        old: sides.old,
        new: sides.new,
        notes: &plan.notes,
        nodes: plan
            .nodes
            .iter()
            .map(|n| JsonNode { node: &n.node, actions: n.status.terraform(), summary: n.summary() })
            .collect(),
        changes: plan
            .nodes
            .iter()
            .flat_map(|n| &n.changes)
            .map(|c| JsonChange {
                node: &c.node,
                kind: c.kind.as_str(),
                address: &c.address,
                subject: c.subject.to_string(),
                actions: c.action.terraform(),
                before: c.before.as_ref(),
                after: c.after.as_ref(),
            })
            .collect(),
        summary: plan.summary(),
    };
    let mut out = serde_json::to_string_pretty(&document).expect("plain data serializes");
    out.push('\n');
    out
}
