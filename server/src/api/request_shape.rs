//! Requests the routes never see, answered as the spec says and in the API's JSON: a target that is not a path
//! (`CONNECT`, `host:port`, `*`), which the page renderer cannot take, and a method a route does not have, which
//! axum answers with an empty 405.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;

/// Answers 400 to a request whose target is not a path. HTTP/1.1 allows the authority form only for `CONNECT`
/// (a proxy's job, not this server's) and the asterisk form only for a server-wide `OPTIONS`.
pub fn refuse_unservable_target(request: &Request) -> Result<(), ApiError> {
    let target = request.uri().path_and_query().map(|target| target.as_str()).unwrap_or_default();
    let reason = if request.method() == Method::CONNECT {
        "CONNECT asks for a tunnel; this is not a proxy".to_owned()
    } else if !target.starts_with('/') {
        format!("the request target `{}` is not a path", request.uri())
    } else {
        return Ok(());
    };
    Err(ApiError::MalformedRequest { reason })
}

/// Gives axum's bare 405 the API's JSON body, naming the method and the route. axum adds the `Allow` header
/// around the middleware, once the response leaves the route.
pub fn method_not_allowed_as_json(response: Response, method: &Method, uri: &Uri) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    ApiError::MethodNotAllowed { method: method.to_string(), path: uri.path().to_owned() }.into_response()
}
