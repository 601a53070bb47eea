//! An editor in the test: a client on `lsp-server`'s memory connection,
//! with the server running on its own thread as `routec lsp` runs it.
#![allow(dead_code)] // Each test binary uses its own part of the client.

use std::collections::HashMap;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId, ResponseError};
use lsp_types::notification::{self as notif, Notification as _};
use lsp_types::request as req;
use lsp_types::*;

pub struct Client {
    connection: Connection,
    server: Option<JoinHandle<routec_lsp::Ending>>,
    next_id: i32,
    /// The last diagnostics published for each file.
    pub diagnostics: HashMap<Url, Vec<Diagnostic>>,
    /// Every publish, in order.
    pub publishes: Vec<PublishDiagnosticsParams>,
    pub capabilities: ServerCapabilities,
}

const TIMEOUT: Duration = Duration::from_secs(60);

pub fn uri(path: &Path) -> Url {
    Url::from_file_path(path).unwrap()
}

impl Client {
    /// Starts a server on the workspace folder `root`, offering UTF-8
    /// positions or not.
    pub fn start(root: &Path, offer_utf8: bool) -> Client {
        let (server, connection) = Connection::memory();
        let thread = std::thread::spawn(move || routec_lsp::run(server).expect("the server ends cleanly"));
        let mut client = Client {
            connection,
            server: Some(thread),
            next_id: 0,
            diagnostics: HashMap::new(),
            publishes: Vec::new(),
            capabilities: ServerCapabilities::default(),
        };
        let encodings = if offer_utf8 {
            vec![PositionEncodingKind::UTF8, PositionEncodingKind::UTF16]
        } else {
            vec![PositionEncodingKind::UTF16]
        };
        let params = InitializeParams {
            workspace_folders: Some(vec![WorkspaceFolder { uri: uri(root), name: "test".into() }]),
            capabilities: ClientCapabilities {
                general: Some(GeneralClientCapabilities {
                    position_encodings: Some(encodings),
                    ..GeneralClientCapabilities::default()
                }),
                ..ClientCapabilities::default()
            },
            ..InitializeParams::default()
        };
        let result = client.request::<req::Initialize>(params).expect("initialize succeeds");
        client.capabilities = result.capabilities;
        client.notify::<notif::Initialized>(InitializedParams {});
        client
    }

    pub fn request<R: req::Request>(&mut self, params: R::Params) -> Result<R::Result, ResponseError> {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let request = Request::new(id.clone(), R::METHOD.into(), params);
        self.connection.sender.send(Message::Request(request)).unwrap();
        loop {
            match self.receive() {
                Message::Response(response) if response.id == id => {
                    if let Some(error) = response.error {
                        return Err(error);
                    }
                    return Ok(serde_json::from_value(response.result.unwrap_or_default()).unwrap());
                }
                _ => {}
            }
        }
    }

    pub fn notify<N: notif::Notification>(&mut self, params: N::Params) {
        let notification = Notification::new(N::METHOD.into(), params);
        self.connection.sender.send(Message::Notification(notification)).unwrap();
    }

    fn receive(&mut self) -> Message {
        let message = self.connection.receiver.recv_timeout(TIMEOUT).expect("the server answers");
        if let Message::Notification(n) = &message {
            if n.method == notif::PublishDiagnostics::METHOD {
                let params: PublishDiagnosticsParams = serde_json::from_value(n.params.clone()).unwrap();
                self.diagnostics.insert(params.uri.clone(), params.diagnostics.clone());
                self.publishes.push(params);
            }
        }
        message
    }

    /// Waits for the next publish for `uri`.
    pub fn next_diagnostics(&mut self, uri: &Url) -> Vec<Diagnostic> {
        loop {
            if let Message::Notification(n) = self.receive() {
                if n.method == notif::PublishDiagnostics::METHOD {
                    let params: PublishDiagnosticsParams = serde_json::from_value(n.params).unwrap();
                    if &params.uri == uri {
                        return params.diagnostics;
                    }
                }
            }
        }
    }

    /// Every diagnostic caused by the notifications sent so far has been
    /// published once this returns (the server publishes before answering).
    pub fn sync(&mut self) {
        let params = WorkspaceSymbolParams { query: "\u{0}".into(), ..WorkspaceSymbolParams::default() };
        self.request::<req::WorkspaceSymbolRequest>(params).unwrap();
    }

    /// The current diagnostics of a file (none published means none).
    pub fn diagnostics_of(&mut self, path: &Path) -> Vec<Diagnostic> {
        self.sync();
        self.diagnostics.get(&uri(path)).cloned().unwrap_or_default()
    }

    pub fn open(&mut self, path: &Path, text: &str) {
        let item = TextDocumentItem { uri: uri(path), language_id: "routec".into(), version: 1, text: text.into() };
        self.notify::<notif::DidOpenTextDocument>(DidOpenTextDocumentParams { text_document: item });
    }

    /// Replaces a range of an open buffer.
    pub fn edit(&mut self, path: &Path, version: i32, range: Range, text: &str) {
        let params = DidChangeTextDocumentParams {
            text_document: VersionedTextDocumentIdentifier { uri: uri(path), version },
            content_changes: vec![TextDocumentContentChangeEvent {
                range: Some(range),
                range_length: None,
                text: text.into(),
            }],
        };
        self.notify::<notif::DidChangeTextDocument>(params);
    }

    /// Replaces the whole buffer.
    pub fn replace(&mut self, path: &Path, version: i32, text: &str) {
        let params = DidChangeTextDocumentParams {
            text_document: VersionedTextDocumentIdentifier { uri: uri(path), version },
            content_changes: vec![TextDocumentContentChangeEvent {
                range: None,
                range_length: None,
                text: text.into(),
            }],
        };
        self.notify::<notif::DidChangeTextDocument>(params);
    }

    pub fn position(path: &Path, position: Position) -> TextDocumentPositionParams {
        TextDocumentPositionParams { text_document: TextDocumentIdentifier { uri: uri(path) }, position }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        self.request::<req::Shutdown>(()).unwrap();
        self.notify::<notif::Exit>(());
        let ending = self.server.take().unwrap().join().unwrap();
        assert_eq!(ending, routec_lsp::Ending::Shutdown);
    }
}

/// The 0-based position of the `nth` (0-based) occurrence of `needle` in
/// `text`, plus `shift` UTF-16 units, as an editor would send it.
pub fn find(text: &str, needle: &str, nth: usize, shift: u32) -> Position {
    let offset = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("no {needle:?} #{nth}")).0;
    let line = text[..offset].matches('\n').count() as u32;
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    Position::new(line, text[line_start..offset].encode_utf16().count() as u32 + shift)
}

/// Copies a folder (an example) into a temporary one the test may change.
pub fn copy_example(name: &str) -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&source, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
