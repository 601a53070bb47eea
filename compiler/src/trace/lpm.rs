//! `cilium_ipcache` as the kernel's LPM trie answers it: an entry matches
//! when the first `prefixlen` bits of its data (everything after the
//! prefixlen field: cluster_id, pad, family, address) equal the lookup key's,
//! and the longest such prefix wins.

use std::collections::{BTreeMap, HashMap};

use crate::layout::{IpcacheKey, RemoteEndpointInfo};

const DATA_BYTES: usize = IpcacheKey::SIZE - 4;
const DATA_BITS: u32 = DATA_BYTES as u32 * 8;

#[derive(Debug, Clone, Default)]
pub struct Ipcache {
    /// Entries by prefixlen, each keyed by its data masked to that length, so
    /// a lookup costs one hash probe per distinct prefix length.
    by_len: BTreeMap<u32, HashMap<[u8; DATA_BYTES], (IpcacheKey, RemoteEndpointInfo)>>,
}

fn masked(key: &IpcacheKey, bits: u32) -> [u8; DATA_BYTES] {
    let bytes = key.to_bytes();
    let mut data: [u8; DATA_BYTES] = bytes[4..].try_into().expect("the key is 24 bytes");
    for (i, byte) in data.iter_mut().enumerate() {
        let start = i as u32 * 8;
        if start >= bits {
            *byte = 0;
        } else if bits - start < 8 {
            *byte &= 0xffu8 << (8 - (bits - start));
        }
    }
    data
}

impl Ipcache {
    pub fn new(entries: impl IntoIterator<Item = (IpcacheKey, RemoteEndpointInfo)>) -> Self {
        let mut ipcache = Ipcache::default();
        for (key, value) in entries {
            // The kernel refuses prefixlen above the data size; so do we.
            let len = key.prefixlen;
            if len <= DATA_BITS {
                ipcache.by_len.entry(len).or_default().insert(masked(&key, len), (key, value));
            }
        }
        ipcache
    }

    /// The longest-prefix match for `key` (whose own prefixlen bounds the match).
    pub fn lookup(&self, key: &IpcacheKey) -> Option<&(IpcacheKey, RemoteEndpointInfo)> {
        let max = key.prefixlen.min(DATA_BITS);
        self.by_len.range(..=max).rev().find_map(|(&len, entries)| entries.get(&masked(key, len)))
    }

    /// Every entry, sorted by key bytes.
    pub fn entries(&self) -> Vec<(IpcacheKey, RemoteEndpointInfo)> {
        let mut all: Vec<_> = self.by_len.values().flat_map(|m| m.values().copied()).collect();
        all.sort_by_key(|(k, _)| k.to_bytes());
        all
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ipcache() -> Ipcache {
        Ipcache::new([
            (
                IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 0), 24),
                RemoteEndpointInfo::new(2, Some(Ipv4Addr::new(172, 18, 0, 4))),
            ),
            (
                IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 155), 32),
                RemoteEndpointInfo::new(10388, Some(Ipv4Addr::new(172, 18, 0, 4))),
            ),
            (IpcacheKey::ipv4(Ipv4Addr::new(10, 0, 0, 0), 8), RemoteEndpointInfo::new(2, None)),
        ])
    }

    #[test]
    fn longest_prefix_wins() {
        let ipcache = ipcache();
        let hit = |ip| ipcache.lookup(&IpcacheKey::ipv4(ip, 32)).map(|(k, v)| (k.ip_prefix_len(), v.sec_identity));
        assert_eq!(hit(Ipv4Addr::new(10, 10, 1, 155)), Some((Some(32), 10388)));
        assert_eq!(hit(Ipv4Addr::new(10, 10, 1, 200)), Some((Some(24), 2)));
        assert_eq!(hit(Ipv4Addr::new(10, 99, 0, 1)), Some((Some(8), 2)));
        assert_eq!(hit(Ipv4Addr::new(192, 168, 99, 1)), None);
    }

    #[test]
    fn family_is_part_of_the_prefix() {
        let ipcache = ipcache();
        let mut key = IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 155), 32);
        key.family = 2;
        assert!(ipcache.lookup(&key).is_none());
    }

    #[test]
    fn lookup_prefixlen_bounds_the_match() {
        let ipcache = ipcache();
        let found = ipcache.lookup(&IpcacheKey::ipv4(Ipv4Addr::new(10, 10, 1, 155), 24)).unwrap();
        assert_eq!(found.0.ip_prefix_len(), Some(24));
    }
}
