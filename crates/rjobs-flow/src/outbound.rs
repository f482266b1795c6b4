//! Which addresses a workflow's outbound requests may reach.
//!
//! Why: the HTTP node runs requests that any application token can configure, from inside the
//! server's network. Without a policy a flow reaches the server's own `/metrics`, databases on
//! loopback, other hosts of the private network and cloud metadata services (169.254.169.254).
//! So by default every address that is not a public unicast address is refused: loopback,
//! private (RFC 1918, shared 100.64/10, IPv6 ULA fc00::/7), link-local (169.254/16, fe80::/10),
//! unspecified, "this network" 0/8, multicast, broadcast and reserved ranges. IPv4-mapped,
//! IPv4-compatible and NAT64 IPv6 forms are judged as the IPv4 address they carry. The setting
//! `outbound.allow_nets` (`RJOBS_OUTBOUND__ALLOW_NETS`) opens specific ranges.
//!
//! Where it is enforced (see [`crate::http`]): a host name is judged on the addresses it resolves
//! to, inside the client's DNS resolver, so the address checked is the address connected to (no
//! DNS-rebinding window); an IP literal (the URL parser has already turned `2130706433`,
//! `0x7f.1` and `0177.0.0.1` into `127.0.0.1`) is judged before the request and on every redirect.
//! The decision itself is the pure function [`OutboundPolicy::check`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::error::NodeError;

/// The name of the setting that opens ranges, for error messages.
pub const SETTING: &str = "outbound.allow_nets (RJOBS_OUTBOUND__ALLOW_NETS)";

/// The outbound address policy: deny non-public addresses unless a listed net allows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    pub allow_nets: Vec<IpNet>,
}

impl OutboundPolicy {
    /// Parses a comma-separated list of CIDRs (a bare address is a single-address net).
    pub fn parse(list: &str) -> Result<OutboundPolicy, NodeError> {
        let mut allow_nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    NodeError::invalid(
                        SETTING,
                        format!("{item:?} is not a CIDR such as 10.0.0.0/8"),
                    )
                })?;
            allow_nets.push(net);
        }
        Ok(OutboundPolicy { allow_nets })
    }

    /// `Ok` when `ip` may be connected to; `Err` names the address, why, and the setting.
    pub fn check(&self, ip: IpAddr) -> Result<(), NodeError> {
        let carried = canonical(ip);
        if self
            .allow_nets
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&carried))
        {
            return Ok(());
        }
        match denied_kind(carried) {
            None => Ok(()),
            Some(kind) => Err(NodeError::Denied { ip, kind }),
        }
    }
}

/// The IPv4 address an IPv6 address carries (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`,
/// NAT64 `64:ff9b::a.b.c.d`), or the address itself.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let compatible = s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified();
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if compatible || nat64 {
        IpAddr::V4(tail)
    } else {
        ip
    }
}

fn denied_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => denied_v4(v4),
        IpAddr::V6(v6) => denied_v6(v6),
    }
}

fn denied_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() || (o[0] == 100 && (o[1] & 0xc0) == 64) {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if ip.is_unspecified() || o[0] == 0 {
        "unspecified"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast() || o[0] >= 240 {
        "reserved"
    } else {
        return None;
    })
}

fn denied_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s0 = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if (s0 & 0xfe00) == 0xfc00 {
        "private"
    } else if (s0 & 0xffc0) == 0xfe80 || (s0 & 0xffc0) == 0xfec0 {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied(p: &OutboundPolicy, ip: &str) -> bool {
        p.check(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn defaults_deny_internal_ranges() {
        let p = OutboundPolicy::default();
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
        ] {
            assert!(denied(&p, ip), "{ip} should be denied");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!denied(&p, ip), "{ip} should be allowed");
        }
        let e = p
            .check("127.0.0.1".parse().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("loopback") && e.contains("RJOBS_OUTBOUND__ALLOW_NETS"),
            "{e}"
        );
    }

    #[test]
    fn allow_nets_open_ranges() {
        let p = OutboundPolicy::parse("127.0.0.1/32, 10.0.0.0/8,fd00::/8, 192.168.0.7").unwrap();
        assert!(!denied(&p, "127.0.0.1"));
        assert!(!denied(&p, "::ffff:127.0.0.1"));
        assert!(denied(&p, "127.0.0.2"));
        assert!(!denied(&p, "10.9.9.9"));
        assert!(!denied(&p, "fd00::5"));
        assert!(!denied(&p, "192.168.0.7"));
        assert!(denied(&p, "192.168.0.8"));
        assert!(denied(&p, "169.254.169.254"));
        assert!(OutboundPolicy::parse("10.0.0.0/33")
            .unwrap_err()
            .to_string()
            .contains("allow_nets"));
        assert_eq!(
            OutboundPolicy::parse(" ").unwrap(),
            OutboundPolicy::default()
        );
    }
}
