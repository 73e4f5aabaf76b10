//! The URL students open, and its QR code. `--public-url` wins; otherwise it is derived from the address the
//! server listens on, and when that is every interface (`0.0.0.0`, `[::]`) from this machine's first network
//! address, read afresh on each request (a laptop that joins the classroom's Wi-Fi after starting the lab still
//! shows the right one).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};

use protocol::{JoinLink, JoinUrlSource};
use qrcode::render::svg;
use qrcode::QrCode;

/// Interface names that are usually virtual (containers, bridges, VMs): their addresses are not where students
/// are, so they come last.
const VIRTUAL_INTERFACE_PREFIXES: [&str; 6] = ["docker", "br-", "veth", "virbr", "vmnet", "lxc"];

pub struct JoinLinks {
    configured: Option<String>,
    /// Where the server listens: the configured address until the listener is bound, then the bound one (which
    /// knows the port when the configuration said 0).
    listening: Mutex<SocketAddr>,
}

impl JoinLinks {
    pub fn new(configured: Option<String>, addr: SocketAddr) -> Self {
        Self { configured, listening: Mutex::new(addr) }
    }

    pub fn listening_on(&self, addr: SocketAddr) {
        *self.listening.lock().unwrap_or_else(PoisonError::into_inner) = addr;
    }

    /// The address the server is bound to (once bound), which the webhook sender uses to reach the lab's own
    /// receiver.
    pub fn listening(&self) -> SocketAddr {
        *self.listening.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn current(&self) -> JoinLink {
        if let Some(url) = &self.configured {
            return JoinLink { url: url.clone(), source: JoinUrlSource::Configured };
        }
        let addr = *self.listening.lock().unwrap_or_else(PoisonError::into_inner);
        derive(addr, || network_addresses().unwrap_or_default())
    }
}

/// This machine's IPv4 addresses with their interface names.
fn network_addresses() -> std::io::Result<Vec<(String, Ipv4Addr)>> {
    Ok(if_addrs::get_if_addrs()?
        .into_iter()
        .filter_map(|interface| match interface.ip() {
            IpAddr::V4(ip) => Some((interface.name, ip)),
            IpAddr::V6(_) => None,
        })
        .collect())
}

/// The join link for a server listening on `addr`; `addresses` is asked only when it listens everywhere.
pub fn derive(addr: SocketAddr, addresses: impl FnOnce() -> Vec<(String, Ipv4Addr)>) -> JoinLink {
    let port = addr.port();
    let ip = addr.ip();
    if ip.is_unspecified() {
        return match first_network_address(&addresses()) {
            Some(ip) => JoinLink { url: format!("http://{ip}:{port}/"), source: JoinUrlSource::Interface },
            None => JoinLink { url: format!("http://127.0.0.1:{port}/"), source: JoinUrlSource::LoopbackOnly },
        };
    }
    let source = if ip.is_loopback() { JoinUrlSource::LoopbackOnly } else { JoinUrlSource::ListenAddress };
    // SocketAddr's Display writes an IPv6 address in brackets, as a URL needs.
    JoinLink { url: format!("http://{addr}/"), source }
}

/// The first IPv4 address that another machine could reach: not loopback, not link-local (169.254/16, which
/// means DHCP failed), and on a real interface before a virtual one.
fn first_network_address(addresses: &[(String, Ipv4Addr)]) -> Option<Ipv4Addr> {
    let usable = || addresses.iter().filter(|(_, ip)| !ip.is_loopback() && !ip.is_link_local() && !ip.is_unspecified());
    let is_virtual = |name: &str| VIRTUAL_INTERFACE_PREFIXES.iter().any(|prefix| name.starts_with(prefix));
    usable().find(|(name, _)| !is_virtual(name)).or_else(|| usable().next()).map(|(_, ip)| *ip)
}

/// The join URL as an SVG QR code, black on white with the standard quiet zone, for the presenter view.
pub fn qr_svg(url: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::new(url.as_bytes())?;
    Ok(code
        .render::<svg::Color>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses() -> Vec<(String, Ipv4Addr)> {
        vec![
            ("lo".into(), Ipv4Addr::LOCALHOST),
            ("docker0".into(), Ipv4Addr::new(172, 17, 0, 1)),
            ("eth0".into(), Ipv4Addr::new(169, 254, 3, 4)),
            ("wlan0".into(), Ipv4Addr::new(192, 168, 1, 20)),
        ]
    }

    #[test]
    fn listening_everywhere_uses_the_first_real_network_address() {
        let link = derive("0.0.0.0:3000".parse().unwrap(), addresses);
        assert_eq!(link, JoinLink { url: "http://192.168.1.20:3000/".into(), source: JoinUrlSource::Interface });
        let v6 = derive("[::]:3001".parse().unwrap(), addresses);
        assert_eq!(v6.url, "http://192.168.1.20:3001/");
    }

    #[test]
    fn a_virtual_interface_is_better_than_none() {
        let only_docker = || vec![("lo".into(), Ipv4Addr::LOCALHOST), ("docker0".into(), Ipv4Addr::new(172, 17, 0, 1))];
        assert_eq!(derive("0.0.0.0:3000".parse().unwrap(), only_docker).url, "http://172.17.0.1:3000/");
        let nothing = derive("0.0.0.0:3000".parse().unwrap(), Vec::new);
        assert_eq!(nothing.source, JoinUrlSource::LoopbackOnly);
    }

    #[test]
    fn a_specific_address_is_used_as_it_is() {
        let loopback = derive("127.0.0.1:3000".parse().unwrap(), || unreachable!("not asked"));
        assert_eq!(loopback, JoinLink { url: "http://127.0.0.1:3000/".into(), source: JoinUrlSource::LoopbackOnly });
        let lan = derive("10.1.2.3:8080".parse().unwrap(), Vec::new);
        assert_eq!(lan, JoinLink { url: "http://10.1.2.3:8080/".into(), source: JoinUrlSource::ListenAddress });
        assert_eq!(derive("[fd00::5]:3000".parse().unwrap(), Vec::new).url, "http://[fd00::5]:3000/");
    }

    #[test]
    fn the_configured_url_wins_and_the_bound_port_replaces_zero() {
        let links = JoinLinks::new(Some("https://lab.school.example/".into()), "0.0.0.0:3000".parse().unwrap());
        assert_eq!(links.current().source, JoinUrlSource::Configured);
        let links = JoinLinks::new(None, "127.0.0.1:0".parse().unwrap());
        links.listening_on("127.0.0.1:4567".parse().unwrap());
        assert_eq!(links.current().url, "http://127.0.0.1:4567/");
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = qr_svg("http://192.168.1.20:3000/").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"));
    }
}
