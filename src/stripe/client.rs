//! The Stripe HTTP client. The secret key is passed in at construction and never logged.

use std::time::Duration;

use serde::Deserialize;

/// Every Stripe call's timeout: a slow call is a transient failure, retried from storage.
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct StripeClient {
    base: String,
    secret_key: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StripeError {
    /// Stripe refused the request (4xx): retrying it unchanged fails again.
    Refused {
        status: u16,
        /// Stripe's `error.type`, e.g. `invalid_request_error`.
        kind: String,
        /// Stripe's `error.code`, e.g. `balance_insufficient` (empty when absent).
        code: String,
        message: String,
    },
    /// Timeout, transport failure, 429 or 5xx: the outcome is unknown; retry with the same
    /// idempotency key.
    Transient(String),
}

impl StripeError {
    pub fn is_transient(&self) -> bool {
        matches!(self, StripeError::Transient(_))
    }

    /// Whether the call may have taken effect: a transport failure or 5xx, or Stripe's
    /// `idempotency_error` (an error *type*: the key was used before with other parameters,
    /// so an earlier attempt may have succeeded). Either way the caller looks before retrying;
    /// it never reads this as a refusal.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            StripeError::Transient(_) => true,
            StripeError::Refused { kind, .. } => kind == "idempotency_error",
        }
    }

    /// `code: message` for a refusal, the error text otherwise.
    pub fn reason(&self) -> String {
        match self {
            StripeError::Refused { code, message, .. } if code.is_empty() => message.clone(),
            StripeError::Refused { code, message, .. } => format!("{code}: {message}"),
            StripeError::Transient(e) => e.clone(),
        }
    }
}

impl std::fmt::Display for StripeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for StripeError {}

/// A connected account, as far as we read it.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub details_submitted: bool,
    #[serde(default)]
    pub payouts_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AccountLink {
    pub url: String,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transfer {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub destination: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The transfer a payout makes.
pub struct NewTransfer<'a> {
    /// Integer minor units.
    pub amount: i64,
    /// ISO code; sent lower case as Stripe expects.
    pub currency: &'a str,
    pub destination: &'a str,
    /// The payout id: `transfer_group` and `metadata[payout_id]`.
    pub payout_id: &'a str,
    /// The same on the first try and on every retry.
    pub idempotency_key: &'a str,
}

impl StripeClient {
    pub fn new(base: &str, secret_key: &str) -> StripeClient {
        StripeClient {
            base: base.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            http: reqwest::Client::builder()
                .timeout(TIMEOUT)
                .build()
                .unwrap_or_else(|_| reqwest::Client::new()),
        }
    }

    /// `POST /v1/accounts`: an Express account for a partner.
    pub async fn create_account(
        &self,
        email: &str,
        partner_id: &str,
        idempotency_key: &str,
    ) -> Result<Account, StripeError> {
        let form = [
            ("type", "express"),
            ("email", email),
            ("capabilities[transfers][requested]", "true"),
            ("metadata[partner_id]", partner_id),
        ];
        self.post("/v1/accounts", &form, Some(idempotency_key))
            .await
    }

    /// `POST /v1/account_links`: the onboarding URL for an account.
    pub async fn create_account_link(
        &self,
        account: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<AccountLink, StripeError> {
        let form = [
            ("account", account),
            ("refresh_url", refresh_url),
            ("return_url", return_url),
            ("type", "account_onboarding"),
        ];
        self.post("/v1/account_links", &form, None).await
    }

    /// `GET /v1/accounts/:id`.
    pub async fn get_account(&self, account: &str) -> Result<Account, StripeError> {
        if !account
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(StripeError::Refused {
                status: 404,
                kind: "invalid_request_error".into(),
                code: "resource_missing".into(),
                message: "not a Stripe account id".into(),
            });
        }
        let res = self
            .http
            .get(format!("{}/v1/accounts/{account}", self.base))
            .bearer_auth(&self.secret_key)
            .send()
            .await;
        read(res).await
    }

    /// `POST /v1/transfers` with an idempotency key: a retry after an unknown outcome returns
    /// the first answer instead of paying twice.
    pub async fn create_transfer(&self, t: &NewTransfer<'_>) -> Result<Transfer, StripeError> {
        let amount = t.amount.to_string();
        let currency = t.currency.to_ascii_lowercase();
        let form = [
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("destination", t.destination),
            ("transfer_group", t.payout_id),
            ("metadata[payout_id]", t.payout_id),
        ];
        self.post("/v1/transfers", &form, Some(t.idempotency_key))
            .await
    }

    /// The newest transfer of a transfer group (`GET /v1/transfers?transfer_group=`): whether a
    /// payout's earlier attempt made one, whatever became of its answer or its idempotency key
    /// (Stripe forgets keys after 24 hours).
    pub async fn find_transfer(
        &self,
        transfer_group: &str,
    ) -> Result<Option<Transfer>, StripeError> {
        #[derive(Deserialize)]
        struct List {
            data: Vec<Transfer>,
        }
        let res = self
            .http
            .get(format!("{}/v1/transfers", self.base))
            .query(&[("transfer_group", transfer_group), ("limit", "1")])
            .bearer_auth(&self.secret_key)
            .send()
            .await;
        let list: List = read(res).await?;
        Ok(list.data.into_iter().next())
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, &str)],
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|e| StripeError::Transient(format!("encoding the form: {e}")))?;
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.secret_key)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        read(req.send().await).await
    }
}

async fn read<T: serde::de::DeserializeOwned>(
    res: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, StripeError> {
    let res = res.map_err(|e| {
        StripeError::Transient(if e.is_timeout() {
            "stripe_timeout".into()
        } else {
            format!("stripe_unreachable: {e}")
        })
    })?;
    let status = res.status().as_u16();
    let text = res
        .text()
        .await
        .map_err(|e| StripeError::Transient(format!("reading Stripe's answer: {e}")))?;
    if (200..300).contains(&status) {
        return serde_json::from_str(&text)
            .map_err(|e| StripeError::Transient(format!("unexpected answer from Stripe ({e})")));
    }
    // 409: a request with the same idempotency key is still being processed (or conflicts):
    // its outcome is unknown, never a refusal.
    if status == 409 || status == 429 || status >= 500 {
        return Err(StripeError::Transient(format!(
            "stripe {status}: {}",
            text.chars().take(200).collect::<String>()
        )));
    }
    let parsed: Option<ErrorEnvelope> = serde_json::from_str(&text).ok();
    Err(match parsed {
        Some(e) => StripeError::Refused {
            status,
            kind: e.error.kind,
            code: e.error.code.unwrap_or_default(),
            message: e.error.message.unwrap_or_default(),
        },
        None => StripeError::Refused {
            status,
            kind: "api_error".into(),
            code: String::new(),
            message: text.chars().take(200).collect(),
        },
    })
}
