//! What each keyword means, read from the user reference (docs/language.md)
//! so that the editor and the manual never disagree: an item keyword's text
//! is its `### `KEYWORD ...`` section up to its table, a statement's is its
//! row of that table.

use routec_compiler::syntax::ast;

const LANGUAGE_MD: &str = include_str!("../../docs/language.md");

/// The blocks of the language and their statements, the tables the parser
/// reports unknown statements from. A block added to the language adds a
/// line here; a statement added to a block's table is completed and
/// documented with no change here.
pub const BLOCKS: &[(&str, &[&str])] = &[
    ("cluster", ast::CLUSTER_KEYWORDS),
    ("overlay", ast::OVERLAY_KEYWORDS),
    ("node", ast::NODE_KEYWORDS),
    ("pod", ast::POD_KEYWORDS),
    ("expect", ast::EXPECT_KEYWORDS),
];

/// The statements allowed in a block (`None`: at the top level).
pub fn statements_of(block: Option<&str>) -> &'static [&'static str] {
    match block {
        None => ast::ITEM_KEYWORDS,
        Some(block) => BLOCKS.iter().find(|(name, _)| *name == block).map_or(&[], |(_, keywords)| keywords),
    }
}

/// Whether `word` is a keyword of any block.
pub fn is_keyword(word: &str) -> bool {
    ast::ITEM_KEYWORDS.contains(&word) || BLOCKS.iter().any(|(_, keywords)| keywords.contains(&word))
}

/// The reference's text for a keyword, as Markdown.
pub fn describe(keyword: &str) -> Option<String> {
    item_section(keyword).or_else(|| statement_rows(keyword))
}

/// `### `KEYWORD ...`` up to the next heading, without its table.
fn item_section(keyword: &str) -> Option<String> {
    let heading = format!("### `{keyword} ");
    let start = LANGUAGE_MD.find(&heading)?;
    let body = &LANGUAGE_MD[start..];
    let end = body[4..].find("\n#").map_or(body.len(), |i| i + 4);
    let text: Vec<&str> = body[..end].lines().filter(|line| !line.starts_with('|')).collect();
    Some(text.join("\n").trim().trim_start_matches("### ").to_string())
}

/// The table rows whose statement column starts with the keyword, under
/// the table's own header.
fn statement_rows(keyword: &str) -> Option<String> {
    let mut out = String::new();
    let mut header: Option<(&str, &str)> = None;
    let mut lines = LANGUAGE_MD.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with("| statement") {
            header = lines.peek().map(|separator| (line, *separator));
            continue;
        }
        if line.starts_with("| `") && states(first_cell(line), keyword) {
            if out.is_empty() {
                let (head, separator) = header?;
                out.push_str(head);
                out.push('\n');
                out.push_str(separator);
            }
            out.push('\n');
            out.push_str(line);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn first_cell(row: &str) -> &str {
    row.trim_start_matches('|').split('|').next().unwrap_or("").trim()
}

/// A statement cell (`` `mtu N` ``, `` `overlay KIND { port N }` ``, several
/// forms joined by `/`) states `keyword` when one of its forms starts with
/// it or, nested, opens with it after `{ `.
fn states(cell: &str, keyword: &str) -> bool {
    cell.split('/').map(|form| form.trim().trim_matches('`')).any(|form| {
        let nested = form.split_once("{ ").map(|(_, inner)| inner);
        [Some(form), nested].into_iter().flatten().any(|text| text.split_whitespace().next() == Some(keyword))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_keyword_has_reference_text() {
        let all = ast::ITEM_KEYWORDS.iter().chain(BLOCKS.iter().flat_map(|(_, keywords)| keywords.iter()));
        for keyword in all {
            let text = describe(keyword).unwrap_or_else(|| panic!("no reference for `{keyword}`"));
            assert!(text.contains(keyword), "{keyword}: {text}");
        }
        assert!(describe("mtu").unwrap().contains("link MTU of the underlay"));
        assert!(describe("node").unwrap().starts_with("`node NAME { ... }`"));
    }
}
