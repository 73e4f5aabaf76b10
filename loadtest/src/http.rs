//! One HTTP/1.1 connection per client, reused for every request, as a browser tab keeps its own keep-alive
//! connection. (reqwest would pool connections across all clients, which no set of browsers does.)

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::counting::CountingStream;
use crate::error::LoadError;
use crate::stats::Recorder;

/// A SYN into a full accept queue is retried by the kernel for minutes; a client should give up much sooner.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server is: resolved once, so ten thousand clients do not each ask the resolver.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port`, for the `Host` header and WebSocket URLs.
    pub authority: String,
}

impl Target {
    pub async fn resolve(url: &str) -> Result<Self, LoadError> {
        let bad = |reason: &str| LoadError::Url { url: url.to_string(), reason: reason.to_string() };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(bad("only http:// is supported"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await?
            .next()
            .ok_or_else(|| bad("the host name resolves to no address"))?;
        Ok(Self { addr, authority: format!("{}:{port}", authority.host()) })
    }

    /// A bare `host:port` (MQTT over TCP has no URL scheme the tools agree on).
    pub async fn resolve_host_port(host_port: &str) -> Result<Self, LoadError> {
        let bad = |reason: &str| LoadError::Url { url: host_port.to_string(), reason: reason.to_string() };
        if host_port.contains("://") {
            return Err(bad("host:port, without a scheme"));
        }
        let (host, port) = host_port.rsplit_once(':').ok_or_else(|| bad("not host:port"))?;
        let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| bad("the host name resolves to no address"))?;
        Ok(Self { addr, authority: host_port.to_string() })
    }

    /// A new TCP connection whose bytes are counted into `recorder`.
    pub async fn connect(&self, recorder: Recorder) -> Result<CountingStream<TcpStream>, LoadError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(self.addr))
            .await
            .map_err(|_| LoadError::Protocol(format!("connecting to {} timed out", self.addr)))??;
        // Events are small and latency is what is measured: no Nagle delay on requests or WebSocket pongs.
        stream.set_nodelay(true)?;
        Ok(CountingStream::new(stream, recorder))
    }
}

pub struct HttpClient {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    recorder: Recorder,
}

impl HttpClient {
    pub async fn connect(target: &Target, recorder: Recorder) -> Result<Self, LoadError> {
        let stream = target.connect(recorder.clone()).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection's own errors reach the sender as the next request's error, so nothing is lost here.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self { sender, authority: target.authority.clone(), recorder })
    }

    /// The server closed this connection (servers close idle keep-alive connections, the lab after 10 s).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    pub async fn get(&mut self, path: &str) -> Result<Response<Incoming>, LoadError> {
        self.send(Method::GET, path, None, Full::default()).await
    }

    /// A request for a response that never ends, accepting `media_type` (`text/event-stream`, NDJSON).
    pub async fn get_stream(&mut self, path: &str, media_type: &'static str) -> Result<Response<Incoming>, LoadError> {
        self.send(Method::GET, path, Some((ACCEPT, media_type)), Full::default()).await
    }

    /// A JSON POST, as the teacher when `teacher_key` is given (the generator is the teacher's to change).
    pub async fn post_json(
        &mut self,
        path: &str,
        body: &impl Serialize,
        teacher_key: Option<&str>,
    ) -> Result<Bytes, LoadError> {
        let body = Full::new(Bytes::from(serde_json::to_vec(body)?));
        let mut request = self.request(Method::POST, path).header(CONTENT_TYPE, "application/json");
        if let Some(key) = teacher_key {
            request = request.header(protocol::headers::TEACHER_KEY, key);
        }
        let response = self.send_request(request.body(body)?).await?;
        ok_body(response, path).await
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        header: Option<(hyper::header::HeaderName, &'static str)>,
        body: Full<Bytes>,
    ) -> Result<Response<Incoming>, LoadError> {
        let mut request = self.request(method, path);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        self.send_request(request.body(body)?).await
    }

    fn request(&self, method: Method, path: &str) -> hyper::http::request::Builder {
        Request::builder().method(method).uri(path).header(HOST, &self.authority)
    }

    async fn send_request(&mut self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, LoadError> {
        self.sender.ready().await?;
        self.recorder.request();
        Ok(self.sender.send_request(request).await?)
    }
}

/// The whole body of a 2xx answer; anything else is an error naming the path and status.
pub async fn ok_body(response: Response<Incoming>, path: &str) -> Result<Bytes, LoadError> {
    let status = response.status();
    // Read the body either way, so the connection is ready for the next request.
    let body = response.into_body().collect().await?.to_bytes();
    if status.is_success() {
        Ok(body)
    } else {
        Err(LoadError::Status { path: path.to_string(), status })
    }
}

pub fn expect_status(response: &Response<Incoming>, path: &str, expected: StatusCode) -> Result<(), LoadError> {
    if response.status() == expected {
        Ok(())
    } else {
        Err(LoadError::Status { path: path.to_string(), status: response.status() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn host_port_resolves_and_bad_ones_say_why() {
        let target = Target::resolve_host_port("127.0.0.1:1883").await.unwrap();
        assert_eq!(target.addr, ([127, 0, 0, 1], 1883).into());
        assert_eq!(target.authority, "127.0.0.1:1883");
        let v6 = Target::resolve_host_port("[::1]:1883").await.unwrap();
        assert_eq!(v6.addr.port(), 1883);
        assert!(v6.addr.is_ipv6());
        for bad in ["127.0.0.1", "127.0.0.1:port", "127.0.0.1:70000", "mqtt://127.0.0.1:1883"] {
            assert!(
                matches!(Target::resolve_host_port(bad).await, Err(LoadError::Url { .. })),
                "{bad} should be refused"
            );
        }
    }
}
