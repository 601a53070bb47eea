"""`routec lsp` driven by pytest-lsp as an editor drives it: a subprocess on
stdio, VS Code's client capabilities, on a copy of examples/multi-file.

Run by cli/tests/lsp_clients.rs, which sets ROUTEC to the binary under test."""

import os
import pathlib
import shutil
import tempfile

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

EXAMPLE = pathlib.Path(__file__).resolve().parents[3] / "examples" / "multi-file"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[os.environ["ROUTEC"], "lsp"]))
async def client(lsp_client: LanguageClient):
    root = pathlib.Path(tempfile.mkdtemp()) / "multi-file"
    shutil.copytree(EXAMPLE, root)
    lsp_client.root = root

    # VS Code's capabilities offer dynamic registration, so the server asks
    # to watch files; accept as VS Code does.
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams):
        assert [r.method for r in params.registrations] == [types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
        return None

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=pytest_lsp.client_capabilities("visual-studio-code"),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="multi-file")],
        )
    )
    yield
    await lsp_client.shutdown_session()
    shutil.rmtree(root.parent)


def uri(client, name):
    return (client.root / name).as_uri()


def text(client, name):
    return (client.root / name).read_text()


def open_file(client, name, content=None):
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri(client, name), language_id="routec", version=1, text=content or text(client, name)
            )
        )
    )


def replace(client, name, version, content):
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri(client, name), version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=content)],
        )
    )


async def settle(client):
    """The server publishes every pending diagnostic before it answers."""
    await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="\0"))


def position(content, needle, shift=0):
    offset = content.index(needle)
    line = content.count("\n", 0, offset)
    column = offset - (content.rfind("\n", 0, offset) + 1)
    return types.Position(line=line, character=column + shift)


def apply(content, edits):
    lines = content.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    offset = lambda p: min(starts[p.line] + p.character, len(content)) if p.line < len(starts) else len(content)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        content = content[: offset(edit.range.start)] + edit.new_text + content[offset(edit.range.end) :]
    return content


def codes(diagnostics):
    return [d.code for d in diagnostics]


async def test_cross_file_diagnostics_are_published_on_both_files_and_cleared(client: LanguageClient):
    b = "nodes/edge-b.route"
    original = text(client, b)
    open_file(client, b)
    replace(client, b, 2, original.replace("ip 10.244.1.5", "ip 10.244.0.12"))
    await settle(client)
    assert codes(client.diagnostics[uri(client, b)]) == ["E0007", "E0008"]
    assert codes(client.diagnostics[uri(client, "nodes/edge-a.route")]) == ["E0008"]
    replace(client, b, 3, original)
    await settle(client)
    assert not client.diagnostics[uri(client, b)]
    assert not client.diagnostics[uri(client, "nodes/edge-a.route")]


async def test_quick_fix_applied(client: LanguageClient):
    a = "nodes/edge-a.route"
    broken = text(client, a).replace("address", "adress", 1)
    open_file(client, a, broken)
    await settle(client)
    [diagnostic] = client.diagnostics[uri(client, a)]
    assert diagnostic.code == "E0002"
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(client, a)),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    [action] = actions
    assert action.title == "Replace `adress` with `address`"
    fixed = apply(broken, action.edit.changes[uri(client, a)])
    assert fixed == text(client, a)
    replace(client, a, 2, fixed)
    await settle(client)
    assert not client.diagnostics[uri(client, a)]


async def test_hover_shows_the_pods_map_entries(client: LanguageClient):
    a = "nodes/edge-a.route"
    content = text(client, a)
    open_file(client, a)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri(client, a)),
            position=position(content, "shop/cart", 2),
        )
    )
    assert "`cilium_lxc` on node `edge-a`" in hover.contents.value
    assert "lxc_id:          102" in hover.contents.value
    assert "`cilium_ipcache` on every node" in hover.contents.value


async def test_definition_of_a_pods_node(client: LanguageClient):
    a = "nodes/edge-a.route"
    content = text(client, a)
    open_file(client, a)
    result = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=uri(client, a)),
            position=position(content, "on edge-a", 4),
        )
    )
    [location] = result
    assert location.uri == uri(client, a)
    assert location.range.start == position(content, "edge-a")


async def test_rename_a_node(client: LanguageClient):
    c = "nodes/edge-c.route"
    content = text(client, c)
    open_file(client, c)
    edit = await client.text_document_rename_async(
        types.RenameParams(
            text_document=types.TextDocumentIdentifier(uri=uri(client, c)),
            position=position(content, "edge-c"),
            new_name="edge-south",
        )
    )
    assert apply(content, edit.changes[uri(client, c)]) == content.replace("edge-c", "edge-south")


async def test_formatting(client: LanguageClient):
    c = "nodes/edge-c.route"
    messy = "node   edge-c {address 172.31.0.12\n  pod-cidr 10.244.2.0/24\n router 10.244.2.254 }\n"
    open_file(client, c, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri(client, c)),
            options=types.FormattingOptions(tab_size=4, insert_spaces=True),
        )
    )
    assert apply(messy, edits) == "node edge-c {\n    address 172.31.0.12\n    pod-cidr 10.244.2.0/24\n    router 10.244.2.254\n}\n"
