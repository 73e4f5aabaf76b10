//! Cross-site request forgery: any page a student visits could otherwise make their browser restart the class's
//! stream or take everyone offline, since a plain form post or `fetch` needs no permission. A request that changes
//! something must come from the lab's own page (or an origin in `--allowed-origins`), or from a program that is not
//! a browser (no `Origin`, no `Sec-Fetch-Site`), and the API's writes take JSON only, which a form cannot send.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method};

use crate::api::admission::Admission;
use crate::api::error::ApiError;

/// The header browsers add to say where a request came from, even when they leave `Origin` out.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

pub fn refuse_cross_site_write(admission: &Admission, request: &Request) -> Result<(), ApiError> {
    if is_read_only(request.method()) {
        return Ok(());
    }
    check_writer(admission, request.headers(), request.uri().path())
}

/// `GET`, `HEAD` and `OPTIONS` change nothing here, so anyone may send them (a WebSocket handshake has its own
/// origin check).
fn is_read_only(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn check_writer(admission: &Admission, headers: &HeaderMap, path: &str) -> Result<(), ApiError> {
    let text = |name| headers.get(name).map(|value: &header::HeaderValue| value.to_str().unwrap_or("(not text)"));
    match (text(header::ORIGIN), text(header::HeaderName::from_static(SEC_FETCH_SITE))) {
        (Some(_), _) => admission.check_origin(headers)?,
        // A browser that sent no Origin still says whether the request crossed sites.
        (None, Some(site @ ("cross-site" | "same-site"))) => {
            return Err(ApiError::ForbiddenOrigin { origin: format!("(none; Sec-Fetch-Site: {site})") })
        }
        (None, _) => {}
    }
    let content_type = text(header::CONTENT_TYPE).map(|value| value.split(';').next().unwrap_or_default().trim());
    match content_type {
        Some(mime) if path.starts_with("/api/") && !mime.eq_ignore_ascii_case("application/json") => {
            Err(ApiError::UnsupportedMediaType)
        }
        _ => Ok(()),
    }
}
