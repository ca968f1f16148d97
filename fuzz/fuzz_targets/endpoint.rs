//! Endpoint URLs and the outbound policy: checking any text is total; an
//! accepted URL is http(s) without credentials and, when its host is a
//! literal address, that address passes the policy. An IPv4 address and its
//! IPv4-mapped IPv6 form always get the same answer.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use dutyhook_delivery::outbound::{check_endpoint, Base, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let policies = [
        Policy::default(),
        Policy { base: Base::PublicOnly, ..Default::default() },
    ];
    if data.len() >= 4 {
        let v4 = Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        for p in &policies {
            assert_eq!(
                p.check(IpAddr::V4(v4)).is_ok(),
                p.check(IpAddr::V6(v4.to_ipv6_mapped())).is_ok(),
                "{v4}"
            );
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for p in &policies {
        let Ok(url) = check_endpoint(text, p) else {
            continue;
        };
        assert!(matches!(url.scheme(), "http" | "https"), "{text}");
        assert!(url.username().is_empty() && url.password().is_none());
        match url.host() {
            Some(url::Host::Ipv4(ip)) => assert!(p.check(IpAddr::V4(ip)).is_ok(), "{text}"),
            Some(url::Host::Ipv6(ip)) => assert!(p.check(IpAddr::V6(ip)).is_ok(), "{text}"),
            _ => {}
        }
    }
});
