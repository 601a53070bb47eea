//! `routec decode`: turns `cilium_lxc` / `cilium_ipcache` entries, as bpftool
//! prints them, back into named fields, using the layouts of
//! [`crate::layout`].
//!
//! Accepted input (any mix, several entries in a row):
//! - `bpftool map lookup`/`dump` blocks: `key:` then hex bytes (on the same
//!   line or the following ones), `value:` then hex bytes;
//! - bpftool's one-line form `key: 0a 0a .. value: 0b 00 ..`;
//! - seed lines `key hex .. value hex ..` (routec's own `.seed` files);
//! - `bpftool -j`/`-p` JSON (`[{"key": ["0x0a", ..], "value": [..]}]`; the
//!   BTF `formatted` fields are ignored);
//! - bpftool's plain output of a map that has BTF (pins made before routec
//!   dropped BTF from these maps): `{"key": {"ip4": 2030176778, ..}, ..}`,
//!   the C members of `bpf-templates/lib/maps.h` turned back into bytes
//!   ([`btf_members`]);
//! - the `Found N elements` trailer, which is ignored (`Found 0 elements`
//!   alone decodes to no entries; an input without any entry is an error).

use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

use serde::Serialize;

use crate::diagnostics::short;
use crate::layout::{
    EndpointInfo, EndpointKey, IpcacheKey, LengthError, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo, FAMILY_IPV4,
    IDENTITY_HEALTH, IDENTITY_HOST, IDENTITY_REMOTE_NODE, IDENTITY_WORLD,
};
use crate::seeds::parse_hex_byte;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    Lxc,
    Ipcache,
    NodeIpv6,
}

impl MapKind {
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Lxc => "cilium_lxc",
            MapKind::Ipcache => "cilium_ipcache",
            MapKind::NodeIpv6 => "routec_node_ipv6",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Input text that is neither a label, a hex byte nor a known trailer.
    Syntax { line: usize, message: String },
    /// An entry whose key or value has the wrong number of bytes for the map.
    Length { entry: usize, message: String },
    /// Nothing to decode.
    Empty,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Syntax { line, message } => write!(f, "line {line}: {message}"),
            DecodeError::Length { entry, message } => write!(f, "entry {entry}: {message}"),
            DecodeError::Empty => write!(f, "no `key:`/`value:` entry in the input"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Raw bytes of one map entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Parses hex bytes given on the command line: space-separated pairs
/// (`0a 0a 02 79`), contiguous digits (`0a0a0279`), either with `0x` prefixes.
pub fn parse_hex_arg(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    for token in text.split(|c: char| c.is_ascii_whitespace() || c == ',' || c == ':').filter(|t| !t.is_empty()) {
        let digits = token.strip_prefix("0x").or_else(|| token.strip_prefix("0X")).unwrap_or(token);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{}` is not hex", short(token)));
        }
        if digits.len() % 2 != 0 {
            return Err(format!("`{}` has an odd number of hex digits", short(token)));
        }
        for pair in digits.as_bytes().chunks(2) {
            let pair = std::str::from_utf8(pair).expect("hex digits are ASCII");
            bytes.push(u8::from_str_radix(pair, 16).expect("checked hex digits"));
        }
    }
    if bytes.is_empty() {
        return Err("no hex bytes".into());
    }
    Ok(bytes)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Key,
    Value,
}

/// Splits bpftool's text (or a seed file, or bpftool JSON) into the entries
/// of `map` (whose C members name the fields of BTF-formatted input).
pub fn parse_entries(map: MapKind, text: &str) -> Result<Vec<RawEntry>, DecodeError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return parse_json_entries(map, text);
    }
    let mut entries: Vec<RawEntry> = Vec::new();
    let mut current = RawEntry::default();
    let mut field = Field::None;
    let mut saw_trailer = false;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let syntax = |message: String| DecodeError::Syntax { line: line_no, message };
        if is_trailer(line) {
            saw_trailer = true;
            continue;
        }
        let mut tokens = line.split_ascii_whitespace().peekable();
        while let Some(token) = tokens.next() {
            let label = match token {
                "key:" => Some(Field::Key),
                "value:" => Some(Field::Value),
                "key" | "value" if tokens.peek() == Some(&"hex") => {
                    tokens.next();
                    Some(if token == "key" { Field::Key } else { Field::Value })
                }
                _ => None,
            };
            match label {
                Some(Field::Key) => {
                    if field != Field::None {
                        finish(&mut entries, &mut current, line_no)?;
                    }
                    field = Field::Key;
                }
                Some(Field::Value) => {
                    if field != Field::Key || current.key.is_empty() {
                        return Err(syntax("`value:` without a `key:` before it".into()));
                    }
                    field = Field::Value;
                }
                _ => {
                    let byte = parse_hex_byte(token).ok_or_else(|| {
                        syntax(format!(
                            "`{}` is not a hex byte (two hex digits, like `0a`) nor `key:`/`value:`",
                            short(token)
                        ))
                    })?;
                    match field {
                        Field::Key => current.key.push(byte),
                        Field::Value => current.value.push(byte),
                        Field::None => return Err(syntax(format!("hex byte `{token}` before any `key:`"))),
                    }
                }
            }
        }
    }
    if field != Field::None {
        finish(&mut entries, &mut current, text.lines().count())?;
    }
    // `Found 0 elements` is an empty map, not an empty input.
    if entries.is_empty() && !saw_trailer {
        return Err(DecodeError::Empty);
    }
    Ok(entries)
}

/// bpftool's closing line of a dump (`Found 2 elements`).
fn is_trailer(line: &str) -> bool {
    let mut words = line.split_ascii_whitespace();
    words.next() == Some("Found")
        && words.next().is_some_and(|n| n.parse::<u64>().is_ok())
        && matches!(words.next(), Some("element" | "elements"))
        && words.next().is_none()
}

fn finish(entries: &mut Vec<RawEntry>, current: &mut RawEntry, line: usize) -> Result<(), DecodeError> {
    let entry = std::mem::take(current);
    if entry.key.is_empty() {
        return Err(DecodeError::Syntax { line, message: "`key:` without hex bytes".into() });
    }
    if entry.value.is_empty() {
        return Err(DecodeError::Syntax { line, message: "entry without `value:` bytes".into() });
    }
    entries.push(entry);
    Ok(())
}

fn parse_json_entries(map: MapKind, text: &str) -> Result<Vec<RawEntry>, DecodeError> {
    let json_error = |message: String| DecodeError::Syntax { line: 1, message };
    let parsed: serde_json::Value =
        serde_json::from_str(text).map_err(|e| DecodeError::Syntax { line: e.line(), message: e.to_string() })?;
    let items = match parsed {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    let bytes_of = |item: &serde_json::Value, field: &str| -> Result<Vec<u8>, DecodeError> {
        let list = match item.get(field) {
            Some(serde_json::Value::Array(list)) => list,
            // Plain bpftool output of a map with BTF: the C members.
            Some(serde_json::Value::Object(members)) => {
                let [key, value] = btf_members(map);
                let layout = if field == "key" { key } else { value };
                return bytes_from_btf(map, field, layout, members).map_err(json_error);
            }
            _ => return Err(json_error(format!("a JSON entry without a `{field}` array of hex strings"))),
        };
        list.iter()
            .map(|b| {
                b.as_str().and_then(|s| s.strip_prefix("0x")).and_then(parse_hex_byte).ok_or_else(|| {
                    json_error(format!("`{}` in `{field}` is not a byte like \"0x0a\"", short(&b.to_string())))
                })
            })
            .collect()
    };
    let entries = items
        .iter()
        .map(|item| Ok(RawEntry { key: bytes_of(item, "key")?, value: bytes_of(item, "value")? }))
        .collect::<Result<Vec<_>, DecodeError>>()?;
    if entries.is_empty() {
        return Err(DecodeError::Empty);
    }
    Ok(entries)
}

/// One member of a map's key or value struct as BTF names it
/// (`bpf-templates/lib/maps.h`, where no member needs padding before it):
/// `count` elements of `width` bytes, in host order (the machines routec
/// targets, like the seed's, are little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BtfMember {
    pub name: &'static str,
    pub width: usize,
    pub count: usize,
}

const fn member(name: &'static str, width: usize) -> BtfMember {
    BtfMember { name, width, count: 1 }
}

const LXC_KEY: &[BtfMember] = &[
    member("ip4", 4),
    member("pad1", 4),
    member("pad2", 4),
    member("pad3", 4),
    member("family", 1),
    member("key", 1),
    member("cluster_id", 2),
];
const LXC_VALUE: &[BtfMember] = &[
    member("ifindex", 4),
    member("unused", 2),
    member("lxc_id", 2),
    member("flags", 4),
    member("pad0", 4),
    member("mac", 8),
    member("node_mac", 8),
    member("sec_id", 4),
    BtfMember { name: "pad", width: 4, count: 3 },
];
const IPCACHE_KEY: &[BtfMember] = &[
    member("prefixlen", 4),
    member("cluster_id", 2),
    member("pad1", 1),
    member("family", 1),
    member("ip4", 4),
    member("pad4", 4),
    member("pad5", 4),
    member("pad6", 4),
];
const IPCACHE_VALUE: &[BtfMember] =
    &[member("sec_identity", 4), member("tunnel_endpoint", 4), member("pad", 2), member("key", 1), member("flags", 1)];

/// The key of routec_node_ipv6 is a plain `__be32`, no struct.
const NODE_IPV6_KEY: &[BtfMember] = &[];
const NODE_IPV6_VALUE: &[BtfMember] = &[BtfMember { name: "addr", width: 4, count: 4 }];

/// The members of `map`'s key and value structs, in order.
pub fn btf_members(map: MapKind) -> [&'static [BtfMember]; 2] {
    match map {
        MapKind::Lxc => [LXC_KEY, LXC_VALUE],
        MapKind::Ipcache => [IPCACHE_KEY, IPCACHE_VALUE],
        MapKind::NodeIpv6 => [NODE_IPV6_KEY, NODE_IPV6_VALUE],
    }
}

/// The bytes of a BTF-formatted key or value: every member present, each a
/// number (an array of `count` numbers) that fits its width, no other member.
fn bytes_from_btf(
    map: MapKind,
    field: &str,
    layout: &[BtfMember],
    members: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<u8>, String> {
    if let Some(unknown) = members.keys().find(|name| !layout.iter().any(|m| m.name == name.as_str())) {
        return Err(format!("`{field}` has a member `{}` that {}'s {field} does not have", short(unknown), map.name()));
    }
    let mut bytes = Vec::new();
    for m in layout {
        let value = members.get(m.name).ok_or_else(|| format!("`{field}` has no member `{}`", m.name))?;
        let numbers: Vec<&serde_json::Value> = match value {
            serde_json::Value::Array(items) if m.count > 1 && items.len() == m.count => items.iter().collect(),
            single if m.count == 1 => vec![single],
            _ => return Err(format!("`{field}.{}` is not an array of {} numbers", m.name, m.count)),
        };
        for number in numbers {
            let fits = number.as_u64().filter(|&n| m.width == 8 || n >> (8 * m.width) == 0);
            let n = fits.ok_or_else(|| {
                format!(
                    "`{field}.{}` is {}, not a {}-byte unsigned number",
                    m.name,
                    short(&number.to_string()),
                    m.width
                )
            })?;
            bytes.extend_from_slice(&n.to_le_bytes()[..m.width]);
        }
    }
    Ok(bytes)
}

/// A `cilium_lxc` entry, field names as in `shared/vectors/seed-maps.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LxcFields {
    pub ip: String,
    pub family: u8,
    pub key: u8,
    pub cluster_id: u16,
    pub ifindex: u32,
    pub lxc_id: u16,
    pub flags: u32,
    pub mac: String,
    pub node_mac: String,
    pub sec_id: u32,
}

/// A `cilium_ipcache` entry, field names as in `shared/vectors/seed-maps.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpcacheFields {
    pub prefixlen: u32,
    pub cluster_id: u16,
    pub family: u8,
    pub ip: String,
    /// `ip/len`, or `null` when prefixlen does not fit the family.
    pub prefix: Option<String>,
    pub sec_identity: u32,
    pub tunnel_endpoint: String,
    pub key: u8,
    pub flags: u8,
}

/// A `routec_node_ipv6` entry: a node's IPv4 address and its IPv6 one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeIpv6Fields {
    pub node_ipv4: String,
    pub node_ipv6: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Decoded {
    Lxc(LxcFields),
    Ipcache(IpcacheFields),
    NodeIpv6(NodeIpv6Fields),
}

fn length_error(entry: usize) -> impl Fn(LengthError) -> DecodeError {
    move |e| DecodeError::Length { entry, message: e.to_string() }
}

/// Decodes one entry of `map`; `index` (1-based) names it in errors.
pub fn decode_entry(map: MapKind, entry: &RawEntry, index: usize) -> Result<Decoded, DecodeError> {
    match map {
        MapKind::Lxc => {
            let key = EndpointKey::from_bytes(&entry.key).map_err(length_error(index))?;
            let value = EndpointInfo::from_bytes(&entry.value).map_err(length_error(index))?;
            Ok(Decoded::Lxc(LxcFields {
                ip: key.ip_addr().to_string(),
                family: key.family,
                key: key.key,
                cluster_id: key.cluster_id,
                ifindex: value.ifindex,
                lxc_id: value.lxc_id,
                flags: value.flags,
                mac: value.mac().to_string(),
                node_mac: value.node_mac().to_string(),
                sec_id: value.sec_id,
            }))
        }
        MapKind::Ipcache => {
            let key = IpcacheKey::from_bytes(&entry.key).map_err(length_error(index))?;
            let value = RemoteEndpointInfo::from_bytes(&entry.value).map_err(length_error(index))?;
            let address_bits = if key.family == FAMILY_IPV4 { 32 } else { 128 };
            let ip = key.ip_addr().to_string();
            let prefix = key.ip_prefix_len().filter(|&len| len <= address_bits).map(|len| format!("{ip}/{len}"));
            Ok(Decoded::Ipcache(IpcacheFields {
                prefixlen: key.prefixlen,
                cluster_id: key.cluster_id,
                family: key.family,
                ip,
                prefix,
                sec_identity: value.sec_identity,
                tunnel_endpoint: Ipv4Addr::from(value.tunnel_endpoint).to_string(),
                key: value.key,
                flags: value.flags,
            }))
        }
        MapKind::NodeIpv6 => {
            let key = NodeIpv6Key::from_bytes(&entry.key).map_err(length_error(index))?;
            let value = NodeIpv6::from_bytes(&entry.value).map_err(length_error(index))?;
            Ok(Decoded::NodeIpv6(NodeIpv6Fields {
                node_ipv4: key.node_ipv4.to_string(),
                node_ipv6: value.node_ipv6.to_string(),
            }))
        }
    }
}

/// Decodes every entry of bpftool text.
pub fn decode_text(map: MapKind, text: &str) -> Result<Vec<Decoded>, DecodeError> {
    let entries = parse_entries(map, text)?;
    entries.iter().enumerate().map(|(i, e)| decode_entry(map, e, i + 1)).collect()
}

/// The name of a reserved identity, for the text rendering.
fn reserved_identity(identity: u32) -> Option<&'static str> {
    match identity {
        IDENTITY_HOST => Some("reserved:host"),
        IDENTITY_WORLD => Some("reserved:world"),
        IDENTITY_HEALTH => Some("reserved:health"),
        IDENTITY_REMOTE_NODE => Some("reserved:remote-node"),
        _ => None,
    }
}

fn identity_text(identity: u32) -> String {
    match reserved_identity(identity) {
        Some(name) => format!("{identity} ({name})"),
        None => identity.to_string(),
    }
}

/// Text rendering: one `field: value` line per field, entries separated by a
/// blank line.
pub fn render_text(map: MapKind, decoded: &[Decoded]) -> String {
    let mut out = String::new();
    for (i, entry) in decoded.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} entry {}", map.name(), i + 1);
        match entry {
            Decoded::Lxc(f) => {
                let flags = if f.flags & crate::layout::ENDPOINT_F_HOST != 0 {
                    format!("{:#x} (host)", f.flags)
                } else {
                    format!("{:#x}", f.flags)
                };
                let rows: [(&str, String); 10] = [
                    ("ip", f.ip.clone()),
                    ("family", f.family.to_string()),
                    ("key", f.key.to_string()),
                    ("cluster_id", f.cluster_id.to_string()),
                    ("ifindex", f.ifindex.to_string()),
                    ("lxc_id", f.lxc_id.to_string()),
                    ("flags", flags),
                    ("mac", f.mac.clone()),
                    ("node_mac", f.node_mac.clone()),
                    ("sec_id", identity_text(f.sec_id)),
                ];
                write_rows(&mut out, &rows);
            }
            Decoded::Ipcache(f) => {
                let tunnel = if f.tunnel_endpoint == "0.0.0.0" {
                    "0.0.0.0 (none)".to_string()
                } else {
                    f.tunnel_endpoint.clone()
                };
                let rows: [(&str, String); 9] = [
                    ("prefixlen", f.prefixlen.to_string()),
                    ("cluster_id", f.cluster_id.to_string()),
                    ("family", f.family.to_string()),
                    ("ip", f.ip.clone()),
                    ("prefix", f.prefix.clone().unwrap_or_else(|| "(prefixlen out of range)".into())),
                    ("sec_identity", identity_text(f.sec_identity)),
                    ("tunnel_endpoint", tunnel),
                    ("key", f.key.to_string()),
                    ("flags", f.flags.to_string()),
                ];
                write_rows(&mut out, &rows);
            }
            Decoded::NodeIpv6(f) => {
                write_rows(&mut out, &[("node_ipv4", f.node_ipv4.clone()), ("node_ipv6", f.node_ipv6.clone())]);
            }
        }
    }
    out
}

fn write_rows(out: &mut String, rows: &[(&str, String)]) {
    for (name, value) in rows {
        let label = format!("{name}:");
        let _ = writeln!(out, "  {label:<17}{value}");
    }
}

/// JSON rendering: an array with one object per entry.
pub fn render_json(decoded: &[Decoded]) -> String {
    let mut out = serde_json::to_string_pretty(decoded).expect("decoded fields serialize");
    out.push('\n');
    out
}
