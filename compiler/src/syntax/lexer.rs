//! Tokens of a `.route` file, with byte spans. Built from nom parsers; one
//! token at a time so that a 30 MB input never holds a token vector.

use std::net::Ipv4Addr;

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while1, take_while_m_n};
use nom::character::complete::{char, digit1, hex_digit1};
use nom::combinator::{all_consuming, map_res, opt};
use nom::multi::count;
use nom::sequence::{preceded, terminated, tuple};
use nom::IResult;

use crate::model::Mac;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name or keyword; its text is the token's source slice.
    Name,
    /// A decimal or `0x` hex integer; values above `u64::MAX` saturate (and
    /// are then out of every range).
    Int(u64),
    Ipv4(Ipv4Addr),
    /// An IPv4 prefix as written; the length may exceed 32 (checked later).
    Prefix(Ipv4Addr, u8),
    Mac(Mac),
    /// A quoted string; its text is the source slice, quotes included.
    Str,
    LBrace,
    RBrace,
    Semi,
    Newline,
    Comment,
    Error(LexError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexError {
    /// Characters that start no token.
    UnexpectedChar,
    UnterminatedString,
    /// A word that starts like a number or address but is not a valid one.
    BadLiteral(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn describe(&self, text: &str) -> String {
        let slice = &text[self.start..self.end];
        match self.kind {
            TokenKind::Name => format!("name `{slice}`"),
            TokenKind::Int(_) => format!("number `{slice}`"),
            TokenKind::Ipv4(_) => format!("address `{slice}`"),
            TokenKind::Prefix(..) => format!("prefix `{slice}`"),
            TokenKind::Mac(_) => format!("MAC `{slice}`"),
            TokenKind::Str => "a quoted string".to_string(),
            TokenKind::LBrace => "`{`".to_string(),
            TokenKind::RBrace => "`}`".to_string(),
            TokenKind::Semi => "`;`".to_string(),
            TokenKind::Newline => "the end of the line".to_string(),
            TokenKind::Comment => "a comment".to_string(),
            TokenKind::Error(_) => format!("`{slice}`"),
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':')
}

/// Splits a file into tokens. Spaces, tabs and carriage returns separate
/// tokens; newlines are tokens because they end statements. Comments are
/// returned only when asked for (the formatter keeps them, the parser not).
pub struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    keep_comments: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, keep_comments: bool) -> Lexer<'a> {
        Lexer { text, pos: 0, keep_comments }
    }

    fn token(&mut self, kind: TokenKind, len: usize) -> Token {
        let start = self.pos;
        self.pos += len;
        Token { kind, start, end: self.pos }
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        loop {
            let rest = &self.text[self.pos..];
            let first = rest.chars().next()?;
            return Some(match first {
                ' ' | '\t' | '\r' => {
                    self.pos += 1;
                    continue;
                }
                '\n' => self.token(TokenKind::Newline, 1),
                '{' => self.token(TokenKind::LBrace, 1),
                '}' => self.token(TokenKind::RBrace, 1),
                ';' => self.token(TokenKind::Semi, 1),
                '#' => {
                    let len = rest.find('\n').unwrap_or(rest.len());
                    let len = if rest[..len].ends_with('\r') { len - 1 } else { len };
                    let token = self.token(TokenKind::Comment, len);
                    if !self.keep_comments {
                        continue;
                    }
                    token
                }
                '"' => {
                    let (len, kind) = string_literal(rest);
                    self.token(kind, len)
                }
                c if is_word_char(c) => {
                    let word: IResult<&str, &str> = take_while1(is_word_char)(rest);
                    let word = word.map(|(_, w)| w).unwrap_or(&rest[..1]);
                    self.token(classify_word(word), word.len())
                }
                _ => {
                    // One error token for a whole run of stray characters.
                    let len = rest
                        .char_indices()
                        .skip(1)
                        .find(|&(_, c)| c.is_ascii_whitespace() || is_word_char(c) || "{};#\"".contains(c))
                        .map_or(rest.len(), |(i, _)| i);
                    self.token(TokenKind::Error(LexError::UnexpectedChar), len)
                }
            });
        }
    }
}

/// Length and kind of a quoted string at the start of `rest` (which begins with `"`).
fn string_literal(rest: &str) -> (usize, TokenKind) {
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (i + 1, TokenKind::Str),
            '\\' => match chars.next() {
                Some((_, '"' | '\\')) => {}
                Some((j, '\n')) => return (j, TokenKind::Error(LexError::UnterminatedString)),
                Some((j, c)) => {
                    let end = j + c.len_utf8();
                    let close = rest[end..].find(['"', '\n']).map_or(rest.len(), |k| {
                        if rest.as_bytes()[end + k] == b'"' { end + k + 1 } else { end + k }
                    });
                    return (close, TokenKind::Error(LexError::BadLiteral("only `\\\"` and `\\\\` escapes are allowed in strings")));
                }
                None => break,
            },
            '\n' => {
                let end = if rest[..i].ends_with('\r') { i - 1 } else { i };
                return (end, TokenKind::Error(LexError::UnterminatedString));
            }
            _ => {}
        }
    }
    (rest.len(), TokenKind::Error(LexError::UnterminatedString))
}

fn classify_word(word: &str) -> TokenKind {
    if let Ok((_, mac)) = all_consuming(mac)(word) {
        return TokenKind::Mac(mac);
    }
    let first = word.as_bytes()[0];
    if first.is_ascii_alphabetic() || first == b'_' {
        if word.contains(':') {
            return TokenKind::Error(LexError::BadLiteral(
                "a MAC address is six two-digit hex groups joined by `:`, and names cannot contain `:`",
            ));
        }
        return TokenKind::Name;
    }
    if !first.is_ascii_digit() {
        return TokenKind::Error(LexError::BadLiteral(match first {
            b'-' => "numbers cannot be negative",
            _ => "a name starts with a letter or `_`",
        }));
    }
    if let Ok((_, value)) = all_consuming(integer)(word) {
        return TokenKind::Int(value);
    }
    if let Ok((_, (addr, len))) = all_consuming(tuple((ipv4, opt(preceded(char('/'), digit1)))))(word) {
        return match addr {
            None => TokenKind::Error(LexError::BadLiteral("each part of an IPv4 address is 0..255")),
            Some(addr) => match len {
                None => TokenKind::Ipv4(addr),
                Some(len) => TokenKind::Prefix(addr, len.parse::<u8>().unwrap_or(u8::MAX)),
            },
        };
    }
    TokenKind::Error(LexError::BadLiteral(if word.contains(':') {
        "a MAC address is six two-digit hex groups joined by `:`"
    } else if word.contains('.') {
        "an IPv4 address is four numbers 0..255 joined by `.`, optionally followed by `/LENGTH`"
    } else {
        "a number is decimal digits or `0x` followed by hex digits"
    }))
}

fn integer(input: &str) -> IResult<&str, u64> {
    alt((
        preceded(tag_no_case("0x"), map_res(hex_digit1, |h| saturating(u64::from_str_radix(h, 16)))),
        map_res(digit1, |d: &str| saturating(d.parse::<u64>())),
    ))(input)
}

/// Integers too large for u64 become u64::MAX, which every range check rejects
/// with a precise E0011 instead of a vague syntax error.
fn saturating(parsed: Result<u64, std::num::ParseIntError>) -> Result<u64, std::num::ParseIntError> {
    match parsed {
        Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => Ok(u64::MAX),
        other => other,
    }
}

/// Four dotted decimal octets; `None` when one is above 255 (a bad literal,
/// told apart from words that are not addresses at all).
fn ipv4(input: &str) -> IResult<&str, Option<Ipv4Addr>> {
    let octet = |i| take_while_m_n(1, 3, |c: char| c.is_ascii_digit())(i);
    let (rest, (a, b, c, d)) =
        tuple((terminated(octet, char('.')), terminated(octet, char('.')), terminated(octet, char('.')), octet))(input)?;
    let parts: Option<Vec<u8>> = [a, b, c, d].iter().map(|p| p.parse::<u8>().ok()).collect();
    Ok((rest, parts.map(|p| Ipv4Addr::new(p[0], p[1], p[2], p[3]))))
}

fn mac(input: &str) -> IResult<&str, Mac> {
    let hex_byte = |i| {
        map_res(take_while_m_n(2, 2, |c: char| c.is_ascii_hexdigit()), |h| u8::from_str_radix(h, 16))(i)
    };
    let (rest, (first, others)) = tuple((hex_byte, count(preceded(tag(":"), hex_byte), 5)))(input)?;
    let mut bytes = [first; 6];
    bytes[1..].copy_from_slice(&others);
    Ok((rest, Mac(bytes)))
}

/// Whether `text` lexes as exactly one name token (used by the generator and
/// the formatter's tests).
pub fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_word_char) && classify_word(text) == TokenKind::Name
}
