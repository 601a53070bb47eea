//! Shared by the trace tests (trace.rs, native.rs, dual_stack.rs): each
//! defines `fn view() -> Snapshot`, the cluster it traces in; these trace
//! in that view and snapshot every rendering of a trace.
#![allow(dead_code)] // each test binary uses its own part of this module

use routec_compiler::trace::{render_svg, render_text, trace, Proto, Trace};

use crate::view;

/// An ICMP packet from `src` to `dst` leaving with `ttl`, traced in `view()`.
pub fn run(src: &str, dst: &str, ttl: u8) -> Trace {
    trace(&view(), src, dst, Proto::Icmp, None, ttl).unwrap()
}

/// Text, JSON and SVG snapshots of one trace, keyed by case name.
pub fn snapshot_all(case: &str, trace: &Trace) {
    insta::with_settings!({snapshot_path => "../../../snapshots/trace", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(format!("{case}.txt"), render_text(trace));
        insta::assert_json_snapshot!(format!("{case}.json"), trace);
        insta::assert_snapshot!(format!("{case}.svg"), render_svg(&view(), trace));
    });
}
