//! What the last clean apply wrote to a node's maps, kept beside the node's
//! record (`<state_dir>/<scope>/<node>.applied`), so that the next apply
//! computes the delta to the new build in memory and writes only the
//! entries that changed, without reading the kernel's maps back.
//!
//! The file is binary and compact (the entries' own bytes), written with
//! [`write_atomically`] and ending with the sha256 of everything before it.
//! It is trusted only while it describes the maps pinned now: the same map
//! definitions (type, sizes, flags, `max_entries`) and the same kernel map
//! ids. Anything else, a missing, torn or foreign file, an unfinished apply
//! (its journal) or a failed one (which removes the file), sends the apply
//! down the full read-back path, which repairs whatever it finds.

use routec_compiler::layout::{Encoded, EndpointInfo, EndpointKey, IpcacheKey, MapKey, MapSpec, RemoteEndpointInfo};
use sha2::Digest;

use super::state::{remove_state_file, write_atomically};
use super::Target;
use crate::Result;

const MAGIC: &[u8; 16] = b"routec-applied\n\0";
/// Bumped whenever the encoding below changes: an older file is not read.
const VERSION: u32 = 1;
const DIGEST_LEN: usize = 32;

/// One pinned map as the apply that wrote it saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AppliedMap {
    pub name: String,
    /// type, key size, value size, max entries, flags.
    pub definition: [u32; 5],
    /// The kernel's id of the pinned map: another id is another map.
    pub id: u32,
}

impl AppliedMap {
    pub(super) fn new(spec: &MapSpec, id: u32) -> Self {
        AppliedMap {
            name: spec.name.to_string(),
            definition: [spec.map_type, spec.key_size, spec.value_size, spec.max_entries, spec.flags],
            id,
        }
    }
}

/// The entries a clean apply left in the node's maps, sorted by key bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Applied {
    /// The build's `input_digest` (manifest.json), for people reading reports.
    pub build_digest: String,
    pub maps: Vec<AppliedMap>,
    pub lxc: Vec<(EndpointKey, EndpointInfo)>,
    pub ipcache: Vec<(IpcacheKey, RemoteEndpointInfo)>,
}

impl Applied {
    /// The record, or why it cannot be trusted as a description of the maps.
    pub(super) fn load(target: &Target) -> std::result::Result<Applied, String> {
        let path = target.applied_file();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("no record of the last apply".to_string()),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        decode(&bytes).ok_or_else(|| format!("{} is not a record this routec wrote", path.display()))
    }

    pub(super) fn save(&self, target: &Target) -> Result<()> {
        write_atomically(&target.applied_file(), &self.encode())
    }

    /// Forgets the record: the next apply reads the maps back.
    pub(super) fn forget(target: &Target) -> Result<()> {
        remove_state_file(&target.applied_file())
    }

    fn encode(&self) -> Vec<u8> {
        let entry_bytes = |n: usize, k: usize, v: usize| n * (k + v);
        let mut out = Vec::with_capacity(
            256 + entry_bytes(self.lxc.len(), EndpointKey::SIZE, EndpointInfo::SIZE)
                + entry_bytes(self.ipcache.len(), IpcacheKey::SIZE, RemoteEndpointInfo::SIZE),
        );
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        put_bytes(&mut out, self.build_digest.as_bytes());
        put_u32(&mut out, self.maps.len() as u32);
        for map in &self.maps {
            put_bytes(&mut out, map.name.as_bytes());
            for field in map.definition {
                put_u32(&mut out, field);
            }
            put_u32(&mut out, map.id);
        }
        put_entries(&mut out, &self.lxc);
        put_entries(&mut out, &self.ipcache);
        let digest = sha2::Sha256::digest(&out);
        out.extend_from_slice(&digest);
        out
    }

    /// The recorded map named like `spec`, if its definition is `spec`'s and its id is `id`.
    pub(super) fn describes(&self, spec: &MapSpec, id: Option<u32>) -> bool {
        let wanted = AppliedMap::new(spec, id.unwrap_or(0));
        id.is_some() && self.maps.contains(&wanted)
    }
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, bytes.len() as u32);
    out.extend_from_slice(bytes);
}

fn put_entries<K: MapKey>(out: &mut Vec<u8>, entries: &[(K, K::Value)]) {
    put_u32(out, K::SIZE as u32);
    put_u32(out, K::Value::SIZE as u32);
    put_u32(out, entries.len() as u32);
    for (key, value) in entries {
        out.extend_from_slice(&key.encode());
        out.extend_from_slice(&value.encode());
    }
}

/// Reads what [`Applied::encode`] wrote; `None` for anything else.
fn decode(bytes: &[u8]) -> Option<Applied> {
    let body_len = bytes.len().checked_sub(DIGEST_LEN)?;
    let (body, digest) = bytes.split_at(body_len);
    if sha2::Sha256::digest(body).as_slice() != digest {
        return None;
    }
    let mut reader = Reader(body);
    if reader.take(MAGIC.len())? != MAGIC || reader.u32()? != VERSION {
        return None;
    }
    let build_digest = String::from_utf8(reader.bytes()?.to_vec()).ok()?;
    let map_count = reader.u32()?;
    let mut maps = Vec::new();
    for _ in 0..map_count {
        let name = String::from_utf8(reader.bytes()?.to_vec()).ok()?;
        let mut definition = [0; 5];
        for field in &mut definition {
            *field = reader.u32()?;
        }
        maps.push(AppliedMap { name, definition, id: reader.u32()? });
    }
    let lxc = reader.entries()?;
    let ipcache = reader.entries()?;
    reader.0.is_empty().then_some(Applied { build_digest, maps, lxc, ipcache })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }
    fn entries<K: MapKey>(&mut self) -> Option<Vec<(K, K::Value)>> {
        if self.u32()? as usize != K::SIZE || self.u32()? as usize != K::Value::SIZE {
            return None;
        }
        let count = self.u32()? as usize;
        let raw = self.take(count.checked_mul(K::SIZE + K::Value::SIZE)?)?;
        raw.chunks_exact(K::SIZE + K::Value::SIZE)
            .map(|entry| Some((K::decode(&entry[..K::SIZE]).ok()?, K::Value::decode(&entry[K::SIZE..]).ok()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use routec_compiler::layout;

    fn sample() -> Applied {
        let lxc_key = EndpointKey::ipv4("10.10.2.117".parse().unwrap());
        let ipcache_key = IpcacheKey::ipv4("10.10.2.117".parse().unwrap(), 32);
        Applied {
            build_digest: "abc".into(),
            maps: vec![AppliedMap::new(&layout::CILIUM_LXC, 7), AppliedMap::new(&layout::CILIUM_IPCACHE, 8)],
            lxc: vec![(lxc_key, EndpointInfo::decode(&[1; EndpointInfo::SIZE]).unwrap())],
            ipcache: vec![(ipcache_key, RemoteEndpointInfo::decode(&[2; RemoteEndpointInfo::SIZE]).unwrap())],
        }
    }

    #[test]
    fn a_record_reads_back_as_written_and_a_damaged_one_not_at_all() {
        let record = sample();
        let bytes = record.encode();
        assert_eq!(decode(&bytes), Some(record.clone()));
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), None, "torn at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        assert_eq!(decode(&flipped), None, "a flipped bit");
    }

    #[test]
    fn a_record_describes_only_the_same_map_with_the_same_id() {
        let record = sample();
        assert!(record.describes(&layout::CILIUM_LXC, Some(7)));
        assert!(!record.describes(&layout::CILIUM_LXC, Some(9)), "another map");
        assert!(!record.describes(&layout::CILIUM_LXC, None), "no map pinned");
        let resized = MapSpec { max_entries: layout::CILIUM_LXC.max_entries + 1, ..layout::CILIUM_LXC };
        assert!(!record.describes(&resized, Some(7)), "another size");
    }
}
