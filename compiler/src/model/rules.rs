//! The language's rules for single values: the ranges of numbers and the
//! shapes of names (DNS-1123 node and pod names, Linux interface names).
//! They belong to the model, which promises them for every value of a
//! [`super::Cluster`]: `validate` applies them to the source text (with
//! diagnostics), [`super::Cluster::check_well_formed`] to a cluster read back
//! from a build.

pub const ENDPOINT_RANGE: std::ops::RangeInclusive<u64> = 1..=4095;
pub const IDENTITY_RANGE: std::ops::RangeInclusive<u64> = 1..=16_777_215;
pub const RESERVED_IDENTITIES: std::ops::RangeInclusive<u64> = 1..=255;
pub const PORT_RANGE: std::ops::RangeInclusive<u64> = 1..=65_535;
pub const VNI_RANGE: std::ops::RangeInclusive<u64> = 0..=16_777_215;
/// Linux ifindexes are positive `int`s.
pub const IFINDEX_RANGE: std::ops::RangeInclusive<u64> = 1..=2_147_483_647;
/// IPv4's minimum MTU is 68; with an overlay the pods' MTU (mtu - 50) must still reach it.
pub const MTU_RANGE: std::ops::RangeInclusive<u64> = 68..=65_535;
pub const MTU_RANGE_OVERLAY: std::ops::RangeInclusive<u64> = 118..=65_535;
/// A pod-cidr needs a network, a router, at least one pod and a broadcast address.
pub const POD_CIDR_MAX_LEN: u8 = 30;
/// An IPv6 pod-cidr has no broadcast address: a network, a router and at least one pod.
pub const POD_CIDR6_MAX_LEN: u8 = 126;

/// The default router of an IPv6 pod-cidr: the address after the network address.
pub fn first_usable6(net: ipnet::Ipv6Net) -> std::net::Ipv6Addr {
    std::net::Ipv6Addr::from(u128::from(net.network()).wrapping_add(1))
}

/// DNS-1123 label: 1..=63 lowercase letters, digits, `-`; starts and ends
/// with a letter or digit.
fn check_label(label: &str) -> Result<(), &'static str> {
    if label.is_empty() {
        return Err("empty name part");
    }
    if label.len() > 63 {
        return Err("a name part is longer than 63 bytes");
    }
    if !label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err("only lowercase letters, digits and `-` are allowed");
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err("a name part cannot start or end with `-`");
    }
    Ok(())
}

/// DNS-1123 subdomain: dot-separated labels, at most 253 bytes.
pub fn check_subdomain(name: &str) -> Result<(), &'static str> {
    if name.len() > 253 {
        return Err("longer than 253 bytes");
    }
    if name.contains("..") {
        return Err("`..` is not allowed");
    }
    name.split('.').try_for_each(|label| {
        check_label(label).map_err(|e| {
            if e == "only lowercase letters, digits and `-` are allowed" {
                "only lowercase letters, digits, `-` and `.` are allowed"
            } else {
                e
            }
        })
    })
}

/// `namespace/name`, both DNS-1123 labels.
pub fn check_pod_name(name: &str) -> Result<(), &'static str> {
    let Some((namespace, pod)) = name.split_once('/') else {
        return Err("expected `namespace/name`");
    };
    if pod.contains('/') {
        return Err("only one `/` is allowed");
    }
    check_label(namespace)?;
    check_label(pod)
}

/// Linux interface names: 1..=15 bytes of letters, digits, `_`, `-`, `.`,
/// and not `.` or `..`.
pub fn check_interface(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 15 {
        return Err("must be 1..15 bytes long");
    }
    if name == "." || name == ".." {
        return Err("`.` and `..` are not interface names");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        return Err("only letters, digits, `_`, `-` and `.` are allowed");
    }
    Ok(())
}
