//! The one place where addresses from the inputs become language values.
//! The language holds IPv4 only for now: an IPv6 address or prefix is kept
//! out of the cluster and listed in the report as not imported (with its
//! JSON path), never dropped silently and never an error. When the language
//! gains IPv6, [`Family::imported`] is the switch to turn.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::json::{At, Result};
use super::report::Notes;

/// An address family as the inputs carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Whether the language can hold this family.
    pub fn imported(self) -> bool {
        self == Family::V4
    }
    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// What [`address`] and [`prefix`] hand back: an IPv4 value, or `None` when
/// the value is of a family the language does not hold (then it is noted).
fn keep<T>(family: Family, value: T, at: &At, object: &str, notes: &mut Notes) -> Option<T> {
    if family.imported() {
        return Some(value);
    }
    notes.skip(&at.path, object, format!("{} {}: the language has no {} yet", family.name(), at.value, family.name()));
    None
}

/// An address string (`10.10.2.121`, `fd00::1`) of any family.
pub fn parse_address(at: &At) -> Result<(Family, IpAddr)> {
    let text = at.str()?;
    let ip: IpAddr = text.parse().map_err(|_| at.error(format!("`{text}` is not an IP address")))?;
    Ok((if ip.is_ipv4() { Family::V4 } else { Family::V6 }, ip))
}

/// The IPv4 address at `at`, or `None` (noted) for an IPv6 one.
pub fn address(at: &At, object: &str, notes: &mut Notes) -> Result<Option<Ipv4Addr>> {
    let (family, ip) = parse_address(at)?;
    Ok(match ip {
        IpAddr::V4(v4) => keep(family, v4, at, object, notes),
        IpAddr::V6(_) => keep(family, (), at, object, notes).and(None),
    })
}

/// The IPv4 prefix at `at` (host bits zero), or `None` (noted) for an IPv6 one.
pub fn prefix(at: &At, object: &str, notes: &mut Notes) -> Result<Option<Ipv4Net>> {
    let text = at.str()?;
    let net: IpNet = text.parse().map_err(|_| at.error(format!("`{text}` is not an IP prefix")))?;
    if net.trunc() != net {
        return Err(at.error(format!("`{text}` has host bits set (the prefix is {})", net.trunc())));
    }
    Ok(match net {
        IpNet::V4(v4) => keep(Family::V4, v4, at, object, notes),
        IpNet::V6(_) => keep(Family::V6, (), at, object, notes).and(None),
    })
}
