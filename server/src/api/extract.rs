//! Extractors that turn bad input into an [`ApiError`] naming the parameter or field, instead of axum's plain-text
//! rejections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::api::error::ApiError;

/// The query of a route that takes no parameters: one sent anyway is a mistake worth naming (a 400), not ignoring.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParameters {}

/// Query parameters, deserialized with the path of the offending parameter kept for the error.
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        parse_query(query).map(ValidQuery)
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    Ok(protocol::parse::parse_query(query)?)
}

/// The one segment a route's path names (`/api/lessons/{id}`…), or a 400 naming it with a JSON body (axum's own
/// rejection, for one that percent-decodes to bytes that are no UTF-8, is plain text).
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| PathId(id))
            .map_err(|rejection| ApiError::InvalidParameter { field: "id".into(), message: rejection.body_text() })
    }
}

/// A WebSocket handshake, or the `ApiError` saying why the request is not one (a plain GET, a wrong version…),
/// with a JSON body like every other refusal instead of axum's plain text.
pub struct Upgrade(pub axum::extract::ws::WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let upgrade =
            axum::extract::ws::WebSocketUpgrade::from_request_parts(parts, state).await.map_err(|rejection| {
                ApiError::NotAWebSocketHandshake { status: rejection.status(), message: rejection.body_text() }
            })?;
        // axum checks that a key is there, not what it is; RFC 6455 4.2.1 has the server refuse any other.
        let key = parts.headers.get(axum::http::header::SEC_WEBSOCKET_KEY);
        if key.is_some_and(|key| !is_websocket_key(key.as_bytes())) {
            return Err(ApiError::NotAWebSocketHandshake {
                status: StatusCode::BAD_REQUEST,
                message: "`Sec-WebSocket-Key` must be 16 bytes in base64: 24 characters ending in `==`".into(),
            });
        }
        Ok(Upgrade(upgrade))
    }
}

/// A `Sec-WebSocket-Key` as RFC 6455 defines it: 16 random bytes in base64, so 22 characters of the alphabet whose
/// last carries only 2 bits (`A`, `Q`, `g` or `w`), then `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    let in_alphabet = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/';
    key.len() == 24 && key.ends_with(b"==") && key[..22].iter().all(in_alphabet) && b"AQgw".contains(&key[21])
}

/// A WebSocket handshake the lab answers itself, checked as [`Upgrade`] checks it: the `101` to send and hyper's
/// promise of the connection once it is sent. The lab then writes the socket itself, from the hub's fan-out
/// (`transports::ws`), which axum's `WebSocket` would not let it reach.
pub struct Handshake {
    pub on_upgrade: hyper::upgrade::OnUpgrade,
    pub response: axum::response::Response,
}

impl<S: Send + Sync> FromRequestParts<S> for Handshake {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::http::{header, HeaderValue, StatusCode};
        // Taken before axum's check, which keeps the connection's promise to itself.
        let on_upgrade = parts.extensions.get::<hyper::upgrade::OnUpgrade>().cloned();
        let Upgrade(checked) = Upgrade::from_request_parts(parts, state).await?;
        drop(checked);
        // axum's check passed, so the promise was there; a key is there over HTTP/1.1, the only version the lab
        // upgrades (its HTTP/2 has no extended CONNECT).
        let key = parts.headers.get(header::SEC_WEBSOCKET_KEY);
        let (Some(on_upgrade), Some(key)) = (on_upgrade, key) else {
            return Err(ApiError::NotAWebSocketHandshake {
                status: StatusCode::BAD_REQUEST,
                message: "a WebSocket handshake over HTTP/1.1 is expected".into(),
            });
        };
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut response = axum::response::Response::new(axum::body::Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&accept).unwrap_or(HeaderValue::from_static("")),
        );
        Ok(Handshake { on_upgrade, response })
    }
}

/// The client's IP address, from the connection (see [`crate::serve()`]). Behind a reverse proxy every client would
/// share the proxy's address; the lab is meant to be reached directly.
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let address = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip());
        // Only a router served without connection info lacks it; such clients then share one cap.
        Ok(ClientAddress(address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}

/// The largest request body the server reads (the router's limit, said once so the 413 can name it). The largest
/// the lab itself sends is a webhook delivery to its own receiver: an event with 64 KiB of filler, or a tone's WAV
/// as base64, inside JSON.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON body of type `T`; unknown fields, wrong types and syntax errors all name where they are.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ValidJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.split(';').next().is_some_and(|mime| mime.trim() == "application/json"));
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let TimelyBody(body) = TimelyBody::from_request(request, state).await?;
        parse_json(&body).map(ValidJson)
    }
}

/// How long a client may take to send a request's body once its head is in. A body trickled a byte a second
/// would otherwise hold its connection (and the handler's task) for as long as the client likes.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request's whole body, read within [`BODY_READ_TIMEOUT`] and at most [`MAX_BODY_BYTES`].
pub struct TimelyBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for TimelyBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        // The body limit only trips on bytes that arrive, so a client announcing more than the limit and sending
        // nothing would wait out the read timeout for a 408; its own header already says the answer is 413.
        if announced_length(&request).is_some_and(|length| length > MAX_BODY_BYTES as u64) {
            return Err(ApiError::BodyTooLarge { limit_bytes: MAX_BODY_BYTES });
        }
        let read = tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(request, state)).await;
        let body = read.map_err(|_| ApiError::BodyTimeout { seconds: BODY_READ_TIMEOUT.as_secs() })?;
        body.map(TimelyBody).map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge { limit_bytes: MAX_BODY_BYTES }
            } else {
                ApiError::MalformedJson(rejection.body_text())
            }
        })
    }
}

fn announced_length(request: &Request) -> Option<u64> {
    request.headers().get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// The body of a route that takes nothing: none, or an empty JSON object (what the page's JSON `fetch` sends).
/// A field is a 400 naming it, anything else a 400 saying a body came; read within the limits of any body.
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let TimelyBody(body) = TimelyBody::from_request(request, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(NoBody);
        }
        match parse_json::<NoParameters>(&body) {
            Ok(NoParameters {}) => Ok(NoBody),
            Err(named @ ApiError::InvalidField { .. }) => Err(named),
            Err(_) => Err(ApiError::UnexpectedBody { bytes: body.len() }),
        }
    }
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    Ok(protocol::parse::parse_json(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Params {
        #[allow(dead_code)]
        after: Option<u64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        text: String,
    }

    #[test]
    fn a_websocket_key_is_sixteen_bytes_in_base64() {
        // RFC 6455's own example, and one of each length and alphabet mistake.
        assert!(is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        for refused in
            [&b"short"[..], b"dGhlIHNhbXBsZSBub25jZQ=", b"dGhlIHNhbXBsZSBub25jZR==", b"dGhlIHNhbXBsZSBub2*jZQ=="]
        {
            assert!(!is_websocket_key(refused), "{}", String::from_utf8_lossy(refused));
        }
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(parse_query::<Params>("after=abc").unwrap_err().field(), Some("after"));
        assert_eq!(parse_query::<Params>("aftr=1").unwrap_err().field(), Some("aftr"));
        assert!(parse_query::<Params>("after=5").is_ok());
        assert!(parse_query::<Params>("").is_ok());
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(parse_json::<Body>(br#"{"text": 5}"#).unwrap_err().field(), Some("text"));
        assert_eq!(parse_json::<Body>(br#"{}"#).unwrap_err().field(), Some("text"));
        assert_eq!(parse_json::<Body>(br#"{"text":"a","x":1}"#).unwrap_err().field(), Some("x"));
        assert!(matches!(parse_json::<Body>(b"{\"text\""), Err(ApiError::MalformedJson(_))));
    }
}
