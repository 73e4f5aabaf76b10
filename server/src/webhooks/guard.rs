//! The SSRF guard: a webhook URL makes the lab send requests wherever it points, so a page must not be able to aim
//! the lab at the school's router, a cloud metadata address or a printer. Only `http://` URLs whose every address
//! is loopback, or named by `--webhook-allow`, pass; the address vetted here is the one connected to (no second
//! DNS lookup that a rebinding name could answer differently).

use std::net::{IpAddr, SocketAddr};

use url::{Host, Position, Url};

use crate::config::WebhookAllow;
use crate::core::refusal::Refusal;

const MAX_URL_BYTES: usize = 2048;
/// A registration waits this long for the name to resolve (a lab without DNS must still answer promptly).
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where one endpoint's deliveries go: the vetted address, and what the request says (`Host`, path and query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub path: String,
    pub url: String,
}

fn refuse(reason: impl Into<String>) -> Refusal {
    Refusal::WebhookUrlRefused { reason: reason.into() }
}

/// The target of `raw`, or why it is refused. Resolves a host name once.
pub async fn vet(raw: &str, allow: &[WebhookAllow]) -> Result<Target, Refusal> {
    if raw.len() > MAX_URL_BYTES {
        return Err(refuse(format!("longer than {MAX_URL_BYTES} bytes")));
    }
    let url = Url::parse(raw).map_err(|error| refuse(format!("`{raw}` is not a URL: {error}")))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(refuse(
                "https:// is not offered: the lab's sender speaks plain http:// to loopback or to the hosts \
                 --webhook-allow names",
            ))
        }
        other => return Err(refuse(format!("only http:// URLs are delivered to, not `{other}:`"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("credentials in the URL (user:password@host) are not allowed"));
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let (name, addresses) = match url.host() {
        Some(Host::Ipv4(ip)) => (None, vec![IpAddr::V4(ip)]),
        Some(Host::Ipv6(ip)) => (None, vec![IpAddr::V6(ip)]),
        Some(Host::Domain(name)) => {
            let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
                .await
                .map_err(|_| refuse(format!("`{name}` cannot be resolved: no answer in {RESOLVE_TIMEOUT:?}")))?;
            let resolved = lookup.map_err(|error| refuse(format!("`{name}` cannot be resolved: {error}")))?;
            (Some(name), resolved.map(|addr| addr.ip()).collect())
        }
        None => return Err(refuse("the URL has no host")),
    };
    let ip = check_addresses(name, &addresses, allow).map_err(refuse)?;
    let host = url.host_str().unwrap_or_default();
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        host,
        path: url[Position::BeforePath..Position::AfterQuery].to_owned(),
        url: url.to_string(),
    })
}

/// The address to connect to, if every address the host has is allowed: loopback always, others only when
/// `--webhook-allow` names the host or a network holding the address. All of them, not just one, because the
/// operating system might have picked any.
pub fn check_addresses(name: Option<&str>, addresses: &[IpAddr], allow: &[WebhookAllow]) -> Result<IpAddr, String> {
    let first = *addresses.first().ok_or_else(|| format!("`{}` resolves to no address", name.unwrap_or("?")))?;
    if name.is_some_and(|name| allow.iter().any(|entry| matches!(entry, WebhookAllow::Host(host) if host == name))) {
        return Ok(first);
    }
    for ip in addresses {
        // `::ffff:10.0.0.1` is 10.0.0.1: judged as what it reaches.
        let ip = ip.to_canonical();
        let allowed = ip.is_loopback()
            || allow.iter().any(|entry| matches!(entry, WebhookAllow::Network(network) if network.contains(&ip)));
        if !allowed {
            let what = match name {
                Some(name) => format!("`{name}` resolves to {ip}, which"),
                None => ip.to_string(),
            };
            return Err(format!(
                "{what} is not a loopback address and --webhook-allow does not name it (only loopback is allowed \
                 by default)"
            ));
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    #[test]
    fn loopback_passes_and_the_rest_needs_naming() {
        assert!(check_addresses(None, &ips(&["127.0.0.1"]), &[]).is_ok());
        assert!(check_addresses(Some("localhost"), &ips(&["::1", "127.0.0.1"]), &[]).is_ok());
        assert!(check_addresses(None, &ips(&["::ffff:127.0.0.1"]), &[]).is_ok());
        for refused in [&["10.0.0.1"][..], &["0.0.0.0"], &["169.254.169.254"], &["::ffff:10.0.0.1"]] {
            assert!(check_addresses(None, &ips(refused), &[]).is_err(), "{refused:?}");
        }
        let network = [WebhookAllow::Network("10.0.0.0/8".parse().unwrap())];
        assert_eq!(check_addresses(None, &ips(&["10.1.2.3"]), &network), Ok("10.1.2.3".parse().unwrap()));
        assert!(check_addresses(None, &ips(&["11.1.2.3"]), &network).is_err());
    }

    #[test]
    fn a_name_resolving_anywhere_but_loopback_is_refused_unless_named() {
        let error = check_addresses(Some("intranet"), &ips(&["127.0.0.1", "192.168.1.1"]), &[]).unwrap_err();
        assert!(error.contains("`intranet` resolves to 192.168.1.1"), "{error}");
        let named = [WebhookAllow::Host("intranet".into())];
        assert!(check_addresses(Some("intranet"), &ips(&["192.168.1.1"]), &named).is_ok());
        assert!(check_addresses(Some("elsewhere"), &ips(&["192.168.1.1"]), &named).is_err());
        assert!(check_addresses(Some("nothing"), &[], &named).is_err());
    }

    #[tokio::test]
    async fn only_plain_http_without_credentials() {
        for (url, why) in [
            ("https://127.0.0.1/", "https"),
            ("ftp://127.0.0.1/", "ftp"),
            ("http://user:pw@127.0.0.1/", "credentials"),
            ("not a url", "not a URL"),
            ("http://10.0.0.1/", "loopback"),
        ] {
            let Err(Refusal::WebhookUrlRefused { reason }) = vet(url, &[]).await else { panic!("{url} passed") };
            assert!(reason.contains(why), "{url}: {reason}");
        }
        let target = vet("http://127.0.0.1:8080/hooks?x=1#frag", &[]).await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!((target.host.as_str(), target.path.as_str()), ("127.0.0.1:8080", "/hooks?x=1"));
        assert_eq!(vet("http://[::1]/", &[]).await.unwrap().host, "[::1]");
    }
}
