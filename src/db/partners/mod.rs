//! Partners and their commission snapshots. A partner's granted programs are a list on its own
//! row, so reading a partner is one primary-key lookup.

mod row;
mod snapshots;

use super::{Db, Exec, Tx, flag};
use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::domain::time::Timestamp;

pub use row::{COLUMNS, NetworkLink, Partner, join_ids};
pub use snapshots::{Snapshot, delete_snapshot, get_snapshot, upsert_snapshot};

pub struct NewPartner<'a> {
    pub id: &'a PartnerId,
    pub email: &'a str,
    pub name: &'a str,
    pub metadata: &'a str,
    pub program_ids: &'a [ProgramId],
    pub profile: Option<&'a str>,
    pub source: PartnerSource,
    pub campaign_grant_source: GrantSource,
    pub pending_review: bool,
    pub now: Timestamp,
    pub activated_at: Option<Timestamp>,
}

/// A partner's status as answers show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerStatus {
    Invited,
    Active,
    PendingReview,
    Revoked,
}

impl PartnerStatus {
    pub fn parse(s: &str) -> Option<PartnerStatus> {
        match s {
            "invited" => Some(PartnerStatus::Invited),
            "active" => Some(PartnerStatus::Active),
            "pending_review" => Some(PartnerStatus::PendingReview),
            "revoked" => Some(PartnerStatus::Revoked),
            _ => None,
        }
    }
}

/// Filters of the partner list.
#[derive(Default)]
pub struct PartnerFilter<'a> {
    pub email: Option<&'a str>,
    pub status: Option<PartnerStatus>,
    /// Partners granted this program (a program id: no `%`, `\\` or spaces).
    pub program: Option<&'a str>,
}

/// Fields a PATCH may change; `None` keeps the stored value.
#[derive(Default)]
pub struct PartnerChanges {
    pub name: Option<String>,
    pub metadata: Option<String>,
    pub stripe_connect_account_id: Option<Option<String>>,
    pub program_ids: Option<Vec<ProgramId>>,
}

/// Inserts a partner; a taken email is a unique violation.
pub async fn insert<'e>(ex: impl Exec<'e>, p: NewPartner<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO partners (id, email, name, metadata, program_ids, profile, source, \
         campaign_grant_source, pending_review, created_at, updated_at, activated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)",
    )
    .bind(p.id.as_str())
    .bind(p.email)
    .bind(p.name)
    .bind(p.metadata)
    .bind(join_ids(p.program_ids))
    .bind(p.profile)
    .bind(p.source.as_str())
    .bind(p.campaign_grant_source.as_str())
    .bind(flag(p.pending_review))
    .bind(p.now.millis())
    .bind(p.activated_at.map(Timestamp::millis))
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &PartnerId) -> sqlx::Result<Option<Partner>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM partners WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(ex)
        .await
}

pub async fn get_by_email<'e>(ex: impl Exec<'e>, email: &str) -> sqlx::Result<Option<Partner>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM partners WHERE email = $1"))
        .bind(email)
        .fetch_optional(ex)
        .await
}

/// One page, newest first, strictly after `after` = (createdAt, id) in that order.
pub async fn list<'e>(
    ex: impl Exec<'e>,
    after: Option<(i64, &str)>,
    filter: &PartnerFilter<'_>,
    limit: i64,
) -> sqlx::Result<Vec<Partner>> {
    let mut sql = format!("SELECT {COLUMNS} FROM partners");
    let mut clauses = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if filter.email.is_some() {
        clauses.push(format!("email = ${}", next()));
    }
    if let Some(status) = filter.status {
        clauses.push(
            match status {
                PartnerStatus::Revoked => "revoked_at IS NOT NULL",
                PartnerStatus::PendingReview => "revoked_at IS NULL AND pending_review <> 0",
                PartnerStatus::Active => {
                    "revoked_at IS NULL AND pending_review = 0 AND activated_at IS NOT NULL"
                }
                PartnerStatus::Invited => {
                    "revoked_at IS NULL AND pending_review = 0 AND activated_at IS NULL"
                }
            }
            .to_string(),
        );
    }
    if filter.program.is_some() {
        // program_ids is a space-separated list. REPLACE is an exact, case-sensitive
        // substring test on both backends (LIKE ignores ASCII case on SQLite only).
        let n = next();
        clauses.push(format!(
            "REPLACE(' ' || program_ids || ' ', ${n}, '') <> ' ' || program_ids || ' '"
        ));
    }
    if after.is_some() {
        let (a, b) = (next(), next());
        clauses.push(format!("(created_at, id) < (${a}, ${b})"));
    }
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        next()
    ));
    let mut q = sqlx::query_as(&sql);
    if let Some(email) = filter.email {
        q = q.bind(email);
    }
    if let Some(program) = filter.program {
        q = q.bind(format!(" {program} "));
    }
    if let Some((created, id)) = after {
        q = q.bind(created).bind(id);
    }
    q.bind(limit).fetch_all(ex).await
}

/// Applies a PATCH, with its audit row. False when there is no such partner.
pub async fn update(
    db: &Db,
    id: &PartnerId,
    c: &PartnerChanges,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let Some(before) = get(&mut *tx, id).await? else {
        return Ok(false);
    };
    if !update_fields(&mut *tx, id, c, now).await? {
        return Ok(false);
    }
    if let Some(after) = get(&mut *tx, id).await? {
        let changes = super::audit::diff(
            &super::audit::partner_fields(&before),
            &super::audit::partner_fields(&after),
        );
        let change = super::audit::Change {
            action: "partner.update",
            target_type: "partner",
            target_id: id.as_str(),
            changes,
        };
        super::audit::append(&mut tx, change, now).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Applies a PATCH's fields, without the audit row. False when there is no such partner.
pub async fn update_fields<'e>(
    ex: impl Exec<'e>,
    id: &PartnerId,
    c: &PartnerChanges,
    now: Timestamp,
) -> sqlx::Result<bool> {
    // A status read belongs to the account it was read from: another account clears it.
    let changed = "COALESCE(stripe_connect_account_id, '') <> COALESCE($4, '')";
    let done = sqlx::query(&format!(
        "UPDATE partners SET \
         name = COALESCE($1, name), \
         metadata = COALESCE($2, metadata), \
         stripe_connect_account_id = CASE WHEN $3 = 1 THEN $4 ELSE stripe_connect_account_id END, \
         stripe_details_submitted = CASE WHEN $3 = 1 AND {changed} THEN NULL ELSE stripe_details_submitted END, \
         stripe_payouts_enabled = CASE WHEN $3 = 1 AND {changed} THEN NULL ELSE stripe_payouts_enabled END, \
         stripe_status_at = CASE WHEN $3 = 1 AND {changed} THEN NULL ELSE stripe_status_at END, \
         program_ids = COALESCE($5, program_ids), \
         updated_at = $6 \
         WHERE id = $7"
    ))
    .bind(&c.name)
    .bind(&c.metadata)
    .bind(flag(c.stripe_connect_account_id.is_some()))
    .bind(c.stripe_connect_account_id.clone().flatten())
    .bind(c.program_ids.as_deref().map(join_ids))
    .bind(now.millis())
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes a live partner and ends its sessions and partner keys, all in `tx`.
/// False when the partner is already revoked (or absent).
pub async fn revoke(
    tx: &mut Tx,
    id: &PartnerId,
    reason: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE partners SET revoked_at = $1, revoke_reason = $2, updated_at = $1 \
         WHERE id = $3 AND revoked_at IS NULL",
    )
    .bind(now.millis())
    .bind(reason)
    .bind(id.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("UPDATE sessions SET ended_at = $1 WHERE partner_id = $2 AND ended_at IS NULL")
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE partner_id = $2 AND revoked_at IS NULL")
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// Clears a revocation. False when the partner was not revoked.
pub async fn reinstate<'e>(
    ex: impl Exec<'e>,
    id: &PartnerId,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE partners SET revoked_at = NULL, revoke_reason = NULL, updated_at = $1 \
         WHERE id = $2 AND revoked_at IS NOT NULL",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A verified magic link: records the email as verified and, unless the partner awaits
/// review, activates it. True when this activated it (it was not active before): the
/// activation is its own conditional update, so of concurrent verifications one activates.
pub async fn verify_email(tx: &mut Tx, id: &PartnerId, now: Timestamp) -> sqlx::Result<bool> {
    let activated = sqlx::query(
        "UPDATE partners SET activated_at = $1 \
         WHERE id = $2 AND pending_review = 0 AND activated_at IS NULL",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE partners SET email_verified_at = COALESCE(email_verified_at, $1), \
         updated_at = $1 WHERE id = $2",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(activated.rows_affected() == 1)
}

/// Approves a partner awaiting review. False when it was not awaiting review.
pub async fn approve<'e>(ex: impl Exec<'e>, id: &PartnerId, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE partners SET pending_review = 0, activated_at = COALESCE(activated_at, $1), \
         updated_at = $1 WHERE id = $2 AND pending_review = 1",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Partners by id, in the given order (500 ids a statement).
pub async fn by_ids(db: &Db, ids: &[String]) -> sqlx::Result<Vec<Partner>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM partners WHERE id IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_as::<_, Partner>(&sql);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        let mut found = q.fetch_all(db.pool()).await?;
        let order: std::collections::HashMap<&str, usize> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        found.sort_by_key(|p| order.get(p.id.as_str()).copied());
        out.extend(found);
    }
    Ok(out)
}
