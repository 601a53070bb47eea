//! Diagnostics: a stable code, a message, labelled spans and a help line,
//! rendered for people (codespan-reporting) or as JSON lines for tools.

use std::io;

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{self, Files};
use codespan_reporting::term::{self, termcolor::WriteColor};
use serde::Serialize;

use crate::source::{FileId, LineColumn, Sources, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// Every diagnostic code of the language (docs/language.md's table).
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
    /// An `expect` names a pod or node that is not declared.
    E0017,
    /// An `expect` names an unknown reason, or one that does not fit its outcome.
    E0018,
    /// IPv6 pods under native routing (`overlay none`) on a cluster with a node without an IPv6 `address`.
    E0019,
    /// Identity in the reserved range 1..255.
    W0101,
    /// Node with no pods.
    W0102,
    /// MAC is multicast or all zero.
    W0103,
}

impl Code {
    pub const ALL: [Code; 22] = [
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
        Code::E0017,
        Code::E0018,
        Code::E0019,
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
            Code::E0017 => "E0017",
            Code::E0018 => "E0018",
            Code::E0019 => "E0019",
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

    /// Writes this diagnostic for people, with source excerpts. Lines longer
    /// than [`LONG_LINE_BYTES`] are shown clipped around the labels, so that
    /// a megabyte-long line costs no more than a short one.
    pub fn render_human(&self, sources: &Sources, out: &mut dyn WriteColor) -> io::Result<()> {
        let config = term::Config::default();
        let shown = shown_lines(sources, self, &config);
        let emitted = if shown.iter().any(|&(file, line)| sources.get(file).line_len(line) > LONG_LINE_BYTES) {
            let excerpt = Excerpt::new(sources, self, &shown);
            term::emit(out, &config, &excerpt, &excerpt.diagnostic)
        } else {
            term::emit(out, &config, sources, &self.to_codespan())
        };
        emitted.map_err(|e| match e {
            files::Error::Io(e) => e,
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
            .map(|(i, l)| JsonLabel { primary: i == 0, message: &l.message, place: JsonPlace::new(sources, l.span) })
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

/// An error that lies outside any source text (a file that cannot be read
/// or is not UTF-8, invalid settings, a failed build), as one JSON line
/// shaped like a diagnostic's: a `kind` where a diagnostic has its `code`,
/// `severity` "error", the `message`, and the `file` to blame when there is
/// one. Tools reading `--message-format json` then see every error.
pub fn error_json(kind: &str, message: &str, file: Option<&str>) -> String {
    #[derive(Serialize)]
    struct JsonError<'a> {
        kind: &'a str,
        severity: Severity,
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<&'a str>,
    }
    serde_json::to_string(&JsonError { kind, severity: Severity::Error, message, file })
        .expect("errors serialise to JSON")
}

/// Source text quoted in a message, shortened when long: a 5 MB name makes a
/// one-line message, not a 5 MB one. The label points at the whole text.
pub fn short(text: &str) -> Short<'_> {
    Short(text)
}

/// Quoted source text longer than this many characters is shortened to its
/// first [`SHORT_HEAD_CHARS`] and last [`SHORT_TAIL_CHARS`] characters.
pub const SHORT_MAX_CHARS: usize = 64;
const SHORT_HEAD_CHARS: usize = 40;
/// The tail tells apart names that differ only at the end (`web-7d9..-x2`).
const SHORT_TAIL_CHARS: usize = 20;

/// See [`short`].
#[derive(Debug, Clone, Copy)]
pub struct Short<'a>(&'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        // Bytes bound characters from above: most texts need no count at all.
        if text.len() <= SHORT_MAX_CHARS || text.chars().count() <= SHORT_MAX_CHARS {
            return f.write_str(text);
        }
        let head_end = text.char_indices().nth(SHORT_HEAD_CHARS).map_or(text.len(), |(i, _)| i);
        let tail_start = text.char_indices().rev().nth(SHORT_TAIL_CHARS - 1).map_or(0, |(i, _)| i);
        write!(f, "{}…{}", &text[..head_end], &text[tail_start..])
    }
}

/// Source lines longer than this (in bytes) are shown clipped around the
/// labels on them.
pub const LONG_LINE_BYTES: usize = 256;
/// Source shown on each side of a label's ends on a clipped line.
const CLIP_CONTEXT_BYTES: usize = 32;
/// Windows of a clipped line closer than this are shown joined.
const CLIP_JOIN_BYTES: usize = 8;
const ELLIPSIS: &str = "…";

/// The lines codespan may show for `diag`, by file: the lines of each label's
/// ends, the context lines of multi-line labels, and the line after each of
/// those (codespan shows a single line between two shown ones instead of a break).
fn shown_lines(sources: &Sources, diag: &Diagnostic, config: &term::Config) -> BTreeSet<(FileId, usize)> {
    let mut shown = BTreeSet::new();
    for label in &diag.labels {
        let file = sources.get(label.span.file());
        let start = file.line_index(label.span.start as usize);
        let end = file.line_index(label.span.end as usize);
        let context =
            (start..=end).filter(|&l| l - start <= config.start_context_lines || end - l <= config.end_context_lines);
        for line in context {
            shown.insert((label.span.file(), line));
            if line + 1 < file.line_count() {
                shown.insert((label.span.file(), line + 1));
            }
        }
    }
    shown
}

/// A stretch of a source line copied into an excerpt.
#[derive(Debug, Clone, Copy)]
struct Piece {
    /// Offset in the excerpt text.
    excerpt: usize,
    /// Offset in the source file.
    source: usize,
    len: usize,
}

#[derive(Debug)]
struct ExcerptLine {
    /// Line index in the source file.
    index: usize,
    /// Where the line starts in the excerpt text.
    start: usize,
    pieces: Vec<Piece>,
}

/// The shown lines of one source file, long ones clipped.
#[derive(Debug)]
struct ExcerptFile {
    source: FileId,
    text: String,
    /// Sorted by `index` (and so by `start`).
    lines: Vec<ExcerptLine>,
}

impl ExcerptFile {
    fn line(&self, index: usize) -> Option<&ExcerptLine> {
        self.lines.binary_search_by_key(&index, |l| l.index).ok().map(|i| &self.lines[i])
    }

    fn line_at(&self, excerpt_offset: usize) -> &ExcerptLine {
        let i = self.lines.partition_point(|l| l.start <= excerpt_offset);
        &self.lines[i.saturating_sub(1)]
    }

    /// The excerpt offset of a source offset on one of the shown lines; an
    /// offset clipped away maps to the nearest shown one before it.
    fn to_excerpt(&self, line: usize, source_offset: usize) -> usize {
        let line = self.line(line).expect("every label's lines are shown");
        let i = line.pieces.partition_point(|p| p.source <= source_offset).saturating_sub(1);
        let piece = line.pieces[i];
        piece.excerpt + source_offset.saturating_sub(piece.source).min(piece.len)
    }

    /// The source offset of an excerpt offset; inside an ellipsis, the end of
    /// the piece before it.
    fn to_source(&self, excerpt_offset: usize) -> usize {
        let line = self.line_at(excerpt_offset);
        let i = line.pieces.partition_point(|p| p.excerpt <= excerpt_offset).saturating_sub(1);
        let piece = line.pieces[i];
        piece.source + excerpt_offset.saturating_sub(piece.excerpt).min(piece.len)
    }
}

/// What codespan renders instead of the sources when a shown line is long:
/// the shown lines only, long ones cut to windows around the labels' ends
/// joined by `…`, with the diagnostic's spans moved onto that text. Line
/// numbers and columns stay those of the source.
struct Excerpt<'a> {
    sources: &'a Sources,
    files: Vec<ExcerptFile>,
    diagnostic: cs::Diagnostic<usize>,
}

impl<'a> Excerpt<'a> {
    fn new(sources: &'a Sources, diag: &Diagnostic, shown: &BTreeSet<(FileId, usize)>) -> Excerpt<'a> {
        let mut files: Vec<ExcerptFile> = Vec::new();
        for &(file_id, index) in shown {
            if files.last().is_none_or(|f| f.source != file_id) {
                files.push(ExcerptFile { source: file_id, text: String::new(), lines: Vec::new() });
            }
            let excerpt = files.last_mut().expect("pushed above");
            let file = sources.get(file_id);
            let range = file.line_content(index);
            // The ends of the labels on this line, clamped to its text (a
            // label may end on the newline). A label longer than two windows
            // shows its two ends with `…` between.
            let points: Vec<usize> = diag
                .labels
                .iter()
                .filter(|l| l.span.file() == file_id)
                .flat_map(|l| [l.span.start as usize, l.span.end as usize])
                .filter(|&p| file.line_index(p) == index)
                .map(|p| p.clamp(range.start, range.end))
                .collect();
            let windows = if range.len() <= LONG_LINE_BYTES {
                vec![range.clone()]
            } else {
                clip_windows(&file.text, range.clone(), points)
            };
            let start = excerpt.text.len();
            let mut pieces = Vec::with_capacity(windows.len());
            let mut at = range.start;
            for window in windows {
                if window.start > at {
                    excerpt.text.push_str(ELLIPSIS);
                }
                pieces.push(Piece { excerpt: excerpt.text.len(), source: window.start, len: window.len() });
                excerpt.text.push_str(&file.text[window.clone()]);
                at = window.end;
            }
            if at < range.end {
                excerpt.text.push_str(ELLIPSIS);
            }
            excerpt.text.push('\n');
            excerpt.lines.push(ExcerptLine { index, start, pieces });
        }
        let mut diagnostic = diag.to_codespan();
        for label in &mut diagnostic.labels {
            let id = files.iter().position(|f| f.source == label.file_id).expect("every label's file is shown");
            let file = sources.get(label.file_id);
            let map = |offset: usize| files[id].to_excerpt(file.line_index(offset), offset);
            label.range = map(label.range.start)..map(label.range.end);
            label.file_id = id;
        }
        Excerpt { sources, files, diagnostic }
    }
}

/// Windows of `line` (a long line's text, without its newline) around
/// `points`, widened to char boundaries, sorted and joined when close.
fn clip_windows(text: &str, line: Range<usize>, mut points: Vec<usize>) -> Vec<Range<usize>> {
    if points.is_empty() {
        // A line shown for context only: its beginning.
        points.push(line.start);
    }
    points.sort_unstable();
    let mut windows: Vec<Range<usize>> = Vec::new();
    for p in points {
        let mut start = p.saturating_sub(CLIP_CONTEXT_BYTES).max(line.start);
        let mut end = (p + CLIP_CONTEXT_BYTES).min(line.end);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        match windows.last_mut() {
            Some(last) if start <= last.end + CLIP_JOIN_BYTES => last.end = last.end.max(end),
            _ => windows.push(start..end),
        }
    }
    windows
}

impl<'a> Files<'a> for Excerpt<'_> {
    type FileId = usize;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: usize) -> Result<&'a str, files::Error> {
        let file = self.files.get(id).ok_or(files::Error::FileMissing)?;
        Ok(&self.sources.get(file.source).name)
    }

    fn source(&'a self, id: usize) -> Result<&'a str, files::Error> {
        Ok(&self.files.get(id).ok_or(files::Error::FileMissing)?.text)
    }

    fn line_index(&'a self, id: usize, byte_index: usize) -> Result<usize, files::Error> {
        Ok(self.files.get(id).ok_or(files::Error::FileMissing)?.line_at(byte_index).index)
    }

    fn line_range(&'a self, id: usize, line_index: usize) -> Result<Range<usize>, files::Error> {
        let file = self.files.get(id).ok_or(files::Error::FileMissing)?;
        let i = file.lines.binary_search_by_key(&line_index, |l| l.index);
        // Lines that are not shown have no text (codespan never shows them).
        let Ok(i) = i else { return Ok(file.text.len()..file.text.len()) };
        let end = file.lines.get(i + 1).map_or(file.text.len(), |next| next.start);
        Ok(file.lines[i].start..end)
    }

    fn column_number(&'a self, id: usize, _line_index: usize, byte_index: usize) -> Result<usize, files::Error> {
        let file = self.files.get(id).ok_or(files::Error::FileMissing)?;
        Ok(self.sources.get(file.source).location(file.to_source(byte_index)).column)
    }
}

/// The closest candidate to `word` by edit distance, when close enough to be
/// a plausible typo ("did you mean ...?").
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let length = word.chars().count();
    let limit = (length / 3).max(1);
    candidates
        .into_iter()
        // The distance is at least the difference in length: skipping those
        // too far apart spares the quadratic distance on a huge word.
        .filter(|c| length.abs_diff(c.chars().count()) <= limit.min(c.chars().count()))
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|&(d, c)| d <= limit && d < c.chars().count())
        .min_by_key(|&(d, c)| (d, c))
        .map(|(_, c)| c)
}
