//! IPv4 address blocks, with the rules AWS applies to VPCs and subnets.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 CIDR block whose address is the network address (`10.0.1.0/24`, not `10.0.1.7/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: u32,
    prefix: u8,
}

impl Cidr {
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    fn last(&self) -> u32 {
        self.network | !self.mask()
    }

    pub fn contains_ip(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.network
    }

    /// True when every address of `other` is in `self`.
    pub fn contains(&self, other: &Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_ip(other.network())
    }

    pub fn overlaps(&self, other: &Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    pub fn is_world(&self) -> bool {
        self.prefix == 0
    }

    /// Why AWS would refuse this address for an instance in this subnet, if it would: the
    /// network address, the VPC router (+1), the DNS server (+2), the address reserved for
    /// future use (+3) and the broadcast address (last).
    pub fn reserved_reason(&self, ip: Ipv4Addr) -> Option<&'static str> {
        let ip = u32::from(ip);
        match ip.wrapping_sub(self.network) {
            0 => Some("the network address"),
            1 => Some("reserved by AWS for the VPC router"),
            2 => Some("reserved by AWS for the DNS server"),
            3 => Some("reserved by AWS for future use"),
            _ if ip == self.last() => Some("the broadcast address, reserved by AWS"),
            _ => None,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

/// Why a CIDR string was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum CidrError {
    Syntax,
    Prefix,
    /// Host bits set; carries the block that was probably meant.
    HostBits(Cidr),
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Syntax => write!(f, "expected an IPv4 block like `10.0.0.0/16`"),
            CidrError::Prefix => write!(f, "the prefix length must be between 0 and 32"),
            CidrError::HostBits(c) => write!(f, "host bits are set; the block is `{c}`"),
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrError::Syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| CidrError::Syntax)?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 2 {
            return Err(CidrError::Syntax);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Syntax)?;
        if prefix > 32 {
            return Err(CidrError::Prefix);
        }
        let raw = u32::from(addr);
        let cidr = Cidr { network: raw, prefix };
        let network = raw & cidr.mask();
        if network != raw {
            return Err(CidrError::HostBits(Cidr { network, prefix }));
        }
        Ok(cidr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_blocks() {
        let vpc: Cidr = "10.0.0.0/16".parse().unwrap();
        let sub: Cidr = "10.0.30.0/24".parse().unwrap();
        assert!(vpc.contains(&sub));
        assert!(!sub.contains(&vpc));
        assert!(vpc.overlaps(&sub));
        assert!(!sub.overlaps(&"10.0.31.0/24".parse().unwrap()));
        assert_eq!("10.0.1.7/24".parse::<Cidr>(), Err(CidrError::HostBits("10.0.1.0/24".parse().unwrap())));
        assert_eq!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::Prefix));
        assert_eq!("10.0.0/16".parse::<Cidr>(), Err(CidrError::Syntax));
        assert_eq!("10.0.0.0/+1".parse::<Cidr>(), Err(CidrError::Syntax));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().is_world());
    }

    #[test]
    fn knows_the_five_reserved_addresses() {
        let sub: Cidr = "10.0.30.0/24".parse().unwrap();
        for last in [0, 1, 2, 3, 255] {
            assert!(sub.reserved_reason(Ipv4Addr::new(10, 0, 30, last)).is_some(), "{last}");
        }
        assert_eq!(sub.reserved_reason(Ipv4Addr::new(10, 0, 30, 10)), None);
    }
}
