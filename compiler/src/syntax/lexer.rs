//! Tokens of a `.route` file, with byte spans. Built from nom parsers; one
//! token at a time so that a 30 MB input never holds a token vector.

use std::net::{Ipv4Addr, Ipv6Addr};

use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_while_m_n};
use nom::character::complete::{char, digit1, hex_digit1};
use nom::combinator::{all_consuming, map, opt};
use nom::sequence::{preceded, tuple};
use nom::IResult;

use crate::diagnostics::short;
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
    Ipv6(Ipv6Addr),
    /// An IPv6 prefix as written; the length may exceed 128 (checked later).
    Prefix6(Ipv6Addr, u8),
    Mac(Mac),
    /// A quoted string; its text is the source slice, quotes included.
    Str,
    LBrace,
    RBrace,
    Semi,
    /// `->`, between the two ends of an `expect`.
    Arrow,
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
        let slice = short(&text[self.start..self.end]);
        match self.kind {
            TokenKind::Name => format!("name `{slice}`"),
            TokenKind::Int(_) => format!("number `{slice}`"),
            TokenKind::Ipv4(_) | TokenKind::Ipv6(_) => format!("address `{slice}`"),
            TokenKind::Prefix(..) | TokenKind::Prefix6(..) => format!("prefix `{slice}`"),
            TokenKind::Mac(_) => format!("MAC `{slice}`"),
            TokenKind::Str => "a quoted string".to_string(),
            TokenKind::LBrace => "`{`".to_string(),
            TokenKind::RBrace => "`}`".to_string(),
            TokenKind::Semi => "`;`".to_string(),
            TokenKind::Arrow => "`->`".to_string(),
            TokenKind::Newline => "the end of the line".to_string(),
            TokenKind::Comment => "a comment".to_string(),
            TokenKind::Error(_) => format!("`{slice}`"),
        }
    }
}

/// Byte classes: bytes that make up names, numbers, addresses and MACs (all
/// ASCII), and the separators that tell those apart, gathered in one pass.
const WORD: u8 = 1;
const COLON: u8 = 2;
const DOT: u8 = 4;
const SLASH: u8 = 8;

const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b':' => WORD | COLON,
            b'.' => WORD | DOT,
            b'/' => WORD | SLASH,
            b'_' | b'-' => WORD,
            _ if c.is_ascii_alphanumeric() => WORD,
            _ => 0,
        };
        b += 1;
    }
    table
};

fn is_word_byte(b: u8) -> bool {
    CLASSES[b as usize] & WORD != 0
}

/// Splits a file into tokens. Spaces, tabs and carriage returns separate
/// tokens; newlines are tokens because they end statements. Comments are
/// returned only when asked for (the formatter keeps them, the parser not).
pub struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// Where lexing stops: the end of the text, or of a chunk starting at a line.
    end: usize,
    keep_comments: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(text: &'a str, keep_comments: bool) -> Lexer<'a> {
        Lexer { text, pos: 0, end: text.len(), keep_comments }
    }

    /// Lexes `text[range]` only, with spans relative to the whole text. The
    /// range must start at a line start and end after a newline (or at the
    /// end): no token crosses a newline, so the tokens are the same as the
    /// whole text's there.
    pub fn lines(text: &'a str, range: std::ops::Range<usize>, keep_comments: bool) -> Lexer<'a> {
        Lexer { text, pos: range.start, end: range.end, keep_comments }
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
        // Dispatch on bytes: every byte that starts a token is ASCII, and any
        // other byte starts a run of unexpected characters cut at char boundaries.
        let bytes = self.text.as_bytes();
        loop {
            if self.pos >= self.end {
                return None;
            }
            let first = bytes[self.pos];
            return Some(match first {
                b' ' | b'\t' | b'\r' => {
                    self.pos += 1;
                    while self.pos < self.end && matches!(bytes[self.pos], b' ' | b'\t' | b'\r') {
                        self.pos += 1;
                    }
                    continue;
                }
                b'\n' => self.token(TokenKind::Newline, 1),
                b'{' => self.token(TokenKind::LBrace, 1),
                b'}' => self.token(TokenKind::RBrace, 1),
                b';' => self.token(TokenKind::Semi, 1),
                b'-' if bytes.get(self.pos + 1) == Some(&b'>') => self.token(TokenKind::Arrow, 2),
                b'#' => {
                    let rest = &self.text[self.pos..];
                    let len = rest.find('\n').unwrap_or(rest.len());
                    let len = if rest[..len].ends_with('\r') { len - 1 } else { len };
                    let token = self.token(TokenKind::Comment, len);
                    if !self.keep_comments {
                        continue;
                    }
                    token
                }
                b'"' => {
                    let (len, kind) = string_literal(&self.text[self.pos..]);
                    self.token(kind, len)
                }
                b if is_word_byte(b) => {
                    let mut classes = 0;
                    let mut len = 0;
                    for (i, &b) in bytes[self.pos..].iter().enumerate() {
                        let class = CLASSES[b as usize];
                        // `->` ends a word: `a->b` is `a`, `->`, `b` (no word holds `>`).
                        if class == 0 || (b == b'-' && bytes.get(self.pos + i + 1) == Some(&b'>')) {
                            break;
                        }
                        classes |= class;
                        len += 1;
                    }
                    if classes & COLON != 0 && bytes.get(self.pos + len) == Some(&b'%') {
                        // `fe80::1%eth0`: one bad literal for the address and its zone.
                        len += 1 + bytes[self.pos + len + 1..].iter().take_while(|&&b| is_word_byte(b)).count();
                        return Some(self.token(TokenKind::Error(LexError::BadLiteral(ZONE_ID)), len));
                    }
                    self.token(classify_word(&self.text[self.pos..self.pos + len], classes), len)
                }
                _ => {
                    // One error token for a whole run of stray characters.
                    let rest = &self.text[self.pos..];
                    let len = rest
                        .char_indices()
                        .skip(1)
                        .find(|&(_, c)| {
                            c.is_ascii() && (c.is_ascii_whitespace() || is_word_byte(c as u8) || "{};#\"".contains(c))
                        })
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
                        if rest.as_bytes()[end + k] == b'"' {
                            end + k + 1
                        } else {
                            end + k
                        }
                    });
                    return (
                        close,
                        TokenKind::Error(LexError::BadLiteral("only `\\\"` and `\\\\` escapes are allowed in strings")),
                    );
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

const ZONE_ID: &str = "IPv6 zone ids (`%eth0`) are not allowed: write the address alone";
const MAC_SHAPE: &str = "a MAC address is six two-digit hex groups joined by `:`";
const IPV6_SHAPE: &str =
    "an IPv6 address is up to eight hex groups joined by `:`, one `::` at most (RFC 4291), optionally followed by `/LENGTH`";

/// What a word is, given the union of its bytes' classes.
fn classify_word(word: &str, classes: u8) -> TokenKind {
    let bytes = word.as_bytes();
    let first = bytes[0];
    let (colon, dot, slash) = (classes & COLON != 0, classes & DOT != 0, classes & SLASH != 0);
    if colon {
        if let Ok((_, mac)) = all_consuming(mac)(bytes) {
            return TokenKind::Mac(mac);
        }
        if let Some(kind) = ipv6_word(word) {
            return kind;
        }
    }
    if first.is_ascii_alphabetic() || first == b'_' {
        if colon {
            return TokenKind::Error(LexError::BadLiteral(if is_hex_colon(bytes) {
                hex_colon_hint(word)
            } else {
                "names cannot contain `:`"
            }));
        }
        return TokenKind::Name;
    }
    if !first.is_ascii_digit() && first != b':' {
        return TokenKind::Error(LexError::BadLiteral(match first {
            b'-' => "numbers cannot be negative",
            _ => "a name starts with a letter or `_`",
        }));
    }
    if !dot && !slash && !colon {
        if let Ok((_, value)) = all_consuming(integer)(bytes) {
            return TokenKind::Int(value);
        }
    }
    if dot && !colon {
        if let Ok((_, (addr, len))) = all_consuming(tuple((ipv4, opt(preceded(char('/'), digit1)))))(bytes) {
            return match addr {
                None => TokenKind::Error(LexError::BadLiteral("each part of an IPv4 address is 0..255")),
                Some(addr) => match len {
                    None => TokenKind::Ipv4(addr),
                    Some(len) => TokenKind::Prefix(addr, decimal(len).try_into().unwrap_or(u8::MAX)),
                },
            };
        }
    }
    TokenKind::Error(LexError::BadLiteral(if colon {
        hex_colon_hint(word)
    } else if dot {
        "an IPv4 address is four numbers 0..255 joined by `.`, optionally followed by `/LENGTH`"
    } else {
        "a number is decimal digits or `0x` followed by hex digits"
    }))
}

/// Hex digits and `:` only (the shape of both MACs and IPv6 addresses).
fn is_hex_colon(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.is_ascii_hexdigit() || *b == b':')
}

/// The hint for a hex:colon word that is neither a MAC nor an IPv6 address:
/// the MAC one when every group has two digits (a MAC with a group missing),
/// the IPv6 one otherwise.
fn hex_colon_hint(word: &str) -> &'static str {
    if !word.contains("::") && word.split(':').all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit())) {
        MAC_SHAPE
    } else {
        IPV6_SHAPE
    }
}

/// An IPv6 address or prefix in any RFC 4291 text form (std's parser: hex
/// groups, one `::`, an embedded dotted IPv4 tail; no zone ids), or `None`
/// when the word is not one.
fn ipv6_word(word: &str) -> Option<TokenKind> {
    let (addr, len) = match word.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (word, None),
    };
    let addr: Ipv6Addr = addr.parse().ok()?;
    match len {
        None => Some(TokenKind::Ipv6(addr)),
        Some(len) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => {
            Some(TokenKind::Prefix6(addr, decimal(len.as_bytes()).try_into().unwrap_or(u8::MAX)))
        }
        Some(_) => None,
    }
}

// The literal parsers run on bytes: every literal is ASCII, and byte
// combinators avoid decoding UTF-8 for each character.
fn integer(input: &[u8]) -> IResult<&[u8], u64> {
    alt((preceded(tag_no_case("0x"), map(hex_digit1, |h: &[u8]| fold_digits(h, 16))), map(digit1, decimal)))(input)
}

/// Digits to a number; values beyond u64 saturate to u64::MAX, which every
/// range check rejects with a precise E0011 instead of a vague syntax error.
fn fold_digits(digits: &[u8], radix: u64) -> u64 {
    digits.iter().fold(0u64, |n, &d| {
        let digit = (d as char).to_digit(radix as u32).unwrap_or(0) as u64;
        n.checked_mul(radix).and_then(|n| n.checked_add(digit)).unwrap_or(u64::MAX)
    })
}

fn decimal(digits: &[u8]) -> u64 {
    fold_digits(digits, 10)
}

/// Four dotted decimal octets; `None` when one is above 255 (a bad literal,
/// told apart from words that are not addresses at all).
fn ipv4(input: &[u8]) -> IResult<&[u8], Option<Ipv4Addr>> {
    let octet = |i| map(take_while_m_n(1, 3, |c: u8| c.is_ascii_digit()), decimal)(i);
    let (rest, (a, _, b, _, c, _, d)) = tuple((octet, char('.'), octet, char('.'), octet, char('.'), octet))(input)?;
    let valid = [a, b, c, d].iter().all(|&o| o <= 255);
    Ok((rest, valid.then(|| Ipv4Addr::new(a as u8, b as u8, c as u8, d as u8))))
}

fn mac(input: &[u8]) -> IResult<&[u8], Mac> {
    let byte = |i| map(take_while_m_n(2, 2, |c: u8| c.is_ascii_hexdigit()), |h| fold_digits(h, 16) as u8)(i);
    let next = |i| preceded(char(':'), byte)(i);
    let (rest, (a, b, c, d, e, f)) = tuple((byte, next, next, next, next, next))(input)?;
    Ok((rest, Mac([a, b, c, d, e, f])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        Lexer::new(text, false).map(|t| t.kind).collect()
    }

    fn one(text: &str) -> TokenKind {
        match kinds(text).as_slice() {
            [kind] => *kind,
            other => panic!("`{text}` is {other:?}, not one token"),
        }
    }

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_addresses_in_every_rfc_4291_form() {
        for text in ["fd00:10:2::79", "2001:db8:0:0:0:0:0:1", "2001:DB8::1", "::1", "::", "::ffff:10.1.2.3", "1::"] {
            assert_eq!(one(text), TokenKind::Ipv6(v6(text)), "{text}");
        }
        assert_eq!(one("fd00:10:2::/64"), TokenKind::Prefix6(v6("fd00:10:2::"), 64));
        assert_eq!(one("::/0"), TokenKind::Prefix6(v6("::"), 0));
    }

    #[test]
    fn a_mac_is_exactly_six_two_digit_groups_and_anything_else_hex_colon_is_ipv6() {
        assert_eq!(one("ea:c4:71:d6:4f:a0"), TokenKind::Mac(Mac([0xea, 0xc4, 0x71, 0xd6, 0x4f, 0xa0])));
        // Seven or eight two-digit groups: not a MAC, so an IPv6 address when it is one.
        assert_eq!(one("ea:c4:71:d6:4f:a0:01:02"), TokenKind::Ipv6(v6("ea:c4:71:d6:4f:a0:01:02")));
        assert_eq!(one("ea:c4:71:d6:4f:a0::"), TokenKind::Ipv6(v6("ea:c4:71:d6:4f:a0::")));
        // A MAC with a group missing keeps the MAC hint.
        assert_eq!(one("ea:c4:71:d6:4f"), TokenKind::Error(LexError::BadLiteral(MAC_SHAPE)));
        // Six groups, one of them longer: an IPv6 address, not a MAC.
        assert_eq!(one("ea:c4:71:d6:4f:a00"), TokenKind::Error(LexError::BadLiteral(IPV6_SHAPE)));
        assert_eq!(one("ea:c4::d6:4f:a0"), TokenKind::Ipv6(v6("ea:c4::d6:4f:a0")));
    }

    #[test]
    fn hex_words_without_a_colon_stay_names() {
        assert_eq!(one("fd00"), TokenKind::Name);
        assert_eq!(one("beef"), TokenKind::Name);
        assert_eq!(one("face-b00c"), TokenKind::Name);
    }

    #[test]
    fn hostile_ipv6_words_are_bad_literals() {
        for text in ["::::", "1::2::3", ":::1", "1:2:3:4:5:6:7:8:9", "12345::", "fd00:10:2::/", "fd00::/6x", "g::1"] {
            assert!(matches!(one(text), TokenKind::Error(LexError::BadLiteral(_))), "{text}: {:?}", one(text));
        }
        assert_eq!(one("fe80::1%eth0"), TokenKind::Error(LexError::BadLiteral(ZONE_ID)));
        // The zone is part of the bad literal, not a name after it.
        assert_eq!(kinds("ip fe80::1%eth0\n").len(), 3);
        assert_eq!(one("foo:bar"), TokenKind::Error(LexError::BadLiteral("names cannot contain `:`")));
    }

    #[test]
    fn prefix_lengths_beyond_128_saturate_for_validation() {
        assert_eq!(one("fd00::/129"), TokenKind::Prefix6(v6("fd00::"), 129));
        assert_eq!(one("fd00::/99999999999999999999999"), TokenKind::Prefix6(v6("fd00::"), u8::MAX));
    }

    #[test]
    fn ipv6_in_expectations_next_to_the_arrow() {
        let tokens = kinds("expect fd00::a->fd00::b delivered");
        assert_eq!(
            tokens,
            [
                TokenKind::Name,
                TokenKind::Ipv6(v6("fd00::a")),
                TokenKind::Arrow,
                TokenKind::Ipv6(v6("fd00::b")),
                TokenKind::Name
            ]
        );
    }
}
