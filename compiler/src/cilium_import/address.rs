//! The one place where addresses from the inputs become language values:
//! both families, as the language holds them (at most one IPv4 and one IPv6
//! value of each kind, docs/language.md "Dual stack").

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::json::{At, PathError, Result};

/// An address string (`10.10.2.121`, `fd00:10:2::79`) of either family.
pub fn address(at: &At) -> Result<IpAddr> {
    let text = at.str()?;
    text.parse().map_err(|_| at.error(format!("`{text}` is not an IP address")))
}

/// `IPv4` or `IPv6`, for messages.
pub fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// The address of a field that names its family (an AddressPair's `ipv4`).
pub fn ipv4(at: &At) -> Result<Ipv4Addr> {
    match address(at)? {
        IpAddr::V4(v4) => Ok(v4),
        IpAddr::V6(v6) => Err(at.error(format!("is {v6}, an IPv6 address in a field for IPv4"))),
    }
}

/// The address of a field that names its family (an AddressPair's `ipv6`).
pub fn ipv6(at: &At) -> Result<Ipv6Addr> {
    match address(at)? {
        IpAddr::V6(v6) => Ok(v6),
        IpAddr::V4(v4) => Err(at.error(format!("is {v4}, an IPv4 address in a field for IPv6"))),
    }
}

/// A prefix string (`10.10.2.0/24`, `fd00:10:2::/64`) of either family, host bits zero.
pub fn prefix(at: &At) -> Result<IpNet> {
    let text = at.str()?;
    let net: IpNet = text.parse().map_err(|_| at.error(format!("`{text}` is not an IP prefix")))?;
    if net.trunc() != net {
        return Err(at.error(format!("`{text}` has host bits set (the prefix is {})", net.trunc())));
    }
    Ok(net)
}

/// The value of each family among `found` (each with its JSON path): none
/// or one per family, since the language holds one IPv4 and one IPv6 value
/// of a kind. A second of one family is an error at its path; `what` names
/// the kind (`InternalIP`) and `owner` what holds it (`node`).
pub fn one_per_family(
    found: &[(IpAddr, String)],
    what: &str,
    owner: &str,
) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for (ip, path) in found {
        match ip {
            IpAddr::V4(ip) => v4.push((*ip, path.as_str())),
            IpAddr::V6(ip) => v6.push((*ip, path.as_str())),
        }
    }
    Ok((at_most_one(&v4, "IPv4", what, owner)?, at_most_one(&v6, "IPv6", what, owner)?))
}

/// [`one_per_family`] for prefixes.
pub fn one_prefix_per_family(
    found: &[(IpNet, String)],
    what: &str,
    owner: &str,
) -> Result<(Option<Ipv4Net>, Option<Ipv6Net>)> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for (net, path) in found {
        match net {
            IpNet::V4(net) => v4.push((*net, path.as_str())),
            IpNet::V6(net) => v6.push((*net, path.as_str())),
        }
    }
    Ok((at_most_one(&v4, "IPv4", what, owner)?, at_most_one(&v6, "IPv6", what, owner)?))
}

fn at_most_one<T: Display + Copy>(found: &[(T, &str)], family: &str, what: &str, owner: &str) -> Result<Option<T>> {
    match found {
        [] => Ok(None),
        [(one, _)] => Ok(Some(*one)),
        [(a, _), (b, b_path), ..] => Err(PathError::new(
            b_path,
            format!("is a second {family} {what} ({b}, besides {a}); the language holds one per family per {owner}"),
        )),
    }
}
