//! Any bytes as the inputs of `routec import` (split at NUL into the
//! endpoints, the nodes and one agent list): an import or an error, never a
//! panic, and an import is the same twice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routec_compiler::cilium_import::{import, AgentInput, Input, Inputs, Options};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\0');
    let endpoints = parts.next().unwrap_or_default();
    let nodes = parts.next().unwrap_or_default();
    let agent = parts.next();
    let inputs = Inputs {
        endpoints: Input { name: "endpoints.json", text: endpoints },
        nodes: Input { name: "nodes.json", text: nodes },
        agents: agent
            .map(|text| AgentInput { node: "node-a", input: Input { name: "agent.json", text } })
            .into_iter()
            .collect(),
    };
    if let Ok(first) = import(&inputs, &Options::default()) {
        let second = import(&inputs, &Options::default()).expect("the same inputs import again");
        assert_eq!(first.files, second.files);
    }
});
