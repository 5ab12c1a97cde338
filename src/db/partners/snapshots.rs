//! A partner's snapshotted commission terms.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use crate::db::{Db, Exec, Tx, flag};
use crate::domain::commission::{CommissionRule, CommissionType};
use crate::domain::ids::PartnerId;
use crate::domain::money::Dec4;
use crate::domain::rules::RuleSet;
use crate::domain::time::Timestamp;

/// A partner's snapshotted commission terms (PartnerCommission).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub partner_id: PartnerId,
    pub rules: RuleSet,
    pub holdback_days: Option<i64>,
    /// `approval` or `amendment`.
    pub source: String,
    pub snapshotted_at: Timestamp,
}

impl FromRow<'_, AnyRow> for Snapshot {
    fn from_row(r: &AnyRow) -> sqlx::Result<Snapshot> {
        Ok(Snapshot {
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            rules: crate::db::programs::rules_or_legacy(
                r.try_get("commission_rules")?,
                CommissionRule {
                    kind: CommissionType::parse(&r.try_get::<String, _>("commission_type")?)
                        .unwrap_or(CommissionType::Percent),
                    value: Dec4::from_scaled(r.try_get("commission_value")?),
                },
                r.try_get::<i64, _>("recurring")? != 0,
            )?,
            holdback_days: r.try_get("holdback_days")?,
            source: r.try_get("source")?,
            snapshotted_at: Timestamp::from_millis(r.try_get("snapshotted_at")?),
        })
    }
}

pub async fn upsert_snapshot(tx: &mut Tx, s: &Snapshot) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO partner_commissions (partner_id, commission_type, commission_value, recurring, \
         holdback_days, source, snapshotted_at, commission_rules) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (partner_id) DO UPDATE SET commission_type = excluded.commission_type, \
         commission_value = excluded.commission_value, recurring = excluded.recurring, \
         holdback_days = excluded.holdback_days, source = excluded.source, \
         snapshotted_at = excluded.snapshotted_at, commission_rules = excluded.commission_rules",
    )
    .bind(s.partner_id.as_str())
    .bind(s.rules.legacy().rate.kind.as_str())
    .bind(s.rules.legacy().rate.value.scaled())
    .bind(flag(s.rules.legacy().recurring))
    .bind(s.holdback_days)
    .bind(&s.source)
    .bind(s.snapshotted_at.millis())
    .bind(s.rules.to_storage())
    .execute(&mut **tx)
    .await?;
    let change = crate::db::audit::Change {
        action: "partner.snapshot_set",
        target_type: "partner",
        target_id: s.partner_id.as_str(),
        changes: serde_json::json!({
            "commissionRules": {"after": s.rules.to_storage()},
            "holdbackDays": {"after": s.holdback_days},
            "source": {"after": s.source},
        }),
    };
    crate::db::audit::append(tx, change, s.snapshotted_at).await
}

pub async fn get_snapshot<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
) -> sqlx::Result<Option<Snapshot>> {
    sqlx::query_as(
        "SELECT partner_id, commission_type, commission_value, recurring, holdback_days, source, \
         snapshotted_at, commission_rules FROM partner_commissions WHERE partner_id = $1",
    )
    .bind(partner.as_str())
    .fetch_optional(ex)
    .await
}

pub async fn delete_snapshot(db: &Db, partner: &PartnerId, now: Timestamp) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("DELETE FROM partner_commissions WHERE partner_id = $1")
        .bind(partner.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 1 {
        let change = crate::db::audit::Change {
            action: "partner.snapshot_delete",
            target_type: "partner",
            target_id: partner.as_str(),
            changes: serde_json::json!({}),
        };
        crate::db::audit::append(&mut tx, change, now).await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
