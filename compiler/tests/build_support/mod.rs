//! Shared by the build tests: the vectors copied into tests/data.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;

pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(data_dir().join("seed-maps.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
}
