//! A recovering parser over the token stream. It never recurses deeper than
//! an item's block and its overlay block: unknown or stray blocks are skipped
//! with a brace counter, so deeply nested input costs no stack. After an error
//! it resynchronises at the end of the statement (newline, `;`, or the `}`
//! of the block) and goes on, so one run reports every problem.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ast::*;
use super::lexer::{LexError, Lexer, Token, TokenKind};
use crate::diagnostics::{short, suggest, Code, Diagnostic};
use crate::expect::Outcome;
use crate::model::{Mac, OverlayKind};
use crate::source::{FileId, Span};
use crate::trace::Proto;

/// Beyond this many syntax errors in one file the rest is probably not a
/// `.route` file at all; stop rather than print thousands of diagnostics.
pub const MAX_SYNTAX_ERRORS: usize = 100;

/// Inputs this large are parsed in chunks on every core when that is
/// provably equivalent (see [`parse_in_parallel`]).
const PARALLEL_MIN_BYTES: usize = 1 << 20;

/// Parses one file. Syntax problems go to `diags`; the tree holds everything
/// that parsed.
pub fn parse(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> File {
    if text.len() >= PARALLEL_MIN_BYTES {
        if let Some(tree) = parse_in_parallel(file, text) {
            return tree;
        }
    }
    parse_sequential(file, text, diags)
}

/// Parses one file on this thread only.
pub fn parse_sequential(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> File {
    parse_lines(file, text, 0..text.len(), diags)
}

fn parse_lines(file: FileId, text: &str, range: std::ops::Range<usize>, diags: &mut Vec<Diagnostic>) -> File {
    let end = range.end;
    let lexer = Lexer::lines(text, range, false);
    let mut parser = Parser { text, end, file, lexer, ahead: VecDeque::new(), diags, errors: 0 };
    let mut items = Vec::new();
    while let Some(tok) = parser.peek_significant() {
        match tok.kind {
            TokenKind::Name => {
                if let Some(item) = parser.item() {
                    items.push(item);
                }
            }
            TokenKind::RBrace => {
                parser.bump();
                parser.error(Code::E0001, tok, "unexpected `}`", "no block is open here");
            }
            _ => {
                parser.unexpected(Some(tok), "`cluster`, `node`, `pod` or `expect`", None);
                parser.recover_statement();
            }
        }
    }
    File { items }
}

/// Splits a large file at lines that start an item right after a line
/// ending in `}`, and parses the pieces on separate threads. When every
/// piece parses without a diagnostic, each is a run of whole items and the
/// lexer has no state across lines, so the result is exactly the sequential
/// one. Any diagnostic returns `None`: the caller then parses sequentially,
/// so errors are found and reported exactly as always.
fn parse_in_parallel(file: FileId, text: &str) -> Option<File> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(16);
    if threads < 2 {
        return None;
    }
    let mut bounds = vec![0];
    for k in 1..threads {
        let from = (text.len() * k / threads).max(*bounds.last().expect("starts with 0"));
        match item_line_after(text, from) {
            Some(at) if at > *bounds.last().expect("starts with 0") => bounds.push(at),
            _ => {}
        }
    }
    bounds.push(text.len());
    let pieces: Vec<Option<File>> = std::thread::scope(|scope| {
        let handles: Vec<_> = bounds
            .windows(2)
            .map(|w| {
                let range = w[0]..w[1];
                scope.spawn(move || {
                    let mut diags = Vec::new();
                    let tree = parse_lines(file, text, range, &mut diags);
                    diags.is_empty().then_some(tree)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok().flatten()).collect()
    });
    let mut items = Vec::new();
    for piece in pieces {
        items.extend(piece?.items);
    }
    Some(File { items })
}

/// The first line start at or after `from` that begins with an item keyword
/// and follows a line ending in `}`.
fn item_line_after(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = from;
    loop {
        at += bytes[at..].iter().position(|&b| b == b'\n')? + 1;
        let rest = &text[at..];
        if ["node ", "pod ", "cluster ", "expect "].iter().any(|keyword| rest.starts_with(keyword))
            && text[..at].trim_end().ends_with('}')
        {
            return Some(at);
        }
    }
}

struct Parser<'a, 'd> {
    text: &'a str,
    /// End of the part being parsed (the text's end, or a chunk's).
    end: usize,
    file: FileId,
    lexer: Lexer<'a>,
    ahead: VecDeque<Token>,
    diags: &'d mut Vec<Diagnostic>,
    errors: usize,
}

enum BlockEnd {
    Closed(Span),
    /// The block is never closed: at the end of the file, or where the next
    /// item starts.
    Unterminated(Span),
}

impl<'a> Parser<'a, '_> {
    fn gave_up(&self) -> bool {
        self.errors > MAX_SYNTAX_ERRORS
    }

    fn peek_nth(&mut self, n: usize) -> Option<Token> {
        if self.gave_up() {
            return None;
        }
        while self.ahead.len() <= n {
            let tok = self.lexer.next()?;
            self.ahead.push_back(tok);
        }
        Some(self.ahead[n])
    }

    fn peek(&mut self) -> Option<Token> {
        self.peek_nth(0)
    }

    fn bump(&mut self) -> Option<Token> {
        self.peek()?;
        self.ahead.pop_front()
    }

    /// Skips newlines and `;` (empty statements) and peeks at what follows.
    fn peek_significant(&mut self) -> Option<Token> {
        while let Some(tok) = self.peek() {
            if !matches!(tok.kind, TokenKind::Newline | TokenKind::Semi) {
                return Some(tok);
            }
            self.bump();
        }
        None
    }

    fn span(&self, tok: Token) -> Span {
        Span::new(self.file, tok.start..tok.end)
    }

    fn slice(&self, tok: Token) -> &'a str {
        &self.text[tok.start..tok.end]
    }

    fn eof_span(&self) -> Span {
        Span::new(self.file, self.end..self.end)
    }

    fn push(&mut self, diag: Diagnostic) {
        if self.gave_up() {
            return;
        }
        self.errors += 1;
        if self.gave_up() {
            let span = diag.primary_span();
            self.diags.push(
                Diagnostic::new(Code::E0001, span, "too many syntax errors; the rest of this file is not checked")
                    .label("stopped here")
                    .help("is this really a .route file?"),
            );
        } else {
            self.diags.push(diag);
        }
    }

    fn error(&mut self, code: Code, tok: Token, message: impl Into<String>, label: impl Into<String>) {
        let diag = Diagnostic::new(code, self.span(tok), message).label(label);
        self.push(diag);
    }

    /// Reports that `found` is not what the grammar expects here.
    fn unexpected(&mut self, found: Option<Token>, expected: &str, help: Option<&str>) {
        let diag = match found {
            None => {
                Diagnostic::new(Code::E0001, self.eof_span(), format!("expected {expected}, found the end of the file"))
                    .label(format!("expected {expected}"))
            }
            Some(tok) => {
                let span = self.span(tok);
                let slice = self.slice(tok);
                match tok.kind {
                    TokenKind::Error(LexError::UnexpectedChar) => {
                        Diagnostic::new(Code::E0001, span, format!("unexpected character `{}`", short(slice)))
                            .label(format!("expected {expected}"))
                    }
                    TokenKind::Error(LexError::UnterminatedString) => {
                        Diagnostic::new(Code::E0001, span, "unterminated string")
                            .label("this string has no closing `\"`")
                    }
                    TokenKind::Error(LexError::BadLiteral(why)) => {
                        Diagnostic::new(Code::E0001, span, format!("invalid literal `{}`", short(slice)))
                            .label(format!("expected {expected}"))
                            .help(help.unwrap_or(why))
                    }
                    TokenKind::Newline => Diagnostic::new(
                        Code::E0001,
                        Span::new(self.file, tok.start..tok.start),
                        format!("expected {expected}, found the end of the line"),
                    )
                    .label(format!("expected {expected}")),
                    _ => Diagnostic::new(
                        Code::E0001,
                        span,
                        format!("expected {expected}, found {}", tok.describe(self.text)),
                    )
                    .label(format!("expected {expected}")),
                }
            }
        };
        let diag = match (help, &diag.help) {
            (Some(h), None) => diag.help(h),
            _ => diag,
        };
        self.push(diag);
    }

    /// Skips the rest of a broken statement: up to its newline or `;` (which
    /// are consumed), or the `}` closing the enclosing block (which is not).
    /// Braces opened on the way are skipped with a counter.
    fn recover_statement(&mut self) {
        let mut depth = 0usize;
        while let Some(tok) = self.peek() {
            match tok.kind {
                TokenKind::Newline | TokenKind::Semi if depth == 0 => {
                    self.bump();
                    return;
                }
                TokenKind::RBrace if depth == 0 => return,
                TokenKind::RBrace => depth -= 1,
                TokenKind::LBrace => depth += 1,
                _ => {}
            }
            self.bump();
        }
    }

    /// After a statement's arguments: a newline or `;` (consumed), or the
    /// block's `}` or the end of the file (left for the block).
    fn end_statement(&mut self, keyword: &str) -> bool {
        match self.peek() {
            None => true,
            Some(tok) => match tok.kind {
                TokenKind::Newline | TokenKind::Semi => {
                    self.bump();
                    true
                }
                TokenKind::RBrace => true,
                _ => {
                    let diag = Diagnostic::new(
                        Code::E0001,
                        self.span(tok),
                        format!("expected the end of the statement, found {}", tok.describe(self.text)),
                    )
                    .label(format!("`{keyword}` takes one value"))
                    .help("end a statement with a newline or `;`");
                    self.push(diag);
                    self.recover_statement();
                    false
                }
            },
        }
    }

    /// `node NAME {` / `cluster NAME {` / `pod NAME on` / `expect SRC ->` /
    /// `expect node NAME`: the start of an item, seen where a block's `}` is missing.
    fn looks_like_item_header(&mut self) -> bool {
        let (Some(a), Some(b), Some(c)) = (self.peek_nth(0), self.peek_nth(1), self.peek_nth(2)) else {
            return false;
        };
        if self.slice(a) == "expect" {
            return c.kind == TokenKind::Arrow || (self.slice(b) == "node" && c.kind == TokenKind::Name);
        }
        if a.kind != TokenKind::Name || b.kind != TokenKind::Name {
            return false;
        }
        match self.slice(a) {
            "cluster" | "node" => c.kind == TokenKind::LBrace,
            "pod" => c.kind == TokenKind::Name && self.slice(c) == "on",
            _ => false,
        }
    }

    fn item(&mut self) -> Option<Item> {
        let keyword = self.bump()?;
        let kw_span = self.span(keyword);
        match self.slice(keyword) {
            "cluster" => {
                let name = self.name("a cluster name")?;
                let block = self.block(keyword, Self::cluster_stmt)?;
                let span = kw_span.to(block.close);
                Some(Item::Cluster(ClusterItem { keyword: kw_span, name, block, span }))
            }
            "node" => {
                let name = self.name("a node name")?;
                let block = self.block(keyword, Self::node_stmt)?;
                let span = kw_span.to(block.close);
                Some(Item::Node(NodeItem { keyword: kw_span, name, block, span }))
            }
            "pod" => {
                let name = self.name("a pod name (`namespace/name`)")?;
                match self.peek() {
                    Some(tok) if tok.kind == TokenKind::Name && self.slice(tok) == "on" => {
                        self.bump();
                    }
                    other => {
                        self.unexpected(
                            other,
                            "`on NODE` after the pod's name",
                            Some("write `pod NAMESPACE/NAME on NODE { ... }`"),
                        );
                        self.recover_statement();
                        return None;
                    }
                }
                let node = self.name("a node name")?;
                let block = self.block(keyword, Self::pod_stmt)?;
                let span = kw_span.to(block.close);
                Some(Item::Pod(PodItem { keyword: kw_span, name, node, block, span }))
            }
            "expect" => self.expect_item(kw_span).map(Item::Expect),
            other => {
                let diag = Diagnostic::new(Code::E0002, kw_span, format!("unknown statement `{}`", short(other)))
                    .label("expected `cluster`, `node`, `pod` or `expect`");
                let diag = match suggest(other, ITEM_KEYWORDS.iter().copied()) {
                    Some(s) => diag.help(format!("did you mean `{s}`?")),
                    None => match owner_of(other) {
                        Some(owner) => {
                            diag.help(format!("`{other}` belongs inside {} `{owner}` block", article(owner)))
                        }
                        None => diag,
                    },
                };
                self.push(diag);
                self.recover_statement();
                None
            }
        }
    }

    /// The name after an item keyword; on failure the rest of the item
    /// (header and block) is skipped.
    fn name(&mut self, expected: &str) -> Option<Spanned<String>> {
        match self.peek() {
            Some(tok) if tok.kind == TokenKind::Name => {
                self.bump();
                Some(Spanned { value: self.slice(tok).to_string(), span: self.span(tok) })
            }
            other => {
                let help = match other.map(|t| t.kind) {
                    Some(TokenKind::Int(_) | TokenKind::Error(LexError::BadLiteral(_))) => {
                        Some("names start with a letter or `_`, then letters, digits, `_`, `-`, `.`, `/`")
                    }
                    _ => None,
                };
                self.unexpected(other, expected, help);
                self.recover_statement();
                None
            }
        }
    }

    /// `{ stmt* }` after an item header (newlines before the `{` allowed).
    fn block<K>(&mut self, owner: Token, stmt: fn(&mut Self, Token) -> Option<Stmt<K>>) -> Option<Block<K>> {
        let open = match self.peek_significant() {
            Some(tok) if tok.kind == TokenKind::LBrace => {
                self.bump();
                tok
            }
            other => {
                let what = self.slice(owner);
                self.unexpected(other, &format!("`{{` to open the `{what}` block"), None);
                self.recover_statement();
                return None;
            }
        };
        Some(self.block_body(open, stmt))
    }

    fn block_body<K>(&mut self, open: Token, stmt: fn(&mut Self, Token) -> Option<Stmt<K>>) -> Block<K> {
        // Pods have up to seven statements: one allocation per block.
        let mut stmts = Vec::with_capacity(8);
        let mut recovered = false;
        let end = loop {
            let Some(tok) = self.peek_significant() else {
                break BlockEnd::Unterminated(self.eof_span());
            };
            match tok.kind {
                TokenKind::RBrace => {
                    self.bump();
                    break BlockEnd::Closed(self.span(tok));
                }
                TokenKind::Name
                    if matches!(self.slice(tok), "cluster" | "node" | "pod" | "expect")
                        && self.looks_like_item_header() =>
                {
                    break BlockEnd::Unterminated(Span::new(self.file, tok.start..tok.start));
                }
                TokenKind::Name => {
                    self.bump();
                    match stmt(self, tok) {
                        Some(s) => stmts.push(s),
                        None => recovered = true,
                    }
                }
                _ => {
                    self.unexpected(Some(tok), "a statement", None);
                    self.recover_statement();
                    recovered = true;
                }
            }
        };
        let open_span = self.span(open);
        let close = match end {
            BlockEnd::Closed(span) => span,
            BlockEnd::Unterminated(at) => {
                let diag = Diagnostic::new(Code::E0001, open_span, "unterminated block")
                    .label("this `{` is never closed")
                    .secondary(at, "expected `}` before this")
                    .help("add `}` at the end of the block");
                self.push(diag);
                recovered = true;
                at
            }
        };
        Block { open: open_span, close, stmts, recovered }
    }

    fn unknown_statement(&mut self, keyword: Token, block: &str, known: &[&str]) {
        let word = self.slice(keyword);
        let diag = Diagnostic::new(
            Code::E0002,
            self.span(keyword),
            format!("unknown statement `{}` in {} `{block}` block", short(word), article(block)),
        )
        .label("unknown statement");
        let diag = match suggest(word, known.iter().copied()) {
            Some(s) => diag.help(format!("did you mean `{s}`?")),
            None => match owner_of(word) {
                Some(owner) => diag.help(format!("`{word}` belongs in {} `{owner}` block", article(owner))),
                None => diag.help(format!("statements of this block: {}", list(known))),
            },
        };
        self.push(diag);
        self.recover_statement();
    }

    /// Finishes a one-value statement.
    fn simple<K, T>(
        &mut self,
        keyword: Token,
        value: Option<Spanned<T>>,
        make: fn(Spanned<T>) -> K,
    ) -> Option<Stmt<K>> {
        let value = match value {
            Some(v) => v,
            None => {
                self.recover_statement();
                return None;
            }
        };
        let span = self.span(keyword).to(value.span);
        if !self.end_statement(self.slice(keyword)) {
            return None;
        }
        Some(Stmt { keyword: self.span(keyword), kind: make(value), span })
    }

    fn cluster_stmt(&mut self, keyword: Token) -> Option<Stmt<ClusterStmt>> {
        match self.slice(keyword) {
            "mtu" => {
                let v = self.int(keyword);
                self.simple(keyword, v, ClusterStmt::Mtu)
            }
            "overlay" => {
                let kind = match self.peek() {
                    Some(tok) if tok.kind == TokenKind::Name => {
                        let word = self.slice(tok);
                        let kind = match word {
                            "vxlan" => Some(OverlayKind::Vxlan),
                            "geneve" => Some(OverlayKind::Geneve),
                            "none" => Some(OverlayKind::None),
                            _ => None,
                        };
                        match kind {
                            Some(kind) => {
                                self.bump();
                                Spanned { value: kind, span: self.span(tok) }
                            }
                            None => {
                                let help =
                                    suggest(word, ["vxlan", "geneve", "none"]).map(|s| format!("did you mean `{s}`?"));
                                let diag = Diagnostic::new(
                                    Code::E0001,
                                    self.span(tok),
                                    format!("unknown overlay `{}`", short(word)),
                                )
                                .label("expected `vxlan`, `geneve` or `none`");
                                self.push(match help {
                                    Some(h) => diag.help(h),
                                    None => diag,
                                });
                                self.recover_statement();
                                return None;
                            }
                        }
                    }
                    other => {
                        self.unexpected(other, "`vxlan`, `geneve` or `none` after `overlay`", None);
                        self.recover_statement();
                        return None;
                    }
                };
                let block = match self.peek() {
                    Some(tok) if tok.kind == TokenKind::LBrace => {
                        self.bump();
                        Some(self.block_body(tok, Self::overlay_stmt))
                    }
                    _ => None,
                };
                let end = block.as_ref().map_or(kind.span, |b| b.close);
                let span = self.span(keyword).to(end);
                if !self.end_statement("overlay") {
                    return None;
                }
                Some(Stmt { keyword: self.span(keyword), kind: ClusterStmt::Overlay { kind, block }, span })
            }
            _ => {
                self.unknown_statement(keyword, "cluster", CLUSTER_KEYWORDS);
                None
            }
        }
    }

    fn overlay_stmt(&mut self, keyword: Token) -> Option<Stmt<OverlayStmt>> {
        match self.slice(keyword) {
            "port" => {
                let v = self.int(keyword);
                self.simple(keyword, v, OverlayStmt::Port)
            }
            "vni" => {
                let v = self.int(keyword);
                self.simple(keyword, v, OverlayStmt::Vni)
            }
            _ => {
                self.unknown_statement(keyword, "overlay", OVERLAY_KEYWORDS);
                None
            }
        }
    }

    fn node_stmt(&mut self, keyword: Token) -> Option<Stmt<NodeStmt>> {
        match self.slice(keyword) {
            "address" => match self.ip(keyword) {
                Some(Ok(v)) => self.simple(keyword, Some(v), NodeStmt::Address),
                Some(Err(v)) => self.simple(keyword, Some(v), NodeStmt::Address6),
                None => {
                    self.recover_statement();
                    None
                }
            },
            "pod-cidr" => match self.prefix(keyword) {
                Some(Ok(v)) => self.simple(keyword, Some(v), NodeStmt::PodCidr),
                Some(Err(v)) => self.simple(keyword, Some(v), NodeStmt::PodCidr6),
                None => {
                    self.recover_statement();
                    None
                }
            },
            "router" => match self.ip(keyword) {
                Some(Ok(v)) => self.simple(keyword, Some(v), NodeStmt::Router),
                Some(Err(v)) => self.simple(keyword, Some(v), NodeStmt::Router6),
                None => {
                    self.recover_statement();
                    None
                }
            },
            "device" => {
                let v = self.name_value(keyword, "an interface name");
                self.simple(keyword, v, NodeStmt::Device)
            }
            _ => {
                self.unknown_statement(keyword, "node", NODE_KEYWORDS);
                None
            }
        }
    }

    fn pod_stmt(&mut self, keyword: Token) -> Option<Stmt<PodStmt>> {
        match self.slice(keyword) {
            "ip" => match self.ip(keyword) {
                Some(Ok(v)) => self.simple(keyword, Some(v), PodStmt::Ip),
                Some(Err(v)) => self.simple(keyword, Some(v), PodStmt::Ip6),
                None => {
                    self.recover_statement();
                    None
                }
            },
            "endpoint" => {
                let v = self.int(keyword);
                self.simple(keyword, v, PodStmt::Endpoint)
            }
            "identity" => {
                let v = self.int(keyword);
                self.simple(keyword, v, PodStmt::Identity)
            }
            "lxc" => {
                let v = self.name_value(keyword, "an interface name");
                self.simple(keyword, v, PodStmt::Lxc)
            }
            "ifindex" => {
                let v = self.int(keyword);
                self.simple(keyword, v, PodStmt::Ifindex)
            }
            "mac" => {
                let v = self.mac(keyword);
                self.simple(keyword, v, PodStmt::Mac)
            }
            "node-mac" => {
                let v = self.mac(keyword);
                self.simple(keyword, v, PodStmt::NodeMac)
            }
            _ => {
                self.unknown_statement(keyword, "pod", POD_KEYWORDS);
                None
            }
        }
    }

    /// `expect SRC -> DST OUTCOME [REASON] [{ ... }]` after its keyword. On
    /// an error the rest of the line (and any block opened on it) is skipped.
    fn expect_item(&mut self, keyword: Span) -> Option<ExpectItem> {
        let src = self.expect_endpoint("the source of the expectation (a pod, its IP, or `node NAME`)")?;
        let arrow = match self.peek() {
            Some(tok) if tok.kind == TokenKind::Arrow => {
                self.bump();
                self.span(tok)
            }
            other => {
                self.unexpected(other, "`->`", Some("write `expect SOURCE -> DESTINATION delivered` (or `dropped`)"));
                self.recover_statement();
                return None;
            }
        };
        let dst = self.expect_endpoint("the destination (a pod, an IP address, or `node NAME`)")?;
        let outcome = match self.peek() {
            Some(tok) if tok.kind == TokenKind::Name => match Outcome::from_name(self.slice(tok)) {
                Some(outcome) => {
                    self.bump();
                    Spanned { value: outcome, span: self.span(tok) }
                }
                None => {
                    let word = self.slice(tok);
                    let names = Outcome::ALL.iter().map(|o| o.name());
                    let diag =
                        Diagnostic::new(Code::E0001, self.span(tok), format!("unknown outcome `{}`", short(word)))
                            .label("expected `delivered` or `dropped`");
                    self.push(match suggest(word, names) {
                        Some(s) => diag.help(format!("did you mean `{s}`?")),
                        None => diag,
                    });
                    self.recover_statement();
                    return None;
                }
            },
            other => {
                self.unexpected(other, "`delivered` or `dropped`", None);
                self.recover_statement();
                return None;
            }
        };
        let reason = match self.peek() {
            Some(tok) if tok.kind == TokenKind::Name => {
                self.bump();
                Some(Spanned { value: self.slice(tok).to_string(), span: self.span(tok) })
            }
            _ => None,
        };
        let block = match self.peek() {
            Some(tok) if tok.kind == TokenKind::LBrace => {
                self.bump();
                Some(self.block_body(tok, Self::expect_stmt))
            }
            _ => None,
        };
        let end = match (&block, &reason) {
            (Some(b), _) => b.close,
            (None, Some(r)) => r.span,
            (None, None) => outcome.span,
        };
        let span = keyword.to(end);
        match self.peek() {
            Some(tok) if matches!(tok.kind, TokenKind::Newline | TokenKind::Semi) => {
                self.bump();
            }
            None => {}
            Some(tok) if tok.kind == TokenKind::RBrace => {}
            Some(tok) => {
                let diag = Diagnostic::new(
                    Code::E0001,
                    self.span(tok),
                    format!("expected the end of the expectation, found {}", tok.describe(self.text)),
                )
                .label("an expectation ends after its outcome, reason and block")
                .help("give `proto`, `port` and `ttl` in a block: `{ proto tcp; port 443 }`");
                self.push(diag);
                self.recover_statement();
                return None;
            }
        }
        Some(ExpectItem { keyword, src, arrow, dst, outcome, reason, block, span })
    }

    /// One end of an expectation: a pod name, an IPv4 address, or `node NAME`.
    fn expect_endpoint(&mut self, expected: &str) -> Option<Spanned<EndpointRef>> {
        let tok = self.peek();
        let value = match tok.map(|t| t.kind) {
            Some(TokenKind::Ipv4(addr)) => EndpointRef::Address(IpAddr::V4(addr)),
            Some(TokenKind::Ipv6(addr)) => EndpointRef::Address(IpAddr::V6(addr)),
            Some(TokenKind::Name) if Outcome::from_name(self.slice(tok.expect("matched"))).is_some() => {
                self.unexpected(tok, expected, Some("write `expect SOURCE -> DESTINATION delivered` (or `dropped`)"));
                self.recover_statement();
                return None;
            }
            Some(TokenKind::Name) => {
                let tok = tok.expect("matched above");
                let word = self.slice(tok);
                let after = self.peek_nth(1);
                if word == "node" && after.is_some_and(|t| t.kind == TokenKind::Name) {
                    self.bump();
                    let name = self.bump().expect("peeked above");
                    let span = self.span(tok).to(self.span(name));
                    let name = Spanned { value: self.slice(name).to_string(), span: self.span(name) };
                    return Some(Spanned { value: EndpointRef::Node(name), span });
                }
                EndpointRef::Pod(word.to_string())
            }
            _ => {
                self.unexpected(tok, expected, None);
                self.recover_statement();
                return None;
            }
        };
        let tok = self.bump().expect("peeked above");
        Some(Spanned { value, span: self.span(tok) })
    }

    fn expect_stmt(&mut self, keyword: Token) -> Option<Stmt<ExpectStmt>> {
        match self.slice(keyword) {
            "proto" => {
                let v = self.value(keyword, "`icmp`, `tcp` or `udp`", |p, t| match t.kind {
                    TokenKind::Name => p.slice(t).parse::<Proto>().ok(),
                    _ => None,
                });
                self.simple(keyword, v, ExpectStmt::Proto)
            }
            "port" => {
                let v = self.int(keyword);
                self.simple(keyword, v, ExpectStmt::Port)
            }
            "ttl" => {
                let v = self.int(keyword);
                self.simple(keyword, v, ExpectStmt::Ttl)
            }
            _ => {
                self.unknown_statement(keyword, "expect", EXPECT_KEYWORDS);
                None
            }
        }
    }

    /// The value token of a statement, when `pick` accepts it.
    fn value<T>(
        &mut self,
        keyword: Token,
        expected: &str,
        pick: impl Fn(&Self, Token) -> Option<T>,
    ) -> Option<Spanned<T>> {
        let tok = self.peek();
        if let Some(tok) = tok {
            if let Some(v) = pick(self, tok) {
                self.bump();
                return Some(Spanned { value: v, span: self.span(tok) });
            }
        }
        let kw = self.slice(keyword);
        self.unexpected(tok, &format!("{expected} after `{kw}`"), None);
        None
    }

    fn int(&mut self, keyword: Token) -> Option<Spanned<u64>> {
        self.value(keyword, "a number", |_, t| match t.kind {
            TokenKind::Int(v) => Some(v),
            _ => None,
        })
    }

    /// An IPv4 (`Ok`) or IPv6 (`Err`) address.
    fn ip(&mut self, keyword: Token) -> Option<Result<Spanned<Ipv4Addr>, Spanned<Ipv6Addr>>> {
        let v = self.value(keyword, "an IPv4 or IPv6 address", |_, t| match t.kind {
            TokenKind::Ipv4(a) => Some(IpAddr::V4(a)),
            TokenKind::Ipv6(a) => Some(IpAddr::V6(a)),
            _ => None,
        })?;
        Some(match v.value {
            IpAddr::V4(a) => Ok(Spanned { value: a, span: v.span }),
            IpAddr::V6(a) => Err(Spanned { value: a, span: v.span }),
        })
    }

    /// An IPv4 (`Ok`) or IPv6 (`Err`) prefix.
    fn prefix(&mut self, keyword: Token) -> Option<Result<Spanned<Prefix>, Spanned<Prefix6>>> {
        let v = self.value(keyword, "an IPv4 or IPv6 prefix (`ADDRESS/LENGTH`)", |_, t| match t.kind {
            TokenKind::Prefix(addr, len) => Some(Ok(Prefix { addr, len })),
            TokenKind::Prefix6(addr, len) => Some(Err(Prefix6 { addr, len })),
            _ => None,
        })?;
        Some(match v.value {
            Ok(p) => Ok(Spanned { value: p, span: v.span }),
            Err(p) => Err(Spanned { value: p, span: v.span }),
        })
    }

    fn mac(&mut self, keyword: Token) -> Option<Spanned<Mac>> {
        self.value(keyword, "a MAC address", |_, t| match t.kind {
            TokenKind::Mac(m) => Some(m),
            _ => None,
        })
    }

    fn name_value(&mut self, keyword: Token, expected: &str) -> Option<Spanned<String>> {
        self.value(keyword, expected, |p, t| match t.kind {
            TokenKind::Name => Some(p.slice(t).to_string()),
            _ => None,
        })
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The block a statement keyword belongs in, for misplaced statements.
fn owner_of(word: &str) -> Option<&'static str> {
    if CLUSTER_KEYWORDS.contains(&word) {
        Some("cluster")
    } else if OVERLAY_KEYWORDS.contains(&word) {
        Some("overlay")
    } else if NODE_KEYWORDS.contains(&word) {
        Some("node")
    } else if POD_KEYWORDS.contains(&word) {
        Some("pod")
    } else if EXPECT_KEYWORDS.contains(&word) {
        Some("expect")
    } else {
        None
    }
}

fn list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    quoted.join(", ")
}
