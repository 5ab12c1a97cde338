//! Where webhooks may go: http(s) URLs whose addresses are public. Private, loopback,
//! link-local, CGNAT and other non-public ranges are refused (unless
//! `OPENPARTNER_WEBHOOKS_ALLOW_PRIVATE`), when an endpoint is saved and again when a delivery
//! connects: the delivery client resolves names through [`GuardedResolver`], which refuses
//! them there, so a name that changed its address meanwhile (DNS rebinding) is caught at
//! the very connection.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use url::{Host, Url};

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// Not an absolute http(s) URL (400 `invalid_body`).
    Invalid(&'static str),
    /// It resolves to an address that is not public (400 `url_not_allowed`).
    NotAllowed(String),
}

/// How long saving an endpoint waits for its name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks an endpoint URL when it is saved. A name that does not resolve now is accepted: the
/// check at delivery time decides once it does.
pub async fn check(raw: &str, allow_private: bool) -> Result<Url, UrlError> {
    let url = parse(raw)?;
    if allow_private {
        return Ok(url);
    }
    match url.host() {
        Some(Host::Ipv4(ip)) => refuse_ip(IpAddr::V4(ip))?,
        Some(Host::Ipv6(ip)) => refuse_ip(IpAddr::V6(ip))?,
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                return Err(UrlError::NotAllowed(format!("{name} is a loopback name")));
            }
            let port = url.port_or_known_default().unwrap_or(443);
            let lookup = tokio::net::lookup_host((name.as_str(), port));
            if let Ok(Ok(addrs)) = tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
                for addr in addrs {
                    refuse_ip(addr.ip())?;
                }
            }
        }
        None => return Err(UrlError::Invalid("must have a host")),
    }
    Ok(url)
}

/// The URL's shape: absolute, http or https, with a host, at most 2000 characters.
pub fn parse(raw: &str) -> Result<Url, UrlError> {
    if raw.len() > 2000 {
        return Err(UrlError::Invalid("must be at most 2000 characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|_| UrlError::Invalid("must be an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Invalid("must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::Invalid("must have a host"));
    }
    Ok(url)
}

/// The address literally in the URL, checked (names are checked by the resolver).
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), UrlError> {
    if allow_private {
        return Ok(());
    }
    match url.host() {
        Some(Host::Ipv4(ip)) => refuse_ip(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => refuse_ip(IpAddr::V6(ip)),
        _ => Ok(()),
    }
}

fn refuse_ip(ip: IpAddr) -> Result<(), UrlError> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(UrlError::NotAllowed(format!(
            "{ip} is a private, loopback, link-local or otherwise non-public address"
        )))
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // 6to4 (2002::/16) carries an IPv4 address in segments 1-2: judge that address.
            if s[0] == 0x2002 {
                let [a, b] = [s[1].to_be_bytes(), s[2].to_be_bytes()];
                return is_public_v4(Ipv4Addr::new(a[0], a[1], b[0], b[1]));
            }
            // Teredo (2001::/32) tunnels to addresses we cannot judge: refused.
            if s[0] == 0x2001 && s[1] == 0 {
                return false;
            }
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = [s[6].to_be_bytes(), s[7].to_be_bytes()];
                return is_public_v4(Ipv4Addr::new(a[0], a[1], b[0], b[1]));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
                || s[..6] == [0, 0, 0, 0, 0xffff, 0]) // IPv4-translated ::ffff:0:a.b.c.d
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}

/// The delivery client's resolver: resolves like the system does, then refuses the whole
/// name if any of its addresses is not public.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

/// The error a refused name fails its connection with.
#[derive(Debug)]
pub struct PrivateAddress(pub String);

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "url_not_allowed: {}", self.0)
    }
}

impl std::error::Error for PrivateAddress {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                    let err = PrivateAddress(format!("{host} resolves to {}", bad.ip()));
                    return Err(Box::new(err) as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether an error chain holds the resolver's refusal.
pub fn refused_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(p) = err.downcast_ref::<PrivateAddress>() {
            return Some(p.to_string());
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn non_public_ranges_are_refused() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!public(s), "{s}");
        }
        for s in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(public(s), "{s}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_when_saved() {
        assert!(check("https://8.8.8.8/hook", false).await.is_ok());
        for bad in [
            "http://127.0.0.1:9/x",
            "http://[::1]/x",
            "http://localhost:8080/x",
            "http://10.0.0.1/",
        ] {
            assert!(
                matches!(check(bad, false).await, Err(UrlError::NotAllowed(_))),
                "{bad}"
            );
            assert!(check(bad, true).await.is_ok(), "{bad}");
        }
        for bad in ["ftp://example.com/", "example.com/hook", "http://"] {
            assert!(
                matches!(check(bad, true).await, Err(UrlError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
