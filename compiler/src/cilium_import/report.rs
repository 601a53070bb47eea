//! What an import did: the report `routec import` prints (`--format json`
//! serialises [`Report`] as it is).

use std::fmt::Write as _;

use serde::Serialize;

/// Something in the inputs that is not in the generated files, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub file: String,
    pub path: String,
    pub object: String,
    pub reason: String,
}

/// A value the generated files hold that the inputs do not state outright:
/// computed, chosen by a flag, a language default, or left to discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Derived {
    pub object: String,
    pub field: String,
    pub value: String,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Imported {
    pub nodes: Vec<String>,
    pub pods: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub cluster: String,
    /// The generated files, relative to the output folder.
    pub files: Vec<String>,
    pub imported: Imported,
    pub skipped: Vec<Skipped>,
    pub derived: Vec<Derived>,
    /// The validator's warnings on the generated files (`W0102 ...`).
    pub warnings: Vec<String>,
}

/// Collects the skipped and derived entries while the inputs are read.
#[derive(Debug, Default)]
pub struct Notes {
    file: String,
    pub skipped: Vec<Skipped>,
    pub derived: Vec<Derived>,
}

impl Notes {
    /// Entries noted from now on are about `file`.
    pub fn reading(&mut self, file: &str) {
        self.file = file.to_string();
    }
    pub fn skip(&mut self, path: &str, object: &str, reason: String) {
        self.skipped.push(Skipped {
            file: self.file.clone(),
            path: path.to_string(),
            object: object.to_string(),
            reason,
        });
    }
    pub fn derive(&mut self, object: &str, field: &str, value: impl Into<String>, from: impl Into<String>) {
        self.derived.push(Derived {
            object: object.to_string(),
            field: field.to_string(),
            value: value.into(),
            from: from.into(),
        });
    }
}

impl Report {
    /// The report for people.
    pub fn render_text(&self, out_dir: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "imported {} into {out_dir}: {} nodes, {} pods ({})",
            self.cluster,
            self.imported.nodes.len(),
            self.imported.pods.len(),
            self.files.join(", ")
        );
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "skipped:");
            for s in &self.skipped {
                let path = if s.path.is_empty() { String::new() } else { format!(" {}", s.path) };
                let _ = writeln!(out, "  {}{path} ({}): {}", s.file, s.object, s.reason);
            }
        }
        if !self.derived.is_empty() {
            let _ = writeln!(out, "derived:");
            for d in &self.derived {
                let _ = writeln!(out, "  {} {}: {} ({})", d.object, d.field, d.value, d.from);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "warnings:");
            for w in &self.warnings {
                let _ = writeln!(out, "  {w}");
            }
        }
        out
    }
}
