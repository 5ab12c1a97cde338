//! The partner row and its decoding.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct Partner {
    pub id: PartnerId,
    pub email: String,
    pub name: String,
    pub stripe_connect_account_id: Option<String>,
    /// Stripe says the account can receive transfers (connect/status, `account.updated`).
    pub stripe_payouts_enabled: bool,
    pub stripe_details_submitted: bool,
    /// JSON object, as stored.
    pub metadata: String,
    pub program_ids: Vec<ProgramId>,
    pub profile: Option<String>,
    /// How the partner arrived.
    pub source: PartnerSource,
    pub campaign_grant_source: GrantSource,
    pub pending_review: bool,
    pub email_verified_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoke_reason: Option<String>,
    pub network: Option<NetworkLink>,
}

/// What the Network said when the partner was pushed.
#[derive(Debug, Clone)]
pub struct NetworkLink {
    pub creator_id: String,
    pub pre_existing: bool,
    pub affiliations: i64,
    pub synced_at: Timestamp,
}

pub const COLUMNS: &str = "id, email, name, stripe_connect_account_id, metadata, program_ids, profile, \
    source, campaign_grant_source, pending_review, email_verified_at, created_at, updated_at, \
    activated_at, revoked_at, revoke_reason, network_creator_id, network_pre_existing, \
    network_affiliations, network_synced_at, stripe_payouts_enabled, stripe_details_submitted";

pub fn join_ids(ids: &[ProgramId]) -> String {
    ids.iter()
        .map(ProgramId::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

impl FromRow<'_, AnyRow> for Partner {
    fn from_row(r: &AnyRow) -> sqlx::Result<Partner> {
        let network = match r.try_get::<Option<String>, _>("network_creator_id")? {
            Some(creator_id) => Some(NetworkLink {
                creator_id,
                pre_existing: r
                    .try_get::<Option<i64>, _>("network_pre_existing")?
                    .unwrap_or(0)
                    != 0,
                affiliations: r
                    .try_get::<Option<i64>, _>("network_affiliations")?
                    .unwrap_or(0),
                synced_at: crate::db::opt_ts(r, "network_synced_at")?
                    .unwrap_or(Timestamp::from_millis(0)),
            }),
            None => None,
        };
        Ok(Partner {
            id: PartnerId::from_string(r.try_get::<String, _>("id")?),
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            stripe_connect_account_id: r.try_get("stripe_connect_account_id")?,
            // NULL until Stripe has told us (migration 0015).
            stripe_payouts_enabled: r
                .try_get::<Option<i64>, _>("stripe_payouts_enabled")?
                .is_some_and(|v| v != 0),
            stripe_details_submitted: r
                .try_get::<Option<i64>, _>("stripe_details_submitted")?
                .is_some_and(|v| v != 0),
            metadata: r.try_get("metadata")?,
            program_ids: r
                .try_get::<String, _>("program_ids")?
                .split_whitespace()
                .map(ProgramId::from_string)
                .collect(),
            profile: r.try_get("profile")?,
            source: crate::db::decode_or(
                "partners.source",
                r.try_get("source")?,
                PartnerSource::parse,
                PartnerSource::AdminInvite,
            ),
            campaign_grant_source: crate::db::decode_or(
                "partners.campaign_grant_source",
                r.try_get("campaign_grant_source")?,
                GrantSource::parse,
                GrantSource::Admin,
            ),
            pending_review: r.try_get::<i64, _>("pending_review")? != 0,
            email_verified_at: crate::db::opt_ts(r, "email_verified_at")?,
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
            updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
            activated_at: crate::db::opt_ts(r, "activated_at")?,
            revoked_at: crate::db::opt_ts(r, "revoked_at")?,
            revoke_reason: r.try_get("revoke_reason")?,
            network,
        })
    }
}
