//! The one error type of the HTTP API: every 4xx carries an [`ApiErrorBody`] naming what was wrong. What the lab
//! itself refuses arrives as a [`Refusal`] and becomes one of these at the boundary, with its status code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::parse::InputError;
use protocol::routes::ParamError;
use protocol::ApiErrorBody;

use crate::core::refusal::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid query parameter `{field}`: {message}")]
    InvalidParameter { field: String, message: String },
    #[error("invalid JSON field `{field}`: {message}")]
    InvalidField { field: String, message: String },
    #[error("invalid header `{header}`: {message}")]
    InvalidHeader { header: String, message: String },
    #[error("malformed JSON body: {0}")]
    MalformedJson(String),
    #[error("expected `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// A body sent to a route that takes none: refused, not ignored, since it means the caller meant something
    /// else (a webhook pointed at the lab's own controls, say).
    #[error("this route takes no request body (at most `{{}}`); {bytes} B were sent")]
    UnexpectedBody { bytes: usize },
    /// A request to a gRPC method that is not gRPC.
    #[error(
        "a gRPC method takes protobuf messages, with `Content-Type: application/grpc` over HTTP/2 or \
         `application/grpc-web` (or `-web-text`) over any HTTP, not {found}"
    )]
    NotGrpc { found: String },
    #[error("native gRPC needs HTTP/2 (cleartext, prior knowledge); over HTTP/1.1 use gRPC-web")]
    GrpcNeedsHttp2,
    #[error("not a WebSocket handshake: {message}")]
    NotAWebSocketHandshake { status: StatusCode, message: String },
    #[error("origin `{origin}` is not this lab's page (see --allowed-origins): it may not open a WebSocket or change anything")]
    ForbiddenOrigin { origin: String },
    #[error("{message}")]
    TooManyConnections { message: String, retry_after_seconds: u64 },
    #[error("{message}")]
    RateLimited { message: String, retry_after_seconds: u64 },
    #[error("{message}")]
    ServerBusy { message: String, retry_after_seconds: u64 },
    #[error("the server dropped this held request (fault injection); ask again")]
    DroppedByFault,
    #[error("the join link cannot be drawn as a QR code: {reason}")]
    JoinCodeUnavailable { reason: String },
    #[error("the request body is over this server's limit of {limit_bytes} bytes")]
    BodyTooLarge { limit_bytes: usize },
    #[error("the request body did not arrive within {seconds} s of its head")]
    BodyTimeout { seconds: u64 },
    #[error("{method} is not a method of {path}: the `Allow` header lists those it takes")]
    MethodNotAllowed { method: String, path: String },
    #[error("no API route at {path}; the API reference (docs/src/api/index.md) lists them")]
    NoSuchRoute { path: String },
    #[error(
        "only the teacher can {action}: open the teacher link the server printed when it started, or send its key \
         in the x-lab-teacher header"
    )]
    TeacherOnly { action: &'static str },
    #[error("that is not the teacher's key: copy the whole link the server printed when it started")]
    TeacherKeyWrong,
    /// A request target this server does not serve: authority form (`host:port`), `CONNECT`, asterisk form.
    #[error("not a request this server answers: {reason}")]
    MalformedRequest { reason: String },
    #[error("no connection of page `{client}` is kept: it never sent a lane's request here, or it was forgotten after ten idle minutes")]
    NothingCaptured { client: String },
    #[error("the capture file could not be written: {reason}")]
    CaptureUnwritable { reason: String },
    /// What the lab itself refused (other than a bad field or parameter, which have their own variants above),
    /// with its own message.
    #[error(transparent)]
    Refused(Refusal),
}

impl ApiError {
    pub fn invalid_parameter(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidParameter { field: field.into(), message: message.into() }
    }

    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidField { field: field.into(), message: message.into() }
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            Self::InvalidParameter { field, .. } | Self::InvalidField { field, .. } => Some(field),
            Self::InvalidHeader { header, .. } => Some(header),
            Self::ForbiddenOrigin { .. } => Some("Origin"),
            Self::NotGrpc { .. } => Some("Content-Type"),
            Self::UnexpectedBody { .. } => Some("(body)"),
            Self::GrpcNeedsHttp2 => None,
            Self::MalformedJson(_)
            | Self::UnsupportedMediaType
            | Self::NotAWebSocketHandshake { .. }
            | Self::TooManyConnections { .. }
            | Self::RateLimited { .. }
            | Self::ServerBusy { .. }
            | Self::DroppedByFault
            | Self::JoinCodeUnavailable { .. }
            | Self::BodyTooLarge { .. }
            | Self::BodyTimeout { .. }
            | Self::NoSuchRoute { .. }
            | Self::MalformedRequest { .. }
            | Self::TeacherOnly { .. }
            | Self::CaptureUnwritable { .. } => None,
            Self::NothingCaptured { .. } => Some("client"),
            Self::TeacherKeyWrong => Some("key"),
            Self::MethodNotAllowed { .. } => Some("method"),
            Self::Refused(refusal) => refusal.field(),
        }
    }

    /// The gRPC status that says the same as [`ApiError::status`], for the gRPC lane's clients.
    pub fn grpc_status(&self) -> tonic::Status {
        let code = match self.status() {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                tonic::Code::InvalidArgument
            }
            StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
            StatusCode::FORBIDDEN => tonic::Code::PermissionDenied,
            StatusCode::NOT_FOUND => tonic::Code::NotFound,
            StatusCode::TOO_MANY_REQUESTS => tonic::Code::ResourceExhausted,
            StatusCode::SERVICE_UNAVAILABLE => tonic::Code::Unavailable,
            // gRPC's own words for it: "the operation may have completed successfully".
            StatusCode::GATEWAY_TIMEOUT => tonic::Code::DeadlineExceeded,
            _ => tonic::Code::Internal,
        };
        tonic::Status::new(code, self.to_string())
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedMediaType | Self::NotGrpc { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAWebSocketHandshake { status, .. } => *status,
            Self::ForbiddenOrigin { .. } | Self::TeacherOnly { .. } | Self::TeacherKeyWrong => StatusCode::FORBIDDEN,
            Self::TooManyConnections { .. } | Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ServerBusy { .. } | Self::DroppedByFault => StatusCode::SERVICE_UNAVAILABLE,
            Self::JoinCodeUnavailable { .. } | Self::CaptureUnwritable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NothingCaptured { .. } => StatusCode::NOT_FOUND,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::NoSuchRoute { .. } => StatusCode::NOT_FOUND,
            Self::Refused(refusal) => match refusal {
                Refusal::Offline { .. } | Refusal::LogUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Refusal::LogUnconfirmed { .. } => StatusCode::GATEWAY_TIMEOUT,
                Refusal::NoScaleResults { .. }
                | Refusal::NoSuchLesson { .. }
                | Refusal::NoSuchWebhookEndpoint { .. } => StatusCode::NOT_FOUND,
                Refusal::WebhookUrlRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                Refusal::TooManyWebhookEndpoints { .. } | Refusal::TooManyFaultRules { .. } => {
                    StatusCode::TOO_MANY_REQUESTS
                }
                Refusal::WebhookSignatureRejected { .. } => StatusCode::UNAUTHORIZED,
                Refusal::ScaleResultsUnreadable { .. }
                | Refusal::AudioUnavailable { .. }
                | Refusal::LessonUnusable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
                Refusal::InvalidField { .. } | Refusal::InvalidParameter { .. } => StatusCode::BAD_REQUEST,
            },
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::InvalidParameter { .. } => "invalid_parameter",
            Self::InvalidField { .. } => "invalid_field",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::MalformedJson(_) => "malformed_json",
            Self::UnsupportedMediaType | Self::NotGrpc { .. } => "unsupported_media_type",
            Self::UnexpectedBody { .. } => "unexpected_body",
            Self::GrpcNeedsHttp2 => "http2_required",
            Self::NotAWebSocketHandshake { .. } => "not_a_websocket_handshake",
            Self::ForbiddenOrigin { .. } => "forbidden_origin",
            Self::TooManyConnections { .. } => "too_many_connections",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServerBusy { .. } => "server_busy",
            Self::DroppedByFault => "dropped_by_fault",
            Self::JoinCodeUnavailable { .. } => "join_code_unavailable",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::NoSuchRoute { .. } => "not_found",
            Self::MalformedRequest { .. } => "malformed_request",
            Self::TeacherOnly { .. } => "teacher_only",
            Self::TeacherKeyWrong => "teacher_key_wrong",
            Self::NothingCaptured { .. } => "nothing_captured",
            Self::CaptureUnwritable { .. } => "capture_unwritable",
            Self::Refused(refusal) => match refusal {
                Refusal::InvalidField { .. } => "invalid_field",
                Refusal::InvalidParameter { .. } => "invalid_parameter",
                Refusal::Offline { .. } => "offline",
                Refusal::NoScaleResults { .. } => "no_scale_results",
                Refusal::ScaleResultsUnreadable { .. } => "scale_results_unreadable",
                Refusal::AudioUnavailable { .. } => "audio_unavailable",
                Refusal::NoSuchLesson { .. } => "no_such_lesson",
                Refusal::LessonUnusable { .. } => "lesson_unusable",
                Refusal::NoSuchWebhookEndpoint { .. } => "no_such_webhook_endpoint",
                Refusal::WebhookUrlRefused { .. } => "webhook_url_refused",
                Refusal::TooManyWebhookEndpoints { .. } => "too_many_webhook_endpoints",
                Refusal::TooManyFaultRules { .. } => "too_many_fault_rules",
                Refusal::WebhookSignatureRejected { .. } => "webhook_signature_rejected",
                Refusal::LogUnavailable { .. } => "log_unavailable",
                Refusal::LogUnconfirmed { .. } => "log_unconfirmed",
            },
        }
    }

    pub fn body(&self) -> ApiErrorBody {
        ApiErrorBody {
            error: self.code().to_owned(),
            field: self.field().map(str::to_owned),
            message: self.to_string(),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::InvalidField { field, message } => Self::InvalidField { field: field.into(), message },
            Refusal::InvalidParameter { parameter, message } => {
                Self::InvalidParameter { field: parameter.into(), message }
            }
            other => Self::Refused(other),
        }
    }
}

/// A query parameter `protocol::routes` refuses: a 400 naming it, like any other bad parameter.
impl From<ParamError> for ApiError {
    fn from(ParamError { parameter, problem }: ParamError) -> Self {
        Self::InvalidParameter { field: parameter, message: problem }
    }
}

/// A body or frame `protocol::parse` refuses: malformed JSON, or a 400 naming the field.
impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        match error {
            InputError::Malformed(message) => Self::MalformedJson(message),
            InputError::Field { field, problem } => Self::InvalidField { field, message: problem },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Self::TooManyConnections { retry_after_seconds, .. }
        | Self::RateLimited { retry_after_seconds, .. }
        | Self::ServerBusy { retry_after_seconds, .. }
        | Self::Refused(Refusal::Offline { retry_after_seconds }) = self
        {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal means nothing will happen; a time-out means it may. HTTP and gRPC each have a word for both.
    #[test]
    fn a_log_that_refused_and_a_log_that_did_not_answer_get_different_answers() {
        let refused = ApiError::from(Refusal::LogUnavailable { reason: "not connected".into() });
        let unconfirmed = ApiError::from(Refusal::LogUnconfirmed { reason: "no answer within 3 s".into() });
        assert_eq!((refused.status(), refused.code()), (StatusCode::SERVICE_UNAVAILABLE, "log_unavailable"));
        assert_eq!((unconfirmed.status(), unconfirmed.code()), (StatusCode::GATEWAY_TIMEOUT, "log_unconfirmed"));
        assert_eq!(refused.grpc_status().code(), tonic::Code::Unavailable);
        assert_eq!(unconfirmed.grpc_status().code(), tonic::Code::DeadlineExceeded);
        assert!(unconfirmed.body().message.contains("did not confirm in time"), "{}", unconfirmed.body().message);
    }
}
