//! Where a cursor is in the statement structure, from the tokens before it:
//! which block it is in and what came before it in its statement. Works on
//! text that does not parse (the usual state while typing).

use routec_compiler::syntax::lexer::{Lexer, Token, TokenKind};

use crate::expect::Slot;

/// The statement the cursor is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor<'a> {
    /// The keywords of the open blocks around the cursor, outermost first.
    pub blocks: Vec<&'a str>,
    /// The words of the statement before the cursor, the word under the
    /// cursor excluded.
    pub before: Vec<&'a str>,
    /// Where the word under the cursor starts (the cursor itself when none).
    pub word_start: usize,
}

impl Cursor<'_> {
    pub fn block(&self) -> Option<&str> {
        self.blocks.last().copied()
    }
}

pub fn cursor(text: &str, offset: usize) -> Cursor<'_> {
    let mut blocks = Vec::new();
    let mut statement: Vec<Token> = Vec::new();
    let mut word_start = offset;
    for token in Lexer::new(&text[..offset], false) {
        match token.kind {
            TokenKind::Newline | TokenKind::Semi => statement.clear(),
            TokenKind::LBrace => {
                blocks.push(statement.first().map_or("", |t| &text[t.start..t.end]));
                statement.clear();
            }
            TokenKind::RBrace => {
                blocks.pop();
                statement.clear();
            }
            _ => statement.push(token),
        }
    }
    if let Some(last) = statement.last() {
        if last.end == offset && last.kind == TokenKind::Name {
            word_start = last.start;
            statement.pop();
        }
    }
    let before = statement.iter().map(|t| &text[t.start..t.end]).collect();
    Cursor { blocks, before, word_start }
}

/// Every token of a text with the role it plays, for semantic tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Keyword,
    /// A node's name, declared or referred to.
    Node {
        declaration: bool,
    },
    /// A pod's name, declared or referred to (by an `expect`).
    Pod {
        declaration: bool,
    },
    Number,
    Text,
    Comment,
}

pub fn roles(text: &str) -> Vec<(Token, Role)> {
    let mut out = Vec::new();
    // The tokens of the current statement so far.
    let mut statement: Vec<&str> = Vec::new();
    for token in Lexer::new(text, true) {
        let slice = &text[token.start..token.end];
        let role = match token.kind {
            TokenKind::Newline | TokenKind::Semi | TokenKind::LBrace | TokenKind::RBrace => {
                statement.clear();
                continue;
            }
            TokenKind::Arrow => Some(Role::Keyword),
            TokenKind::Comment => Some(Role::Comment),
            TokenKind::Str => Some(Role::Text),
            TokenKind::Int(_)
            | TokenKind::Ipv4(_)
            | TokenKind::Prefix(..)
            | TokenKind::Ipv6(_)
            | TokenKind::Prefix6(..)
            | TokenKind::Mac(_) => Some(Role::Number),
            TokenKind::Error(_) => None,
            TokenKind::Name => match statement.as_slice() {
                [] => crate::reference::is_keyword(slice).then_some(Role::Keyword),
                ["node"] => Some(Role::Node { declaration: true }),
                ["pod"] => Some(Role::Pod { declaration: true }),
                ["expect", words @ ..] => Some(match crate::expect::slot(words) {
                    Slot::Endpoint if slice == "node" => Role::Keyword,
                    Slot::Endpoint => Role::Pod { declaration: false },
                    Slot::NodeName => Role::Node { declaration: false },
                    Slot::Outcome => Role::Keyword,
                    Slot::Arrow | Slot::Reason(_) | Slot::Done => Role::Text,
                }),
                ["pod", _] if slice == "on" => Some(Role::Keyword),
                ["pod", _, "on"] => Some(Role::Node { declaration: false }),
                _ => Some(Role::Text),
            },
        };
        if token.kind != TokenKind::Comment {
            statement.push(slice);
        }
        if let Some(role) = role {
            out.push((token, role));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_knows_its_block_and_statement() {
        let text = "node a {\n    addr";
        let c = cursor(text, text.len());
        assert_eq!(c.blocks, ["node"]);
        assert!(c.before.is_empty());
        assert_eq!(c.word_start, text.len() - 4);
        let text = "cluster c {\n  overlay vxlan {\n    ";
        assert_eq!(cursor(text, text.len()).blocks, ["cluster", "overlay"]);
        let text = "pod a/b on ";
        assert_eq!(cursor(text, text.len()).before, ["pod", "a/b", "on"]);
        let text = "node a {\n}\n";
        assert!(cursor(text, text.len()).blocks.is_empty());
    }
}
