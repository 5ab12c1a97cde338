//! Extractors that answer bad input in our error shape instead of axum's plain-text rejections:
//! malformed JSON → 400 `invalid_json`, wrong content type → 415, body over the limit → 413,
//! a body that parses but does not fit → 400 `invalid_body` with the failing field named,
//! a bad query string → 400 `invalid_query`.
//!
//! No text we accept may hold a NUL character: PostgreSQL cannot store one (the insert fails,
//! a 500) and SQLite truncates at it in places, so a `\u0000` in a body is 400 `invalid_body`,
//! a `%00` in a query string 400 `invalid_query` and in a path 404, on both backends alike.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Requires `Content-Type: application/json` (or `+json`).
pub struct ApiJson<T>(pub T);

/// A JSON body that may be absent entirely (no body → `T::default()`).
pub struct MaybeJson<T>(pub T);

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime_lite::Mime>().ok())
        .is_some_and(|m| m.is_json())
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(inner)
            if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
        {
            payload_too_large()
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        other => ApiError::bad_request("invalid_body", other.body_text()),
    })
}

pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The request body is larger than this endpoint accepts.",
    )
}

/// Parses JSON, naming the failing field (`a.b[2].c`) for shape errors. A string holding NUL
/// (`\u0000`) is refused: no database we run on stores it in text.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Some(field) = nul_field(bytes) {
        return Err(ApiError::invalid_field(
            &field,
            "must not contain NUL (\\u0000)",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    Err(ApiError::bad_request(
                        "invalid_json",
                        format!("The body is not valid JSON: {inner}"),
                    ))
                }
                _ => {
                    let field = if path == "." {
                        "body".to_string()
                    } else {
                        path
                    };
                    Err(ApiError::invalid_field(
                        &field,
                        strip_position(&inner.to_string()),
                    ))
                }
            }
        }
    }
}

/// Where a NUL sits in a JSON body, if anywhere. JSON can only carry NUL escaped, so bodies
/// without the escape (nearly all) cost one scan and no parse.
fn nul_field(bytes: &[u8]) -> Option<String> {
    if !has_escaped_nul(bytes) {
        return None;
    }
    fn walk(v: &serde_json::Value, path: String) -> Option<String> {
        match v {
            serde_json::Value::String(s) => s.contains('\0').then_some(path),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    Some(here.replace('\0', ""))
                } else {
                    walk(x, here)
                }
            }),
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&value, String::new()).map(|p| if p.is_empty() { "body".into() } else { p })
}

/// Whether valid JSON holds a `\u0000` escape: the only way a NUL gets into its strings, as
/// raw control characters are not valid JSON. Backslashes occur only in strings, so walking the
/// escapes pairwise is exact (`\\u0000` is a backslash and the text `u0000`).
fn has_escaped_nul(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        if json[i] == b'\\' {
            if json[i + 1..].starts_with(b"u0000") {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Whether a raw query string or path decodes to a NUL (`%00`; a literal `%2500` does not).
fn has_encoded_nul(raw: &str) -> bool {
    raw.contains("%00")
}

/// serde_json appends " at line 1 column 17"; the field name says more.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(unsupported_media_type());
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_type = req.headers().contains_key(header::CONTENT_TYPE);
        let json = is_json(&req);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(MaybeJson(T::default()));
        }
        if has_type && !json {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(MaybeJson)
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Send the body as JSON with Content-Type: application/json.",
    )
}

/// A query string; failures are 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if has_encoded_nul(query) {
            return Err(ApiError::invalid_query(
                "The query string must not contain NUL characters (%00).",
            ));
        }
        serde_urlencoded::from_str(query)
            .map(ApiQuery)
            .map_err(|e| ApiError::invalid_query(format!("Bad query string: {e}")))
    }
}

/// Path parameters; failures (e.g. bad percent-encoding) are 404 `not_found`.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // No stored id holds NUL; looking one up would make PostgreSQL refuse the query.
        if has_encoded_nul(parts.uri.path()) {
            return Err(ApiError::not_found("No such resource."));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|_| ApiError::not_found("No such resource."))
    }
}

/// Just enough media-type parsing to accept `application/json; charset=utf-8` and `+json`.
mod mime_lite {
    pub struct Mime(String);

    impl std::str::FromStr for Mime {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            let essence = s.split(';').next().unwrap_or_default().trim();
            if essence.contains('/') {
                Ok(Mime(essence.to_ascii_lowercase()))
            } else {
                Err(())
            }
        }
    }

    impl Mime {
        pub fn is_json(&self) -> bool {
            self.0 == "application/json" || self.0.ends_with("+json")
        }
    }
}
