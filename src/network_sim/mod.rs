//! The Network simulator: the Network side of the wire protocol (`NETWORK-PROTOCOL.md`) over
//! real HTTP, in memory. Tests run it in-process; `openpartner network-sim` runs it alone for
//! a local demo (point `NETWORK_URL` at it).
//!
//! Besides the protocol it exposes `/_sim/*` for tests and demos: its state, the verification
//! emails it "sent", vendor status changes, pre-seeded creators, and fault injection (status
//! codes, delays, dropped connections) for the next N calls.

mod creators;
mod faults;
mod handlers;
mod marketplace;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;

pub use faults::Fault;

/// A vendor (a brand instance) as the Network knows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vendor {
    pub id: String,
    #[serde(skip)]
    pub token: Option<String>,
    pub display_name: String,
    /// `pending`, `active`, `suspended` or `cancelled`.
    pub status: String,
    pub tier: String,
    pub instance_url: String,
    #[serde(skip)]
    pub scoped_key: String,
    pub contact_email: String,
    pub contact_name: Option<String>,
    pub portal_callback_url: String,
    pub heartbeats: Vec<Value>,
    pub offerings: Vec<Value>,
    /// `POST /vendors/me/report-payouts` bodies received.
    pub payout_reports: Vec<Value>,
}

/// A creator: one per email across all vendors.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Creator {
    pub id: String,
    pub email: String,
    pub name: String,
    pub affiliations: Vec<Value>,
}

/// A verification email the Network "sent".
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub vendor_id: String,
    pub email: String,
    pub token: String,
    pub link: String,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimState {
    #[serde(skip)]
    pub admin_key: Option<String>,
    pub vendors: HashMap<String, Vendor>,
    pub creators: HashMap<String, Creator>,
    pub verifications: Vec<Verification>,
    /// Every `/partners/upsert` body received, in order.
    pub upserts: Vec<Value>,
    /// `METHOD /path` of every protocol call received (not `/_sim`).
    pub calls: Vec<String>,
    /// Creators' applications to vendors' offerings.
    pub requests: Vec<Value>,
    pub invitations: Vec<Value>,
    /// Partner-acting calls received: `{call, vendorId, partner}` (`partner` is the
    /// `x-act-as-vendor-partner` header).
    pub acting: Vec<Value>,
    /// Creator profile changes, by creator id.
    pub profiles: HashMap<String, Value>,
    #[serde(skip)]
    pub faults: Vec<Fault>,
}

/// A running simulator.
#[derive(Clone)]
pub struct NetworkSim {
    pub url: String,
    pub state: Arc<Mutex<SimState>>,
}

impl NetworkSim {
    /// Starts on `bind` (port 0 for a random port). `admin_key` enables the hosted one-click
    /// signup path.
    pub async fn start(bind: SocketAddr, admin_key: Option<String>) -> anyhow::Result<NetworkSim> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(SimState {
            admin_key,
            ..Default::default()
        }));
        let app = router(state.clone());
        let listener = faults::DroppingListener::new(listener, state.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "network simulator stopped");
            }
        });
        Ok(NetworkSim {
            url: format!("http://{addr}"),
            state,
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms a fault for the next `fault.count` matching calls.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn payout_reports(&self, vendor_id: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .vendors
            .get(vendor_id)
            .map(|v| v.payout_reports.clone())
            .unwrap_or_default()
    }

    pub fn heartbeats(&self, vendor_id: &str) -> Vec<Value> {
        self.lock()
            .vendors
            .get(vendor_id)
            .map(|v| v.heartbeats.clone())
            .unwrap_or_default()
    }

    pub fn set_status(&self, vendor_id: &str, status: &str) {
        if let Some(v) = self.lock().vendors.get_mut(vendor_id) {
            v.status = status.to_string();
        }
    }

    pub fn calls_to(&self, path_prefix: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| {
                c.split_once(' ')
                    .is_some_and(|(_, p)| p.starts_with(path_prefix))
            })
            .count()
    }

    /// A creator applies to the vendor's offering (the first one unless named); returns the
    /// request.
    pub fn apply(
        &self,
        vendor_id: &str,
        offering: Option<&str>,
        email: &str,
        name: &str,
    ) -> anyhow::Result<Value> {
        self.seed_creator(email, name);
        let mut st = self.lock();
        let vendor = st
            .vendors
            .get(vendor_id)
            .ok_or_else(|| anyhow::anyhow!("vendor_not_found"))?;
        let offering = match offering {
            Some(id) => vendor.offerings.iter().find(|o| o["id"] == id).cloned(),
            None => vendor.offerings.first().cloned(),
        }
        .ok_or_else(|| anyhow::anyhow!("no_offering"))?;
        let creator = st.creators[&email.to_lowercase()].clone();
        let handle = marketplace::handle(&creator.email);
        let request = serde_json::json!({
            "id": format!("req_{}", ulid::Ulid::new()), "vendorId": vendor_id, "offeringId": offering["id"],
            "vendorProgramId": offering["vendorProgramId"], "status": "pending", "message": null,
            "creator": { "id": creator.id, "email": creator.email, "name": creator.name, "handle": format!("@{handle}") },
            "createdAt": chrono::Utc::now().to_rfc3339(),
        });
        st.requests.push(request.clone());
        Ok(request)
    }

    /// Affiliates a creator (by email) with the vendor as its partner `partner_id`, as a push
    /// of that partner would.
    pub fn affiliate(&self, vendor_id: &str, partner_id: &str, email: &str, name: &str) {
        self.seed_creator(email, name);
        let mut st = self.lock();
        let display = st
            .vendors
            .get(vendor_id)
            .map(|v| v.display_name.clone())
            .unwrap_or_default();
        if let Some(c) = st.creators.get_mut(&email.to_lowercase()) {
            c.affiliations.push(serde_json::json!({
                "vendorId": vendor_id, "vendorPartnerId": partner_id, "status": "active", "displayName": display
            }));
        }
    }

    /// The `x-act-as-vendor-partner` values received for calls `METHOD /path`.
    pub fn acted_as(&self, call: &str) -> Vec<String> {
        self.lock()
            .acting
            .iter()
            .filter(|a| a["call"] == call)
            .filter_map(|a| a["partner"].as_str().map(str::to_string))
            .collect()
    }

    /// Seeds a creator as if another vendor had pushed it.
    pub fn seed_creator(&self, email: &str, name: &str) {
        let mut st = self.lock();
        let email = email.to_lowercase();
        st.creators.entry(email.clone()).or_insert_with(|| Creator {
            id: format!("nc_{}", ulid::Ulid::new()),
            email,
            name: name.to_string(),
            affiliations: vec![serde_json::json!({
                "vendorId": "vnd_other", "vendorPartnerId": "other-1", "status": "active", "displayName": "Another brand"
            })],
        });
    }
}

fn router(state: Arc<Mutex<SimState>>) -> Router {
    handlers::router()
        .merge(marketplace::router())
        .merge(creators::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::apply,
        ))
        .with_state(state)
}
