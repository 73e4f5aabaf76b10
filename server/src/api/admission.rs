//! Who may hold a long-lived connection (a held long poll, an SSE stream, a WebSocket): caps per transport and
//! per client address, and the WebSocket Origin check. Sized for a classroom: sixty students with a tab each hold
//! three such connections apiece.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap};
use protocol::Transport;

use crate::api::error::ApiError;
use crate::core::stats::LabCounters;

/// Seconds a refused client is told to wait (`Retry-After`).
const RETRY_AFTER_SECONDS: u64 = 5;

#[derive(Clone, Copy, Debug)]
pub struct ConnectionCaps {
    /// Most long-lived connections of one transport, across all clients.
    pub per_transport: u64,
    /// Most long-lived connections, all transports together, from one client address.
    pub per_address: usize,
}

#[derive(Clone)]
pub struct Admission {
    caps: ConnectionCaps,
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Origins allowed to open a WebSocket besides the page's own.
    allowed_origins: Arc<[String]>,
}

/// A client address's share of its cap, given back when the connection ends.
pub struct AddressPermit {
    address: IpAddr,
    by_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl AddressPermit {
    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut by_address = self.by_address.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                by_address.remove(&self.address);
            }
        }
    }
}

impl Admission {
    pub fn new(caps: ConnectionCaps, allowed_origins: Vec<String>) -> Self {
        Self { caps, by_address: Arc::default(), allowed_origins: allowed_origins.into() }
    }

    /// Admits one more long-lived connection of `transport` from `address`, or says why not.
    pub fn admit(
        &self,
        counters: &LabCounters,
        transport: Transport,
        address: IpAddr,
    ) -> Result<AddressPermit, ApiError> {
        if counters.of(transport).snapshot().open_connections >= self.caps.per_transport {
            return Err(ApiError::ServerBusy {
                message: format!("the server already holds {} {} connections", self.caps.per_transport, transport.id()),
                retry_after_seconds: RETRY_AFTER_SECONDS,
            });
        }
        let mut by_address = self.by_address.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = by_address.entry(address).or_insert(0);
        if *count >= self.caps.per_address {
            return Err(ApiError::TooManyConnections {
                message: format!(
                    "{address} already holds {} long-lived connections (long polls, SSE streams, WebSockets); close a tab",
                    self.caps.per_address
                ),
                retry_after_seconds: RETRY_AFTER_SECONDS,
            });
        }
        *count += 1;
        Ok(AddressPermit { address, by_address: self.by_address.clone() })
    }

    /// Refuses a WebSocket handshake, or a request that changes something, from a page on another site
    /// (cross-site WebSocket hijacking: browsers do not apply CORS to WebSockets; and request forgery). Clients that
    /// send no `Origin`, such as command-line tools, are not browsers acting for someone else, and are let in.
    pub fn check_origin(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        // An Origin that is not even text is no page's origin; it must not pass as none.
        let origin = origin.to_str().map_err(|_| ApiError::ForbiddenOrigin { origin: "(not text)".into() })?;
        let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).unwrap_or_default();
        // An origin is scheme, host and port. The lab serves plain HTTP, so its own page is `http://` + Host; an
        // `https://` page on the same host is another origin.
        let own = format!("http://{host}");
        if origin.eq_ignore_ascii_case(&own) || self.allowed_origins.iter().any(|allowed| allowed == origin) {
            Ok(())
        } else {
            Err(ApiError::ForbiddenOrigin { origin: origin.to_owned() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn same_origin_listed_origin_and_no_origin_pass() {
        let admission =
            Admission::new(ConnectionCaps { per_transport: 1, per_address: 1 }, vec!["http://class.example".into()]);
        assert!(admission.check_origin(&headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000")).is_ok());
        assert!(admission.check_origin(&headers(Some("http://class.example"), "127.0.0.1:3000")).is_ok());
        assert!(admission.check_origin(&headers(None, "127.0.0.1:3000")).is_ok());
        assert!(admission.check_origin(&headers(Some("http://evil.example"), "127.0.0.1:3000")).is_err());
        assert!(admission.check_origin(&headers(Some("http://127.0.0.1:3001"), "127.0.0.1:3000")).is_err());
        assert!(admission.check_origin(&headers(Some("https://127.0.0.1:3000"), "127.0.0.1:3000")).is_err());
        assert!(admission.check_origin(&headers(Some("ws://127.0.0.1:3000"), "127.0.0.1:3000")).is_err());
        assert!(admission.check_origin(&headers(Some("null"), "127.0.0.1:3000")).is_err());
        let mut not_text = headers(None, "127.0.0.1:3000");
        not_text.insert(header::ORIGIN, HeaderValue::from_bytes(b"http://\xff").unwrap());
        assert!(admission.check_origin(&not_text).is_err());
    }

    #[test]
    fn per_address_cap_is_released_when_permits_drop() {
        let admission = Admission::new(ConnectionCaps { per_transport: 100, per_address: 2 }, Vec::new());
        let counters = LabCounters::default();
        let address: IpAddr = "10.0.0.7".parse().unwrap();
        let first = admission.admit(&counters, Transport::Sse, address).unwrap();
        let _second = admission.admit(&counters, Transport::WebSocket, address).unwrap();
        assert!(matches!(
            admission.admit(&counters, Transport::Sse, address),
            Err(ApiError::TooManyConnections { .. })
        ));
        assert!(admission.admit(&counters, Transport::Sse, "10.0.0.8".parse().unwrap()).is_ok());
        drop(first);
        assert!(admission.admit(&counters, Transport::Sse, address).is_ok());
    }
}
