// Starts `routec lsp` for .route files. Everything else (diagnostics, hover,
// rename, formatting, quick fixes...) is the server's: see docs/editors.md.
"use strict";
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

exports.activate = function activate() {
  const command = vscode.workspace.getConfiguration("routec").get("path", "routec");
  const server = { command, args: ["lsp"] };
  client = new LanguageClient("routec", "routec", server, {
    documentSelector: [{ scheme: "file", language: "routec" }],
  });
  return client.start();
};

exports.deactivate = function deactivate() {
  return client ? client.stop() : undefined;
};
