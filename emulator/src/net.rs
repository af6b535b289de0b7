//! IPv4 prefixes, for the networking checks ("a subnet must lie inside its vnet").
//!
//! IPv6 prefixes are accepted without checks for now.

/// An IPv4 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: u32,
    len: u8,
}

/// A prefix that is neither valid IPv4 nor anything that looks like IPv6.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadPrefix;

impl Cidr {
    /// Parses `a.b.c.d/n`; `Ok(None)` for an IPv6 prefix.
    pub(crate) fn parse(s: &str) -> Result<Option<Cidr>, BadPrefix> {
        if s.contains(':') {
            return Ok(None);
        }
        let (addr, len) = s.split_once('/').ok_or(BadPrefix)?;
        let len: u8 = len.parse().map_err(|_| BadPrefix)?;
        let octets: Vec<u8> =
            addr.split('.').map(str::parse).collect::<Result<_, _>>().map_err(|_| BadPrefix)?;
        if octets.len() != 4 || len > 32 {
            return Err(BadPrefix);
        }
        let base = octets.iter().fold(0u32, |acc, o| (acc << 8) | u32::from(*o));
        Ok(Some(Cidr { base, len }))
    }

    fn mask(len: u8) -> u32 {
        if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) }
    }

    /// Whether `inner` lies entirely inside `self`.
    pub(crate) fn contains(&self, inner: &Cidr) -> bool {
        inner.len >= self.len && (inner.base & Cidr::mask(self.len)) == (self.base & Cidr::mask(self.len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containment() {
        let vnet = Cidr::parse("10.0.0.0/16").unwrap().unwrap();
        assert!(vnet.contains(&Cidr::parse("10.0.3.0/24").unwrap().unwrap()));
        assert!(!vnet.contains(&Cidr::parse("10.1.0.0/24").unwrap().unwrap()));
        assert!(!vnet.contains(&Cidr::parse("10.0.0.0/8").unwrap().unwrap()));
        assert_eq!(Cidr::parse("10.0.0/8"), Err(BadPrefix));
        assert_eq!(Cidr::parse("fd00::/64"), Ok(None));
    }
}
