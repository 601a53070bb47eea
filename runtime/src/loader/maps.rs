//! The pinned maps: checked against `layout::MapSpec` (aya 0.14 reuses a
//! pinned map without looking at it), and synced to a plan by one generic
//! sync and undo over `layout`'s typed keys and values ([`MapKey`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use aya::maps::lpm_trie::{Key as LpmKey, LpmTrie};
use aya::maps::{HashMap as BpfHashMap, Map, MapData, MapError, MapInfo};
use routec_compiler::layout::{
    self, Encoded, EndpointInfo, EndpointKey, IpcacheKey, MapKey, MapSpec, NodeIpv6, NodeIpv6Key, RemoteEndpointInfo,
};
use serde::Serialize;

use super::{chain, Target};
use crate::{Error, Result};

/// Whether a pinned map's `max_entries` must equal the wanted one: apply
/// needs the size the build chose; a reader only needs the entries to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxEntries {
    Check,
    Ignore,
}

/// Checks a pinned map against the layout (type, key and value sizes, flags
/// and, unless ignored, `max_entries`); `Ok(false)` when it is not pinned.
pub fn check_pin(path: &Path, spec: &MapSpec, max_entries: MaxEntries) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let info = MapInfo::from_pin(path)
        .map_err(|e| Error::msg(format!("{} is not a usable map pin: {}", path.display(), chain(&e))))?;
    let map_type = info.map_type().map_or(u32::MAX, |t| t as u32);
    let found = [map_type, info.key_size(), info.value_size(), info.max_entries(), info.map_flags()];
    let wanted = [spec.map_type, spec.key_size, spec.value_size, spec.max_entries, spec.flags];
    let differs = |i: usize| found[i] != wanted[i] && !(i == 3 && max_entries == MaxEntries::Ignore);
    if (0..found.len()).any(differs) {
        return Err(Error::msg(format!(
            "pinned map {} does not match {}: found type {}, key {} B, value {} B, max entries {}, flags {:#x}; \
             wanted type {}, key {} B, value {} B, max entries {}{}, flags {:#x}",
            path.display(),
            spec.name,
            found[0],
            found[1],
            found[2],
            found[3],
            found[4],
            wanted[0],
            wanted[1],
            wanted[2],
            wanted[3],
            if max_entries == MaxEntries::Ignore { " (or any)" } else { "" },
            wanted[4],
        )));
    }
    Ok(true)
}

/// [`check_pin`] as apply needs it: exactly the build's definition.
pub fn check_pinned_map(path: &Path, spec: &MapSpec) -> Result<bool> {
    check_pin(path, spec, MaxEntries::Check)
        .map_err(|e| Error::msg(format!("{e} (remove it with `routec detach` first)")))
}

/// The kernel's id of a pinned map, `None` when it is not pinned.
pub(super) fn pinned_map_id(target: &Target, spec: &MapSpec) -> Option<u32> {
    MapInfo::from_pin(target.map_pin(spec.name)).ok().map(|info| info.id())
}

pub(super) fn open_map(target: &Target, spec: &MapSpec) -> Result<Map> {
    open_pin(&target.map_pin(spec.name))
}

fn open_pin(path: &Path) -> Result<Map> {
    let data =
        MapData::from_pin(path).map_err(|e| Error::msg(format!("cannot open {}: {}", path.display(), chain(&e))))?;
    Map::from_map_data(data).map_err(|e| Error::msg(format!("cannot open {}: {}", path.display(), chain(&e))))
}

pub(super) fn map_error(spec: &MapSpec, what: &str) -> impl Fn(MapError) -> Error {
    let name = spec.name;
    let what = what.to_string();
    move |e| Error::msg(format!("{name} {what}: {}", chain(&e)))
}

/// A pinned map as its typed entries; one implementation per kernel map
/// kind, so that the sync and undo above them exist once.
pub trait Table<K: MapKey> {
    fn entries(&self) -> Result<Vec<(K, K::Value)>>;
    fn insert(&mut self, key: &K, value: &K::Value) -> Result<(), MapError>;
    fn remove(&mut self, key: &K) -> Result<(), MapError>;
}

/// A [`MapKey`] whose map the loader opens from its pin.
pub trait LiveMap: MapKey {
    type Table: Table<Self>;
    fn table(map: Map) -> Result<Self::Table>;
}

fn decode<T: Encoded>(bytes: &[u8]) -> Result<T> {
    T::decode(bytes).map_err(|e| Error::msg(e.to_string()))
}

type LxcTable = BpfHashMap<MapData, [u8; EndpointKey::SIZE], [u8; EndpointInfo::SIZE]>;
/// aya splits an LPM key into prefixlen and the data bytes after it.
type IpcacheTable = LpmTrie<MapData, [u8; IpcacheKey::SIZE - 4], [u8; RemoteEndpointInfo::SIZE]>;

impl LiveMap for EndpointKey {
    type Table = LxcTable;
    fn table(map: Map) -> Result<LxcTable> {
        LxcTable::try_from(map).map_err(map_error(Self::SPEC, "has the wrong shape"))
    }
}

impl Table<EndpointKey> for LxcTable {
    fn entries(&self) -> Result<Vec<(EndpointKey, EndpointInfo)>> {
        self.iter()
            .map(|entry| {
                let (k, v) = entry.map_err(map_error(EndpointKey::SPEC, "cannot be read"))?;
                Ok((decode(&k)?, decode(&v)?))
            })
            .collect()
    }
    fn insert(&mut self, key: &EndpointKey, value: &EndpointInfo) -> Result<(), MapError> {
        BpfHashMap::insert(self, key.to_bytes(), value.to_bytes(), 0)
    }
    fn remove(&mut self, key: &EndpointKey) -> Result<(), MapError> {
        BpfHashMap::remove(self, &key.to_bytes())
    }
}

type NodeIpv6Table = BpfHashMap<MapData, [u8; NodeIpv6Key::SIZE], [u8; NodeIpv6::SIZE]>;

impl LiveMap for NodeIpv6Key {
    type Table = NodeIpv6Table;
    fn table(map: Map) -> Result<NodeIpv6Table> {
        NodeIpv6Table::try_from(map).map_err(map_error(Self::SPEC, "has the wrong shape"))
    }
}

impl Table<NodeIpv6Key> for NodeIpv6Table {
    fn entries(&self) -> Result<Vec<(NodeIpv6Key, NodeIpv6)>> {
        self.iter()
            .map(|entry| {
                let (k, v) = entry.map_err(map_error(NodeIpv6Key::SPEC, "cannot be read"))?;
                Ok((decode(&k)?, decode(&v)?))
            })
            .collect()
    }
    fn insert(&mut self, key: &NodeIpv6Key, value: &NodeIpv6) -> Result<(), MapError> {
        BpfHashMap::insert(self, key.to_bytes(), value.to_bytes(), 0)
    }
    fn remove(&mut self, key: &NodeIpv6Key) -> Result<(), MapError> {
        BpfHashMap::remove(self, &key.to_bytes())
    }
}

fn lpm_key(key: &IpcacheKey) -> LpmKey<[u8; IpcacheKey::SIZE - 4]> {
    let raw = key.to_bytes();
    LpmKey::new(u32::from_le_bytes(raw[..4].try_into().unwrap()), raw[4..].try_into().unwrap())
}

impl LiveMap for IpcacheKey {
    type Table = IpcacheTable;
    fn table(map: Map) -> Result<IpcacheTable> {
        IpcacheTable::try_from(map).map_err(map_error(Self::SPEC, "has the wrong shape"))
    }
}

impl Table<IpcacheKey> for IpcacheTable {
    fn entries(&self) -> Result<Vec<(IpcacheKey, RemoteEndpointInfo)>> {
        self.iter()
            .map(|entry| {
                let (k, v) = entry.map_err(map_error(IpcacheKey::SPEC, "cannot be read"))?;
                let mut raw = [0u8; IpcacheKey::SIZE];
                raw[..4].copy_from_slice(&k.prefix_len().to_le_bytes());
                raw[4..].copy_from_slice(&k.data());
                Ok((decode(&raw)?, decode(&v)?))
            })
            .collect()
    }
    fn insert(&mut self, key: &IpcacheKey, value: &RemoteEndpointInfo) -> Result<(), MapError> {
        LpmTrie::insert(self, &lpm_key(key), value.to_bytes(), 0)
    }
    fn remove(&mut self, key: &IpcacheKey) -> Result<(), MapError> {
        LpmTrie::remove(self, &lpm_key(key))
    }
}

/// Every entry of a map opened by the caller, sorted by key bytes.
pub fn read_map<K: LiveMap>(map: Map) -> Result<Vec<(K, K::Value)>> {
    let mut entries = K::table(map)?.entries()?;
    layout::sort_by_key_bytes(&mut entries);
    Ok(entries)
}

/// Counts of entries written per map, and of the kernel map operations
/// the sync issued: a read-back reads every entry, an incremental sync none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MapChanges {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    /// Entries read back from the kernel.
    pub kernel_reads: usize,
    /// Entries the kernel was asked to write or delete (one syscall each).
    pub kernel_writes: usize,
}

impl MapChanges {
    pub fn is_empty(&self) -> bool {
        self.added + self.updated + self.deleted == 0
    }
}

impl std::fmt::Display for MapChanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} added, {} updated, {} deleted, {} unchanged",
            self.added, self.updated, self.deleted, self.unchanged
        )
    }
}

/// What a sync changed, in order: each key with its value before the change
/// (`None`: it was absent). Only changes the kernel accepted are recorded,
/// so undoing never touches an entry that was not written.
pub type MapUndo<K> = Vec<(K, Option<<K as MapKey>::Value>)>;

/// Makes the node's map hold exactly `wanted`: stale entries are deleted
/// first (a map exactly full for the new build has room only after that),
/// then only the entries that differ are written.
pub(super) fn sync<K: LiveMap>(pin: &Path, wanted: &[(K, K::Value)], undo: &mut MapUndo<K>) -> Result<MapChanges> {
    let spec = K::SPEC;
    let mut table = K::table(open_pin(pin)?)?;
    let current: HashMap<K, K::Value> = table.entries()?.into_iter().collect();
    let keep: HashSet<&K> = wanted.iter().map(|(k, _)| k).collect();
    let mut changes = MapChanges { kernel_reads: current.len(), ..MapChanges::default() };
    for (key, old) in current.iter().filter(|(k, _)| !keep.contains(k)) {
        table.remove(key).map_err(map_error(spec, &format!("delete of {key} failed")))?;
        undo.push((*key, Some(*old)));
        changes.deleted += 1;
    }
    for (key, value) in wanted {
        let found = current.get(key);
        if found == Some(value) {
            changes.unchanged += 1;
            continue;
        }
        table.insert(key, value).map_err(map_error(spec, &format!("update of {key} failed")))?;
        undo.push((*key, found.copied()));
        match found {
            Some(_) => changes.updated += 1,
            None => changes.added += 1,
        }
    }
    changes.kernel_writes = changes.added + changes.updated + changes.deleted;
    Ok(changes)
}

/// [`sync`] when the kernel is known to hold `recorded` (what the last clean
/// apply wrote): the delta from it to `wanted`, both sorted by key bytes, is
/// computed in memory and only the entries that differ are written, deletes
/// first; nothing is read back. The undo holds the recorded old values, so a
/// rollback puts back exactly what was there.
pub(super) fn sync_delta<K: LiveMap>(
    pin: &Path,
    recorded: &[(K, K::Value)],
    wanted: &[(K, K::Value)],
    undo: &mut MapUndo<K>,
) -> Result<MapChanges> {
    let spec = K::SPEC;
    let deltas = routec_compiler::diff::entry_deltas(recorded, wanted);
    let mut changes = MapChanges::default();
    if deltas.is_empty() {
        changes.unchanged = wanted.len();
        return Ok(changes);
    }
    let mut table = K::table(open_pin(pin)?)?;
    for (before, after) in &deltas {
        if let (Some((key, old)), None) = (before, after) {
            table.remove(key).map_err(map_error(spec, &format!("delete of {key} failed")))?;
            undo.push((*key, Some(*old)));
            changes.deleted += 1;
        }
    }
    for (before, after) in &deltas {
        if let Some((key, value)) = after {
            table.insert(key, value).map_err(map_error(spec, &format!("update of {key} failed")))?;
            let old = before.map(|(_, v)| *v);
            undo.push((*key, old));
            match old {
                Some(_) => changes.updated += 1,
                None => changes.added += 1,
            }
        }
    }
    changes.unchanged = wanted.len() - changes.added - changes.updated;
    changes.kernel_writes = changes.added + changes.updated + changes.deleted;
    Ok(changes)
}

/// Puts back what `undo` recorded, last change first.
pub(super) fn restore<K: LiveMap>(target: &Target, undo: &MapUndo<K>) -> Result<()> {
    if undo.is_empty() {
        return Ok(());
    }
    let spec = K::SPEC;
    let mut table = K::table(open_map(target, spec)?)?;
    for (key, old) in undo.iter().rev() {
        match old {
            Some(value) => table.insert(key, value),
            None => table.remove(key),
        }
        .map_err(map_error(spec, &format!("restore of {key} failed")))?;
    }
    Ok(())
}

/// Writes `wanted` into the node's cilium_lxc: only differing entries, stale ones deleted.
pub fn sync_lxc(target: &Target, wanted: &[(EndpointKey, EndpointInfo)]) -> Result<MapChanges> {
    sync(&target.map_pin(EndpointKey::SPEC.name), wanted, &mut Vec::new())
}

/// Writes `wanted` into the node's cilium_ipcache: only differing entries, stale ones deleted.
pub fn sync_ipcache(target: &Target, wanted: &[(IpcacheKey, RemoteEndpointInfo)]) -> Result<MapChanges> {
    sync(&target.map_pin(IpcacheKey::SPEC.name), wanted, &mut Vec::new())
}

/// Entries in a pinned hash or LPM map (an array has all its slots).
pub(super) fn count_entries(target: &Target, spec: &MapSpec) -> Result<usize> {
    let map = open_map(target, spec)?;
    match map {
        Map::HashMap(_) if spec.name == NodeIpv6Key::SPEC.name => Ok(NodeIpv6Key::table(map)?.keys().count()),
        Map::HashMap(_) => Ok(EndpointKey::table(map)?.keys().count()),
        Map::LpmTrie(_) => Ok(IpcacheKey::table(map)?.keys().count()),
        _ => Ok(spec.max_entries as usize),
    }
}
