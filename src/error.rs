//! The one error type of the HTTP layer. Every error answers
//! `{"error": "<snake_case_code>", "detail": <sentence or field errors>, ...extra}`.
//! Internal errors are logged with their cause and answered without it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// Boxed so that `Result<T, ApiError>` stays one pointer wide on the happy path.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: Value,
    extra: Map<String, Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Why an internal error happened: never answered, logged once on the request's access-log
    /// line (it travels there as an [`InternalCause`] response extension).
    cause: Option<Arc<str>>,
}

/// The cause of a 500, kept in the response's extensions for the access log.
#[derive(Clone, Debug)]
pub struct InternalCause(pub Arc<str>);

/// The error body, for the OpenAPI document. Some errors add top-level fields next to these two
/// (`required` on `forbidden_scope`, `missing`, `partnerId`, `existing`, `networkStatus`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code, e.g. `email_taken`.
    pub error: String,
    pub detail: ErrorDetail,
}

/// A sentence, or `{field: message}` for `invalid_body`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ErrorDetail {
    Sentence(String),
    Fields(std::collections::BTreeMap<String, String>),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Value>,
    ) -> Self {
        ApiError(Box::new(Inner {
            status,
            code: code.into(),
            detail: detail.into(),
            extra: Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// Adds a top-level field next to `error` and `detail` (e.g. `required`, `missing`).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.0.extra.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn code(&self) -> &str {
        &self.0.code
    }

    // ---- the common cases ----

    pub fn bad_request(code: &'static str, detail: impl Into<Value>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 400 `invalid_body` with `{field: message}` in `detail`.
    pub fn invalid_body(fields: impl IntoIterator<Item = (String, String)>) -> Self {
        let detail: Map<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        Self::bad_request("invalid_body", Value::Object(detail))
    }

    /// 400 `invalid_body` for one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::invalid_body([(field.to_string(), message.into())])
    }

    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Self::bad_request("invalid_query", detail.into())
    }

    pub fn unauthorized(detail: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail.into())
    }

    pub fn forbidden_scope(scope: crate::domain::scopes::Scope) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden_scope",
            format!("This key lacks the {scope} scope."),
        )
        .with("required", scope.as_str())
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail.into())
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail.into())
    }

    pub fn unavailable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail.into())
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many requests; retry in {retry_after_secs} s."),
        )
        .with_header(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs.max(1)),
        )
    }

    /// A 500 `internal_error`, answered without its cause. The cause is logged once: on the
    /// request's access-log line when it answers a request, or by whoever reports the error
    /// (its `Display` includes the cause) when a job hits it.
    pub fn internal(cause: impl fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An internal error occurred. It has been logged.",
        );
        e.0.cause = Some(cause.to_string().into());
        e
    }

    /// [`ApiError::internal`] with the error's whole chain of sources (`a: b: c`).
    pub fn internal_chain(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            let next = s.to_string();
            // Many errors repeat their source in their own message.
            if !chain.ends_with(&next) {
                chain.push_str(": ");
                chain.push_str(&next);
            }
            source = s.source();
        }
        Self::internal(chain)
    }

    /// The cause of an internal error, if this is one.
    pub fn cause(&self) -> Option<&str> {
        self.0.cause.as_deref()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.0.status.as_u16(),
            self.0.code,
            self.0.detail
        )?;
        match &self.0.cause {
            Some(cause) => write!(f, " (cause: {cause})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Inner {
            status,
            code,
            detail,
            extra,
            headers,
            cause,
        } = *self.0;
        let mut body = Map::with_capacity(2 + extra.len());
        body.insert("error".into(), Value::String(code.into_owned()));
        body.insert("detail".into(), detail);
        body.extend(extra);
        let mut response = (status, axum::Json(Value::Object(body))).into_response();
        response.headers_mut().extend(headers);
        if let Some(cause) = cause {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    /// A database that cannot be reached (restarting, pool exhausted) is a 503 the client may
    /// retry; anything else is a bug or bad data: 500.
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            tracing::warn!(error = %e, "database unavailable");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The database is unavailable; retry shortly.",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        ApiError::internal(format_args!(
            "database: {}",
            ApiError::internal_chain(&e).cause().unwrap_or_default()
        ))
    }
}

/// True for a unique-index violation on either backend. (It and [`is_unavailable`] read only
/// the `sqlx::Error`, so they live here, where the error mapping needs them, not in `db`.)
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Whether an error says the database could not be reached or is momentarily unable to serve
/// (connection lost, pool exhausted, server shutting down or busy): worth retrying as it is.
/// Anything else is about the statement or its data, and retrying it unchanged fails again.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite: busy, locked, I/O error, disk full (primary result codes).
                matches!(code.parse::<i32>().map(|n| n & 0xff), Ok(5 | 6 | 10 | 13))
            } else {
                // PostgreSQL: connection exception, insufficient resources, object not in
                // prerequisite state (not accepting connections, lock not available), operator
                // intervention (shutdown, cannot connect now), serialization failure, deadlock.
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("55")
                    || code.starts_with("57P")
                    || matches!(code.as_ref(), "40001" | "40P01")
            }
        }
        _ => false,
    }
}

/// Turns a unique-index violation into a chosen error (usually a 409), anything else into 500.
pub trait OnUnique<T> {
    fn on_unique(self, make: impl FnOnce() -> ApiError) -> Result<T, ApiError>;
}

impl<T> OnUnique<T> for Result<T, sqlx::Error> {
    fn on_unique(self, make: impl FnOnce() -> ApiError) -> Result<T, ApiError> {
        self.map_err(|e| {
            if is_unique_violation(&e) {
                make()
            } else {
                e.into()
            }
        })
    }
}

/// `{"ok": true}`, the answer of many actions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OkAnswer {
    /// Always `true`.
    ok: bool,
}

/// The `{"ok": true}` answer.
pub const OK: OkAnswer = OkAnswer { ok: true };

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("writing the batch")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log_and_never_answers_it() {
        let e = ApiError::internal_chain(&Outer(std::io::Error::other("disk full")));
        assert_eq!(e.cause(), Some("writing the batch: disk full"));
        assert!(
            e.to_string()
                .ends_with("(cause: writing the batch: disk full)")
        );
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = response.extensions().get::<InternalCause>().unwrap();
        assert_eq!(&*cause.0, "writing the batch: disk full");
    }

    #[test]
    fn other_errors_carry_no_cause() {
        let response = ApiError::not_found("no").into_response();
        assert!(response.extensions().get::<InternalCause>().is_none());
    }
}
