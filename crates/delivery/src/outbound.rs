//! The outbound policy (`delivery.md`, "Outbound safety"): which addresses a
//! push may connect to. Checked on every resolved address before connecting,
//! and on the literal host of an endpoint when it is saved.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Base {
    /// Deny link-local, unspecified, multicast and broadcast; allow the rest.
    #[default]
    Default,
    /// Also deny loopback and private ranges.
    PublicOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub base: Base,
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("address {addr} is blocked by {rule}")]
pub struct Blocked {
    pub addr: IpAddr,
    pub rule: String,
}

const ALWAYS_DENIED: [(&str, &str); 8] = [
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("fe80::/10", "link-local"),
    ("0.0.0.0/8", "unspecified"),
    ("::/128", "unspecified"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
];

const PRIVATE: [(&str, &str); 7] = [
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "shared address space"),
    ("fc00::/7", "unique local"),
];

fn net(s: &str) -> IpNet {
    s.parse().expect("built-in CIDR")
}

/// IPv4 addresses an IPv6 address stands for: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`), 6to4 (`2002::/16`) and
/// Teredo (`2001::/32`, client address inverted).
pub fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]));
    }
    None
}

impl Policy {
    fn base_rule(&self, ip: IpAddr) -> Option<String> {
        let lists: &[&[(&str, &str)]] = match self.base {
            Base::Default => &[&ALWAYS_DENIED],
            Base::PublicOnly => &[&ALWAYS_DENIED, &PRIVATE],
        };
        for list in lists {
            for (cidr, why) in list.iter() {
                if net(cidr).contains(&ip) {
                    return Some(format!(
                        "the {} policy ({why}, {cidr})",
                        policy_name(self.base)
                    ));
                }
            }
        }
        None
    }

    fn check_one(&self, ip: IpAddr) -> Result<(), String> {
        if let Some(n) = self.deny.iter().find(|n| n.contains(&ip)) {
            return Err(format!("the deny list ({n})"));
        }
        if self.allow.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        match self.base_rule(ip) {
            Some(rule) => Err(rule),
            None => Ok(()),
        }
    }

    /// Checks an address and, for IPv6, the IPv4 address it embeds: both must pass.
    pub fn check(&self, ip: IpAddr) -> Result<(), Blocked> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let blocked = |rule| Blocked { addr: ip, rule };
        self.check_one(ip).map_err(blocked)?;
        if let IpAddr::V6(v6) = ip {
            if let Some(v4) = embedded_v4(v6) {
                self.check_one(IpAddr::V4(v4)).map_err(|rule| Blocked {
                    addr: ip,
                    rule: format!("{rule}, via embedded IPv4 {v4}"),
                })?;
            }
        }
        Ok(())
    }
}

fn policy_name(b: Base) -> &'static str {
    match b {
        Base::Default => "default",
        Base::PublicOnly => "public-only",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("{0:?} is not a URL: {1}")]
    Malformed(String, String),
    #[error("only http:// and https:// endpoints are accepted, not {0}://")]
    Scheme(String),
    #[error("the endpoint has no host: write it as http://HOST/… or https://HOST/…")]
    NoHost,
    #[error("the endpoint must not carry a user name or password")]
    Credentials,
    #[error("the endpoint is longer than 2048 characters")]
    TooLong,
    #[error(transparent)]
    Blocked(#[from] Blocked),
}

/// Parses an endpoint the way the push will (WHATWG URL rules: decimal, hex
/// and octal IPv4 forms become dotted addresses) and refuses a literal
/// address the policy blocks. Host names are checked at push time instead.
pub fn check_endpoint(endpoint: &str, policy: &Policy) -> Result<url::Url, EndpointError> {
    if endpoint.len() > 2048 {
        return Err(EndpointError::TooLong);
    }
    let url = url::Url::parse(endpoint)
        .map_err(|e| EndpointError::Malformed(endpoint.to_string(), e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(EndpointError::Scheme(url.scheme().to_string()));
    }
    // WHATWG parsing takes `http:///x`, `http:/x` and `http:x` as host `x`:
    // a person who wrote one of those most likely left the host out.
    let authority = endpoint
        .split_once(':')
        .and_then(|(_, rest)| rest.strip_prefix("//"));
    if !authority.is_some_and(|a| !a.is_empty() && !a.starts_with(['/', '\\', '?', '#'])) {
        return Err(EndpointError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::Credentials);
    }
    check_literal_host(&url, policy)?;
    Ok(url)
}

/// Refuses an endpoint whose host is an address the policy blocks; a host
/// name is checked when it resolves. Cheap enough for every push of an
/// endpoint [`check_endpoint`] parsed earlier.
pub fn check_literal_host(url: &url::Url, policy: &Policy) -> Result<(), EndpointError> {
    match url.host() {
        None => Err(EndpointError::NoHost),
        Some(url::Host::Ipv4(v4)) => Ok(policy.check(IpAddr::V4(v4))?),
        Some(url::Host::Ipv6(v6)) => Ok(policy.check(IpAddr::V6(v6))?),
        Some(url::Host::Domain(_)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_policy() {
        let p = Policy::default();
        for ok in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "8.8.8.8",
            "::1",
            "2606:4700::1111",
        ] {
            assert!(p.check(ip(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "169.254.169.254",
            "0.0.0.0",
            "::",
            "fe80::1",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(p.check(ip(bad)).is_err(), "{bad}");
        }
        let e = p.check(ip("169.254.169.254")).unwrap_err().to_string();
        assert!(
            e.contains("169.254.169.254") && e.contains("link-local"),
            "{e}"
        );
    }

    #[test]
    fn public_only_and_embedded_forms() {
        let p = Policy {
            base: Base::PublicOnly,
            ..Default::default()
        };
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.0.1",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fd12::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
        ] {
            assert!(p.check(ip(bad)).is_err(), "{bad} must be blocked");
        }
        for ok in [
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
            "2606:4700::1111",
        ] {
            assert!(p.check(ip(ok)).is_ok(), "{ok}");
        }
    }

    #[test]
    fn allow_and_deny_refine_deny_wins() {
        let p = Policy {
            base: Base::PublicOnly,
            allow: vec!["10.20.0.0/16".parse().unwrap()],
            deny: vec![
                "10.20.30.0/24".parse().unwrap(),
                "8.8.4.0/24".parse().unwrap(),
            ],
        };
        assert!(p.check(ip("10.20.1.1")).is_ok(), "allowed explicitly");
        assert!(p.check(ip("10.20.30.1")).is_err(), "deny wins over allow");
        assert!(p.check(ip("8.8.4.4")).is_err());
        assert!(p.check(ip("10.21.0.1")).is_err());
    }

    #[test]
    fn endpoints_on_save() {
        let p = Policy {
            base: Base::PublicOnly,
            ..Default::default()
        };
        for blocked in [
            "http://127.0.0.1/x",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0/",
            "http://[::]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://169.254.169.254/latest",
            "http://0.0.0.0:8080/",
        ] {
            assert!(
                matches!(check_endpoint(blocked, &p), Err(EndpointError::Blocked(_))),
                "{blocked}"
            );
        }
        assert!(matches!(
            check_endpoint("ftp://example.com/", &p),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            check_endpoint("file:///etc/passwd", &p),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            check_endpoint("gopher://x/", &p),
            Err(EndpointError::Scheme(_))
        ));
        assert!(matches!(
            check_endpoint("http://u:p@example.com/", &p),
            Err(EndpointError::Credentials)
        ));
        assert!(matches!(
            check_endpoint("not a url", &p),
            Err(EndpointError::Malformed(..))
        ));
        for hostless in [
            "http:///nohost",
            "http:/nohost",
            "http:nohost",
            "https:////x",
            "http:\\\\x/",
            "HTTP:///x",
        ] {
            assert!(
                matches!(check_endpoint(hostless, &p), Err(EndpointError::NoHost)),
                "{hostless}"
            );
        }
        assert!(check_endpoint("HTTPS://Hooks.Example.com/", &p).is_ok());
        assert!(check_endpoint("https://hooks.example.com/a?b=c", &p).is_ok());
        assert!(
            check_endpoint("http://localhost:9000/", &p).is_ok(),
            "names are checked when resolved"
        );
        assert!(check_endpoint("http://127.0.0.1:9000/", &Policy::default()).is_ok());
    }

    #[test]
    fn an_endpoint_parsed_earlier_is_checked_again_under_the_policy_of_the_push() {
        let saved = check_endpoint("http://127.0.0.1:9000/", &Policy::default()).unwrap();
        let public_only = Policy {
            base: Base::PublicOnly,
            ..Default::default()
        };
        assert!(matches!(
            check_literal_host(&saved, &public_only),
            Err(EndpointError::Blocked(_))
        ));
        let named = check_endpoint("http://localhost:9000/", &public_only).unwrap();
        assert!(check_literal_host(&named, &public_only).is_ok());
    }
}
