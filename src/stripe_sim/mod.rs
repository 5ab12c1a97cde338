//! The Stripe simulator: the part of Stripe's API the brand instance calls (Connect Express
//! accounts, account links, transfers) over real HTTP, in memory, on Stripe's real wire:
//! form-encoded bodies with bracketed keys, `Authorization: Bearer sk_…`, `Idempotency-Key`,
//! errors as `{error: {type, code, message, param}}`. Tests run it in-process;
//! `openpartner stripe-sim` runs it alone for a local demo (point `STRIPE_API_BASE` at it).
//!
//! Besides the API it exposes `/_sim/*` for tests and demos: its state, every request it
//! received, the platform balance, the onboarding page an account link points at, link expiry,
//! sim time, signed webhooks (`account.updated` on onboarding, or any event on demand), and
//! fault injection (status codes, delays, connections dropped before or after the call runs).

mod api;
mod controls;
mod faults;
mod idempotency;
mod webhooks;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

pub use faults::Fault;
pub use webhooks::{API_VERSION, Delivery, Outgoing};

/// How long an account link stays usable (sim time).
pub const LINK_TTL_SECS: i64 = 300;
/// How long Stripe keeps an idempotency key's first answer.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 3600;

/// A connected account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimAccount {
    pub id: String,
    /// `express`, `standard` or `custom`.
    pub account_type: String,
    pub email: Option<String>,
    pub country: String,
    pub details_submitted: bool,
    pub payouts_enabled: bool,
    pub charges_enabled: bool,
    /// Capability → `inactive` | `active`.
    pub capabilities: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
}

/// An account link (onboarding URL).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimLink {
    pub id: String,
    pub account: String,
    pub refresh_url: String,
    pub return_url: String,
    /// `account_onboarding` or `account_update`.
    pub link_type: String,
    pub created: i64,
    pub expires_at: i64,
    /// Links are single-use: a second visit goes to `refresh_url`.
    pub visited: bool,
}

/// A transfer to a connected account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimTransfer {
    pub id: String,
    /// Integer minor units.
    pub amount: i64,
    /// Lower case, as Stripe stores it.
    pub currency: String,
    pub destination: String,
    pub transfer_group: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
    /// The `Idempotency-Key` it was created with, if any.
    pub idempotency_key: Option<String>,
}

/// One API request as received (`/v1/*` only), for tests to assert the wire.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The form fields, in order, keys as sent (`metadata[payout_id]`). Empty when the body was
    /// not form-encoded.
    pub form: Vec<(String, String)>,
    /// The raw body, as text.
    pub body: String,
    pub idempotency_key: Option<String>,
    /// Lower-case names; `authorization` is left out (it carries the secret key).
    pub headers: BTreeMap<String, String>,
    /// True when the request carried one of the accepted secret keys.
    pub authenticated: bool,
}

impl RecordedRequest {
    /// The value of form field `key`, if sent.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The first answer given to an idempotency key.
#[derive(Debug, Clone)]
pub(crate) struct SavedAnswer {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub status: u16,
    pub body: Value,
    pub saved_at: i64,
}

/// Where `account.updated` and on-demand events are sent.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimState {
    /// This simulator's own URL (account links point at it).
    pub url: String,
    #[serde(skip)]
    pub secret_keys: Vec<String>,
    #[serde(skip)]
    pub webhook: Option<WebhookTarget>,
    pub accounts: BTreeMap<String, SimAccount>,
    pub links: BTreeMap<String, SimLink>,
    pub transfers: Vec<SimTransfer>,
    /// Available platform balance per lower-case currency, minor units. Absent = 0.
    pub balances: BTreeMap<String, i64>,
    /// Every `/v1` request received, in order.
    pub requests: Vec<RecordedRequest>,
    /// Every webhook sent, in order.
    pub deliveries: Vec<Delivery>,
    /// Sim time minus wall time, seconds (moved by [`StripeSim::advance`]).
    pub clock_offset_secs: i64,
    #[serde(skip)]
    pub(crate) idempotency: HashMap<(String, String), SavedAnswer>,
    #[serde(skip)]
    pub faults: Vec<Fault>,
}

impl SimState {
    /// Sim time, unix seconds.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset_secs
    }
}

/// How to start the simulator.
#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    /// The secret key API calls must present (`sk_test_…`).
    pub secret_key: String,
    /// Where to send webhooks, and the endpoint secret to sign them with (`whsec_…`).
    pub webhook: Option<WebhookTarget>,
}

/// A running simulator.
#[derive(Clone)]
pub struct StripeSim {
    pub url: String,
    pub state: Arc<Mutex<SimState>>,
}

pub(crate) type Shared = Arc<Mutex<SimState>>;

pub(crate) fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl StripeSim {
    /// Starts on `bind` (port 0 for a random port).
    pub async fn start(bind: SocketAddr, options: SimOptions) -> anyhow::Result<StripeSim> {
        anyhow::ensure!(
            !options.secret_key.trim().is_empty(),
            "the simulator needs a secret key"
        );
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let url = format!("http://{addr}");
        let state = Arc::new(Mutex::new(SimState {
            url: url.clone(),
            secret_keys: vec![options.secret_key],
            webhook: options.webhook,
            ..Default::default()
        }));
        tokio::spawn(accept_loop(listener, router(state.clone())));
        Ok(StripeSim { url, state })
    }

    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        lock(&self.state)
    }

    /// Arms a fault for the next `fault.count` matching calls.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Sets the available platform balance in `currency` (any case), in minor units.
    pub fn set_balance(&self, currency: &str, amount: i64) {
        self.lock()
            .balances
            .insert(currency.to_ascii_lowercase(), amount);
    }

    /// The available platform balance in `currency`, minor units.
    pub fn balance(&self, currency: &str) -> i64 {
        self.lock()
            .balances
            .get(&currency.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Every transfer made, oldest first.
    pub fn transfers(&self) -> Vec<SimTransfer> {
        self.lock().transfers.clone()
    }

    pub fn account(&self, id: &str) -> Option<SimAccount> {
        self.lock().accounts.get(id).cloned()
    }

    pub fn accounts(&self) -> Vec<SimAccount> {
        self.lock().accounts.values().cloned().collect()
    }

    /// Every `/v1` request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The requests whose method and path are exactly these.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .cloned()
            .collect()
    }

    /// Every webhook sent, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.lock().deliveries.clone()
    }

    /// Sends webhooks to `url`, signed with `secret`.
    pub fn set_webhook(&self, url: &str, secret: &str) {
        self.lock().webhook = Some(WebhookTarget {
            url: url.to_string(),
            secret: secret.to_string(),
        });
    }

    /// Accepts one more secret key (idempotency keys are kept per secret key).
    pub fn add_secret_key(&self, key: &str) {
        self.lock().secret_keys.push(key.to_string());
    }

    /// Moves sim time forward (link expiry, idempotency-key expiry, event timestamps).
    pub fn advance(&self, by: Duration) {
        self.lock().clock_offset_secs += by.as_secs() as i64;
    }

    /// Expires every account link now.
    pub fn expire_links(&self) {
        let mut st = self.lock();
        let now = st.now();
        for link in st.links.values_mut() {
            link.expires_at = link.expires_at.min(now - 1);
        }
    }

    /// Changes an account as Stripe would after a review, and sends `account.updated`.
    /// Returns the delivery, or `None` for an unknown account.
    pub async fn update_account(
        &self,
        id: &str,
        details_submitted: Option<bool>,
        payouts_enabled: Option<bool>,
    ) -> Option<Delivery> {
        controls::update_account(&self.state, id, details_submitted, payouts_enabled).await
    }

    /// Sends a signed event of `event_type` about `object` to the webhook URL; returns the
    /// delivery (with our endpoint's status).
    pub async fn send_event(&self, event_type: &str, object: Value) -> Delivery {
        self.send(Outgoing {
            event_type: event_type.to_string(),
            object,
            ..Default::default()
        })
        .await
    }

    /// Sends `event` (its own id, timestamps or signing secret when set).
    pub async fn send(&self, event: Outgoing) -> Delivery {
        webhooks::send(&self.state, event).await
    }
}

fn router(state: Shared) -> Router {
    api::router()
        .merge(controls::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::apply,
        ))
        .with_state(state)
}

/// Lets a fault end the connection a request arrived on without an answer.
#[derive(Clone, Default)]
pub(crate) struct ConnKill(Arc<Notify>);

impl ConnKill {
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// hyper behind our own accept loop, so that a fault can drop a connection after its call has
/// run (the answer is never written).
async fn accept_loop(listener: TcpListener, app: Router) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(pair) => pair,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let kill = ConnKill::default();
        let for_requests = kill.clone();
        let service = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(for_requests.clone());
            req
        });
        let conn = http1::Builder::new()
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        tokio::spawn(async move {
            tokio::select! {
                _ = conn => {}
                () = kill.0.notified() => {} // dropping `conn` closes the socket unanswered
            }
        });
    }
}
