//! `cidrsubnet` and `cidrhost` for IPv4 and IPv6, on plain integers (`u32` widened to `u128`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A parsed prefix: the address as an integer, its width in bits and the prefix length.
struct Prefix {
    addr: u128,
    bits: u32,
    len: u32,
    v6: bool,
}

fn parse(prefix: &str) -> Result<Prefix, String> {
    let (addr, len) =
        prefix.split_once('/').ok_or_else(|| format!("{prefix:?} is not a CIDR prefix (ADDRESS/LENGTH)"))?;
    let len: u32 = len.parse().map_err(|_| format!("{len:?} is not a prefix length"))?;
    let ip: IpAddr = addr.parse().map_err(|_| format!("{addr:?} is not an IP address"))?;
    let (addr, bits, v6) = match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32, false),
        IpAddr::V6(a) => (u128::from(a), 128, true),
    };
    if len > bits {
        return Err(format!("prefix length {len} is longer than {bits} bits"));
    }
    Ok(Prefix { addr, bits, len, v6 })
}

fn network(p: &Prefix) -> u128 {
    let host_bits = p.bits - p.len;
    let host_mask = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    p.addr & !host_mask
}

fn show(addr: u128, v6: bool) -> String {
    if v6 {
        Ipv6Addr::from(addr).to_string()
    } else {
        // The value came from a `u32`, so it fits.
        Ipv4Addr::from(u32::try_from(addr).unwrap_or(u32::MAX)).to_string()
    }
}

/// `cidrsubnet(prefix, newbits, netnum)`: the `netnum`-th subnet `newbits` longer than `prefix`.
pub(super) fn cidrsubnet(prefix: &str, newbits: i64, netnum: i64) -> Result<String, String> {
    let p = parse(prefix)?;
    let newbits = u32::try_from(newbits).map_err(|_| "newbits must not be negative".to_owned())?;
    let new_len =
        p.len.checked_add(newbits).filter(|l| *l <= p.bits).ok_or_else(|| {
            format!("{} + {newbits} bits exceeds the {} bits of the address", p.len, p.bits)
        })?;
    let netnum = u128::try_from(netnum).map_err(|_| "netnum must not be negative".to_owned())?;
    if newbits < 128 && netnum >= (1u128 << newbits) {
        return Err(format!("netnum {netnum} does not fit in {newbits} bits"));
    }
    let shift = p.bits - new_len;
    let sub = if shift >= 128 { 0 } else { netnum << shift };
    Ok(format!("{}/{new_len}", show(network(&p) | sub, p.v6)))
}

/// `cidrhost(prefix, hostnum)`: the `hostnum`-th address in `prefix` (negative counts from the end).
pub(super) fn cidrhost(prefix: &str, hostnum: i64) -> Result<String, String> {
    let p = parse(prefix)?;
    let host_bits = p.bits - p.len;
    let size = if host_bits >= 128 { u128::MAX } else { 1u128 << host_bits };
    let n = u128::from(hostnum.unsigned_abs());
    let offset = if hostnum >= 0 { (n < size).then_some(n) } else { (n <= size).then(|| size - n) };
    let offset =
        offset.ok_or_else(|| format!("host number {hostnum} is outside the {host_bits}-bit host part"))?;
    Ok(show(network(&p) + offset, p.v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_subnets_follow_terraform() {
        assert_eq!(cidrsubnet("10.0.0.0/16", 8, 2).unwrap(), "10.0.2.0/24");
        assert_eq!(cidrsubnet("172.16.0.0/12", 4, 2).unwrap(), "172.18.0.0/16");
        assert_eq!(cidrsubnet("10.1.2.3/16", 0, 0).unwrap(), "10.1.0.0/16");
        assert!(cidrsubnet("10.0.0.0/16", 8, 256).is_err());
        assert!(cidrsubnet("10.0.0.0/30", 8, 0).is_err());
        assert!(cidrsubnet("10.0.0.0", 8, 0).is_err());
    }

    #[test]
    fn ipv6_subnets_follow_terraform() {
        // Terraform's documented example: the netnum lands in bits 56..72.
        assert_eq!(cidrsubnet("fd00:fd12:3456:7890::/56", 16, 162).unwrap(), "fd00:fd12:3456:7800:a200::/72");
        assert_eq!(cidrsubnet("2001:db8::/32", 16, 1).unwrap(), "2001:db8:1::/48");
    }

    #[test]
    fn hosts_count_from_both_ends() {
        assert_eq!(cidrhost("10.12.112.0/20", 16).unwrap(), "10.12.112.16");
        assert_eq!(cidrhost("10.12.112.0/20", 268).unwrap(), "10.12.113.12");
        assert_eq!(cidrhost("10.0.0.0/24", -1).unwrap(), "10.0.0.255");
        assert_eq!(cidrhost("fd00:fd12:3456:7890:00a2::/72", 34).unwrap(), "fd00:fd12:3456:7890::22");
        assert!(cidrhost("10.0.0.0/24", 256).is_err());
    }
}
