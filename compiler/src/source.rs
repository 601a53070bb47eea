//! The text of every input file, addressed by [`FileId`] and byte [`Span`]s.
//! Implements codespan-reporting's `Files` so diagnostics render directly.

use std::ops::Range;
use std::sync::OnceLock;

use codespan_reporting::files::{self, Files};

/// Index of a file in [`Sources`].
pub type FileId = usize;

/// A byte range `[start, end)` in one file. Offsets are `u32` because the
/// AST holds one per node: a 150,000-pod input has millions of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub file: u32,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: FileId, range: Range<usize>) -> Span {
        Span { file: file as u32, start: range.start as u32, end: range.end as u32 }
    }
    pub fn file(self) -> FileId {
        self.file as usize
    }
    pub fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
    /// The smallest span covering both (same file).
    pub fn to(self, other: Span) -> Span {
        Span { file: self.file, start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "@{}:{}..{}", self.file, self.start, self.end)
    }
}

/// One input file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as given on the command line (or joined below the folder given).
    pub name: String,
    pub text: String,
    /// Computed on first use: only rendering a diagnostic needs lines.
    line_starts: OnceLock<Vec<usize>>,
    /// `(byte, characters before it)` every [`CHAR_CHECKPOINT_BYTES`] or so,
    /// at char boundaries; computed on the first column on a long line.
    char_checkpoints: OnceLock<Vec<(usize, usize)>>,
}

/// Columns on lines longer than this are counted from a checkpoint, so that
/// thousands of diagnostics on one megabyte-long line cost linear time.
const CHAR_CHECKPOINT_BYTES: usize = 4096;

impl SourceFile {
    pub fn new(name: String, text: String) -> SourceFile {
        SourceFile { name, text, line_starts: OnceLock::new(), char_checkpoints: OnceLock::new() }
    }

    /// Characters in `text[start..end]` (bytes, when not at char boundaries).
    fn chars_between(&self, start: usize, end: usize) -> usize {
        if end - start <= CHAR_CHECKPOINT_BYTES {
            return self.text.get(start..end).map_or(end - start, |s| s.chars().count());
        }
        self.chars_before(end).saturating_sub(self.chars_before(start))
    }

    fn chars_before(&self, byte: usize) -> usize {
        let checkpoints = self.char_checkpoints.get_or_init(|| {
            let mut checkpoints = vec![(0, 0)];
            let (mut at, mut chars) = (0, 0);
            while at + CHAR_CHECKPOINT_BYTES < self.text.len() {
                let mut next = at + CHAR_CHECKPOINT_BYTES;
                while !self.text.is_char_boundary(next) {
                    next -= 1;
                }
                chars += self.text[at..next].chars().count();
                checkpoints.push((next, chars));
                at = next;
            }
            checkpoints
        });
        let (at, chars) = checkpoints[checkpoints.partition_point(|&(at, _)| at <= byte) - 1];
        chars + self.text.get(at..byte).map_or(byte - at, |s| s.chars().count())
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| files::line_starts(&self.text).collect())
    }

    /// 0-based index of the line holding a byte offset (the last line past the end).
    pub fn line_index(&self, byte: usize) -> usize {
        match self.line_starts().binary_search(&byte.min(self.text.len())) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    pub fn line_count(&self) -> usize {
        self.line_starts().len()
    }

    /// A line's bytes, its newline included.
    pub fn line_range(&self, index: usize) -> Range<usize> {
        let starts = self.line_starts();
        starts[index]..starts.get(index + 1).copied().unwrap_or(self.text.len())
    }

    /// A line's bytes without its `\n` or `\r\n`.
    pub fn line_content(&self, index: usize) -> Range<usize> {
        let range = self.line_range(index);
        let line = &self.text[range.clone()];
        let trimmed = line.strip_suffix('\n').map_or(line, |l| l.strip_suffix('\r').unwrap_or(l));
        range.start..range.start + trimmed.len()
    }

    /// Length in bytes of a line's text, without its newline.
    pub fn line_len(&self, index: usize) -> usize {
        self.line_content(index).len()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn location(&self, byte: usize) -> LineColumn {
        let byte = byte.min(self.text.len());
        let line = self.line_index(byte);
        let start = self.line_starts()[line];
        let column = self.chars_between(start, byte);
        LineColumn { line: line + 1, column: column + 1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LineColumn {
    pub line: usize,
    pub column: usize,
}

/// Every file of one input, in the order they were read (sorted by path).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Sources {
        Sources::default()
    }
    pub fn add(&mut self, name: String, text: String) -> FileId {
        self.files.push(SourceFile::new(name, text));
        self.files.len() - 1
    }
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id]
    }
    pub fn len(&self) -> usize {
        self.files.len()
    }
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate()
    }
    /// The source text a span covers.
    pub fn slice(&self, span: Span) -> &str {
        &self.files[span.file()].text[span.range()]
    }
}

impl<'a> Files<'a> for Sources {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.get(id).map(|f| f.name.as_str()).ok_or(files::Error::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        self.files.get(id).map(|f| f.text.as_str()).ok_or(files::Error::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, files::Error> {
        Ok(self.files.get(id).ok_or(files::Error::FileMissing)?.line_index(byte_index))
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, files::Error> {
        let file = self.files.get(id).ok_or(files::Error::FileMissing)?;
        let max = file.line_count() - 1;
        if line_index > max {
            return Err(files::Error::LineTooLarge { given: line_index, max });
        }
        Ok(file.line_range(line_index))
    }

    /// The same column as codespan's own count, from [`SourceFile::location`].
    fn column_number(&'a self, id: FileId, _line_index: usize, byte_index: usize) -> Result<usize, files::Error> {
        Ok(self.files.get(id).ok_or(files::Error::FileMissing)?.location(byte_index).column)
    }
}
