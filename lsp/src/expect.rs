//! Where a word stands in an `expect` statement
//! (`expect SRC -> DST OUTCOME [REASON]`), from the words before it: shared
//! by semantic tokens and completion, and read off the language's own
//! tables (`Outcome::ALL`, `layout::Reason`), so it works on text that does
//! not parse yet.

use routec_compiler::expect::Outcome;

/// What the next word of an `expect` statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The start of an endpoint: a pod name, an address, or `node`.
    Endpoint,
    /// The name after `node`.
    NodeName,
    /// `->` after the source.
    Arrow,
    Outcome,
    /// The reason after an outcome.
    Reason(Outcome),
    /// Nothing more fits (a block may follow).
    Done,
}

/// The slot after `words`, the statement's words after `expect`.
pub fn slot(words: &[&str]) -> Slot {
    let arrow = words.iter().position(|w| *w == "->");
    let endpoint = &words[arrow.map_or(0, |a| a + 1)..];
    let after_endpoint = match endpoint {
        [] => return Slot::Endpoint,
        ["node"] => return Slot::NodeName,
        ["node", _, rest @ ..] => rest,
        [_, rest @ ..] => rest,
    };
    match (arrow, after_endpoint) {
        (None, []) => Slot::Arrow,
        (Some(_), []) => Slot::Outcome,
        (Some(_), [outcome]) => {
            Outcome::ALL.into_iter().find(|o| o.name() == *outcome).map_or(Slot::Done, Slot::Reason)
        }
        _ => Slot::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_of_an_expect() {
        assert_eq!(slot(&[]), Slot::Endpoint);
        assert_eq!(slot(&["node"]), Slot::NodeName);
        assert_eq!(slot(&["node", "n1"]), Slot::Arrow);
        assert_eq!(slot(&["ns/a"]), Slot::Arrow);
        assert_eq!(slot(&["ns/a", "->"]), Slot::Endpoint);
        assert_eq!(slot(&["ns/a", "->", "node"]), Slot::NodeName);
        assert_eq!(slot(&["ns/a", "->", "10.0.0.1"]), Slot::Outcome);
        assert_eq!(slot(&["node", "n1", "->", "node", "n2"]), Slot::Outcome);
        assert_eq!(slot(&["ns/a", "->", "ns/b", "dropped"]), Slot::Reason(Outcome::Dropped));
        assert_eq!(slot(&["ns/a", "->", "ns/b", "delivered", "local-delivery"]), Slot::Done);
    }
}
