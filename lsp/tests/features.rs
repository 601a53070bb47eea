//! Every feature of `routec lsp`, through `lsp-server`'s memory connection,
//! on copies of the examples (the multi-file cluster for everything that
//! crosses files).

mod common;

use std::path::Path;

use common::{copy_example, find, uri, Client};
use lsp_types::notification::{self as notif};
use lsp_types::request::{self as req};
use lsp_types::*;
use routec_compiler::frontend::analyze_path;

fn code(d: &Diagnostic) -> &str {
    match d.code.as_ref() {
        Some(NumberOrString::String(code)) => code,
        _ => panic!("diagnostic without a code: {d:?}"),
    }
}

fn codes(list: &[Diagnostic]) -> Vec<&str> {
    list.iter().map(code).collect()
}

/// Applies LSP text edits (UTF-16 positions) to a text.
fn apply(text: &str, edits: &[TextEdit]) -> String {
    let mut edits = edits.to_vec();
    edits.sort_by_key(|e| std::cmp::Reverse((e.range.start.line, e.range.start.character)));
    let mut text = text.to_string();
    for edit in edits {
        let offset = |p: Position| {
            let line_start: usize = text.split_inclusive('\n').take(p.line as usize).map(str::len).sum();
            let line = &text[line_start..];
            let mut units = 0;
            for (i, c) in line.char_indices() {
                if units >= p.character || c == '\n' {
                    return line_start + i;
                }
                units += c.len_utf16() as u32;
            }
            text.len()
        };
        let (start, end) = (offset(edit.range.start), offset(edit.range.end));
        text.replace_range(start..end, &edit.new_text);
    }
    text
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn diagnostics_match_check_and_cross_files_are_published_on_every_file_and_cleared() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let (a, b) = (root.join("nodes/edge-a.route"), root.join("nodes/edge-b.route"));
    let mut client = Client::start(root, false);
    assert!(client.diagnostics_of(&a).is_empty());

    // edge-b's first pod takes edge-a's first pod's ip: E0008 (and E0007,
    // outside edge-b's pod-cidr), labelled in both files.
    let original = read(&b);
    let text = original.replace("ip 10.244.1.5", "ip 10.244.0.12");
    client.open(&b, &original);
    client.replace(&b, 2, &text);
    let on_b = client.diagnostics_of(&b);
    let on_a = client.diagnostics_of(&a);
    assert_eq!(codes(&on_b), ["E0007", "E0008"]);
    assert_eq!(codes(&on_a), ["E0008"], "the first use is labelled in edge-a.route");
    assert_eq!(on_a[0].range, Range::new(find(&read(&a), "10.244.0.12", 0, 0), find(&read(&a), "10.244.0.12", 0, 11)));
    let related = on_a[0].related_information.as_ref().unwrap();
    assert!(related.iter().any(|r| r.location.uri == uri(&b)), "points back at edge-b: {related:?}");

    // The same codes, messages and help as `check` on the files as changed.
    std::fs::write(&b, &text).unwrap();
    let check = analyze_path(root).unwrap();
    let expected: Vec<(String, String)> = check
        .diagnostics
        .iter()
        .map(|d| {
            let help = d.help.as_ref().map(|h| format!("\nhelp: {h}")).unwrap_or_default();
            (d.code.as_str().to_string(), format!("{}{help}", d.message))
        })
        .collect();
    let got: Vec<(String, String)> = on_b.iter().map(|d| (code(d).to_string(), d.message.clone())).collect();
    assert_eq!(got, expected);

    // Fixed: cleared on both files.
    client.replace(&b, 3, &original);
    assert!(client.diagnostics_of(&b).is_empty(), "{:?}", client.diagnostics_of(&b));
    assert!(client.diagnostics_of(&a).is_empty());
}

#[test]
fn a_pod_on_a_node_of_another_file_and_close_reverts_to_disk() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let (a, b) = (root.join("nodes/edge-a.route"), root.join("nodes/edge-b.route"));
    let mut client = Client::start(root, false);
    // edge-b's pods stand on `edge-b`; rename the node in the buffer only.
    client.open(&b, &read(&b));
    client.replace(&b, 2, &read(&b).replacen("node edge-b", "node edge-q", 1));
    let diagnostics = client.diagnostics_of(&b);
    assert_eq!(codes(&diagnostics), ["W0102", "E0006", "E0006"]);
    assert!(client.diagnostics_of(&a).is_empty());
    // Closing the unsaved buffer puts the file on disk back.
    client.notify::<notif::DidCloseTextDocument>(DidCloseTextDocumentParams {
        text_document: TextDocumentIdentifier { uri: uri(&b) },
    });
    assert!(client.diagnostics_of(&b).is_empty());
}

#[test]
fn positions_are_utf16_unless_utf8_is_negotiated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.route");
    // `é` is 2 bytes and 1 UTF-16 unit, `🚀` 4 bytes and 2 units.
    let text = "# Größe 🚀 cluster\ncluster c { mtu 1500 }\nnode n { address 10.0.0.1; pod-cidr 10.1.0.0/24 } # é\nnode m { addres 10.0.0.2 } # 🚀é\n";
    std::fs::write(&path, text).unwrap();
    for utf8 in [false, true] {
        let mut client = Client::start(dir.path(), utf8);
        let expected = if utf8 { PositionEncodingKind::UTF8 } else { PositionEncodingKind::UTF16 };
        assert_eq!(client.capabilities.position_encoding, Some(expected));
        let diagnostics = client.diagnostics_of(&path);
        let e0002 = diagnostics.iter().find(|d| code(d) == "E0002").expect("unknown statement `addres`");
        // Line 3, `addres` at column 9 in either count: non-ASCII before it
        // on earlier lines changes nothing.
        assert_eq!(e0002.range, Range::new(Position::new(3, 9), Position::new(3, 15)));
        // A position after non-ASCII on its line: hover on `n` works in both.
        let at = Client::position(&path, Position::new(2, 5));
        let hover = client.request::<req::HoverRequest>(HoverParams {
            text_document_position_params: at,
            work_done_progress_params: Default::default(),
        });
        assert!(format!("{hover:?}").contains("node"), "{hover:?}");
        // Semantic tokens count the comment's width in the negotiated unit.
        let tokens = client
            .request::<req::SemanticTokensFullRequest>(SemanticTokensParams {
                text_document: TextDocumentIdentifier { uri: uri(&path) },
                work_done_progress_params: Default::default(),
                partial_result_params: Default::default(),
            })
            .unwrap();
        let Some(SemanticTokensResult::Tokens(tokens)) = tokens else { panic!("no tokens") };
        let comment = &tokens.data[0];
        assert_eq!(comment.length, if utf8 { "# Größe 🚀 cluster".len() as u32 } else { 18 });
    }
}

#[test]
fn hover_on_nodes_pods_and_keywords() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let a = root.join("nodes/edge-a.route");
    let text = read(&a);
    let mut client = Client::start(root, false);
    let mut hover = |position| {
        let params = HoverParams {
            text_document_position_params: Client::position(&a, position),
            work_done_progress_params: Default::default(),
        };
        match client.request::<req::HoverRequest>(params).unwrap() {
            Some(Hover { contents: HoverContents::Markup(m), .. }) => m.value,
            other => panic!("no hover: {other:?}"),
        }
    };
    let node = hover(find(&text, "edge-a", 0, 2));
    for fact in ["172.31.0.10", "10.244.0.0/24", "10.244.0.1", "eth0", "| pods | 2 |"] {
        assert!(node.contains(fact), "{fact} missing in {node}");
    }
    // `on edge-a` hovers the node too.
    assert_eq!(hover(find(&text, "on edge-a", 0, 4)), node);
    let pod = hover(find(&text, "shop/frontend", 0, 3));
    // The seed line the build writes for this pod, and its decoding.
    let key = "key hex 0a f4 00 0c 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00";
    assert!(pod.contains("`cilium_lxc` on node `edge-a`"), "{pod}");
    assert!(pod.contains(key), "{pod}");
    for fact in
        ["lxc_id:          101", "sec_id:          40001", "ifindex:         14", "mac:             0a:58:0a:f4:00:0c"]
    {
        assert!(pod.contains(fact), "{fact} missing in {pod}");
    }
    assert!(pod.contains("`cilium_ipcache` on every node"), "{pod}");
    assert!(pod.contains("tunnel_endpoint: 172.31.0.10"), "{pod}");
    let keyword = hover(find(&text, "pod-cidr", 0, 1));
    assert!(keyword.contains("the prefix this node's pods are numbered from"), "{keyword}");
    let item = hover(find(&text, "pod shop", 0, 1));
    assert!(item.starts_with("`pod NAMESPACE/NAME on NODE { ... }`"), "{item}");
}

#[test]
fn hover_shows_both_families_of_a_dual_stack_node_and_pod() {
    let dir = copy_example("dualstack");
    let root = dir.path();
    let path = root.join("cluster.route");
    let text = read(&path);
    let mut client = Client::start(root, false);
    let mut hover = |position| {
        let params = HoverParams {
            text_document_position_params: Client::position(&path, position),
            work_done_progress_params: Default::default(),
        };
        match client.request::<req::HoverRequest>(params).unwrap() {
            Some(Hover { contents: HoverContents::Markup(m), .. }) => m.value,
            other => panic!("no hover: {other:?}"),
        }
    };
    let node = hover(find(&text, "ds-worker2", 0, 2));
    for fact in
        ["| IPv6 address | `fd00:ff::3` |", "| IPv6 pod-cidr | `fd00:10:2::/64` |", "| IPv6 router | `fd00:10:2::fe` |"]
    {
        assert!(node.contains(fact), "{fact} missing in {node}");
    }
    let pod = hover(find(&text, "web/v6only-6c8d", 0, 3));
    assert!(pod.contains("ip `fd00:10:1::12`"), "{pod}");
    // Its IPv6 seed line: the 16 address bytes and family 2.
    assert!(pod.contains("key hex fd 00 00 10 00 01 00 00 00 00 00 00 00 00 00 12 02 00 00 00"), "{pod}");
}

#[test]
fn definition_references_and_rename_across_files() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let (a, b) = (root.join("nodes/edge-a.route"), root.join("nodes/edge-b.route"));
    let text = read(&a);
    let mut client = Client::start(root, false);

    let on_node = Client::position(&a, find(&text, "on edge-a", 1, 5));
    let definition = client
        .request::<req::GotoDefinition>(GotoDefinitionParams {
            text_document_position_params: on_node.clone(),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .unwrap();
    let declared = Location::new(uri(&a), Range::new(find(&text, "edge-a", 0, 0), find(&text, "edge-a", 0, 6)));
    assert_eq!(definition, Some(GotoDefinitionResponse::Array(vec![declared.clone()])));

    let references = |client: &mut Client, include_declaration| {
        client
            .request::<req::References>(ReferenceParams {
                text_document_position: Client::position(&a, find(&text, "edge-a", 0, 1)),
                context: ReferenceContext { include_declaration },
                work_done_progress_params: Default::default(),
                partial_result_params: Default::default(),
            })
            .unwrap()
            .unwrap()
    };
    let pods = references(&mut client, false);
    assert_eq!(pods.len(), 2, "its two pods: {pods:?}");
    assert_eq!(references(&mut client, true)[0], declared);

    // Rename a node: its declaration and both pods' `on`.
    let rename = |client: &mut Client, path: &Path, position, new_name: &str| {
        client.request::<req::Rename>(RenameParams {
            text_document_position: Client::position(path, position),
            new_name: new_name.into(),
            work_done_progress_params: Default::default(),
        })
    };
    let edit = rename(&mut client, &a, find(&text, "edge-a", 0, 0), "edge-west").unwrap().unwrap();
    let changes = edit.changes.unwrap();
    let renamed = apply(&text, &changes[&uri(&a)]);
    assert_eq!(renamed, text.replace("edge-a", "edge-west"));

    // Refused: a name the language rejects, a name already declared.
    let error = rename(&mut client, &a, find(&text, "edge-a", 0, 0), "Edge_A").unwrap_err();
    assert!(error.message.contains("not a valid node name"), "{}", error.message);
    let error = rename(&mut client, &a, find(&text, "edge-a", 0, 0), "edge-b").unwrap_err();
    assert!(error.message.contains("already declared"), "{}", error.message);
    let error = rename(&mut client, &a, find(&text, "shop/cart", 0, 0), "cart").unwrap_err();
    assert!(error.message.contains("expected `namespace/name`"), "{}", error.message);
    assert!(rename(&mut client, &a, find(&text, "address", 0, 0), "x").is_err());

    // A pod renamed from another file's buffer: its name changes, and so do
    // the expectations that name it.
    let b_text = read(&b);
    let expect = root.join("expect.route");
    let expect_text = read(&expect);
    let edit = rename(&mut client, &b, find(&b_text, "shop/checkout", 0, 2), "shop/checkout-new").unwrap().unwrap();
    let changes = edit.changes.unwrap();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        apply(&b_text, &changes[&uri(&b)]),
        b_text.replace("shop/checkout-7f5d8c6b9-ztr2l", "shop/checkout-new")
    );
    assert_eq!(
        apply(&expect_text, &changes[&uri(&expect)]),
        expect_text.replace("shop/checkout-7f5d8c6b9-ztr2l", "shop/checkout-new")
    );

    let prepared =
        client.request::<req::PrepareRenameRequest>(Client::position(&a, find(&text, "edge-a", 0, 3))).unwrap();
    assert_eq!(
        prepared,
        Some(PrepareRenameResponse::RangeWithPlaceholder { range: declared.range, placeholder: "edge-a".into() })
    );
}

fn complete(client: &mut Client, path: &Path, position: Position) -> Vec<String> {
    let params = CompletionParams {
        text_document_position: Client::position(path, position),
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
        context: None,
    };
    match client.request::<req::Completion>(params).unwrap() {
        Some(CompletionResponse::Array(items)) => items.into_iter().map(|i| i.label).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn completion_of_statements_and_node_names() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let path = root.join("nodes/new.route");
    let text = "node edge-d {\n    ad\n}\n\npod shop/x on \n";
    std::fs::write(&path, "").unwrap();
    let mut client = Client::start(root, false);
    client.open(&path, text);
    let labels = complete(&mut client, &path, find(text, "ad", 0, 2));
    assert_eq!(labels, routec_compiler::syntax::ast::NODE_KEYWORDS);
    let labels = complete(&mut client, &path, find(text, "on ", 0, 3));
    assert_eq!(labels, ["edge-a", "edge-b", "edge-c", "edge-d"]);
    let top = complete(&mut client, &path, Position::new(3, 0));
    assert_eq!(top, routec_compiler::syntax::ast::ITEM_KEYWORDS);
    let cluster = root.join("cluster.route");
    let cluster_text = read(&cluster);
    let labels = complete(&mut client, &cluster, find(&cluster_text, "vni", 0, 0));
    assert_eq!(labels, routec_compiler::syntax::ast::OVERLAY_KEYWORDS);
}

#[test]
fn formatting_through_fmt_and_refused_on_syntax_errors() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let path = root.join("nodes/edge-c.route");
    let mut client = Client::start(root, false);
    let messy = "node   edge-c {address 172.31.0.12\n  pod-cidr 10.244.2.0/24\n router 10.244.2.254 }\n";
    client.open(&path, messy);
    let format = |client: &mut Client| {
        client.request::<req::Formatting>(DocumentFormattingParams {
            text_document: TextDocumentIdentifier { uri: uri(&path) },
            options: FormattingOptions { tab_size: 4, insert_spaces: true, ..Default::default() },
            work_done_progress_params: Default::default(),
        })
    };
    let edits = format(&mut client).unwrap().unwrap();
    let formatted = apply(messy, &edits);
    assert_eq!(formatted, routec_compiler::fmt::format_source("x", messy).unwrap());
    client.replace(&path, 2, &formatted);
    assert_eq!(format(&mut client).unwrap(), Some(vec![]), "formatted text needs no edit");
    client.replace(&path, 3, "node edge-c {\n    address 172.31.0.\n}\n");
    let error = format(&mut client).unwrap_err();
    assert!(error.message.contains("syntax error"), "{}", error.message);
}

#[test]
fn document_and_workspace_symbols() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let a = root.join("nodes/edge-a.route");
    let mut client = Client::start(root, false);
    let symbols = client
        .request::<req::DocumentSymbolRequest>(DocumentSymbolParams {
            text_document: TextDocumentIdentifier { uri: uri(&a) },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .unwrap();
    let Some(DocumentSymbolResponse::Nested(symbols)) = symbols else { panic!("{symbols:?}") };
    let names: Vec<(&str, SymbolKind)> = symbols.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    assert_eq!(
        names,
        [
            ("edge-a", SymbolKind::CLASS),
            ("shop/frontend-6d9f7c5b8-2xkqp", SymbolKind::OBJECT),
            ("shop/cart-57c8b9d6f-q8wzn", SymbolKind::OBJECT)
        ]
    );
    let found = client
        .request::<req::WorkspaceSymbolRequest>(WorkspaceSymbolParams {
            query: "frontend".into(),
            ..Default::default()
        })
        .unwrap();
    let Some(WorkspaceSymbolResponse::Flat(found)) = found else { panic!("{found:?}") };
    let files: Vec<String> =
        found.iter().map(|s| s.location.uri.path().rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(files, ["edge-a.route", "edge-b.route"]);
}

#[test]
fn semantic_tokens_classify_keywords_names_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.route");
    std::fs::write(&path, "pod a/b on n { ip 10.0.0.2 }\n").unwrap();
    let mut client = Client::start(dir.path(), false);
    let tokens = client
        .request::<req::SemanticTokensFullRequest>(SemanticTokensParams {
            text_document: TextDocumentIdentifier { uri: uri(&path) },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .unwrap();
    let Some(SemanticTokensResult::Tokens(tokens)) = tokens else { panic!() };
    let Some(SemanticTokensServerCapabilities::SemanticTokensOptions(options)) =
        &client.capabilities.semantic_tokens_provider
    else {
        panic!()
    };
    let legend = &options.legend.token_types;
    let got: Vec<(u32, u32, &str)> =
        tokens.data.iter().map(|t| (t.delta_start, t.length, legend[t.token_type as usize].as_str())).collect();
    assert_eq!(
        got,
        [
            (0, 3, "keyword"),
            (4, 3, "variable"),
            (4, 2, "keyword"),
            (3, 1, "class"),
            (4, 2, "keyword"),
            (3, 8, "number")
        ]
    );
}

#[test]
fn expectations_name_pods_and_nodes_for_definition_references_and_completion() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let expect = root.join("expect.route");
    let text = read(&expect);
    let mut client = Client::start(root, false);
    client.diagnostics_of(&expect);

    // From a pod named in an expect to its declaration in another file.
    let definition = client
        .request::<req::GotoDefinition>(GotoDefinitionParams {
            text_document_position_params: Client::position(&expect, find(&text, "shop/payments", 0, 3)),
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .unwrap();
    let c = root.join("nodes/edge-c.route");
    let c_text = read(&c);
    let declared = Location::new(
        uri(&c),
        Range::new(find(&c_text, "shop/payments", 0, 0), find(&c_text, "shop/payments-5b7d9c8f6-h2n4k", 0, 29)),
    );
    assert_eq!(definition, Some(GotoDefinitionResponse::Array(vec![declared])));

    // `node edge-c` in an expect is a reference of the node.
    let references = client
        .request::<req::References>(ReferenceParams {
            text_document_position: Client::position(&c, find(&c_text, "edge-c", 0, 1)),
            context: ReferenceContext { include_declaration: false },
            work_done_progress_params: Default::default(),
            partial_result_params: Default::default(),
        })
        .unwrap()
        .unwrap();
    assert!(references.iter().any(|l| l.uri == uri(&expect)), "{references:?}");

    // E0017's "did you mean" is a quick fix like every other.
    let typo = text.replace("-> shop/cart-57c8b9d6f-q8wzn", "-> shop/cart-57c8b9d6f-q8wzm");
    client.replace(&expect, 1, &typo);
    let diagnostics = client.diagnostics_of(&expect);
    assert_eq!(codes(&diagnostics), ["E0017"]);
    let actions = fixes(&mut client, &expect, &diagnostics[0]);
    assert_eq!(actions[0].title, "Replace `shop/cart-57c8b9d6f-q8wzm` with `shop/cart-57c8b9d6f-q8wzn`");
    assert_eq!(apply(&typo, &actions[0].edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri(&expect)]), text);

    // Completion walks the statement: pods and their IPs or `node`, `->`,
    // outcomes, then only the reasons that fit the outcome.
    let typed = "expect shop/cart-57c8b9d6f-q8wzn -> 10.244.9.1 dropped \nexpect \nexpect node \n";
    client.replace(&expect, 2, typed);
    let reasons = complete(&mut client, &expect, find(typed, "dropped ", 0, 8));
    let drops: Vec<&str> =
        routec_compiler::layout::Reason::ALL.iter().filter(|r| r.is_drop()).map(|r| r.name()).collect();
    assert_eq!(reasons, drops);
    let endpoints = complete(&mut client, &expect, Position::new(1, 7));
    assert!(endpoints.contains(&"shop/cart-57c8b9d6f-q8wzn".to_string()), "{endpoints:?}");
    assert!(endpoints.contains(&"node".to_string()), "{endpoints:?}");
    assert_eq!(complete(&mut client, &expect, Position::new(2, 12)), ["edge-a", "edge-b", "edge-c"]);
}

fn fixes(client: &mut Client, path: &Path, diagnostic: &Diagnostic) -> Vec<CodeAction> {
    let params = CodeActionParams {
        text_document: TextDocumentIdentifier { uri: uri(path) },
        range: diagnostic.range,
        context: CodeActionContext { diagnostics: vec![diagnostic.clone()], only: None, trigger_kind: None },
        work_done_progress_params: Default::default(),
        partial_result_params: Default::default(),
    };
    let actions = client.request::<req::CodeActionRequest>(params).unwrap().unwrap_or_default();
    actions
        .into_iter()
        .map(|a| match a {
            CodeActionOrCommand::CodeAction(action) => action,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn quick_fixes_for_did_you_mean_and_declare_node() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let a = root.join("nodes/edge-a.route");
    let mut client = Client::start(root, false);

    // E0002: `adress` -> `address`.
    let text = read(&a).replacen("address", "adress", 1);
    client.open(&a, &text);
    let diagnostics = client.diagnostics_of(&a);
    assert_eq!(codes(&diagnostics), ["E0002"]);
    let actions = fixes(&mut client, &a, &diagnostics[0]);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].title, "Replace `adress` with `address`");
    let fixed = apply(&text, &actions[0].edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri(&a)]);
    assert_eq!(fixed, read(&a));

    // E0006 with a suggestion: `edge-aa` -> `edge-a`, or declare `edge-aa`.
    let text = read(&a).replace("on edge-a", "on edge-aa").replace("ip 10.244.0.", "ip 10.244.9.");
    client.replace(&a, 2, &text);
    let diagnostics = client.diagnostics_of(&a);
    assert_eq!(codes(&diagnostics), ["W0102", "E0006", "E0006"]);
    let actions = fixes(&mut client, &a, &diagnostics[1]);
    let titles: Vec<&str> = actions.iter().map(|a| a.title.as_str()).collect();
    assert_eq!(titles, ["Replace `edge-aa` with `edge-a`", "Declare node `edge-aa`"]);
    let fixed = apply(&text, &actions[0].edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri(&a)]);
    assert_eq!(fixed.matches("on edge-aa").count(), 1, "the other pod keeps its own diagnostic");

    // Declaring the node: applied, both pods' E0006 are gone and the new
    // node (the pod's /24 as pod-cidr, the next free address) clashes with nothing.
    let declared = apply(&text, &actions[1].edit.as_ref().unwrap().changes.as_ref().unwrap()[&uri(&a)]);
    client.replace(&a, 3, &declared);
    let diagnostics = client.diagnostics_of(&a);
    assert_eq!(codes(&diagnostics), ["W0102"], "only edge-a is left with no pods: {diagnostics:?}\n{declared}");
    assert!(declared.contains("node edge-aa {\n    address 172.31.0.13\n    pod-cidr 10.244.9.0/24\n}"), "{declared}");
}

#[test]
fn an_invalid_routec_toml_is_reported_on_it() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let settings = root.join("routec.toml");
    std::fs::write(&settings, "colour = true\n").unwrap();
    let mut client = Client::start(root, false);
    let diagnostics = client.diagnostics_of(&settings);
    assert_eq!(diagnostics.len(), 1);
    assert!(diagnostics[0].message.contains("unknown field `colour`"), "{}", diagnostics[0].message);
    std::fs::write(&settings, "").unwrap();
    client.notify::<notif::DidSaveTextDocument>(DidSaveTextDocumentParams {
        text_document: TextDocumentIdentifier { uri: uri(&settings) },
        text: None,
    });
    assert!(client.diagnostics_of(&settings).is_empty());
}

#[test]
fn an_empty_folder_is_an_empty_cluster_until_a_file_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.route");
    let mut client = Client::start(dir.path(), false);
    client.sync();
    assert!(client.publishes.is_empty(), "nothing to report: {:?}", client.publishes);
    client.open(&path, "node n {\n}\n");
    assert_eq!(codes(&client.diagnostics_of(&path)), ["E0013", "E0004", "E0004", "W0102"]);
}

#[test]
fn files_changed_on_disk_are_read_again_when_the_client_says_so() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let c = root.join("nodes/edge-c.route");
    let mut client = Client::start(root, false);
    assert!(client.diagnostics_of(&c).is_empty());
    std::fs::write(&c, read(&c).replace("endpoint 301", "endpoint 0")).unwrap();
    let changed = |client: &mut Client, typ| {
        client.notify::<notif::DidChangeWatchedFiles>(DidChangeWatchedFilesParams {
            changes: vec![FileEvent { uri: uri(&c), typ }],
        })
    };
    changed(&mut client, FileChangeType::CHANGED);
    assert_eq!(codes(&client.diagnostics_of(&c)), ["E0011"]);
    std::fs::remove_file(&c).unwrap();
    changed(&mut client, FileChangeType::DELETED);
    assert!(client.diagnostics_of(&c).is_empty(), "a deleted file's diagnostics are cleared");
}

#[test]
fn incremental_edits_after_non_ascii_land_where_the_editor_put_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.route");
    let text = "cluster c {\n    mtu 1500 # Größe 🚀\n}\n";
    std::fs::write(&path, text).unwrap();
    let mut client = Client::start(dir.path(), false);
    client.open(&path, text);
    // The end of line 1 in UTF-16 units: `    mtu 1500 # Größe ` is 21, the rocket 2.
    let end_of_line = Position::new(1, 23);
    client.edit(&path, 2, Range::new(end_of_line, end_of_line), "\n    mtux 9000");
    let diagnostics = client.diagnostics_of(&path);
    let unknown: Vec<&Diagnostic> = diagnostics.iter().filter(|d| code(d) == "E0002").collect();
    assert_eq!(unknown.len(), 1, "{diagnostics:?}");
    assert_eq!(unknown[0].range, Range::new(Position::new(2, 4), Position::new(2, 8)));
    assert!(unknown[0].message.contains("did you mean `mtu`?"), "{}", unknown[0].message);
}

#[test]
fn hover_on_a_pod_says_why_bytes_are_missing_while_the_cluster_has_errors() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let a = root.join("nodes/edge-a.route");
    let text = read(&a).replace("endpoint 101", "endpoint 0");
    let mut client = Client::start(root, false);
    client.open(&a, &text);
    let params = HoverParams {
        text_document_position_params: Client::position(&a, find(&text, "shop/cart", 0, 1)),
        work_done_progress_params: Default::default(),
    };
    let Some(Hover { contents: HoverContents::Markup(hover), .. }) =
        client.request::<req::HoverRequest>(params).unwrap()
    else {
        panic!("no hover")
    };
    assert!(hover.value.contains("The cluster has errors"), "{}", hover.value);
    assert!(!hover.value.contains("key hex"), "{}", hover.value);
}

#[test]
fn hover_next_to_non_ascii_text_answers() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let path = root.join("notes.route");
    let text = "# Größe ü\ncluster x {\n}\n";
    std::fs::write(&path, "").unwrap();
    let mut client = Client::start(root, false);
    client.open(&path, text);
    for character in 0..10 {
        let params = HoverParams {
            text_document_position_params: Client::position(&path, Position::new(0, character)),
            work_done_progress_params: Default::default(),
        };
        client.request::<req::HoverRequest>(params).unwrap();
    }
}

#[test]
fn fifos_and_devices_in_the_workspace_are_not_read() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let (zero, fifo) = (root.join("zero.route"), root.join("fifo.route"));
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let a = root.join("nodes/edge-a.route");
    let mut client = Client::start(root, false);
    for path in [&zero, &fifo] {
        client.notify::<notif::DidSaveTextDocument>(DidSaveTextDocumentParams {
            text_document: TextDocumentIdentifier { uri: uri(path) },
            text: None,
        });
        client.notify::<notif::DidChangeWatchedFiles>(DidChangeWatchedFilesParams {
            changes: vec![FileEvent { uri: uri(path), typ: FileChangeType::CHANGED }],
        });
    }
    // Still answering, and the cluster is what it was.
    assert!(client.diagnostics_of(&a).is_empty());
}

#[test]
fn a_file_outside_the_workspace_folder_does_not_join_its_cluster() {
    let dir = copy_example("multi-file");
    let root = dir.path();
    let elsewhere = tempfile::tempdir().unwrap();
    let other = elsewhere.path().join("other.route");
    std::fs::write(&other, "cluster other {\n}\n").unwrap();
    let cluster = root.join("cluster.route");
    let mut client = Client::start(root, false);
    client.open(&other, "cluster other {\n}\n");
    assert!(client.diagnostics_of(&cluster).is_empty(), "no second `cluster` block in the workspace's cluster");
}
