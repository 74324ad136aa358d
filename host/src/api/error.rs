//! The API's one error shape, `{"error": {"code", "message"}}` with a 4xx/5xx
//! status, and the extractors that answer in it: a body that is too large, not
//! JSON or not the expected shape is refused with a message that says what to fix,
//! never with axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Every error the API answers with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable `code` to match on and a `message` for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// e.g. `invalid_json`, `invalid_request`, `unknown_task`, `internal`.
    pub code: String,
    pub message: String,
}

/// An error on its way to the client: the status, the code and the message.
#[derive(Debug, thiserror::Error)]
#[error("{code} ({status}): {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }

    pub fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// A failure of the host (database, blob store, a bug): logged in full, answered
    /// as a 500 that says nothing about the internals.
    pub fn internal(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its log")
    }

    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail { code: self.code.to_string(), message: self.message.clone() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail() })).into_response()
    }
}

/// Anything that is not a typed API error is the host's own failure: a 5xx.
impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request body is over the limit: {}", r.body_text()))
        } else {
            ApiError::new(r.status(), "bad_body", r.body_text())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad("invalid_request", format!("the query string does not fit this endpoint: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad("invalid_request", format!("the path does not fit this endpoint: {}", r.body_text()))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Parses a JSON body into `T`: `invalid_json` when it is not JSON at all,
/// `invalid_request` (naming the field) when it does not fit `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad("invalid_json", format!("request body is not valid JSON: {e}")))?;
    serde_path_to_error::deserialize(v).map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        match at.as_str() {
            "." | "" => ApiError::bad("invalid_request", format!("request body does not match the schema: {inner}")),
            _ => ApiError::bad("invalid_request", format!("request body does not match the schema: `{at}`: {inner}")),
        }
    })
}

/// A JSON request body of type `T`. Any content type is accepted (clients of
/// webhooks rarely set it); errors come in the API's shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await?;
        Ok(ApiJson(parse_json(&bytes)?))
    }
}

/// Like [`ApiJson`], but an empty body means `T::default()`.
pub struct ApiJsonOrDefault<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for ApiJsonOrDefault<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ApiJsonOrDefault(T::default()));
        }
        Ok(ApiJsonOrDefault(parse_json(&bytes)?))
    }
}

/// The raw request body (a component's bytes), with size errors in the API's shape.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(RawBody(Bytes::from_request(req, state).await?))
    }
}

/// A query string of type `T`, with errors in the API's shape.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(q) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(q))
    }
}

/// Path parameters of type `T`, with errors in the API's shape.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(p) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Thing {
        name: String,
    }

    #[test]
    fn bodies_that_are_not_json_or_not_the_shape_say_which() {
        let e = parse_json::<Thing>(b"{not json").unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "invalid_json"));
        let e = parse_json::<Thing>(br#"{"name": "a", "extra": 1}"#).unwrap_err();
        assert_eq!(e.code, "invalid_request");
        assert!(e.message.contains("extra"), "{}", e.message);
        let e = parse_json::<Thing>(br#"{}"#).unwrap_err();
        assert!(e.message.contains("name"), "{}", e.message);
    }

    #[tokio::test]
    async fn errors_answer_in_the_project_shape() {
        let r = ApiError::internal(anyhow::anyhow!("database is locked")).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let e: ErrorBody = serde_json::from_slice(&body).unwrap();
        assert_eq!(e.error.code, "internal");
        assert!(!e.error.message.contains("database"), "internals stay in the log");
    }
}
