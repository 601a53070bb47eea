//! Definition, references, rename, completion, formatting, symbols and
//! semantic tokens, on the workspace's parses. Results are in spans; the
//! server turns them into LSP values.

use routec_compiler::expect::Outcome;
use routec_compiler::fmt;
use routec_compiler::layout::Reason;
use routec_compiler::source::{FileId, Span};
use routec_compiler::syntax::ast::Item;
use routec_compiler::syntax::lexer::Token;

use crate::context::{self, Role};
use crate::expect::Slot;
use crate::names::{self, NameKind, Occurrence};
use crate::reference;
use crate::workspace::Workspace;

/// `on NODE` (or the node's own name) to where the node is declared; a pod's
/// name to itself.
pub fn definition(workspace: &Workspace, file: FileId, offset: usize) -> Vec<Span> {
    let Some(at) = names::at(workspace, file, offset) else { return Vec::new() };
    let found = names::find_all(workspace, at.kind, at.name);
    names::spans(&found.into_iter().filter(|o| o.declaration).collect::<Vec<_>>())
}

/// Every place the name under the cursor is written: a node's pods, with
/// or without the declaration.
pub fn references(workspace: &Workspace, file: FileId, offset: usize, declaration: bool) -> Vec<Span> {
    let Some(at) = names::at(workspace, file, offset) else { return Vec::new() };
    let found: Vec<Occurrence> =
        names::find_all(workspace, at.kind, at.name).into_iter().filter(|o| declaration || !o.declaration).collect();
    names::spans(&found)
}

/// Why a rename is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// The name under the cursor and its span, if it can be renamed.
pub fn prepare_rename(workspace: &Workspace, file: FileId, offset: usize) -> Result<(Span, String), Refused> {
    let at =
        names::at(workspace, file, offset).ok_or_else(|| Refused("only node and pod names can be renamed".into()))?;
    Ok((at.span, at.name.to_string()))
}

/// Every edit renaming the node or pod under the cursor, across files.
/// A name the language rejects (E0012), or one already taken, is refused.
pub fn rename(workspace: &Workspace, file: FileId, offset: usize, new_name: &str) -> Result<Vec<Span>, Refused> {
    let at =
        names::at(workspace, file, offset).ok_or_else(|| Refused("only node and pod names can be renamed".into()))?;
    let noun = at.kind.noun();
    at.kind.check(new_name).map_err(|why| Refused(format!("`{new_name}` is not a valid {noun} name: {why}")))?;
    if new_name != at.name && names::declarations(workspace, at.kind).any(|d| d == new_name) {
        return Err(Refused(format!("a {noun} named `{new_name}` is already declared")));
    }
    Ok(names::spans(&names::find_all(workspace, at.kind, at.name)))
}

/// A completion item: its text, what kind of thing it is, and its documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    pub documentation: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionKind {
    Keyword,
    Node,
    Pod,
    Reason,
}

/// The statements allowed at the cursor, node names after `on`, and each
/// word of an `expect`; the second value is where the word being completed
/// starts.
pub fn completion(workspace: &Workspace, file: FileId, offset: usize) -> (Vec<Completion>, usize) {
    let text = &workspace.document(file).text;
    let cursor = context::cursor(text, offset);
    let items = match cursor.before.as_slice() {
        [] => reference::statements_of(cursor.block())
            .iter()
            .map(|keyword| Completion {
                label: keyword.to_string(),
                kind: CompletionKind::Keyword,
                documentation: reference::describe(keyword),
            })
            .collect(),
        ["pod", _] => vec![Completion { label: "on".into(), kind: CompletionKind::Keyword, documentation: None }],
        ["pod", _, "on"] => node_names(workspace),
        ["expect", words @ ..] => expect_completion(workspace, crate::expect::slot(words)),
        _ => Vec::new(),
    };
    (items, cursor.word_start)
}

fn node_names(workspace: &Workspace) -> Vec<Completion> {
    let mut nodes: Vec<&str> = names::declarations(workspace, NameKind::Node).collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
        .into_iter()
        .map(|name| Completion { label: name.to_string(), kind: CompletionKind::Node, documentation: None })
        .collect()
}

/// What fits the next word of an `expect`: pods (by name and by IP) or
/// `node`, node names, `->`, an outcome, or a reason that fits the outcome.
fn expect_completion(workspace: &Workspace, slot: Slot) -> Vec<Completion> {
    let keyword = |label: &str, documentation: Option<String>| Completion {
        label: label.to_string(),
        kind: CompletionKind::Keyword,
        documentation,
    };
    match slot {
        Slot::Endpoint => {
            let mut pods: Vec<Completion> = names::declarations(workspace, NameKind::Pod)
                .map(|name| Completion { label: name.to_string(), kind: CompletionKind::Pod, documentation: None })
                .collect();
            if let Some(cluster) = workspace.current_cluster() {
                pods.extend(cluster.pods.iter().flat_map(|pod| {
                    pod.ips().map(|ip| Completion {
                        label: ip.to_string(),
                        kind: CompletionKind::Pod,
                        documentation: Some(format!("pod `{}`", pod.name)),
                    })
                }));
            }
            pods.push(keyword("node", None));
            pods
        }
        Slot::NodeName => node_names(workspace),
        Slot::Arrow => vec![keyword("->", None)],
        Slot::Outcome => Outcome::ALL.iter().map(|o| keyword(o.name(), None)).collect(),
        Slot::Reason(outcome) => Reason::ALL
            .iter()
            .filter(|reason| outcome.fits(**reason))
            .map(|reason| Completion {
                label: reason.name().to_string(),
                kind: CompletionKind::Reason,
                documentation: Some(reason.description().to_string()),
            })
            .collect(),
        Slot::Done => Vec::new(),
    }
}

/// The whole file in canonical layout, or why not (its syntax errors).
pub fn format(workspace: &Workspace, file: FileId) -> Result<Option<String>, String> {
    let document = workspace.document(file);
    let errors = workspace.syntax_errors(file);
    if let Some(first) = errors.first() {
        let plural = if errors.len() == 1 { "" } else { "s" };
        let place = document.text[..first.primary_span().start as usize].lines().count().max(1);
        return Err(format!(
            "not formatted: the file has {} syntax error{plural} (first on line {place}: {})",
            errors.len(),
            first.message
        ));
    }
    let name = document.path.display().to_string();
    match fmt::format_source(&name, &document.text) {
        Ok(formatted) if formatted == document.text => Ok(None),
        Ok(formatted) => Ok(Some(formatted)),
        Err(analysis) => Err(format!("not formatted: {}", analysis.summary())),
    }
}

/// A declared item: kind, name, the name's span and the item's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    pub kind: SymbolKind,
    pub name: String,
    pub name_span: Span,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolKind {
    Cluster,
    Node,
    Pod,
}

/// The symbol an item declares (an `expect` declares none).
fn symbol(item: &Item) -> Option<Symbol> {
    let (kind, name, span) = match item {
        Item::Cluster(c) => (SymbolKind::Cluster, &c.name, c.span),
        Item::Node(n) => (SymbolKind::Node, &n.name, n.span),
        Item::Pod(p) => (SymbolKind::Pod, &p.name, p.span),
        Item::Expect(_) => return None,
    };
    Some(Symbol { kind, name: name.value.clone(), name_span: name.span, span })
}

pub fn document_symbols(workspace: &Workspace, file: FileId) -> Vec<Symbol> {
    workspace.tree(file).items.iter().filter_map(symbol).collect()
}

/// Items whose name contains `query` (every item for an empty query), at
/// most `limit`.
pub fn workspace_symbols(workspace: &Workspace, query: &str, limit: usize) -> Vec<Symbol> {
    workspace
        .trees()
        .iter()
        .flat_map(|tree| &tree.items)
        .filter_map(symbol)
        .filter(|symbol| symbol.name.contains(query))
        .take(limit)
        .collect()
}

/// The token types of semantic tokens, in legend order.
pub const TOKEN_TYPES: &[&str] = &["keyword", "class", "variable", "number", "string", "comment"];
/// The one modifier: a name being declared.
pub const TOKEN_MODIFIERS: &[&str] = &["declaration"];

/// Each token with its index in [`TOKEN_TYPES`] and its modifier bits.
pub fn semantic_tokens(text: &str) -> Vec<(Token, u32, u32)> {
    context::roles(text)
        .into_iter()
        .map(|(token, role)| {
            let (kind, modifiers) = match role {
                Role::Keyword => (0, 0),
                Role::Node { declaration } => (1, u32::from(declaration)),
                Role::Pod { declaration } => (2, u32::from(declaration)),
                Role::Number => (3, 0),
                Role::Text => (4, 0),
                Role::Comment => (5, 0),
            };
            (token, kind, modifiers)
        })
        .collect()
}
