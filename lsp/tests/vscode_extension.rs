//! editors/vscode, the minimal VS Code extension (docs/editors.md), checked
//! without VS Code and without the network: its manifest declares what the
//! extension needs, and `extension.js` run under Node, with `vscode` and
//! `vscode-languageclient/node` replaced by recorders, starts `routec lsp`
//! for `.route` files (and the configured binary when `routec.path` is set).
//! Node is skipped with a reason when missing, and required under CI=true.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn extension() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/vscode").canonicalize().unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_manifest_declares_the_language_and_its_files() {
    let dir = extension();
    let manifest = json(&dir.join("package.json"));
    for key in ["name", "version", "publisher"] {
        assert!(manifest[key].is_string(), "package.json has no {key}");
    }
    assert!(manifest["engines"]["vscode"].as_str().unwrap().starts_with('^'));
    assert!(dir.join(manifest["main"].as_str().unwrap()).is_file(), "package.json's main is missing");
    assert_eq!(manifest["activationEvents"], serde_json::json!(["onLanguage:routec"]));
    let languages = manifest["contributes"]["languages"].as_array().unwrap();
    assert_eq!(languages.len(), 1);
    assert_eq!(languages[0]["id"], "routec");
    assert_eq!(languages[0]["extensions"], serde_json::json!([".route"]));
    let configuration = json(&dir.join(languages[0]["configuration"].as_str().unwrap()));
    assert_eq!(configuration["comments"]["lineComment"], "#", "the language's comments");
    let path = &manifest["contributes"]["configuration"]["properties"]["routec.path"];
    assert_eq!((&path["type"], &path["default"]), (&Value::from("string"), &Value::from("routec")));
    assert!(manifest["dependencies"]["vscode-languageclient"].is_string());
    // Small, as issue 10 asks: the three files and nothing built.
    let mut files: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    files.sort();
    assert_eq!(files, ["extension.js", "language-configuration.json", "package.json"]);
}

/// Runs `extension.js` under Node with recorders for the modules VS Code
/// provides; prints what `activate` and `deactivate` did, as JSON.
const HARNESS: &str = r#"
const Module = require("module");
const calls = [];
const configured = process.argv[2] === "-" ? undefined : process.argv[2];
const stubs = {
  vscode: {
    workspace: {
      getConfiguration: (section) => ({
        get: (key, fallback) => (calls.push(["get", section, key]), configured ?? fallback),
      }),
    },
  },
  "vscode-languageclient/node": {
    LanguageClient: class {
      constructor(id, name, server, client) { calls.push(["client", id, name, server, client]); }
      start() { calls.push(["start"]); return Promise.resolve(); }
      stop() { calls.push(["stop"]); return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) {
  return request in stubs ? stubs[request] : load.call(this, request, ...rest);
};
const extension = require(process.argv[1]);
Promise.resolve(extension.activate())
  .then(() => extension.deactivate())
  .then(() => console.log(JSON.stringify(calls)));
"#;

fn node() -> Option<PathBuf> {
    let found = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but node is missing: run scripts/setup");
        }
        eprintln!("skipping: node is missing (scripts/setup installs it)");
        return None;
    }
    Some(PathBuf::from("node"))
}

fn run_extension(node: &Path, routec_path: Option<&str>) -> Value {
    let script = extension().join("extension.js");
    let out = Command::new(node)
        .args(["-e", HARNESS, script.to_str().unwrap(), routec_path.unwrap_or("-")])
        .output()
        .unwrap();
    assert!(out.status.success(), "node failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_extension_starts_routec_lsp_for_route_files() {
    let Some(node) = node() else { return };
    let check = Command::new(&node).arg("--check").arg(extension().join("extension.js")).status().unwrap();
    assert!(check.success(), "node --check extension.js");

    let calls = run_extension(&node, None);
    let selector = serde_json::json!({ "documentSelector": [{ "scheme": "file", "language": "routec" }] });
    assert_eq!(
        calls,
        serde_json::json!([
            ["get", "routec", "path"],
            ["client", "routec", "routec", { "command": "routec", "args": ["lsp"] }, selector],
            ["start"],
            ["stop"],
        ])
    );

    let calls = run_extension(&node, Some("/opt/routec/bin/routec"));
    assert_eq!(calls[1][3], serde_json::json!({ "command": "/opt/routec/bin/routec", "args": ["lsp"] }));
}
