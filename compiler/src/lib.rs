//! routec's compiler: everything between `.route` text and the files a node
//! loads. See docs/ARCHITECTURE.md for the code map.

pub mod bpf;
pub mod build;
pub mod cilium_import;
pub mod decode;
pub mod diagnostics;
pub mod diff;
pub mod dual_stack;
pub mod expect;
pub mod fmt;
pub mod frontend;
pub mod gen;
pub mod layout;
pub mod model;
pub mod seeds;
pub mod settings;
pub mod snapshot;
pub mod source;
pub mod syntax;
pub mod trace;
pub mod validate;
