//! Stripe's wire, as the simulator checks it: the secret key (Bearer, or Basic as curl's `-u`),
//! form-encoded bodies with bracketed keys against each endpoint's known parameters, Stripe's
//! error shape and messages, and idempotency keys (per secret key; the first answer is replayed
//! for the same parameters, other parameters are an `idempotency_error`; a request refused by
//! validation saves nothing, one that ran saves its answer, success or failure: see
//! `idempotency`).

use std::collections::BTreeMap;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::SimState;

/// A refusal in Stripe's shape: `{error: {type, code?, message, param?, doc_url?}}`.
#[derive(Debug, Clone)]
pub struct StripeErr {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
}

impl StripeErr {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
        param: Option<&str>,
    ) -> Self {
        StripeErr {
            status,
            kind,
            code,
            message: message.into(),
            param: param.map(str::to_string),
        }
    }

    /// 400 `invalid_request_error` with a code.
    pub fn request(code: &'static str, message: impl Into<String>, param: Option<&str>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some(code),
            message,
            param,
        )
    }

    pub fn body(&self) -> Value {
        let mut error = Map::new();
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
            error.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        error.insert("type".into(), json!(self.kind));
        json!({ "error": error })
    }
}

impl IntoResponse for StripeErr {
    fn into_response(self) -> Response {
        let mut r = respond(self.status, self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Stripe\""),
            );
        }
        r
    }
}

/// A 400 `invalid_request_error` without a code.
pub fn invalid(message: &str, param: Option<&str>) -> Response {
    StripeErr::new(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        None,
        message,
        param,
    )
    .into_response()
}

/// A JSON answer with Stripe's `Request-Id` header.
pub fn respond(status: StatusCode, body: Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    let id = format!("req_{}", ulid::Ulid::new());
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert("request-id", v);
    }
    r
}

pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The secret key presented, as Bearer or as Basic's user name.
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_string()).filter(|k| !k.is_empty());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split(':')
            .next()
            .map(str::to_string)
            .filter(|k| !k.is_empty());
    }
    None
}

/// Checks the secret key; returns it.
pub fn authenticate(st: &SimState, headers: &HeaderMap) -> Result<String, StripeErr> {
    let Some(key) = presented_key(headers) else {
        return Err(StripeErr::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
            None,
        ));
    };
    if st.secret_keys.iter().any(|k| k == &key) {
        return Ok(key);
    }
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let prefix: String = key.chars().take(8).collect();
    Err(StripeErr::new(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        None,
        format!("Invalid API Key provided: {prefix}****{tail}"),
        None,
    ))
}

/// A POST call that passed authentication and parsing.
pub struct Call {
    pub secret_key: String,
    pub idempotency_key: Option<String>,
    pub params: Params,
}

/// Authenticates and parses a POST: the body must be form-encoded (a JSON body is refused as
/// Stripe refuses it).
pub fn parse_post(st: &SimState, headers: &HeaderMap, body: &[u8]) -> Result<Call, StripeErr> {
    let secret_key = authenticate(st, headers)?;
    if !body.is_empty() && !is_form(headers) {
        return Err(StripeErr::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "Invalid request (check that your POST content type is application/x-www-form-urlencoded). If you have any questions, we can help at https://support.stripe.com/.",
            None,
        ));
    }
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).map_err(|_| {
        StripeErr::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "Invalid request: the body is not valid form encoding.",
            None,
        )
    })?;
    let idempotency_key = headers
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if idempotency_key
        .as_ref()
        .is_some_and(|k| k.is_empty() || k.len() > 255)
    {
        return Err(StripeErr::request(
            "idempotency_key_invalid",
            "Idempotency keys must be 1 to 255 characters long.",
            None,
        ));
    }
    Ok(Call {
        secret_key,
        idempotency_key,
        params: Params(pairs),
    })
}

/// Form parameters, keys as sent (`metadata[payout_id]`).
#[derive(Debug, Clone)]
pub struct Params(pub Vec<(String, String)>);

/// `a[b][c]` → `["a", "b", "c"]`; `None` when the brackets do not balance.
fn segments(key: &str) -> Option<Vec<&str>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    let mut out = vec![head];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let end = inner.find(']')?;
        out.push(&inner[..end]);
        rest = &inner[end + 1..];
    }
    Some(out)
}

impl Params {
    /// Refuses any key that matches none of `known` (segments; `*` matches any one segment).
    pub fn only(&self, known: &[&[&str]]) -> Result<(), StripeErr> {
        for (key, _) in &self.0 {
            let ok = segments(key).is_some_and(|segs| {
                known.iter().any(|pattern| {
                    pattern.len() == segs.len()
                        && pattern.iter().zip(&segs).all(|(p, s)| *p == "*" || p == s)
                })
            });
            if !ok {
                return Err(StripeErr::request(
                    "parameter_unknown",
                    format!("Received unknown parameter: {key}"),
                    Some(key),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter (empty counts as missing).
    pub fn require(&self, key: &str) -> Result<&str, StripeErr> {
        self.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            StripeErr::request(
                "parameter_missing",
                format!("Missing required param: {key}."),
                Some(key),
            )
        })
    }

    /// `metadata[k]=v` pairs, checked against Stripe's limits.
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, StripeErr> {
        let mut out = BTreeMap::new();
        for (key, value) in &self.0 {
            let Some(segs) = segments(key) else { continue };
            if segs.len() != 2 || segs[0] != "metadata" {
                continue;
            }
            if segs[1].is_empty() || segs[1].chars().count() > 40 {
                return Err(StripeErr::request(
                    "parameter_invalid_string",
                    "Metadata keys must be 1 to 40 characters long.",
                    Some(key),
                ));
            }
            if value.chars().count() > 500 {
                return Err(StripeErr::request(
                    "parameter_invalid_string",
                    "Metadata values can have up to 500 characters.",
                    Some(key),
                ));
            }
            out.insert(segs[1].to_string(), value.clone());
        }
        if out.len() > 50 {
            return Err(StripeErr::request(
                "parameter_invalid_string",
                "You can have up to 50 metadata keys.",
                Some("metadata"),
            ));
        }
        Ok(out)
    }

    /// The same parameters in a canonical order, to compare two requests.
    pub(super) fn canonical(&self) -> Vec<(String, String)> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_keys_split_into_segments() {
        assert_eq!(
            segments("capabilities[transfers][requested]"),
            Some(vec!["capabilities", "transfers", "requested"])
        );
        assert_eq!(segments("amount"), Some(vec!["amount"]));
        assert_eq!(segments("expand[]"), Some(vec!["expand", ""]));
        assert_eq!(segments("metadata[a"), None);
        let p = Params(vec![
            ("metadata[x]".into(), "1".into()),
            ("bogus[y]".into(), "2".into()),
        ]);
        assert!(p.only(&[&["metadata", "*"]]).is_err());
        assert!(
            Params(vec![("metadata[x]".into(), "1".into())])
                .only(&[&["metadata", "*"]])
                .is_ok()
        );
    }
}
