//! Byte offsets (the compiler's spans) to LSP positions and back. LSP counts
//! columns in UTF-16 code units unless the client and server agree on UTF-8,
//! so a column is counted on the line's own text, never as bytes.

use lsp_types::{Position, PositionEncodingKind, Range};

/// How columns are counted, as negotiated in `initialize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    #[default]
    Utf16,
    Utf8,
}

impl Encoding {
    /// UTF-8 when the client offers it (no conversion at all), else UTF-16,
    /// which every client must accept.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Encoding {
        match offered {
            Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        }
    }

    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf8 => PositionEncodingKind::UTF8,
        }
    }

    /// Columns taken by `text`.
    pub fn width(self, text: &str) -> u32 {
        match self {
            Encoding::Utf8 => text.len() as u32,
            Encoding::Utf16 => text.encode_utf16().count() as u32,
        }
    }
}

/// The line starts of one text.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<u32>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i as u32 + 1));
        LineIndex { starts }
    }

    pub fn position(&self, text: &str, offset: usize, encoding: Encoding) -> Position {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let line = self.starts.partition_point(|&s| s as usize <= offset) - 1;
        let start = self.starts[line] as usize;
        Position { line: line as u32, character: encoding.width(&text[start..offset]) }
    }

    pub fn range(&self, text: &str, bytes: std::ops::Range<usize>, encoding: Encoding) -> Range {
        Range { start: self.position(text, bytes.start, encoding), end: self.position(text, bytes.end, encoding) }
    }

    /// The byte offset of a position; a column past the end of its line
    /// means the line's end, a line past the end means the text's end.
    pub fn offset(&self, text: &str, position: Position, encoding: Encoding) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else { return text.len() };
        let start = start as usize;
        let end = self.starts.get(position.line as usize + 1).map_or(text.len(), |&s| s as usize - 1);
        let line = &text[start..end];
        let mut columns = 0;
        for (i, c) in line.char_indices() {
            if columns >= position.character {
                return start + i;
            }
            columns += match encoding {
                Encoding::Utf8 => c.len_utf8() as u32,
                Encoding::Utf16 => c.len_utf16() as u32,
            };
        }
        end
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_comment_does_not_shift_utf16_columns() {
        let text = "# Größe 🚀\nnode a {\n";
        let index = LineIndex::new(text);
        let rocket_end = text.find('\n').unwrap();
        // `# Größe ` is 8 UTF-16 units, the rocket 2: 10, where bytes say 14.
        assert_eq!(index.position(text, rocket_end, Encoding::Utf16), Position::new(0, 10));
        assert_eq!(index.position(text, rocket_end, Encoding::Utf8), Position::new(0, 14));
        let a = text.find("a {").unwrap();
        assert_eq!(index.position(text, a, Encoding::Utf16), Position::new(1, 5));
        assert_eq!(index.offset(text, Position::new(0, 10), Encoding::Utf16), rocket_end);
        assert_eq!(index.offset(text, Position::new(1, 5), Encoding::Utf16), a);
        assert_eq!(index.offset(text, Position::new(9, 0), Encoding::Utf16), text.len());
    }
}
