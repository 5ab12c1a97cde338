//! The brand → Network HTTP client: one struct, a configurable base URL, the protocol's
//! timeouts (5 s pushes and heartbeats, 30 s signup and admin calls, 10 s token verification).
//! The vendor token is passed per call and never logged.

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

pub const PUSH_TIMEOUT: Duration = Duration::from_secs(5);
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// The header naming the partner a vendor-token call acts for.
pub const ACT_AS_HEADER: &str = "x-act-as-vendor-partner";

#[derive(Clone)]
pub struct NetworkClient {
    base: String,
    http: reqwest::Client,
}

/// A failed call: the Network answered non-2xx, or it could not be reached.
#[derive(Debug, Clone)]
pub enum CallError {
    Status { status: u16, body: String },
    Transport(String),
}

impl CallError {
    /// `<status>: <first 500 chars of the body>`, or `network_unreachable: <error>`: the
    /// `detail` of an API error that reports this failure.
    pub fn detail(&self) -> String {
        match self {
            CallError::Status { status, body } => {
                format!("{status}: {}", body.chars().take(500).collect::<String>())
            }
            CallError::Transport(e) => format!("network_unreachable: {e}"),
        }
    }

    /// `network <status>: <first 200 chars>`, or the transport error's text.
    pub fn reason(&self) -> String {
        match self {
            CallError::Status { status, body } => {
                format!(
                    "network {status}: {}",
                    body.chars().take(200).collect::<String>()
                )
            }
            CallError::Transport(e) => format!("network_unreachable: {e}"),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

/// The error and its sources, e.g. "error sending request: connection refused".
fn transport_text(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    // Never leak a URL's query (it carries nothing secret today, but stay safe).
    text
}

impl NetworkClient {
    pub fn new(base: &str) -> NetworkClient {
        let http = reqwest::Client::builder()
            .user_agent("OpenPartner-Vendor/1")
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the HTTP client builds");
        NetworkClient {
            base: base.trim_end_matches('/').to_string(),
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// One call. `Ok((status, body))` for 2xx; JSON body or `null`.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<(u16, Value), CallError> {
        self.call_as(method, path, bearer, None, body, timeout)
            .await
    }

    /// One call acting for one of our partners: `x-act-as-vendor-partner: <partner id>`
    /// (the Network finds the creator through the affiliation). The partner id is always the
    /// authenticated caller's, never a value a client sent.
    pub async fn call_as(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        act_as: Option<&str>,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<(u16, Value), CallError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(partner) = act_as {
            req = req.header(ACT_AS_HEADER, partner);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req
            .send()
            .await
            .map_err(|e| CallError::Transport(transport_text(&e)))?;
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .map_err(|e| CallError::Transport(transport_text(&e)))?;
        if !(200..300).contains(&status) {
            return Err(CallError::Status { status, body: text });
        }
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub async fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        self.call(Method::POST, path, bearer, Some(body), timeout)
            .await
            .map(|(_, v)| v)
    }

    pub async fn get(
        &self,
        path: &str,
        bearer: &str,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        self.call(Method::GET, path, Some(bearer), None, timeout)
            .await
            .map(|(_, v)| v)
    }

    pub async fn patch(
        &self,
        path: &str,
        bearer: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        self.call(Method::PATCH, path, Some(bearer), Some(body), timeout)
            .await
            .map(|(_, v)| v)
    }
}

/// For the fields of a view that passes the Network's JSON on: keeps a field that was sent,
/// `null` included (`Some(Value::Null)`), so the answer repeats exactly what came. Use with
/// `#[serde(default, deserialize_with = "kept", skip_serializing_if = "Option::is_none")]`.
pub fn kept<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    <Value as serde::Deserialize>::deserialize(d).map(Some)
}

/// Reads the Network's answer into a pass-through view, tolerantly: a view's known fields
/// accept any JSON and the rest is kept aside, so only a non-object answer falls back to the
/// empty view.
pub fn pass_through<T: serde::de::DeserializeOwned + Default>(answer: Value) -> T {
    serde_json::from_value(answer).unwrap_or_default()
}
