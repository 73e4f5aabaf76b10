//! What every request and response passes through, as one middleware: requests the routes must not see are
//! refused in the API's JSON, and every response is stamped with its exchange, the server run and the security
//! headers.
//!
//! One middleware rather than a layer per concern because each axum layer re-boxes every route and allocates a
//! future per request: a stack of ten cost a long poll about 45 µs of CPU, more than the rest of its request
//! (docs/src/measurements.md). The order below is the order the layers had, outermost first.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::admission::Admission;
use crate::api::cross_site::refuse_cross_site_write;
use crate::api::error::ApiError;
use crate::api::extract::ClientAddress;
use crate::api::rate_limit::RequestRateLimit;
use crate::api::request_shape::{method_not_allowed_as_json, refuse_unservable_target};
use crate::api::state::AppState;
use crate::api::wire::Wire;
use crate::core::hub::HubSlot;
use crate::core::replica::LogHealth;
use protocol::headers::{EPOCH, EXCHANGE, INSTANCE, LOG_PROBLEM};

/// Headers every response carries unless its handler chose otherwise. Scripts are governed by the page's own
/// `<meta>` policy, which carries the per-request nonce; what a `<meta>` policy cannot say (who may frame the page)
/// is said here.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'; base-uri 'none'; object-src 'none'"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
];

/// What the middleware needs from the app's state.
#[derive(Clone)]
pub struct Envelope {
    admission: Admission,
    rate_limit: RequestRateLimit,
    hub_slot: Arc<HubSlot>,
    /// With several instances: this one's name, and the health of its copy of the shared log.
    instance: Option<(HeaderValue, LogHealth)>,
}

impl Envelope {
    pub fn of(state: &AppState) -> Self {
        let instance = state
            .cluster
            .as_ref()
            .and_then(|cluster| Some((HeaderValue::from_str(&cluster.instance).ok()?, cluster.health.clone())));
        Self {
            admission: state.admission.clone(),
            rate_limit: state.rate_limit.clone(),
            hub_slot: state.hub_slot.clone(),
            instance,
        }
    }

    /// Names the server run (read per response, since a restart changes it) and, with several instances, the one
    /// that answered and why it cannot reach the shared log, if it cannot.
    fn stamp_run_and_instance(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(epoch) = HeaderValue::from_str(&self.hub_slot.current().epoch().0) {
            headers.insert(HeaderName::from_static(EPOCH), epoch);
        }
        if let Some((instance, health)) = &self.instance {
            headers.insert(HeaderName::from_static(INSTANCE), instance.clone());
            if let Some(problem) = health.problem() {
                // A reason that is not a valid header value (it names a URL; it should be) still says there is one.
                let value = HeaderValue::from_str(&problem).unwrap_or(HeaderValue::from_static("unavailable"));
                headers.insert(HeaderName::from_static(LOG_PROBLEM), value);
            }
        }
    }
}

pub async fn envelope(
    State(envelope): State<Envelope>,
    ClientAddress(address): ClientAddress,
    wire: Wire,
    request: Request,
    next: Next,
) -> Response {
    // A target that is not a path never reaches a route, and the page renderer cannot take one.
    if let Err(refusal) = refuse_unservable_target(&request) {
        return refusal.into_response();
    }
    let exchange = wire.exchange();
    let mut response = match admit(&envelope, &request, address) {
        Err(refusal) => refusal.into_response(),
        Ok(()) => {
            let (method, uri) = (request.method().clone(), request.uri().clone());
            method_not_allowed_as_json(next.run(request).await, &method, &uri)
        }
    };
    if exchange != 0 {
        response.headers_mut().insert(HeaderName::from_static(EXCHANGE), HeaderValue::from(exchange));
    }
    envelope.stamp_run_and_instance(&mut response);
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(value);
    }
    response
}

fn admit(envelope: &Envelope, request: &Request, address: std::net::IpAddr) -> Result<(), ApiError> {
    envelope.rate_limit.check_request(request, address)?;
    refuse_cross_site_write(&envelope.admission, request)
}
