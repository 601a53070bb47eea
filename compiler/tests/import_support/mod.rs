//! Shared by the import tests: the fixtures of tests/data/import (the seed
//! cluster as kubectl and cilium-dbg print it) and imports of them.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;

use routec_compiler::cilium_import::{import, AgentInput, Import, ImportError, Input, Inputs, Options};

pub const ENDPOINTS: &str = "ciliumendpoints.json";
pub const CILIUM_NODES: &str = "ciliumnodes.json";
pub const NODES: &str = "nodes.json";
pub const WORKER_AGENT: &str = "endpoints-mycluster-worker.json";
pub const WORKER: &str = "mycluster-worker";

/// The dual-stack copies of the fixtures (tests/data/import/dualstack/README.md).
pub const DUAL_STACK: &str = "dualstack";

/// `name` of tests/data/import, or of its `dualstack/` set (`DUAL_STACK/name`).
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/import").join(name);
    std::fs::read_to_string(path).unwrap()
}

pub fn fixture_json(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// The texts of one import: endpoints, nodes, and the agent lists by node.
#[derive(Clone)]
pub struct Texts {
    pub endpoints: String,
    pub nodes: String,
    pub agents: Vec<(String, String)>,
}

impl Texts {
    /// The seed cluster with mycluster-worker's agent list.
    pub fn seed() -> Self {
        Texts {
            endpoints: fixture(ENDPOINTS),
            nodes: fixture(CILIUM_NODES),
            agents: vec![(WORKER.to_string(), fixture(WORKER_AGENT))],
        }
    }

    /// The dual-stack copies of the seed cluster, with mycluster-worker's agent list.
    pub fn dual_stack() -> Self {
        let file = |name: &str| fixture(&format!("{DUAL_STACK}/{name}"));
        Texts {
            endpoints: file(ENDPOINTS),
            nodes: file(CILIUM_NODES),
            agents: vec![(WORKER.to_string(), file(WORKER_AGENT))],
        }
    }

    pub fn run(&self, options: &Options) -> Result<Import, ImportError> {
        let inputs = Inputs {
            endpoints: Input { name: ENDPOINTS, text: &self.endpoints },
            nodes: Input { name: CILIUM_NODES, text: &self.nodes },
            agents: self
                .agents
                .iter()
                .map(|(node, text)| AgentInput { node, input: Input { name: WORKER_AGENT, text } })
                .collect(),
        };
        import(&inputs, options)
    }
}

/// Edits a JSON text at a JSON pointer.
pub fn edit(text: &str, pointer: &str, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value: serde_json::Value = serde_json::from_str(text).unwrap();
    change(value.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")));
    serde_json::to_string_pretty(&value).unwrap()
}

/// Removes the field `key` of the object at `pointer`.
pub fn remove(text: &str, pointer: &str, key: &str) -> String {
    edit(text, pointer, |v| {
        v.as_object_mut().unwrap().remove(key).unwrap_or_else(|| panic!("no {key}"));
    })
}

/// The problems of a failed import, one line each.
pub fn problems(result: Result<Import, ImportError>) -> Vec<String> {
    match result {
        Ok(_) => panic!("the import succeeded"),
        Err(ImportError::Input(problems)) => problems.iter().map(|p| p.to_string()).collect(),
        Err(ImportError::Invalid(analysis)) => panic!("not an input problem: {}", analysis.render_human_string()),
    }
}
