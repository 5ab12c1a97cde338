//! Partner lifecycle: create (with grants, snapshot and invite), re-invite, revoke, reinstate,
//! approve. Each change and the email it causes are committed together; the email is then
//! attempted in the background.

mod lifecycle;

use serde_json::{Value, json};

use crate::db;
use crate::db::Db;
use crate::db::magic_links::Purpose;
use crate::db::partners::{NewPartner, Partner, Snapshot};
use crate::domain::email::Email;
use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::domain::rules::RuleSet;
use crate::email::Template;
use crate::error::{ApiError, ApiResult};
use crate::network::sync::{self, Change};
use crate::service::magic;
use crate::state::AppState;
use crate::webhooks::{self, EventType};
pub use lifecycle::{Revoked, approve, reinstate, reinvite, revoke, send_signin_link};

pub struct NewSnapshot {
    pub rules: RuleSet,
    pub holdback_days: Option<i64>,
}

pub struct CreatePartner {
    pub email: Email,
    pub name: String,
    pub send_invite: bool,
    pub metadata: serde_json::Map<String, Value>,
    /// `None` = every current program.
    pub program_ids: Option<Vec<String>>,
    pub campaign_grant_source: GrantSource,
    pub snapshot: Option<NewSnapshot>,
    pub source: PartnerSource,
    pub profile: Option<String>,
    /// Self-signup under `require_review`.
    pub pending_review: bool,
}

/// Resolves requested program ids: omitted = all current programs; unknown ids are a 400
/// `unknown_campaign_ids` listing them.
pub async fn resolve_programs(
    db: &Db,
    requested: Option<Vec<String>>,
) -> ApiResult<Vec<ProgramId>> {
    match requested {
        None => Ok(db::programs::all_ids(db.pool()).await?),
        Some(ids) => {
            // Keeps the first of each id, in order: a set, not a scan per id.
            let mut seen = std::collections::HashSet::with_capacity(ids.len());
            let unique: Vec<String> = ids
                .into_iter()
                .filter(|id| seen.insert(id.clone()))
                .collect();
            let missing = db::programs::missing_ids(db.pool(), &unique).await?;
            if !missing.is_empty() {
                return Err(ApiError::bad_request(
                    "unknown_campaign_ids",
                    format!("No such programs: {}.", missing.join(", ")),
                )
                .with("missing", missing));
            }
            Ok(unique.into_iter().map(ProgramId::from_string).collect())
        }
    }
}

/// Why a partner was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The email belongs to this partner already (also under concurrent creates: the unique
    /// index decides).
    #[error("a partner with this email already exists")]
    EmailTaken(PartnerId),
    #[error(transparent)]
    Refused(#[from] ApiError),
}

impl From<sqlx::Error> for CreateError {
    fn from(e: sqlx::Error) -> Self {
        CreateError::Refused(e.into())
    }
}

impl CreateError {
    /// The answer: 409 `email_taken`, naming the existing partner (`partnerId`) only when
    /// `reveal` (a caller that may read partners, such as the Network, carries on with it).
    pub fn into_api(self, reveal: bool) -> ApiError {
        match self {
            CreateError::EmailTaken(existing) => {
                let e =
                    ApiError::conflict("email_taken", "A partner with this email already exists.");
                if reveal {
                    e.with("partnerId", existing).with("existing", true)
                } else {
                    e
                }
            }
            CreateError::Refused(e) => e,
        }
    }
}

/// Creates a partner.
pub async fn create(state: &AppState, req: CreatePartner) -> Result<Partner, CreateError> {
    let program_ids = resolve_programs(&state.db, req.program_ids).await?;
    let now = state.clock.now();
    let id = PartnerId::generate();
    let metadata = Value::Object(req.metadata).to_string();
    let network = db::network::get(state.db.pool()).await?;
    let mut tx = state.db.begin().await?;
    let inserted = db::partners::insert(
        &mut *tx,
        NewPartner {
            id: &id,
            email: req.email.as_str(),
            name: &req.name,
            metadata: &metadata,
            program_ids: &program_ids,
            profile: req.profile.as_deref(),
            source: req.source,
            campaign_grant_source: req.campaign_grant_source,
            pending_review: req.pending_review,
            now,
            activated_at: (!req.send_invite).then_some(now),
        },
    )
    .await;
    if let Err(e) = inserted {
        if crate::error::is_unique_violation(&e) {
            drop(tx);
            // A concurrent create won; name its partner.
            if let Some(existing) =
                db::partners::get_by_email(state.db.pool(), req.email.as_str()).await?
            {
                return Err(CreateError::EmailTaken(existing.id));
            }
        }
        return Err(e.into());
    }
    if let Some(s) = req.snapshot {
        db::partners::upsert_snapshot(
            &mut tx,
            &Snapshot {
                partner_id: id.clone(),
                rules: s.rules,
                holdback_days: s.holdback_days,
                source: "approval".into(),
                snapshotted_at: now,
            },
        )
        .await?;
    }
    // Built from what was inserted: no read inside the write transaction.
    let partner = Partner {
        id: id.clone(),
        email: req.email.as_str().to_string(),
        name: req.name.clone(),
        stripe_connect_account_id: None,
        stripe_payouts_enabled: false,
        stripe_details_submitted: false,
        metadata,
        program_ids,
        profile: req.profile.clone(),
        source: req.source,
        campaign_grant_source: req.campaign_grant_source,
        pending_review: req.pending_review,
        email_verified_at: None,
        created_at: now,
        updated_at: now,
        activated_at: (!req.send_invite).then_some(now),
        revoked_at: None,
        revoke_reason: None,
        network: None,
    };
    let url = &state.config.public_url;
    webhooks::record_view(&mut tx, EventType::PartnerCreated, &partner, url, now).await?;
    if partner.activated_at.is_some() {
        webhooks::record_view(&mut tx, EventType::PartnerActivated, &partner, url, now).await?;
    }
    if req.source == PartnerSource::Network {
        // A creator approved on the Network arrived.
        let kind = EventType::NetworkPartnerFederated;
        webhooks::record_view(&mut tx, kind, &partner, url, now).await?;
    }
    audit(&mut tx, "partner.create", None, &partner, now).await?;
    let pushed = sync::enqueue(state, &mut tx, &network, &partner, Change::Created).await?;
    let mail = if req.send_invite {
        let (purpose, template) = match req.source {
            PartnerSource::SelfSignup => (Purpose::Signup, Template::Signup),
            _ => (Purpose::Invite, Template::Invite),
        };
        let extra = json!({ "pending_review": req.pending_review });
        Some(magic::issue_link(state, &mut tx, &partner, purpose, template, extra).await?)
    } else {
        None
    };
    tx.commit().await?;
    if let Some(mail) = mail {
        state.mailer.kick(mail);
    }
    if req.source == PartnerSource::Network {
        remember_network_identity(state, &partner).await;
    }
    if pushed {
        // Tried at once (5 s at most); a failure waits in the outbox, never fails the call.
        sync::push_now(state, &partner.id).await;
    }
    if pushed || req.source == PartnerSource::Network {
        // Answer with the Network identity just stored.
        return Ok(get_existing(state, &partner.id).await?);
    }
    Ok(partner)
}

/// A partner the Network federated in already has a creator identity: keep it, so it is
/// never pushed back (no echo) and counts as on the Network.
async fn remember_network_identity(state: &AppState, partner: &Partner) {
    let metadata: Value = serde_json::from_str(&partner.metadata).unwrap_or(Value::Null);
    if let Some(creator) = metadata["networkCreatorId"]
        .as_str()
        .filter(|c| !c.is_empty())
    {
        if let Err(e) = db::outbox::set_partner_network(
            state.db.pool(),
            &partner.id,
            creator,
            true,
            0,
            state.clock.now(),
        )
        .await
        {
            tracing::warn!(error = %e, "could not record a federated partner's Network identity");
        }
    }
}

pub async fn get_existing(state: &AppState, id: &PartnerId) -> ApiResult<Partner> {
    db::partners::get(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such partner."))
}
/// Appends a partner change to the audit log in `tx`.
async fn audit(
    tx: &mut crate::db::Tx,
    action: &str,
    before: Option<&Partner>,
    after: &Partner,
    now: crate::domain::time::Timestamp,
) -> sqlx::Result<()> {
    use crate::db::audit;
    let changes = audit::diff(
        &before.map(audit::partner_fields).unwrap_or_default(),
        &audit::partner_fields(after),
    );
    let change = audit::Change {
        action,
        target_type: "partner",
        target_id: after.id.as_str(),
        changes,
    };
    audit::append(tx, change, now).await
}
