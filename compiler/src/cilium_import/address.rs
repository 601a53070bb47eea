//! The one place where addresses from the inputs become language values.
//! The importer reads IPv4 only for now (the language has dual stack): an
//! IPv6 address or prefix is kept out of the cluster and listed in the
//! report as not imported (with its JSON path), never dropped silently and
//! never an error. When the importer learns IPv6, [`address`] and [`prefix`]
//! return either family and [`not_imported`] goes away.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

use super::json::{At, Result};
use super::report::Notes;

fn not_imported(at: &At, object: &str, notes: &mut Notes) {
    notes.skip(&at.path, object, format!("IPv6 {}: not imported yet (the importer reads IPv4 only)", at.value));
}

/// An address string (`10.10.2.121`, `fd00::1`) of either family.
pub fn parse_address(at: &At) -> Result<IpAddr> {
    let text = at.str()?;
    text.parse().map_err(|_| at.error(format!("`{text}` is not an IP address")))
}

/// The IPv4 address at `at`, or `None` (noted) for an IPv6 one.
pub fn address(at: &At, object: &str, notes: &mut Notes) -> Result<Option<Ipv4Addr>> {
    Ok(match parse_address(at)? {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => {
            not_imported(at, object, notes);
            None
        }
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
        IpNet::V4(v4) => Some(v4),
        IpNet::V6(_) => {
            not_imported(at, object, notes);
            None
        }
    })
}
