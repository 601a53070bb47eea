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
}

impl SourceFile {
    pub fn new(name: String, text: String) -> SourceFile {
        SourceFile { name, text, line_starts: OnceLock::new() }
    }

    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| files::line_starts(&self.text).collect())
    }

    fn line_index(&self, byte: usize) -> usize {
        match self.line_starts().binary_search(&byte) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn location(&self, byte: usize) -> LineColumn {
        let byte = byte.min(self.text.len());
        let line = self.line_index(byte);
        let start = self.line_starts()[line];
        let column = self.text.get(start..byte).map_or(byte - start, |s| s.chars().count());
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
        let file = self.files.get(id).ok_or(files::Error::FileMissing)?;
        Ok(file.line_index(byte_index.min(file.text.len())))
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, files::Error> {
        let file = self.files.get(id).ok_or(files::Error::FileMissing)?;
        let starts = file.line_starts();
        let start = *starts.get(line_index).ok_or(files::Error::LineTooLarge { given: line_index, max: starts.len() - 1 })?;
        let end = starts.get(line_index + 1).copied().unwrap_or(file.text.len());
        Ok(start..end)
    }
}
