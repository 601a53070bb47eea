//! Any bytes: the front end answers with a result or diagnostics, never a
//! panic, and the formatter's laws hold whenever it accepts the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use routec_compiler::fmt::format_source;
use routec_compiler::frontend::analyze_str;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let analysis = analyze_str("fuzz.route", text);
    assert_eq!(analysis.cluster.is_some(), !analysis.has_errors());
    analysis.render_human_string();
    analysis.render_json_string();
    if let Ok(formatted) = format_source("fuzz.route", text) {
        let again = format_source("fuzz.route", &formatted).expect("formatted text parses");
        assert_eq!(again, formatted, "fmt is idempotent");
    }
});
