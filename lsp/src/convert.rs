//! Between the compiler's values (paths, byte spans, diagnostics) and LSP's
//! (URIs, positions, LSP diagnostics).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position, Range, Url};
use routec_compiler::diagnostics::{Diagnostic, Severity};
use routec_compiler::source::{FileId, Span};

use crate::line_index::Encoding;
use crate::workspace::Workspace;

/// Names the server in every diagnostic it publishes.
pub const SOURCE: &str = "routec";

pub fn path(uri: &Url) -> Option<PathBuf> {
    uri.to_file_path().ok()
}

pub fn uri(path: &Path) -> Url {
    Url::from_file_path(path).expect("workspace paths are absolute")
}

pub fn range(workspace: &Workspace, span: Span, encoding: Encoding) -> Range {
    let document = workspace.document(span.file());
    document.lines.range(&document.text, span.range(), encoding)
}

pub fn location(workspace: &Workspace, span: Span, encoding: Encoding) -> Location {
    Location { uri: uri(&workspace.document(span.file()).path), range: range(workspace, span, encoding) }
}

pub fn offset(workspace: &Workspace, file: FileId, position: Position, encoding: Encoding) -> usize {
    let document = workspace.document(file);
    document.lines.offset(&document.text, position, encoding)
}

/// Every diagnostic on every file it labels: the file of its primary label
/// gets it there; each other file it labels gets it at its first label in
/// that file, pointing back at the primary place. Every file of the
/// workspace has an entry, empty when clean, so fixed problems are cleared.
pub fn diagnostics_by_file(
    workspace: &Workspace,
    diagnostics: &[Diagnostic],
    encoding: Encoding,
) -> BTreeMap<FileId, Vec<lsp_types::Diagnostic>> {
    let mut by_file: BTreeMap<FileId, Vec<lsp_types::Diagnostic>> =
        (0..workspace.documents().len()).map(|id| (id, Vec::new())).collect();
    for diagnostic in diagnostics {
        let primary = diagnostic.primary_span();
        by_file.entry(primary.file()).or_default().push(to_lsp(workspace, diagnostic, primary, encoding));
        let mut labelled: Vec<FileId> = Vec::new();
        for label in &diagnostic.labels[1..] {
            let file = label.span.file();
            if file != primary.file() && !labelled.contains(&file) {
                labelled.push(file);
                by_file.entry(file).or_default().push(to_lsp(workspace, diagnostic, label.span, encoding));
            }
        }
    }
    by_file
}

/// The diagnostics shown in file `id`: its own, and those of other files
/// that label it (at that label), in `check`'s order.
pub fn file_diagnostics(workspace: &Workspace, id: FileId, encoding: Encoding) -> Vec<lsp_types::Diagnostic> {
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for (file, diagnostic) in workspace.labelling(id) {
        let label = diagnostic.labels.iter().find(|l| l.span.file() == id).expect("it labels this file");
        let shown = to_lsp(workspace, diagnostic, label.span, encoding);
        if file < id {
            before.push(shown)
        } else {
            after.push(shown)
        }
    }
    let own = workspace.diagnostics(id);
    before.extend(own.iter().map(|d| to_lsp(workspace, d, d.primary_span(), encoding)));
    before.extend(after);
    before
}

/// One diagnostic shown at `at` (its primary span, or one of its labels in
/// another file). The message is `check`'s, the code is `check`'s, the
/// help line follows the message as `check` prints it, and every other
/// label is related information.
fn to_lsp(workspace: &Workspace, diagnostic: &Diagnostic, at: Span, encoding: Encoding) -> lsp_types::Diagnostic {
    let severity = match diagnostic.severity() {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warning => DiagnosticSeverity::WARNING,
    };
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let related = diagnostic
        .labels
        .iter()
        .filter(|label| label.span != at)
        .map(|label| DiagnosticRelatedInformation {
            location: location(workspace, label.span, encoding),
            message: if label.message.is_empty() { diagnostic.message.clone() } else { label.message.clone() },
        })
        .collect::<Vec<_>>();
    lsp_types::Diagnostic {
        range: range(workspace, at, encoding),
        severity: Some(severity),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_string())),
        source: Some(SOURCE.to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}
