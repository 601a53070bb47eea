//! Lexing and parsing of `.route` files into a spanned syntax tree.

pub mod ast;
pub mod lexer;
pub mod parser;

pub use parser::parse;
