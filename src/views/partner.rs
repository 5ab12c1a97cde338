//! The partner as every endpoint (and every `partner.*` webhook) shows it.

use serde::Serialize;
use serde_json::{Value, json};

use crate::db::partners::Partner;
use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::time::Timestamp;

/// A partner, as every endpoint returns it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerView {
    id: PartnerId,
    email: String,
    name: String,
    stripe_connect_account_id: Option<String>,
    /// Free-form. `metadata.network` holds the Network identity once pushed.
    #[schema(value_type = Object)]
    metadata: Value,
    program_ids: Vec<ProgramId>,
    /// `admin` or `offering`.
    campaign_grant_source: String,
    /// `invited`, `active`, `pending_review` or `revoked`.
    status: &'static str,
    created_at: Timestamp,
    updated_at: Timestamp,
    activated_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    revoke_reason: Option<String>,
}

/// `partner.*` and `network.partner_federated` webhooks carry this view.
impl crate::webhooks::EventData for Partner {
    fn event_data(&self, _public_url: &str) -> Value {
        serde_json::to_value(PartnerView::from(self.clone())).unwrap_or_default()
    }
}

impl From<Partner> for PartnerView {
    fn from(p: Partner) -> Self {
        let mut metadata = serde_json::from_str::<Value>(&p.metadata)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let (Some(n), Some(m)) = (&p.network, metadata.as_object_mut()) {
            m.insert(
                "network".into(),
                json!({
                    "networkCreatorId": n.creator_id,
                    "preExisting": n.pre_existing,
                    "affiliations": n.affiliations,
                    "syncedAt": n.synced_at,
                }),
            );
        }
        let status = if p.revoked_at.is_some() {
            "revoked"
        } else if p.pending_review {
            "pending_review"
        } else if p.activated_at.is_some() {
            "active"
        } else {
            "invited"
        };
        PartnerView {
            id: p.id,
            email: p.email,
            name: p.name,
            stripe_connect_account_id: p.stripe_connect_account_id,
            metadata,
            program_ids: p.program_ids,
            campaign_grant_source: p.campaign_grant_source.as_str().to_string(),
            status,
            created_at: p.created_at,
            updated_at: p.updated_at,
            activated_at: p.activated_at,
            revoked_at: p.revoked_at,
            revoke_reason: p.revoke_reason,
        }
    }
}
