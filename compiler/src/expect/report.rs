//! `routec test`'s reports: text for people (a failure is a diagnostic at
//! its `expect`, like `check`'s), a versioned JSON document, and JUnit XML.

use std::fmt::Write as _;
use std::io;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::term::{self, termcolor::WriteColor};
use serde::Serialize;

use super::{FoundOutcome, Status, TestResult};
use crate::source::Sources;
use crate::trace::render_text;

/// Version of the `--format json` document; bumped on incompatible changes.
pub const JSON_VERSION: u32 = 1;

/// The start of a JUnit report's root element: `routec test -o` recognises
/// its own reports by it.
pub const JUNIT_ROOT: &str = "<testsuites name=\"routec test\"";

/// The results of one `routec test` run, with the sources they point into.
pub struct Report<'a> {
    pub sources: &'a Sources,
    pub results: Vec<TestResult<'a>>,
}

impl Report<'_> {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.status == Status::Passed).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// `N passed, M failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }

    fn file(&self, r: &TestResult) -> &str {
        &self.sources.get(r.expectation.span.file()).name
    }

    /// 1-based line of the `expect` keyword.
    fn line(&self, r: &TestResult) -> usize {
        let span = r.expectation.span;
        self.sources.get(span.file()).location(span.start as usize).line
    }

    /// Each expectation as `passed`/`failed` with its place and text, each
    /// failure as a diagnostic, then the summary line.
    pub fn render_text(&self, out: &mut dyn WriteColor) -> io::Result<()> {
        let config = term::Config::default();
        for r in &self.results {
            let status = match r.status {
                Status::Passed => "passed",
                Status::Failed => "failed",
            };
            let packets =
                r.packets.as_ref().map_or(String::new(), |p| format!("  (real packet: {})", p.outcome.name()));
            writeln!(out, "{status}  {}:{}  {}{packets}", self.file(r), self.line(r), r.expectation.text)?;
            if r.status == Status::Failed {
                term::emit(out, &config, self.sources, &failure_diagnostic(r)).map_err(|e| match e {
                    codespan_reporting::files::Error::Io(e) => e,
                    other => io::Error::other(other.to_string()),
                })?;
            }
        }
        writeln!(out, "{}", self.summary())
    }

    pub fn render_text_string(&self) -> String {
        let mut out = codespan_reporting::term::termcolor::NoColor::new(Vec::new());
        self.render_text(&mut out).expect("writing to memory cannot fail");
        String::from_utf8(out.into_inner()).expect("reports are UTF-8")
    }

    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Doc<'a> {
            version: u32,
            passed: usize,
            failed: usize,
            expectations: Vec<Entry<'a>>,
        }
        #[derive(Serialize)]
        struct Entry<'a> {
            file: &'a str,
            line: usize,
            text: &'a str,
            expected: Expected<'a>,
            #[serde(flatten)]
            result: &'a TestResult<'a>,
        }
        #[derive(Serialize)]
        struct Expected<'a> {
            outcome: &'a str,
            reason: Option<&'a str>,
        }
        let doc = Doc {
            version: JSON_VERSION,
            passed: self.passed(),
            failed: self.failed(),
            expectations: self
                .results
                .iter()
                .map(|r| Entry {
                    file: self.file(r),
                    line: self.line(r),
                    text: &r.expectation.text,
                    expected: Expected {
                        outcome: r.expectation.outcome.name(),
                        reason: r.expectation.reason.map(|x| x.name()),
                    },
                    result: r,
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&doc).expect("reports serialize");
        text.push('\n');
        text
    }

    /// JUnit XML: a testsuite per file, a testcase per expectation named by
    /// its text, the trace in a failure's body. No timestamps, so the same
    /// results give the same bytes.
    pub fn to_junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ =
            writeln!(out, "{JUNIT_ROOT} tests=\"{}\" failures=\"{}\" errors=\"0\">", self.results.len(), self.failed());
        // Results are in input order, so each file's are one run.
        for run in self.results.chunk_by(|a, b| a.expectation.span.file() == b.expectation.span.file()) {
            let file = xml_escape(self.file(&run[0]));
            let failures = run.iter().filter(|r| r.status == Status::Failed).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{file}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
                run.len()
            );
            for r in run {
                let name = xml_escape(&r.expectation.text);
                let line = self.line(r);
                let open =
                    format!("    <testcase name=\"{name}\" classname=\"{file}\" file=\"{file}\" line=\"{line}\"");
                if r.status == Status::Passed {
                    let _ = writeln!(out, "{open}/>");
                    continue;
                }
                let _ = writeln!(out, "{open}>");
                let kind = if r.disagreement { "routec-bug" } else { "expectation" };
                let _ = writeln!(
                    out,
                    "      <failure type=\"{kind}\" message=\"{}\">{}</failure>",
                    xml_escape(&failure_message(r)),
                    xml_escape(&failure_body(r))
                );
                let _ = writeln!(out, "    </testcase>");
            }
            let _ = writeln!(out, "  </testsuite>");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// One line: what was expected and what was found instead.
fn failure_message(r: &TestResult) -> String {
    let expected = r.expectation.expected();
    match &r.packets {
        Some(p) if r.disagreement => format!(
            "routec bug: the offline trace says {} but real packets were {} (expected {expected})",
            r.found.summary(),
            p.outcome.name()
        ),
        _ => match &r.found.error {
            Some(error) => format!("expected {expected}, but the packet cannot be traced: {error}"),
            None => format!("expected {expected}, the trace found {}", r.found.summary()),
        },
    }
}

/// The verdict, the hop that decided it, and every hop: what a reader needs
/// to see why without running `routec trace`.
fn failure_notes(r: &TestResult) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(verdict) = &r.found.verdict {
        notes.push(format!("verdict: {verdict}"));
    }
    if let Some(hop) = &r.found.hop {
        notes.push(format!(
            "diverged at hop {}: {} on {} of {}: {}",
            hop.index, hop.program, hop.device, hop.node, hop.action
        ));
    }
    if r.found.path.len() > 1 {
        notes.push(format!("path: {}", r.found.path.join(" -> ")));
    }
    if let Some(p) = &r.packets {
        notes.push(format!("real packets: {}", p.detail));
        if r.disagreement {
            notes.push("the offline verdict and real packets disagree: this is a bug in routec, not in the config; please report it with `routec trace` of this packet".to_string());
        }
    }
    notes
}

fn failure_body(r: &TestResult) -> String {
    let mut body = failure_message(r);
    body.push('\n');
    for note in failure_notes(r) {
        body.push_str(&note);
        body.push('\n');
    }
    if let Some(trace) = &r.found.trace {
        body.push('\n');
        body.push_str(&render_text(trace));
    }
    body
}

fn failure_diagnostic(r: &TestResult) -> cs::Diagnostic<usize> {
    let span = r.expectation.span;
    let label = match (&r.packets, r.found.outcome) {
        (Some(p), _) if r.disagreement => format!("real packets were {}", p.outcome.name()),
        (_, FoundOutcome::NotTraced) => "cannot be traced".to_string(),
        _ => format!("the trace found {}", r.found.summary()),
    };
    cs::Diagnostic::error()
        .with_message(failure_message(r))
        .with_labels(vec![cs::Label::primary(span.file(), span.range()).with_message(label)])
        .with_notes(failure_notes(r))
}

/// Text and attribute values for XML 1.0: the five entities, and characters
/// XML cannot hold dropped (control characters other than tab and newline).
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
