//! The protocol loop: one thread, messages in order. A change updates the
//! workspace's validation for that file and marks the workspace stale;
//! diagnostics are published once the queue is empty or before the next
//! request is answered, only for the files a change may have touched.

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response, ResponseError};
use lsp_types::notification::{self as notif, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::*;
use routec_compiler::source::{FileId, Span};

use crate::convert;
use crate::features::{self, CompletionKind, SymbolKind as Kind};
use crate::line_index::{Encoding, LineIndex};
use crate::workspace::Workspace;
use crate::{actions, hover};

type Failure = Box<dyn Error + Send + Sync>;

/// How the client ended the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `exit` after `shutdown`: exit code 0.
    Shutdown,
    /// `exit` (or the end of the input) without `shutdown`: the LSP
    /// specification asks for exit code 1.
    NoShutdown,
}

/// Serves one client until it asks to exit.
pub fn run(connection: Connection) -> Result<Ending, Failure> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params)?;
    let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_deref());
    let encoding = Encoding::negotiate(offered);
    let result = InitializeResult {
        capabilities: capabilities(encoding),
        server_info: Some(ServerInfo { name: "routec".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let workspace = Workspace::load(root(&params).as_deref());
    if can_watch_files(&params) {
        watch_files(&connection)?;
    }
    let mut server = Server { connection: &connection, workspace, encoding, published: HashMap::new(), stale: true };
    server.main_loop()
}

fn can_watch_files(params: &InitializeParams) -> bool {
    let watch = params.capabilities.workspace.as_ref().and_then(|w| w.did_change_watched_files.as_ref());
    watch.and_then(|w| w.dynamic_registration).unwrap_or(false)
}

/// Asks the client to report `.route` files and `routec.toml` changed on
/// disk (by git, by another program), so closed files stay current.
fn watch_files(connection: &Connection) -> Result<(), Failure> {
    let watchers = ["**/*.route", "**/routec.toml"]
        .map(|glob| FileSystemWatcher { glob_pattern: GlobPattern::String(glob.into()), kind: None })
        .to_vec();
    let options = DidChangeWatchedFilesRegistrationOptions { watchers };
    let registration = Registration {
        id: "routec-watch".into(),
        method: notif::DidChangeWatchedFiles::METHOD.into(),
        register_options: Some(serde_json::to_value(options)?),
    };
    let params = RegistrationParams { registrations: vec![registration] };
    // The answer carries nothing; the main loop ignores responses.
    let request = Request::new("routec-watch".to_string().into(), req::RegisterCapability::METHOD.into(), params);
    connection.sender.send(Message::Request(request))?;
    Ok(())
}

/// The workspace folder: the first one the client names, else its root URI.
#[allow(deprecated)] // `root_uri`: older clients (Neovim 0.7) send only it.
fn root(params: &InitializeParams) -> Option<PathBuf> {
    let folder = params.workspace_folders.as_ref().and_then(|f| f.first()).map(|f| &f.uri);
    folder.or(params.root_uri.as_ref()).and_then(convert::path)
}

fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            save: Some(TextDocumentSyncSaveOptions::Supported(true)),
            ..TextDocumentSyncOptions::default()
        })),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: SemanticTokensLegend {
                    token_types: features::TOKEN_TYPES.iter().map(|t| SemanticTokenType::new(t)).collect(),
                    token_modifiers: features::TOKEN_MODIFIERS.iter().map(|m| SemanticTokenModifier::new(m)).collect(),
                },
                full: Some(SemanticTokensFullOptions::Bool(true)),
                ..SemanticTokensOptions::default()
            },
        )),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    connection: &'c Connection,
    workspace: Workspace,
    encoding: Encoding,
    /// What each file was last sent, so only changes are sent again.
    published: HashMap<PathBuf, Vec<Diagnostic>>,
    /// Files changed since diagnostics were last published.
    stale: bool,
}

/// A request failed in a way the user should read.
fn refused(message: impl Into<String>) -> ResponseError {
    ResponseError { code: ErrorCode::RequestFailed as i32, message: message.into(), data: None }
}

impl Server<'_> {
    fn main_loop(&mut self) -> Result<Ending, Failure> {
        self.publish()?;
        while let Ok(message) = self.connection.receiver.recv() {
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request)? {
                        return Ok(Ending::Shutdown);
                    }
                    // Answers follow the diagnostics of every change before them.
                    if self.stale {
                        self.publish()?;
                    }
                    let response = self.request(request);
                    self.connection.sender.send(Message::Response(response))?;
                }
                Message::Notification(notification) if notification.method == notif::Exit::METHOD => {
                    return Ok(Ending::NoShutdown);
                }
                Message::Notification(notification) => self.notification(notification),
                Message::Response(_) => {}
            }
            if self.stale && self.connection.receiver.is_empty() {
                self.publish()?;
            }
        }
        Ok(Ending::NoShutdown)
    }

    /// Sends the diagnostics of every file whose diagnostics changed.
    fn publish(&mut self) -> Result<(), Failure> {
        self.stale = false;
        let mut current: HashMap<PathBuf, Vec<Diagnostic>> = (self.workspace.take_changed().into_iter())
            .map(|id| {
                let path = self.workspace.document(id).path.clone();
                (path, convert::file_diagnostics(&self.workspace, id, self.encoding))
            })
            .collect();
        if let Some(path) = self.workspace.settings_path() {
            let diagnostic = self.workspace.settings_error().map(|error| Diagnostic {
                range: Range::default(),
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some(convert::SOURCE.into()),
                message: error.to_string(),
                ..Diagnostic::default()
            });
            current.insert(path, diagnostic.into_iter().collect());
        }
        // Files gone from the workspace: cleared.
        for path in self.published.keys() {
            if self.workspace.file_id(path).is_none() {
                current.entry(path.clone()).or_default();
            }
        }
        let mut changed: Vec<(PathBuf, Vec<Diagnostic>)> = current
            .into_iter()
            .filter(|(path, list)| self.published.get(path).map_or(!list.is_empty(), |old| old != list))
            .collect();
        changed.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, diagnostics) in changed {
            let params =
                PublishDiagnosticsParams { uri: convert::uri(&path), diagnostics: diagnostics.clone(), version: None };
            let notification = Notification::new(notif::PublishDiagnostics::METHOD.into(), params);
            self.connection.sender.send(Message::Notification(notification))?;
            if diagnostics.is_empty() {
                self.published.remove(&path);
            } else {
                self.published.insert(path, diagnostics);
            }
        }
        Ok(())
    }

    fn notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            notif::DidOpenTextDocument::METHOD => {
                if let Ok(params) = cast::<DidOpenTextDocumentParams>(notification.params) {
                    // Only `.route` files are the cluster (an editor may attach more).
                    let path = convert::path(&params.text_document.uri).filter(|p| is_route_file(p));
                    if let Some(path) = path {
                        self.workspace.open(&path, params.text_document.text);
                        self.stale = true;
                    }
                }
            }
            notif::DidChangeTextDocument::METHOD => {
                if let Ok(params) = cast::<DidChangeTextDocumentParams>(notification.params) {
                    self.changed(params);
                }
            }
            notif::DidCloseTextDocument::METHOD => {
                if let Ok(params) = cast::<DidCloseTextDocumentParams>(notification.params) {
                    if let Some(path) = convert::path(&params.text_document.uri) {
                        self.workspace.close(&path);
                        self.stale = true;
                    }
                }
            }
            notif::DidSaveTextDocument::METHOD => {
                if let Ok(params) = cast::<DidSaveTextDocumentParams>(notification.params) {
                    self.disk_changed(convert::path(&params.text_document.uri));
                }
            }
            notif::DidChangeWatchedFiles::METHOD => {
                if let Ok(params) = cast::<DidChangeWatchedFilesParams>(notification.params) {
                    for change in params.changes {
                        self.disk_changed(convert::path(&change.uri));
                    }
                }
            }
            _ => {}
        }
    }

    /// A file was saved or changed on disk: `routec.toml` is read again, a
    /// `.route` file is re-read unless its buffer is open.
    fn disk_changed(&mut self, path: Option<PathBuf>) {
        let Some(path) = path else { return };
        if Some(&path) == self.workspace.settings_path().as_ref() {
            self.workspace.reload_settings();
        } else if is_route_file(&path) {
            self.workspace.disk_changed(&path);
        }
        self.stale = true;
    }

    fn changed(&mut self, params: DidChangeTextDocumentParams) {
        let Some(path) = convert::path(&params.text_document.uri) else { return };
        let Some(id) = self.workspace.file_id(&path) else { return };
        let mut text = self.workspace.document(id).text.clone();
        for change in params.content_changes {
            match change.range {
                Some(range) => {
                    let lines = LineIndex::new(&text);
                    let start = lines.offset(&text, range.start, self.encoding);
                    let end = lines.offset(&text, range.end, self.encoding).max(start);
                    text.replace_range(start..end, &change.text);
                }
                None => text = change.text,
            }
        }
        self.workspace.change(&path, text);
        self.stale = true;
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            req::HoverRequest::METHOD => self.call::<req::HoverRequest>(request, Self::hover),
            req::GotoDefinition::METHOD => self.call::<req::GotoDefinition>(request, Self::definition),
            req::References::METHOD => self.call::<req::References>(request, Self::references),
            req::PrepareRenameRequest::METHOD => self.call::<req::PrepareRenameRequest>(request, Self::prepare_rename),
            req::Rename::METHOD => self.call::<req::Rename>(request, Self::rename),
            req::Completion::METHOD => self.call::<req::Completion>(request, Self::completion),
            req::Formatting::METHOD => self.call::<req::Formatting>(request, Self::format),
            req::DocumentSymbolRequest::METHOD => {
                self.call::<req::DocumentSymbolRequest>(request, Self::document_symbols)
            }
            req::WorkspaceSymbolRequest::METHOD => {
                self.call::<req::WorkspaceSymbolRequest>(request, Self::workspace_symbols)
            }
            req::SemanticTokensFullRequest::METHOD => {
                self.call::<req::SemanticTokensFullRequest>(request, Self::semantic_tokens)
            }
            req::CodeActionRequest::METHOD => self.call::<req::CodeActionRequest>(request, Self::code_actions),
            other => Err(ResponseError {
                code: ErrorCode::MethodNotFound as i32,
                message: format!("`{other}` is not supported"),
                data: None,
            }),
        };
        match result {
            Ok(value) => Response { id, result: Some(value), error: None },
            Err(error) => Response { id, result: None, error: Some(error) },
        }
    }

    fn call<R: req::Request>(
        &mut self,
        request: Request,
        handler: fn(&mut Self, R::Params) -> Result<R::Result, ResponseError>,
    ) -> Result<serde_json::Value, ResponseError> {
        let params = cast::<R::Params>(request.params).map_err(|e| ResponseError {
            code: ErrorCode::InvalidParams as i32,
            message: e.to_string(),
            data: None,
        })?;
        let result = handler(self, params)?;
        Ok(serde_json::to_value(result).expect("LSP results serialize"))
    }

    /// The file and byte offset of a position in a known document.
    fn locate(&self, document: &TextDocumentPositionParams) -> Result<(FileId, usize), ResponseError> {
        let file = self.file(&document.text_document.uri)?;
        Ok((file, convert::offset(&self.workspace, file, document.position, self.encoding)))
    }

    fn file(&self, uri: &Url) -> Result<FileId, ResponseError> {
        convert::path(uri)
            .and_then(|path| self.workspace.file_id(&path))
            .ok_or_else(|| refused(format!("`{uri}` is not a .route file of this workspace")))
    }

    fn range(&self, span: Span) -> Range {
        convert::range(&self.workspace, span, self.encoding)
    }

    fn locations(&self, spans: Vec<Span>) -> Vec<Location> {
        spans.into_iter().map(|span| convert::location(&self.workspace, span, self.encoding)).collect()
    }

    fn edit(&self, edits: Vec<(Span, String)>) -> WorkspaceEdit {
        let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
        for (span, new_text) in edits {
            let uri = convert::uri(&self.workspace.document(span.file()).path);
            changes.entry(uri).or_default().push(TextEdit { range: self.range(span), new_text });
        }
        WorkspaceEdit { changes: Some(changes), ..WorkspaceEdit::default() }
    }

    fn hover(&mut self, params: HoverParams) -> Result<Option<Hover>, ResponseError> {
        let (file, offset) = self.locate(&params.text_document_position_params)?;
        Ok(hover::hover(&mut self.workspace, file, offset).map(|value| Hover {
            contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value }),
            range: None,
        }))
    }

    fn definition(&mut self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>, ResponseError> {
        let (file, offset) = self.locate(&params.text_document_position_params)?;
        let found = self.locations(features::definition(&self.workspace, file, offset));
        Ok((!found.is_empty()).then_some(GotoDefinitionResponse::Array(found)))
    }

    fn references(&mut self, params: ReferenceParams) -> Result<Option<Vec<Location>>, ResponseError> {
        let (file, offset) = self.locate(&params.text_document_position)?;
        let spans = features::references(&self.workspace, file, offset, params.context.include_declaration);
        Ok(Some(self.locations(spans)))
    }

    fn prepare_rename(
        &mut self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>, ResponseError> {
        let (file, offset) = self.locate(&params)?;
        let (span, placeholder) = features::prepare_rename(&self.workspace, file, offset).map_err(|e| refused(e.0))?;
        Ok(Some(PrepareRenameResponse::RangeWithPlaceholder { range: self.range(span), placeholder }))
    }

    fn rename(&mut self, params: RenameParams) -> Result<Option<WorkspaceEdit>, ResponseError> {
        let (file, offset) = self.locate(&params.text_document_position)?;
        let spans = features::rename(&self.workspace, file, offset, &params.new_name).map_err(|e| refused(e.0))?;
        Ok(Some(self.edit(spans.into_iter().map(|span| (span, params.new_name.clone())).collect())))
    }

    fn completion(&mut self, params: CompletionParams) -> Result<Option<CompletionResponse>, ResponseError> {
        let (file, offset) = self.locate(&params.text_document_position)?;
        self.workspace.cluster();
        let (items, word_start) = features::completion(&self.workspace, file, offset);
        let span = Span::new(file, word_start..offset);
        let range = self.range(span);
        let items = items
            .into_iter()
            .map(|item| CompletionItem {
                kind: Some(match item.kind {
                    CompletionKind::Keyword => CompletionItemKind::KEYWORD,
                    CompletionKind::Node => CompletionItemKind::CLASS,
                    CompletionKind::Pod => CompletionItemKind::VARIABLE,
                    CompletionKind::Reason => CompletionItemKind::ENUM_MEMBER,
                }),
                documentation: item
                    .documentation
                    .map(|value| Documentation::MarkupContent(MarkupContent { kind: MarkupKind::Markdown, value })),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit { range, new_text: item.label.clone() })),
                label: item.label,
                ..CompletionItem::default()
            })
            .collect();
        Ok(Some(CompletionResponse::Array(items)))
    }

    fn format(&mut self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>, ResponseError> {
        let file = self.file(&params.text_document.uri)?;
        let formatted = features::format(&self.workspace, file).map_err(refused)?;
        let document = self.workspace.document(file);
        Ok(Some(formatted.map_or_else(Vec::new, |new_text| {
            let range = document.lines.range(&document.text, 0..document.text.len(), self.encoding);
            vec![TextEdit { range, new_text }]
        })))
    }

    fn document_symbols(
        &mut self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>, ResponseError> {
        let file = self.file(&params.text_document.uri)?;
        #[allow(deprecated)] // `deprecated` is a required field of the struct.
        let symbols = features::document_symbols(&self.workspace, file)
            .into_iter()
            .map(|s| DocumentSymbol {
                name: s.name,
                detail: None,
                kind: symbol_kind(s.kind),
                tags: None,
                deprecated: None,
                range: self.range(s.span),
                selection_range: self.range(s.name_span),
                children: None,
            })
            .collect();
        Ok(Some(DocumentSymbolResponse::Nested(symbols)))
    }

    fn workspace_symbols(
        &mut self,
        params: WorkspaceSymbolParams,
    ) -> Result<Option<WorkspaceSymbolResponse>, ResponseError> {
        /// A huge cluster would otherwise answer an empty query with every pod.
        const LIMIT: usize = 1000;
        #[allow(deprecated)] // `deprecated` is a required field of the struct.
        let symbols = features::workspace_symbols(&self.workspace, &params.query, LIMIT)
            .into_iter()
            .map(|s| SymbolInformation {
                name: s.name,
                kind: symbol_kind(s.kind),
                tags: None,
                deprecated: None,
                location: convert::location(&self.workspace, s.name_span, self.encoding),
                container_name: None,
            })
            .collect();
        Ok(Some(WorkspaceSymbolResponse::Flat(symbols)))
    }

    fn semantic_tokens(&mut self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>, ResponseError> {
        let file = self.file(&params.text_document.uri)?;
        let document = self.workspace.document(file);
        let (mut line, mut column) = (0, 0);
        let mut data = Vec::new();
        for (token, token_type, modifiers) in features::semantic_tokens(&document.text) {
            let start = document.lines.position(&document.text, token.start, self.encoding);
            let length = self.encoding.width(&document.text[token.start..token.end]);
            let delta_start = if start.line == line { start.character - column } else { start.character };
            data.push(SemanticToken {
                delta_line: start.line - line,
                delta_start,
                length,
                token_type,
                token_modifiers_bitset: modifiers,
            });
            (line, column) = (start.line, start.character);
        }
        Ok(Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data })))
    }

    fn code_actions(&mut self, params: CodeActionParams) -> Result<Option<CodeActionResponse>, ResponseError> {
        let file = self.file(&params.text_document.uri)?;
        let document = self.workspace.document(file);
        let start = document.lines.offset(&document.text, params.range.start, self.encoding);
        let end = document.lines.offset(&document.text, params.range.end, self.encoding);
        let fixes = actions::fixes(&mut self.workspace, file, start..end);
        let actions = fixes
            .into_iter()
            .map(|fix| {
                let diagnostic =
                    convert::diagnostics_by_file(&self.workspace, std::slice::from_ref(&fix.fixes), self.encoding)
                        .remove(&file)
                        .unwrap_or_default();
                CodeActionOrCommand::CodeAction(CodeAction {
                    title: fix.title,
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(diagnostic),
                    edit: Some(self.edit(fix.edits)),
                    is_preferred: Some(true),
                    ..CodeAction::default()
                })
            })
            .collect();
        Ok(Some(actions))
    }
}

fn is_route_file(path: &std::path::Path) -> bool {
    path.extension().is_some_and(|x| x == "route")
}

fn symbol_kind(kind: Kind) -> SymbolKind {
    match kind {
        Kind::Cluster => SymbolKind::NAMESPACE,
        Kind::Node => SymbolKind::CLASS,
        Kind::Pod => SymbolKind::OBJECT,
    }
}

fn cast<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}
