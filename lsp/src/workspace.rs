//! The cluster as the editor sees it: every `*.route` file below the
//! workspace folder, an open buffer taking the place of its file on disk,
//! and `routec.toml` read as `routec check` reads it.
//!
//! Each file keeps its parse and its part of the validation; a change
//! re-parses that file alone and updates the validation with it
//! ([`Validation::replace`]), so the diagnostics are `check`'s (file ids in
//! path order, so "first declared here" is the same place `check` names)
//! at the cost of the file and what it affects. A file added or removed
//! renumbers the later files: everything is validated again.

use std::path::{Path, PathBuf};

use std::collections::BTreeSet;

use routec_compiler::diagnostics::{Diagnostic, Severity};
use routec_compiler::frontend;
use routec_compiler::model::Cluster;
use routec_compiler::source::{FileId, Span};
use routec_compiler::syntax::{self, ast};
use routec_compiler::validate::Validation;

use crate::line_index::LineIndex;

/// One `.route` file: its current text (the buffer when open) and its parse.
#[derive(Debug)]
pub struct Document {
    pub path: PathBuf,
    pub text: String,
    pub lines: LineIndex,
    pub open: bool,
    syntax: Vec<Diagnostic>,
}

#[derive(Debug, Default)]
pub struct Workspace {
    root: Option<PathBuf>,
    /// Sorted by path; a document's index is its `FileId`.
    documents: Vec<Document>,
    /// `trees[i]` is the parse of `documents[i]`.
    trees: Vec<ast::File>,
    /// `routec.toml`'s problem, if it has one.
    settings_error: Option<String>,
    validation: Validation,
    /// Files whose diagnostics may have changed since [`Workspace::take_changed`].
    changed: BTreeSet<FileId>,
    /// The cluster, built when asked for after a change (`None` inside: it has errors).
    cluster: Option<Option<Cluster>>,
}

impl Workspace {
    /// Reads every `*.route` file below `root` (none without a root).
    pub fn load(root: Option<&Path>) -> Workspace {
        let mut workspace = Workspace { root: root.map(Path::to_path_buf), ..Workspace::default() };
        if let Some(root) = root {
            // A folder without `.route` files yet is an empty cluster, not an error.
            for path in frontend::route_files(root).unwrap_or_default() {
                if let Ok(text) = frontend::read_source(&path) {
                    workspace.documents.push(Document::new(path, text, false));
                }
            }
            workspace.reload_settings();
        }
        workspace.reparse_from(0);
        workspace
    }

    /// Reads `routec.toml` again (after it changed).
    pub fn reload_settings(&mut self) {
        self.settings_error =
            self.root.as_deref().and_then(|root| frontend::read_settings(root).err()).map(|e| e.to_string());
    }

    pub fn settings_error(&self) -> Option<&str> {
        self.settings_error.as_deref()
    }

    pub fn settings_path(&self) -> Option<PathBuf> {
        self.root.as_ref().map(|root| root.join(routec_compiler::settings::FILE_NAME))
    }

    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    pub fn document(&self, id: FileId) -> &Document {
        &self.documents[id]
    }

    pub fn tree(&self, id: FileId) -> &ast::File {
        &self.trees[id]
    }

    pub fn trees(&self) -> &[ast::File] {
        &self.trees
    }

    pub fn file_id(&self, path: &Path) -> Option<FileId> {
        self.documents.binary_search_by(|d| d.path.as_path().cmp(path)).ok()
    }

    /// An editor opened a buffer: it replaces the file on disk.
    pub fn open(&mut self, path: &Path, text: String) {
        if self.is_outside_root(path) {
            return;
        }
        self.set_text(path, text, true);
    }

    /// The open buffer changed.
    pub fn change(&mut self, path: &Path, text: String) {
        if self.is_outside_root(path) {
            return;
        }
        let open = self.file_id(path).is_none_or(|id| self.documents[id].open);
        self.set_text(path, text, open);
    }

    /// The buffer was closed: the file on disk counts again (or nothing, if
    /// it was never saved).
    pub fn close(&mut self, path: &Path) {
        match frontend::read_source(path) {
            Ok(text) if self.is_below_root(path) => self.set_text(path, text, false),
            _ => self.remove(path),
        }
    }

    /// A file changed on disk; an open buffer still wins over it.
    pub fn disk_changed(&mut self, path: &Path) {
        if self.file_id(path).is_some_and(|id| self.documents[id].open) {
            return;
        }
        match frontend::read_source(path) {
            Ok(text) if self.is_below_root(path) => self.set_text(path, text, false),
            _ => self.remove(path),
        }
    }

    /// A file of another folder than the workspace's is not part of its
    /// cluster (with no workspace folder, every open file is).
    fn is_outside_root(&self, path: &Path) -> bool {
        self.root.is_some() && !self.is_below_root(path)
    }

    fn is_below_root(&self, path: &Path) -> bool {
        self.root.as_deref().is_some_and(|root| path.starts_with(root))
    }

    fn set_text(&mut self, path: &Path, text: String, open: bool) {
        match self.documents.binary_search_by(|d| d.path.as_path().cmp(path)) {
            Ok(id) => {
                let document = &mut self.documents[id];
                document.open = open;
                if document.text != text {
                    document.lines = LineIndex::new(&text);
                    document.text = text;
                    self.reparse(id);
                }
            }
            Err(id) => {
                // Every later file's id moves up by one: they are parsed again.
                self.documents.insert(id, Document::new(path.to_path_buf(), text, open));
                self.reparse_from(id);
            }
        }
    }

    fn remove(&mut self, path: &Path) {
        if let Some(id) = self.file_id(path) {
            self.documents.remove(id);
            self.reparse_from(id);
        }
    }

    fn reparse(&mut self, id: FileId) {
        let document = &mut self.documents[id];
        document.syntax.clear();
        self.trees[id] = syntax::parse(id, &document.text, &mut document.syntax);
        document.syntax.sort_by_key(frontend::order);
        self.validation.replace(id, &self.trees[id], &document.text);
        self.changed.insert(id);
        self.cluster = None;
    }

    fn reparse_from(&mut self, first: FileId) {
        self.trees.truncate(first);
        for (id, document) in self.documents.iter_mut().enumerate().skip(first) {
            document.syntax.clear();
            self.trees.push(syntax::parse(id, &document.text, &mut document.syntax));
            document.syntax.sort_by_key(frontend::order);
        }
        let texts: Vec<&str> = self.documents.iter().map(|d| d.text.as_str()).collect();
        self.validation = Validation::new(&self.trees, &texts);
        self.validation.take_changed();
        self.changed = (0..self.documents.len()).collect();
        self.cluster = None;
    }

    /// The files whose diagnostics may have changed since the last call.
    pub fn take_changed(&mut self) -> BTreeSet<FileId> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.append(&mut self.validation.take_changed());
        changed
    }

    /// File `id`'s diagnostics (syntax and validation), as `check` lists them.
    pub fn diagnostics(&self, id: FileId) -> Vec<Diagnostic> {
        frontend::file_diagnostics(&self.validation, id, &self.documents[id].syntax)
    }

    /// The diagnostics of other files with a label in file `id`, with their file.
    pub fn labelling(&self, id: FileId) -> impl Iterator<Item = (FileId, &Diagnostic)> {
        self.validation.labelling(id)
    }

    fn has_errors(&self) -> bool {
        let syntax = self.documents.iter().flat_map(|d| &d.syntax);
        self.validation.has_errors() || syntax.into_iter().any(|d| d.severity() == Severity::Error)
    }

    /// The cluster the build would use, when the files have no error; built
    /// once per change, when asked for.
    pub fn cluster(&mut self) -> Option<&Cluster> {
        if self.cluster.is_none() {
            let cluster = if self.has_errors() { None } else { self.validation.cluster() };
            self.cluster = Some(cluster);
        }
        self.current_cluster()
    }

    /// The cluster if it is built and up to date (requests that need it
    /// call [`Workspace::cluster`] first).
    pub fn current_cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref().and_then(Option::as_ref)
    }

    /// The source text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        &self.documents[span.file()].text[span.range()]
    }

    /// This file's syntax errors (formatting refuses a file that has any).
    pub fn syntax_errors(&self, id: FileId) -> &[Diagnostic] {
        &self.documents[id].syntax
    }
}

impl Document {
    fn new(path: PathBuf, text: String, open: bool) -> Document {
        Document { path, lines: LineIndex::new(&text), text, open, syntax: Vec::new() }
    }
}
