//! The seeds of the reference cluster reproduce the bpftool vectors.

mod build_support;

use build_support::{hex, reference_cluster, vectors};
use routec_compiler::layout::{EndpointInfo, ENDPOINT_F_HOST};
use routec_compiler::seeds::{hex_bytes, ipcache_entries, lxc_entries, parse_seed, render_seed};

fn node_index(cluster: &routec_compiler::model::Cluster, name: &str) -> usize {
    cluster.nodes.iter().position(|n| n.name == name).unwrap()
}

#[test]
fn lxc_entries_match_the_dumps_except_the_stale_sec_id() {
    let cluster = reference_cluster();
    for vector in vectors()["cilium_lxc"].as_array().unwrap() {
        let node = node_index(&cluster, vector["node"].as_str().unwrap());
        let key = hex(vector["key"].as_str().unwrap());
        let dumped = hex(vector["value"].as_str().unwrap());
        let entries = lxc_entries(&cluster, node);
        let (_, info) = entries.iter().find(|(k, _)| k.to_bytes().as_slice() == key.as_slice()).expect("pod entry");
        let built = info.to_bytes();
        let pod = cluster.pods.iter().find(|p| p.name == vector["pod"].as_str().unwrap()).unwrap();
        assert_eq!(pod.identity, 10388);
        // sec_id (bytes 32..36) is the declared identity, every other byte as dumped.
        assert_eq!(&built[32..36], &10388u32.to_le_bytes());
        assert_eq!(&built[..32], &dumped[..32]);
        assert_eq!(&built[36..], &dumped[36..]);
    }
}

#[test]
fn ipcache_entry_matches_the_dump_byte_for_byte() {
    let vector = &vectors()["cilium_ipcache"][0];
    let key = hex(vector["key"].as_str().unwrap());
    let value = hex(vector["value"].as_str().unwrap());
    let entries = ipcache_entries(&reference_cluster());
    let (_, info) = entries.iter().find(|(k, _)| k.to_bytes().as_slice() == key.as_slice()).expect("pod /32");
    assert_eq!(info.to_bytes().to_vec(), value);
    let line = format!("key hex {} value hex {}", hex_bytes(&key), hex_bytes(&value));
    assert!(render_seed(&entries).lines().any(|l| l == line), "{line}");
}

#[test]
fn lxc_seed_has_pods_and_two_host_entries_sorted() {
    let cluster = reference_cluster();
    let worker = node_index(&cluster, "mycluster-worker");
    let entries = lxc_entries(&cluster, worker);
    let ips: Vec<String> = entries.iter().map(|(k, _)| k.ip4().to_string()).collect();
    assert_eq!(ips, ["10.10.2.1", "10.10.2.117", "10.10.2.121", "172.18.0.2"]);
    let host = EndpointInfo::new(0, 0, ENDPOINT_F_HOST, Default::default(), Default::default(), 1);
    assert_eq!(entries[0].1, host);
    assert_eq!(entries[3].1, host);
    // Declared ifindex, undeclared MACs stay zero.
    assert_eq!(entries[1].1, EndpointInfo::new(9, 715, 0, Default::default(), Default::default(), 3372));
    let keys: Vec<_> = entries.iter().map(|(k, _)| k.to_bytes()).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    // A node without pods still has its host entries.
    assert_eq!(lxc_entries(&cluster, node_index(&cluster, "mycluster-control-plane")).len(), 2);
}

#[test]
fn ipcache_has_pods_cidrs_and_node_addresses() {
    let entries = ipcache_entries(&reference_cluster());
    let rows: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            let tunnel = v.tunnel_endpoint().map_or("-".to_string(), |ip| ip.to_string());
            format!("{}/{} {} {}", k.ip4(), k.ip_prefix_len().unwrap(), v.sec_identity, tunnel)
        })
        .collect();
    assert_eq!(
        rows,
        [
            "10.10.0.0/24 2 172.18.0.3",
            "10.10.1.0/24 2 172.18.0.4",
            "10.10.2.0/24 2 172.18.0.2",
            "10.10.1.155/32 10388 172.18.0.4",
            "10.10.1.164/32 3372 172.18.0.4",
            "10.10.2.117/32 3372 172.18.0.2",
            "10.10.2.121/32 10388 172.18.0.2",
            "172.18.0.2/32 6 -",
            "172.18.0.3/32 6 -",
            "172.18.0.4/32 6 -",
        ]
    );
}

#[test]
fn seed_text_round_trips_through_parse_seed() {
    let cluster = reference_cluster();
    let entries = lxc_entries(&cluster, 1);
    let text = render_seed(&entries);
    assert!(text.lines().all(|l| l.len() == 8 + 59 + 11 + 143));
    let parsed = parse_seed(&text).unwrap();
    let expected: Vec<_> = entries.iter().map(|(k, v)| (k.to_bytes().to_vec(), v.to_bytes().to_vec())).collect();
    assert_eq!(parsed, expected);
}

#[test]
fn parse_seed_reports_the_bad_line() {
    let err = parse_seed("key hex 00 01 value hex 02\nkey hex 0g value hex 00\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.to_string().contains("`0g` is not a hex byte"), "{err}");
    assert_eq!(parse_seed("key hex 00\n").unwrap_err().message, "missing `value hex`");
    assert_eq!(parse_seed("value hex 00\n").unwrap_err().line, 1);
    assert_eq!(parse_seed("key hex 000 value hex 00").unwrap_err().line, 1);
    assert_eq!(parse_seed("").unwrap(), vec![]);
}

#[test]
fn a_router_on_the_node_address_is_one_host_entry() {
    let mut cluster = reference_cluster();
    let worker = node_index(&cluster, "mycluster-worker");
    cluster.nodes[worker].router = Some(cluster.nodes[worker].address);
    let entries = lxc_entries(&cluster, worker);
    assert_eq!(entries.iter().filter(|(_, v)| v.is_host()).count(), 1);
    assert_eq!(entries.len(), 3);
}
