//! The client's address behind reverse proxies: `X-Forwarded-For` is
//! believed only when the connection comes from a trusted proxy, and then
//! read from the right, skipping the trusted proxies themselves, so a
//! client cannot pick its own address by sending the header.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        // Through the proxy: the address it saw.
        assert_eq!(
            client_ip(proxy, &headers(&["203.0.113.7"]), &trusted),
            client
        );
        // A client's own "X-Forwarded-For: 1.2.3.4" is left of what the proxy appended.
        let spoofed = headers(&["1.2.3.4, 203.0.113.7"]);
        assert_eq!(client_ip(proxy, &spoofed, &trusted), client);
        // Two proxies, two header lines.
        let two = headers(&["203.0.113.7", "10.0.0.9"]);
        assert_eq!(client_ip(proxy, &two, &trusted), client);
        // Straight from the client: the header is ignored.
        assert_eq!(client_ip(client, &headers(&["1.2.3.4"]), &trusted), client);
        // No proxies configured: never believed.
        assert_eq!(client_ip(proxy, &headers(&["1.2.3.4"]), &[]), proxy);
        // Nothing usable: the proxy's own address.
        assert_eq!(client_ip(proxy, &headers(&["garbage"]), &trusted), proxy);
    }
}
