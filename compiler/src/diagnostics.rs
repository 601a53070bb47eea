//! Diagnostics: a stable code, a message, labelled spans and a help line,
//! rendered for people (codespan-reporting) or as JSON lines for tools.

use std::io;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term::{self, termcolor::WriteColor};
use serde::Serialize;

use crate::source::{LineColumn, Sources, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every diagnostic code of the language (LANGUAGE.md's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// Syntax: unexpected token, unterminated block or string, bad literal.
    E0001,
    /// Unknown statement in this block.
    E0002,
    /// Statement given twice in one block.
    E0003,
    /// Required statement missing.
    E0004,
    /// Two nodes, or two pods, with the same name.
    E0005,
    /// Pod placed on a node that is not declared.
    E0006,
    /// Pod `ip` outside its node's `pod-cidr`.
    E0007,
    /// Two pods with the same `ip`.
    E0008,
    /// Two nodes' `pod-cidr`s overlap.
    E0009,
    /// Two pods on one node with the same `endpoint`.
    E0010,
    /// Number out of range.
    E0011,
    /// Invalid name.
    E0012,
    /// No `cluster` block, or more than one.
    E0013,
    /// Two nodes with the same `address`, or a node address inside a pod-cidr.
    E0014,
    /// Pod `ip` is the network, broadcast or router address of its pod-cidr.
    E0015,
    /// Two pods on one node with the same `lxc` or `ifindex`.
    E0016,
    /// Identity in the reserved range 1..255.
    W0101,
    /// Node with no pods.
    W0102,
    /// MAC is multicast or all zero.
    W0103,
}

impl Code {
    pub const ALL: [Code; 19] = [
        Code::E0001,
        Code::E0002,
        Code::E0003,
        Code::E0004,
        Code::E0005,
        Code::E0006,
        Code::E0007,
        Code::E0008,
        Code::E0009,
        Code::E0010,
        Code::E0011,
        Code::E0012,
        Code::E0013,
        Code::E0014,
        Code::E0015,
        Code::E0016,
        Code::W0101,
        Code::W0102,
        Code::W0103,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::E0001 => "E0001",
            Code::E0002 => "E0002",
            Code::E0003 => "E0003",
            Code::E0004 => "E0004",
            Code::E0005 => "E0005",
            Code::E0006 => "E0006",
            Code::E0007 => "E0007",
            Code::E0008 => "E0008",
            Code::E0009 => "E0009",
            Code::E0010 => "E0010",
            Code::E0011 => "E0011",
            Code::E0012 => "E0012",
            Code::E0013 => "E0013",
            Code::E0014 => "E0014",
            Code::E0015 => "E0015",
            Code::E0016 => "E0016",
            Code::W0101 => "W0101",
            Code::W0102 => "W0102",
            Code::W0103 => "W0103",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::W0101 | Code::W0102 | Code::W0103 => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in the input. `labels[0]` is the primary label: the place
/// the problem is reported at; further labels point at related places (the
/// first declaration of a duplicate, the block a statement belongs to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { code, message: message.into(), labels: vec![Label { span, message: String::new() }], help: None }
    }

    /// Sets the primary label's message.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.labels[0].message = message.into();
        self
    }

    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into() });
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn primary_span(&self) -> Span {
        self.labels[0].span
    }

    fn to_codespan(&self) -> cs::Diagnostic<usize> {
        let base = match self.severity() {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        let labels = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let style = if i == 0 { cs::LabelStyle::Primary } else { cs::LabelStyle::Secondary };
                cs::Label::new(style, l.span.file(), l.span.range()).with_message(l.message.clone())
            })
            .collect();
        let notes = self.help.iter().map(|h| format!("help: {h}")).collect();
        base.with_code(self.code.as_str()).with_message(self.message.clone()).with_labels(labels).with_notes(notes)
    }

    /// Writes this diagnostic for people, with source excerpts.
    pub fn render_human(&self, sources: &Sources, out: &mut dyn WriteColor) -> io::Result<()> {
        let config = term::Config::default();
        term::emit(out, &config, sources, &self.to_codespan()).map_err(|e| match e {
            codespan_reporting::files::Error::Io(e) => e,
            other => io::Error::other(other.to_string()),
        })
    }

    /// The JSON object of `--message-format json`, on one line.
    pub fn to_json(&self, sources: &Sources) -> String {
        let primary = self.primary_span();
        let place = JsonPlace::new(sources, primary);
        let labels: Vec<JsonLabel> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| JsonLabel {
                primary: i == 0,
                message: &l.message,
                place: JsonPlace::new(sources, l.span),
            })
            .collect();
        serde_json::to_string(&JsonDiagnostic {
            code: self.code,
            severity: self.severity(),
            message: &self.message,
            place,
            labels,
            help: self.help.as_deref(),
        })
        .expect("diagnostics serialise to JSON")
    }
}

#[derive(Serialize)]
struct JsonPlace<'a> {
    file: &'a str,
    range: [usize; 2],
    start: LineColumn,
    end: LineColumn,
}

impl<'a> JsonPlace<'a> {
    fn new(sources: &'a Sources, span: Span) -> JsonPlace<'a> {
        let file = sources.get(span.file());
        JsonPlace {
            file: &file.name,
            range: [span.start as usize, span.end as usize],
            start: file.location(span.start as usize),
            end: file.location(span.end as usize),
        }
    }
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    primary: bool,
    message: &'a str,
    #[serde(flatten)]
    place: JsonPlace<'a>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: Code,
    severity: Severity,
    message: &'a str,
    #[serde(flatten)]
    place: JsonPlace<'a>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
}

/// The closest candidate to `word` by edit distance, when close enough to be
/// a plausible typo ("did you mean ...?").
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|&(d, c)| d <= limit && d < c.chars().count())
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}
