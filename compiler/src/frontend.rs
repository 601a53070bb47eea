//! The front end's entry points: read an input (a file or a folder of
//! `.route` files, plus an optional `routec.toml`), parse, validate, and
//! render the diagnostics.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use codespan_reporting::term::termcolor::{ColorChoice, NoColor, StandardStream, WriteColor};

use crate::diagnostics::{Diagnostic, Severity};
use crate::expect::Expectation;
use crate::model;
use crate::settings::{self, Settings};
use crate::source::Sources;
use crate::syntax;
use crate::validate;

/// Everything the front end learnt about one input.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub sources: Sources,
    /// Sorted by file, then position.
    pub diagnostics: Vec<Diagnostic>,
    /// `Some` if and only if there is no error (warnings allowed).
    pub cluster: Option<model::Cluster>,
    /// The `expect` items without errors, in input order (not part of the cluster).
    pub expectations: Vec<Expectation>,
    pub settings: Settings,
}

/// The input could not be read at all: a usage or I/O problem (exit 2), not
/// a problem in the `.route` text.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read `{path}`: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("`{path}` is not UTF-8 text")]
    NotUtf8 { path: PathBuf },
    #[error("no .route files in `{path}`")]
    NoRouteFiles { path: PathBuf },
    #[error("invalid settings in `{path}`: {message}")]
    Settings { path: PathBuf, message: String },
}

impl InputError {
    /// A stable name for the kind of error, for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            InputError::Io { .. } => "io",
            InputError::NotUtf8 { .. } => "not-utf8",
            InputError::NoRouteFiles { .. } => "no-route-files",
            InputError::Settings { .. } => "settings",
        }
    }

    /// The file or folder to blame.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::NotUtf8 { path }
            | InputError::NoRouteFiles { path }
            | InputError::Settings { path, .. } => path,
        }
    }

    /// One JSON line, as [`crate::diagnostics::error_json`].
    pub fn to_json(&self) -> String {
        crate::diagnostics::error_json(self.kind(), &self.to_string(), Some(&self.path().display().to_string()))
    }
}

impl Analysis {
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity() == Severity::Error).count()
    }
    pub fn warning_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.severity() == Severity::Warning).count()
    }

    /// The diagnostics for people, with source excerpts: the first
    /// [`MAX_HUMAN_DIAGNOSTICS_PER_FILE`] of each file, then a line counting
    /// the rest (`--message-format json` lists every one).
    pub fn render_human(&self, out: &mut dyn WriteColor) -> io::Result<()> {
        // Sorted by file: each file's diagnostics are one run.
        for run in self.diagnostics.chunk_by(|a, b| a.primary_span().file == b.primary_span().file) {
            let (shown, hidden) = run.split_at(run.len().min(MAX_HUMAN_DIAGNOSTICS_PER_FILE));
            for d in shown {
                d.render_human(&self.sources, out)?;
            }
            if !hidden.is_empty() {
                let file = &self.sources.get(hidden[0].primary_span().file()).name;
                let errors = hidden.iter().filter(|d| d.severity() == Severity::Error).count();
                let counts = count_words(errors, hidden.len() - errors);
                let more = hidden.len();
                let plural = if more == 1 { "" } else { "s" };
                writeln!(out, "note: {more} more diagnostic{plural} in `{file}` not shown ({counts}); `--message-format json` lists them all\n")?;
            }
        }
        Ok(())
    }

    /// The diagnostics as plain text (no colour): for tests and logs.
    pub fn render_human_string(&self) -> String {
        let mut out = NoColor::new(Vec::new());
        self.render_human(&mut out).expect("writing to memory cannot fail");
        String::from_utf8(out.into_inner()).expect("diagnostics are UTF-8")
    }

    /// Renders to stderr, in colour when stderr is a terminal.
    pub fn render_human_to_stderr(&self) -> io::Result<()> {
        let choice = if io::stderr().is_terminal() { ColorChoice::Auto } else { ColorChoice::Never };
        let mut stderr = StandardStream::stderr(choice);
        self.render_human(&mut stderr)
    }

    /// One JSON object per diagnostic, one per line.
    pub fn render_json(&self, out: &mut dyn Write) -> io::Result<()> {
        for d in &self.diagnostics {
            writeln!(out, "{}", d.to_json(&self.sources))?;
        }
        Ok(())
    }

    pub fn render_json_string(&self) -> String {
        let mut out = Vec::new();
        self.render_json(&mut out).expect("writing to memory cannot fail");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// "2 errors, 1 warning" (empty when clean).
    pub fn summary(&self) -> String {
        count_words(self.error_count(), self.warning_count())
    }
}

/// Human output shows at most this many diagnostics of one file: past that,
/// a file is more likely garbage or generated wrong than worth reading on.
pub const MAX_HUMAN_DIAGNOSTICS_PER_FILE: usize = 200;

/// "2 errors, 1 warning" (empty for none).
fn count_words(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => String::new(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// Analyses one in-memory file (default settings).
pub fn analyze_str(file_name: &str, text: &str) -> Analysis {
    let mut sources = Sources::new();
    sources.add(file_name.to_string(), text.to_string());
    analyze_sources(sources, Settings::default())
}

/// Analyses a `.route` file, or every `*.route` file below a folder (sorted
/// by path, hidden files and folders skipped) as one input, with the
/// folder's `routec.toml` when there is one.
pub fn analyze_path(path: &Path) -> Result<Analysis, InputError> {
    let files = input_files(path)?;
    let settings = if path.is_dir() { read_settings(path)? } else { Settings::default() };
    let mut sources = Sources::new();
    for file in files {
        let text = read_source(&file)?;
        sources.add(file.display().to_string(), text);
    }
    Ok(analyze_sources(sources, settings))
}

/// The files an input path stands for: itself, or the `*.route` files below it.
pub fn input_files(path: &Path) -> Result<Vec<PathBuf>, InputError> {
    let meta = std::fs::metadata(path).map_err(|source| InputError::Io { path: path.to_path_buf(), source })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let files = route_files(path)?;
    if files.is_empty() {
        return Err(InputError::NoRouteFiles { path: path.to_path_buf() });
    }
    Ok(files)
}

/// A source file's text; not UTF-8 is an input error.
pub fn read_source(path: &Path) -> Result<String, InputError> {
    let io_error = |source| InputError::Io { path: path.to_path_buf(), source };
    // Only regular files (a symlink to one is fine): a FIFO would hang the
    // read and a device such as /dev/zero would never end.
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if !metadata.is_file() {
        return Err(io_error(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 { path: path.to_path_buf() })
}

/// The folder's `routec.toml`, or the defaults when it has none.
pub fn read_settings(dir: &Path) -> Result<Settings, InputError> {
    let path = dir.join(settings::FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 { path: path.clone() })?;
            Settings::parse(&text, dir).map_err(|message| InputError::Settings { path, message })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(source) => Err(InputError::Io { path, source }),
    }
}

/// The `*.route` files below `dir`, sorted by path; hidden entries skipped.
pub fn route_files(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_path_buf();
            InputError::Io { path, source: e.into() }
        })?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|x| x == "route") {
            files.push(entry.into_path());
        }
    }
    files.sort();
    Ok(files)
}

/// Parses every file and validates them together.
pub fn analyze_sources(sources: Sources, settings: Settings) -> Analysis {
    let mut diagnostics = Vec::new();
    let files: Vec<syntax::ast::File> =
        sources.iter().map(|(id, f)| syntax::parse(id, &f.text, &mut diagnostics)).collect();
    let texts: Vec<&str> = sources.iter().map(|(_, f)| f.text.as_str()).collect();
    let Validated { diagnostics, cluster, expectations } = validate_parsed(&files, &texts, diagnostics);
    Analysis { sources, diagnostics, cluster, expectations, settings }
}

/// What validation makes of parsed files.
#[derive(Debug, Default)]
pub struct Validated {
    /// Sorted as [`Analysis`] keeps them.
    pub diagnostics: Vec<Diagnostic>,
    /// `Some` iff there is no error.
    pub cluster: Option<model::Cluster>,
    pub expectations: Vec<Expectation>,
}

/// Validates files parsed already (file `i` parsed as `FileId` `i` from
/// `texts[i]`), after their syntax diagnostics: the whole input at once. The
/// language server keeps a [`validate::Validation`] instead and updates it
/// file by file.
pub fn validate_parsed(files: &[syntax::ast::File], texts: &[&str], syntax: Vec<Diagnostic>) -> Validated {
    let validation = validate::Validation::new(files, texts);
    let diagnostics = merge_diagnostics(&validation, syntax);
    let cluster = if diagnostics.iter().any(|d| d.severity() == Severity::Error) { None } else { validation.cluster() };
    Validated { diagnostics, cluster, expectations: validation.expectations() }
}

/// Every file's diagnostics in `check`'s order: by file, then primary span
/// and code; of one place, a file's syntax diagnostics before validation's.
pub fn merge_diagnostics(validation: &validate::Validation, mut syntax: Vec<Diagnostic>) -> Vec<Diagnostic> {
    syntax.sort_by_key(order);
    let mut out = Vec::new();
    let mut rest = &syntax[..];
    for id in 0..validation.file_count() {
        let ours = rest.partition_point(|d| d.primary_span().file() <= id);
        out.extend(file_diagnostics(validation, id, &rest[..ours]));
        rest = &rest[ours..];
    }
    out.extend(rest.iter().cloned());
    out
}

/// File `id`'s diagnostics in `check`'s order, from its syntax diagnostics
/// (sorted by [`order`]) and its validation.
pub fn file_diagnostics(validation: &validate::Validation, id: usize, syntax: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut syntax = syntax.iter().peekable();
    let mut out = Vec::new();
    for d in validation.diagnostics(id) {
        while let Some(s) = syntax.next_if(|s| order(s) <= order(d)) {
            out.push(s.clone());
        }
        out.push(d.clone());
    }
    out.extend(syntax.cloned());
    out
}

/// The order `check` lists diagnostics in: by file, primary span and code.
pub fn order(d: &Diagnostic) -> (u32, u32, u32, crate::diagnostics::Code) {
    let span = d.primary_span();
    (span.file, span.start, span.end, d.code)
}
