//! Programs (campaigns): destination, live commission rule, Network sharing, and the claims of
//! the offering sync that publishes shared programs to the Network.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec, flag};
use crate::domain::commission::{CommissionRule, CommissionType};
use crate::domain::ids::ProgramId;
use crate::domain::money::{Currency, Dec4};
use crate::domain::rules::RuleSet;
use crate::domain::time::Timestamp;

pub const DEFAULT_PROGRAM: &str = "cmp_default";

#[derive(Debug, Clone)]
pub struct Program {
    pub id: ProgramId,
    pub name: String,
    pub destination_url: String,
    /// The live terms, for partners without a snapshot.
    pub rules: RuleSet,
    /// The program's currency: fixed rules without their own pay in it.
    pub currency: Currency,
    pub holdback_days: i64,
    pub attribution_window_days: i64,
    pub share_on_network: bool,
    /// Partners who sign themselves up are granted this program.
    pub open_to_signup: bool,
    /// Matured commissions are approved by the daily job.
    pub auto_approve: bool,
    pub marketplace_description: Option<String>,
    pub network_offering_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, name, destination_url, commission_type, commission_value, currency, \
    holdback_days, attribution_window_days, share_on_network, marketplace_description, \
    network_offering_id, created_at, updated_at, commission_rules, open_to_signup, auto_approve";

impl FromRow<'_, AnyRow> for Program {
    fn from_row(r: &AnyRow) -> sqlx::Result<Program> {
        let kind: String = r.try_get("commission_type")?;
        let currency: String = r.try_get("currency")?;
        Ok(Program {
            id: ProgramId::from_string(r.try_get::<String, _>("id")?),
            name: r.try_get("name")?,
            destination_url: r.try_get("destination_url")?,
            rules: rules_or_legacy(
                r.try_get("commission_rules")?,
                CommissionRule {
                    kind: CommissionType::parse(&kind).unwrap_or(CommissionType::Percent),
                    value: Dec4::from_scaled(r.try_get("commission_value")?),
                },
                true,
            )?,
            currency: Currency::parse(&currency).unwrap_or_else(|_| Currency::usd()),
            holdback_days: r.try_get("holdback_days")?,
            attribution_window_days: r.try_get("attribution_window_days")?,
            share_on_network: r.try_get::<i64, _>("share_on_network")? != 0,
            open_to_signup: r.try_get::<i64, _>("open_to_signup")? != 0,
            auto_approve: r.try_get::<i64, _>("auto_approve")? != 0,
            marketplace_description: r.try_get("marketplace_description")?,
            network_offering_id: r.try_get("network_offering_id")?,
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
            updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
        })
    }
}

/// The stored rule set, or (on rows written before rule sets) the legacy single rule.
pub(super) fn rules_or_legacy(
    stored: Option<String>,
    legacy: CommissionRule,
    recurring: bool,
) -> sqlx::Result<RuleSet> {
    match stored {
        Some(text) => RuleSet::from_storage(&text).map_err(|e| sqlx::Error::Decode(e.into())),
        None => Ok(RuleSet::single(legacy, recurring)),
    }
}

/// Stores a new program, with its audit row.
pub async fn insert(db: &Db, p: &Program) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(&format!(
        "INSERT INTO programs ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(p.id.as_str())
    .bind(&p.name)
    .bind(&p.destination_url)
    .bind(p.rules.legacy().rate.kind.as_str())
    .bind(p.rules.legacy().rate.value.scaled())
    .bind(p.currency.as_str())
    .bind(p.holdback_days)
    .bind(p.attribution_window_days)
    .bind(flag(p.share_on_network))
    .bind(&p.marketplace_description)
    .bind(&p.network_offering_id)
    .bind(p.created_at.millis())
    .bind(p.updated_at.millis())
    .bind(p.rules.to_storage())
    .bind(flag(p.open_to_signup))
    .bind(flag(p.auto_approve))
    .execute(&mut *tx)
    .await?;
    let change = super::audit::Change {
        action: "program.create",
        target_type: "program",
        target_id: p.id.as_str(),
        changes: super::audit::diff(&serde_json::Value::Null, &audit_fields(p)),
    };
    super::audit::append(&mut tx, change, p.created_at).await?;
    tx.commit().await
}

/// Saves every editable field of an existing program, with its audit row.
pub async fn update(db: &Db, p: &Program) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let before: Option<Program> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM programs WHERE id = $1"))
            .bind(p.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE programs SET name = $1, destination_url = $2, commission_type = $3, \
         commission_value = $4, currency = $5, holdback_days = $6, attribution_window_days = $7, \
         share_on_network = $8, marketplace_description = $9, updated_at = $10, \
         commission_rules = $12, open_to_signup = $13, auto_approve = $14 WHERE id = $11",
    )
    .bind(&p.name)
    .bind(&p.destination_url)
    .bind(p.rules.legacy().rate.kind.as_str())
    .bind(p.rules.legacy().rate.value.scaled())
    .bind(p.currency.as_str())
    .bind(p.holdback_days)
    .bind(p.attribution_window_days)
    .bind(flag(p.share_on_network))
    .bind(&p.marketplace_description)
    .bind(p.updated_at.millis())
    .bind(p.id.as_str())
    .bind(p.rules.to_storage())
    .bind(flag(p.open_to_signup))
    .bind(flag(p.auto_approve))
    .execute(&mut *tx)
    .await?;
    let change = super::audit::Change {
        action: "program.update",
        target_type: "program",
        target_id: p.id.as_str(),
        changes: super::audit::diff(
            &before.as_ref().map(audit_fields).unwrap_or_default(),
            &audit_fields(p),
        ),
    };
    super::audit::append(&mut tx, change, p.updated_at).await?;
    tx.commit().await
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &str) -> sqlx::Result<Option<Program>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM programs WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn list<'e>(ex: impl Exec<'e>) -> sqlx::Result<Vec<Program>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM programs ORDER BY created_at, id"
    ))
    .fetch_all(ex)
    .await
}

/// The programs self-sign-up grants.
pub async fn signup_ids<'e>(ex: impl Exec<'e>) -> sqlx::Result<Vec<ProgramId>> {
    let rows =
        sqlx::query("SELECT id FROM programs WHERE open_to_signup = 1 ORDER BY created_at, id")
            .fetch_all(ex)
            .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map(ProgramId::from_string))
        .collect()
}

pub async fn all_ids<'e>(ex: impl Exec<'e>) -> sqlx::Result<Vec<ProgramId>> {
    let rows = sqlx::query("SELECT id FROM programs ORDER BY created_at, id")
        .fetch_all(ex)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map(ProgramId::from_string))
        .collect()
}

/// The ids in `ids` that name no program.
pub async fn missing_ids<'e>(ex: impl Exec<'e>, ids: &[String]) -> sqlx::Result<Vec<String>> {
    let known: std::collections::HashSet<String> = all_ids(ex)
        .await?
        .into_iter()
        .map(ProgramId::into_string)
        .collect();
    Ok(ids
        .iter()
        .filter(|id| !known.contains(*id))
        .cloned()
        .collect())
}

/// Gives the default program a destination on first start (the migration cannot know it).
pub async fn ensure_default_destination<'e>(
    ex: impl Exec<'e>,
    url: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET destination_url = $1, created_at = $2, updated_at = $2 \
         WHERE id = $3 AND destination_url = ''",
    )
    .bind(url)
    .bind(now.millis())
    .bind(DEFAULT_PROGRAM)
    .execute(ex)
    .await?;
    Ok(())
}

/// The fields of a program an audit row compares.
fn audit_fields(p: &Program) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "destinationUrl": p.destination_url,
        "commissionRules": p.rules.to_storage(),
        "currency": p.currency.as_str(),
        "holdbackDays": p.holdback_days,
        "attributionWindowDays": p.attribution_window_days,
        "shareOnNetwork": p.share_on_network,
        "openToSignup": p.open_to_signup,
        "autoApprove": p.auto_approve,
        "marketplaceDescription": p.marketplace_description,
    })
}

// ---- offerings ----
// network_offering_synced: 0 = needs sending, 2 = being sent (claimed), 1 = sent. A claim
// also holds a lease (`offering_lease_until`, `offering_lease_owner`): an edit during a send
// marks the program 0 again but leaves the lease, so nobody else sends it (a second create)
// until its holder, which sends it again, is done.

/// Programs whose offering must be (re)sent to the Network and that nobody holds.
pub async fn needing_offering_sync<'e>(
    ex: impl Exec<'e>,
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM programs WHERE network_offering_synced IN (0, 2) \
         AND offering_lease_until <= $1 ORDER BY created_at, id",
    )
    .bind(now.millis())
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| r.try_get(0)).collect()
}

/// Claims a program's pending offering sync for `owner` until `until`, so two syncs never
/// send it at once (which would create the offering twice). True for exactly one caller. A
/// claim whose lease lapsed (its holder died) is taken over.
pub async fn claim_offering_sync<'e>(
    ex: impl Exec<'e>,
    program_id: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE programs SET network_offering_synced = 2, offering_lease_until = $1, \
         offering_lease_owner = $2 WHERE id = $3 AND network_offering_synced IN (0, 2) \
         AND offering_lease_until <= $4",
    )
    .bind(until.millis())
    .bind(owner)
    .bind(program_id)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a program's offering as needing a sync if it is, or was, shared. An edit made
/// while a sync is in flight is sent again by that sync, after it.
pub async fn mark_offering_dirty<'e>(ex: impl Exec<'e>, program_id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET network_offering_synced = 0 \
         WHERE id = $1 AND (share_on_network = 1 OR network_offering_id IS NOT NULL)",
    )
    .bind(program_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Every shared program needs publishing (after a connect).
pub async fn mark_all_offerings_dirty<'e>(ex: impl Exec<'e>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET network_offering_synced = 0 WHERE share_on_network = 1 OR network_offering_id IS NOT NULL",
    )
    .execute(ex)
    .await?;
    Ok(())
}

/// Records a sent offering and ends `owner`'s claim; the program stays dirty if it was
/// edited meanwhile.
pub async fn offering_synced(
    db: &Db,
    program_id: &str,
    offering_id: Option<&str>,
    owner: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET network_offering_id = COALESCE($1, network_offering_id), \
         network_offering_synced = CASE WHEN network_offering_synced = 2 AND offering_lease_owner = $2 \
         THEN 1 ELSE network_offering_synced END WHERE id = $3",
    )
    .bind(offering_id)
    .bind(owner)
    .bind(program_id)
    .execute(db.pool())
    .await?;
    end_offering_claim(db.pool(), program_id, owner).await
}

/// Gives a claimed sync back after a failure (the job retries it).
pub async fn offering_sync_failed(db: &Db, program_id: &str, owner: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET network_offering_synced = 0 \
         WHERE id = $1 AND network_offering_synced = 2 AND offering_lease_owner = $2",
    )
    .bind(program_id)
    .bind(owner)
    .execute(db.pool())
    .await?;
    end_offering_claim(db.pool(), program_id, owner).await
}

async fn end_offering_claim<'e>(
    ex: impl Exec<'e>,
    program_id: &str,
    owner: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET offering_lease_until = 0, offering_lease_owner = NULL \
         WHERE id = $1 AND offering_lease_owner = $2",
    )
    .bind(program_id)
    .bind(owner)
    .execute(ex)
    .await?;
    Ok(())
}

/// Releases the claims whose lease lapsed (their holder stopped mid-sync); a claim another
/// live replica holds stays with it.
pub async fn release_offering_claims<'e>(ex: impl Exec<'e>, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE programs SET network_offering_synced = 0, offering_lease_until = 0, \
         offering_lease_owner = NULL WHERE network_offering_synced = 2 AND offering_lease_until <= $1",
    )
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(())
}
