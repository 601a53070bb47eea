//! Seeds as raw bytes: every entry's key then value, exactly as
//! [`Encoded`](crate::layout::Encoded) encodes them (the bytes the kernel
//! map holds), sorted by key bytes, nothing else. The same entries as the
//! `.seed` text, a quarter of its size and read without parsing hex; the
//! loader takes `cluster/cilium_ipcache.bin` when a build has it.

use crate::layout::{Encoded, MapKey};

/// The binary form of `cluster/cilium_ipcache.seed`.
pub const IPCACHE_SEED_BIN: &str = "cluster/cilium_ipcache.bin";

/// The binary form of `cluster/routec_node_ipv6.seed`.
pub const NODE_IPV6_SEED_BIN: &str = "cluster/routec_node_ipv6.bin";

/// The bytes of `entries`, in their order.
pub fn render_binary_seed<K: MapKey>(entries: &[(K, K::Value)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * (K::SIZE + K::Value::SIZE));
    for (key, value) in entries {
        out.extend_from_slice(&key.encode());
        out.extend_from_slice(&value.encode());
    }
    out
}

/// The entries of a binary seed, or why it is not one: a length that is not
/// a whole number of entries, or keys not strictly ascending (unsorted or
/// repeated), which build never writes.
pub fn parse_binary_seed<K: MapKey>(bytes: &[u8]) -> Result<Vec<(K, K::Value)>, String> {
    let entry = K::SIZE + K::Value::SIZE;
    if !bytes.len().is_multiple_of(entry) {
        return Err(format!("{} bytes is not a whole number of {entry}-byte entries", bytes.len()));
    }
    let records = bytes.chunks_exact(entry);
    if let Some(at) = records.clone().zip(records.clone().skip(1)).position(|(a, b)| a[..K::SIZE] >= b[..K::SIZE]) {
        return Err(format!("entry {} is not after entry {} in key order", at + 2, at + 1));
    }
    records
        .map(|record| {
            let (key, value) = record.split_at(K::SIZE);
            Ok((K::decode(key).map_err(|e| e.to_string())?, K::Value::decode(value).map_err(|e| e.to_string())?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::IpcacheKey;
    use crate::seeds::ipcache_entries;

    #[test]
    fn a_binary_seed_reads_back_as_written_and_refuses_what_build_never_writes() {
        let text =
            crate::gen::generate_string(&crate::gen::GenOptions { nodes: 3, pods_per_node: 4, seed: 1 }).unwrap();
        let cluster = crate::frontend::analyze_str("gen.route", &text).cluster.unwrap();
        let entries = ipcache_entries(&cluster);
        let bytes = render_binary_seed(&entries);
        assert_eq!(parse_binary_seed::<IpcacheKey>(&bytes).unwrap(), entries);
        assert!(parse_binary_seed::<IpcacheKey>(&bytes[1..]).unwrap_err().contains("whole number"));
        let entry = bytes.len() / entries.len();
        let mut swapped = bytes[entry..2 * entry].to_vec();
        swapped.extend_from_slice(&bytes[..entry]);
        assert!(parse_binary_seed::<IpcacheKey>(&swapped).unwrap_err().contains("key order"));
    }
}
