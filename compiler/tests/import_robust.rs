//! `routec import` never panics, whatever the JSON: the seed fixtures (and
//! their dual-stack copies) with a field removed, a value of the wrong type,
//! an IPv6 field rewritten, or the text cut short give an import or an error. An import that succeeds still passes the validator
//! (`Import::cluster` comes from it) and is deterministic.

mod import_support;

use import_support::Texts;
use proptest::prelude::*;
use routec_compiler::cilium_import::{ImportError, Options};
use serde_json::{json, Value};

/// Every JSON pointer in `value`, in document order.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{at}/{i}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    Truncate,
}

fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1.5)),
        Just(json!(u64::MAX)),
        Just(json!("")),
        Just(json!("fd00::1")),
        Just(json!("fd00:10:2::zz")),
        Just(json!("fd00:10:9::75")),
        Just(json!("fd00:10:2::/64")),
        Just(json!("fd00:10:2::1/64")),
        Just(json!("::")),
        Just(json!("10.10.2.117")),
        Just(json!("x {\n}")),
        Just(json!([])),
        Just(json!([{}])),
        Just(json!({})),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![Just(Mutation::Remove), replacement().prop_map(Mutation::Replace), Just(Mutation::Truncate)]
}

fn mutate(text: &str, mutation: &Mutation, pick: usize) -> String {
    if let Mutation::Truncate = mutation {
        let mut cut = pick % (text.len() + 1);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return text[..cut].to_string();
    }
    let mut value: Value = serde_json::from_str(text).unwrap();
    let mut all = Vec::new();
    pointers(&value, String::new(), &mut all);
    let pointer = &all[pick % all.len()];
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let key = key.replace("~1", "/").replace("~0", "~");
    let target = value.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent}"));
    match (mutation, target) {
        (Mutation::Remove, Value::Object(map)) => {
            map.remove(&key);
        }
        (Mutation::Remove, Value::Array(items)) => {
            items.remove(key.parse::<usize>().unwrap());
        }
        (Mutation::Replace(new), _) => *value.pointer_mut(pointer).unwrap() = new.clone(),
        _ => unreachable!("parents are objects or arrays"),
    }
    serde_json::to_string_pretty(&value).unwrap()
}

/// The pointers of every IPv6 address or prefix string in `text`.
fn ipv6_pointers(text: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(text).unwrap();
    let mut all = Vec::new();
    pointers(&value, String::new(), &mut all);
    all.retain(|p| {
        let text = value.pointer(p).and_then(Value::as_str).unwrap_or_default();
        let address = text.split('/').next().unwrap_or_default();
        address.parse::<std::net::Ipv6Addr>().is_ok()
    });
    all
}

fn exercise(texts: &Texts) {
    let options = Options::default();
    match texts.run(&options) {
        Ok(import) => {
            assert!(!import.files.is_empty());
            let again = texts.run(&options).expect("the same inputs import again");
            assert_eq!(import.files, again.files);
        }
        Err(ImportError::Input(problems)) => assert!(!problems.is_empty()),
        Err(ImportError::Invalid(analysis)) => assert!(analysis.has_errors()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn mutated_inputs_give_an_import_or_an_error(file in 0usize..3, mutation in mutation(), pick in any::<usize>()) {
        let mut texts = Texts::seed();
        let text = match file {
            0 => &mut texts.endpoints,
            1 => &mut texts.nodes,
            _ => &mut texts.agents[0].1,
        };
        *text = mutate(text, &mutation, pick);
        exercise(&texts);
    }

    #[test]
    fn mutated_dual_stack_inputs_give_an_import_or_an_error(
        file in 0usize..3,
        mutation in mutation(),
        pick in any::<usize>(),
    ) {
        let mut texts = Texts::dual_stack();
        let text = match file {
            0 => &mut texts.endpoints,
            1 => &mut texts.nodes,
            _ => &mut texts.agents[0].1,
        };
        *text = mutate(text, &mutation, pick);
        exercise(&texts);
    }

    /// Any text, or a value of another type, in an IPv6 field of the dual-stack fixtures.
    #[test]
    fn anything_in_an_ipv6_field(
        file in 0usize..3,
        pick in any::<usize>(),
        new in prop_oneof![replacement(), "[0-9a-fA-F:./%x-]{0,45}".prop_map(Value::from)],
    ) {
        let mut texts = Texts::dual_stack();
        let text = match file {
            0 => &mut texts.endpoints,
            1 => &mut texts.nodes,
            _ => &mut texts.agents[0].1,
        };
        let fields = ipv6_pointers(text);
        let pointer = &fields[pick % fields.len()];
        *text = import_support::edit(text, pointer, |v| *v = new);
        exercise(&texts);
    }

    #[test]
    fn two_mutations_at_once(a in mutation(), b in mutation(), pa in any::<usize>(), pb in any::<usize>()) {
        let mut texts = Texts::seed();
        texts.endpoints = mutate(&texts.endpoints, &a, pa);
        texts.agents[0].1 = mutate(&texts.agents[0].1, &b, pb);
        exercise(&texts);
    }

    #[test]
    fn any_text_as_any_input(text in "[\\[\\]{}\":,0-9a-z. -]{0,300}", file in 0usize..3) {
        let mut texts = Texts::seed();
        match file {
            0 => texts.endpoints = text,
            1 => texts.nodes = text,
            _ => texts.agents[0].1 = text,
        }
        exercise(&texts);
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let mut texts = Texts::seed();
    texts.endpoints = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    exercise(&texts);
    texts.endpoints = format!("{{\"items\": [{}{}]}}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    exercise(&texts);
}
