//! The names of the cluster: where each node and pod is declared and where
//! it is referred to (by a pod's `on`, by an `expect`). Definition,
//! references, rename, hover and completion all go through [`occurrences`],
//! so an item that names a node or pod needs one arm there and nothing else.

use routec_compiler::model::rules;
use routec_compiler::source::{FileId, Span};
use routec_compiler::syntax::ast::{EndpointRef, Item, Spanned};

use crate::workspace::Workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    Node,
    Pod,
}

impl NameKind {
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Node => "node",
            NameKind::Pod => "pod",
        }
    }

    /// The language's own rule for this kind of name (E0012).
    pub fn check(self, name: &str) -> Result<(), &'static str> {
        match self {
            NameKind::Node => rules::check_subdomain(name),
            NameKind::Pod => rules::check_pod_name(name),
        }
    }
}

/// A node or pod name as written in an item.
#[derive(Debug, Clone, Copy)]
pub struct Occurrence<'a> {
    pub kind: NameKind,
    pub name: &'a str,
    pub span: Span,
    /// Declares the name (`node NAME`, `pod NAME`) rather than referring to it.
    pub declaration: bool,
}

/// Every name an item declares or refers to.
pub fn occurrences<'a>(item: &'a Item) -> Vec<Occurrence<'a>> {
    let declare =
        |kind, name: &'a Spanned<String>| Occurrence { kind, name: &name.value, span: name.span, declaration: true };
    let refer = |kind, name: &'a str, span| Occurrence { kind, name, span, declaration: false };
    let endpoint = |end: &'a Spanned<EndpointRef>| match &end.value {
        EndpointRef::Pod(name) => Some(refer(NameKind::Pod, name, end.span)),
        EndpointRef::Node(name) => Some(refer(NameKind::Node, &name.value, name.span)),
        EndpointRef::Address(_) => None,
    };
    match item {
        Item::Cluster(_) => Vec::new(),
        Item::Node(node) => vec![declare(NameKind::Node, &node.name)],
        Item::Pod(pod) => {
            vec![declare(NameKind::Pod, &pod.name), refer(NameKind::Node, &pod.node.value, pod.node.span)]
        }
        Item::Expect(expect) => [&expect.src, &expect.dst].into_iter().filter_map(endpoint).collect(),
    }
}

/// The name under the cursor (a cursor just after a name is on it).
pub fn at(workspace: &Workspace, file: FileId, offset: usize) -> Option<Occurrence<'_>> {
    let items = &workspace.tree(file).items;
    let first = items.partition_point(|item| (item.span().end as usize) < offset);
    items[first..]
        .iter()
        .take_while(|item| item.span().start as usize <= offset)
        .flat_map(occurrences)
        .find(|o| (o.span.start as usize..=o.span.end as usize).contains(&offset))
}

/// Every occurrence of one name in the workspace, declarations first.
pub fn find_all<'a>(workspace: &'a Workspace, kind: NameKind, name: &str) -> Vec<Occurrence<'a>> {
    let mut found: Vec<Occurrence<'a>> = workspace
        .trees()
        .iter()
        .flat_map(|tree| tree.items.iter().flat_map(occurrences))
        .filter(|o| o.kind == kind && o.name == name)
        .collect();
    found.sort_by_key(|o| (!o.declaration, o.span));
    found
}

/// The declarations of a kind of name, in file order.
pub fn declarations(workspace: &Workspace, kind: NameKind) -> impl Iterator<Item = &str> {
    workspace
        .trees()
        .iter()
        .flat_map(|tree| tree.items.iter().flat_map(occurrences))
        .filter(move |o| o.kind == kind && o.declaration)
        .map(|o| o.name)
}

/// The spans of a list of occurrences.
pub fn spans(found: &[Occurrence<'_>]) -> Vec<Span> {
    found.iter().map(|o| o.span).collect()
}
