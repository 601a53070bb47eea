//! `routec fmt`: the canonical layout of a `.route` file. Four-space indent,
//! one statement per line, one blank line between top-level blocks, a
//! single space between words. Comments are kept where they were: on their
//! own line, or at the end of the line they followed. A blank line the
//! author left between statements or comments is kept (several become one).
//! Literals are printed as written (`0x10` stays hex), so formatting never
//! changes meaning, and formatting formatted text changes nothing.
//! Expectations are one line each (a block of theirs is printed inline
//! unless it holds a comment), and consecutive ones stay together.

use crate::frontend::{analyze_sources, Analysis};
use crate::settings::Settings;
use crate::source::{Sources, Span};
use crate::syntax::ast::*;
use crate::syntax::lexer::{Lexer, TokenKind};
use crate::syntax::parse;

/// Formats one file. A file with syntax errors is not formatted: the
/// analysis holding its syntax diagnostics comes back instead.
pub fn format_source(file_name: &str, text: &str) -> Result<String, Box<Analysis>> {
    let mut diagnostics = Vec::new();
    let file = parse(0, text, &mut diagnostics);
    if !diagnostics.is_empty() {
        let mut sources = Sources::new();
        sources.add(file_name.to_string(), text.to_string());
        let mut analysis = analyze_sources(sources, Settings::default());
        // Only what stops formatting: the syntax errors, not validation's findings.
        analysis.diagnostics = diagnostics;
        return Err(Box::new(analysis));
    }
    let mut printer =
        Printer { text, comments: comments(text), next: 0, out: String::with_capacity(text.len()), last_end: 0 };
    printer.file(&file);
    Ok(printer.out)
}

/// An expectation on one line, canonically spaced: its name in reports
/// (`routec test`, JUnit testcases) and its layout in `fmt`.
pub fn expect_text(text: &str, e: &ExpectItem) -> String {
    let mut line = expect_header(text, e);
    if let Some(block) = &e.block {
        line.push_str(&inline_block(text, block));
    }
    line
}

/// `expect SRC -> DST OUTCOME [REASON]`.
fn expect_header(text: &str, e: &ExpectItem) -> String {
    let src = |span: Span| &text[span.range()];
    let end = |end: &Spanned<EndpointRef>| match &end.value {
        EndpointRef::Node(name) => format!("node {}", src(name.span)),
        _ => src(end.span).to_string(),
    };
    let mut line = format!("expect {} -> {} {}", end(&e.src), end(&e.dst), src(e.outcome.span));
    if let Some(reason) = &e.reason {
        line.push(' ');
        line.push_str(src(reason.span));
    }
    line
}

/// ` { proto tcp; port 443 }`, or ` {}`.
fn inline_block(text: &str, block: &Block<ExpectStmt>) -> String {
    if block.stmts.is_empty() {
        return " {}".to_string();
    }
    let stmts: Vec<String> = block
        .stmts
        .iter()
        .map(|s| format!("{} {}", &text[s.keyword.range()], &text[expect_stmt_value(s).range()]))
        .collect();
    format!(" {{ {} }}", stmts.join("; "))
}

fn expect_stmt_value(s: &Stmt<ExpectStmt>) -> Span {
    match &s.kind {
        ExpectStmt::Proto(v) => v.span,
        ExpectStmt::Port(v) | ExpectStmt::Ttl(v) => v.span,
    }
}

struct Comment {
    start: usize,
    end: usize,
    /// Something other than a comment precedes it on its line.
    trailing: bool,
}

fn comments(text: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    let mut line_has_token = false;
    for tok in Lexer::new(text, true) {
        match tok.kind {
            TokenKind::Newline => line_has_token = false,
            TokenKind::Comment => out.push(Comment { start: tok.start, end: tok.end, trailing: line_has_token }),
            _ => line_has_token = true,
        }
    }
    out
}

struct Printer<'a> {
    text: &'a str,
    comments: Vec<Comment>,
    next: usize,
    out: String,
    /// Where the last printed thing ended in the source.
    last_end: usize,
}

const INDENT: &str = "    ";

impl Printer<'_> {
    fn src(&self, span: Span) -> &str {
        &self.text[span.range()]
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
    }

    /// The author left an empty line between `from` and `to`.
    fn blank_between(&self, from: usize, to: usize) -> bool {
        self.text[from..to].bytes().filter(|&b| b == b'\n').count() >= 2
    }

    fn comment_text(&self, c: &Comment) -> &str {
        self.text[c.start..c.end].trim_end()
    }

    /// Puts a trailing comment that follows `end` on the current line, then ends the line.
    fn end_line(&mut self, end: usize) {
        self.last_end = end;
        if let Some(c) = self.comments.get(self.next) {
            let between = &self.text[end..c.start.max(end)];
            if c.trailing && c.start >= end && between.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b';')) {
                let text = self.comment_text(c).to_string();
                self.out.push(' ');
                self.out.push_str(&text);
                self.last_end = c.end;
                self.next += 1;
            }
        }
        self.out.push('\n');
    }

    /// Prints the comments before `pos` on lines of their own. `first` is
    /// whether nothing was printed yet at this level (no blank line then);
    /// `blank_after_item` forces a blank line after a top-level block.
    fn comments_before(&mut self, pos: usize, depth: usize, first: &mut bool, blank_after_item: &mut bool) {
        while let Some(c) = self.comments.get(self.next) {
            if c.start >= pos {
                break;
            }
            let (start, end) = (c.start, c.end);
            if !*first && (*blank_after_item || self.blank_between(self.last_end, start)) {
                self.out.push('\n');
            }
            let text = self.comment_text(&self.comments[self.next]).to_string();
            self.indent(depth);
            self.out.push_str(&text);
            self.out.push('\n');
            self.next += 1;
            self.last_end = end;
            *first = false;
            *blank_after_item = false;
        }
    }

    fn file(&mut self, file: &File) {
        let mut first = true;
        let mut after_item = false;
        let mut after_expect = false;
        for item in &file.items {
            let start = item.span().start as usize;
            let expect = matches!(item, Item::Expect(_));
            // A list of expectations needs no blank lines; anything after it
            // does, before the comments that belong to it.
            let mut blank = after_item || (after_expect && !expect);
            self.comments_before(start, 0, &mut first, &mut blank);
            if !first && (blank || self.blank_between(self.last_end, start)) {
                self.out.push('\n');
            }
            self.item(item);
            first = false;
            after_item = !expect;
            after_expect = expect;
        }
        self.comments_before(usize::MAX, 0, &mut first, &mut after_item);
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Cluster(c) => {
                self.out.push_str(&format!("cluster {}", self.src(c.name.span)));
                self.block(&c.block, 0, Self::cluster_stmt);
            }
            Item::Node(n) => {
                self.out.push_str(&format!("node {}", self.src(n.name.span)));
                self.block(&n.block, 0, Self::node_stmt);
            }
            Item::Pod(p) => {
                self.out.push_str(&format!("pod {} on {}", self.src(p.name.span), self.src(p.node.span)));
                self.block(&p.block, 0, Self::pod_stmt);
            }
            Item::Expect(e) => {
                self.out.push_str(&expect_header(self.text, e));
                match &e.block {
                    None => self.end_line(e.span.end as usize),
                    Some(block)
                        if self.comments.get(self.next).is_some_and(|c| c.start < block.close.start as usize) =>
                    {
                        self.block(block, 0, Self::expect_stmt)
                    }
                    Some(block) => {
                        self.out.push_str(&inline_block(self.text, block));
                        self.end_line(block.close.end as usize);
                    }
                }
            }
        }
    }

    fn expect_stmt(&mut self, s: &Stmt<ExpectStmt>, _depth: usize) {
        self.simple(s.keyword, expect_stmt_value(s));
    }

    /// ` { ... }` after a header already printed at `depth`; ends the line.
    fn block<K>(&mut self, block: &Block<K>, depth: usize, stmt: fn(&mut Self, &Stmt<K>, usize)) {
        let close = block.close.start as usize;
        let comment_inside = self.comments.get(self.next).is_some_and(|c| c.start < close);
        if block.stmts.is_empty() && !comment_inside {
            self.out.push_str(" {}");
            self.end_line(block.close.end as usize);
            return;
        }
        self.out.push_str(" {");
        self.end_line(block.open.end as usize);
        let mut first = true;
        let mut never = false;
        for s in &block.stmts {
            let start = s.span.start as usize;
            self.comments_before(start, depth + 1, &mut first, &mut never);
            if !first && self.blank_between(self.last_end, start) {
                self.out.push('\n');
            }
            self.indent(depth + 1);
            stmt(self, s, depth + 1);
            first = false;
        }
        self.comments_before(close, depth + 1, &mut first, &mut never);
        self.indent(depth);
        self.out.push('}');
        self.end_line(block.close.end as usize);
    }

    fn simple(&mut self, keyword: Span, value: Span) {
        let line = format!("{} {}", self.src(keyword), self.src(value));
        self.out.push_str(&line);
        self.end_line(value.end as usize);
    }

    fn cluster_stmt(&mut self, s: &Stmt<ClusterStmt>, depth: usize) {
        match &s.kind {
            ClusterStmt::Mtu(v) => self.simple(s.keyword, v.span),
            ClusterStmt::Overlay { kind, block } => match block {
                None => self.simple(s.keyword, kind.span),
                Some(block) => {
                    let head = format!("overlay {}", self.src(kind.span));
                    self.out.push_str(&head);
                    self.block(block, depth, Self::overlay_stmt);
                }
            },
        }
    }

    fn overlay_stmt(&mut self, s: &Stmt<OverlayStmt>, _depth: usize) {
        match &s.kind {
            OverlayStmt::Port(v) | OverlayStmt::Vni(v) => self.simple(s.keyword, v.span),
        }
    }

    fn node_stmt(&mut self, s: &Stmt<NodeStmt>, _depth: usize) {
        let value = match &s.kind {
            NodeStmt::Address(v) | NodeStmt::Router(v) => v.span,
            NodeStmt::PodCidr(v) => v.span,
            NodeStmt::Device(v) => v.span,
            NodeStmt::Address6(v) | NodeStmt::Router6(v) => v.span,
            NodeStmt::PodCidr6(v) => v.span,
        };
        self.simple(s.keyword, value);
    }

    fn pod_stmt(&mut self, s: &Stmt<PodStmt>, _depth: usize) {
        let value = match &s.kind {
            PodStmt::Ip(v) => v.span,
            PodStmt::Ip6(v) => v.span,
            PodStmt::Endpoint(v) | PodStmt::Identity(v) | PodStmt::Ifindex(v) => v.span,
            PodStmt::Lxc(v) => v.span,
            PodStmt::Mac(v) | PodStmt::NodeMac(v) => v.span,
        };
        self.simple(s.keyword, value);
    }
}
