//! The SQL of a payout run: the amounts owed to each (partner, currency) group, and holding
//! them in the run's payouts with a conditional update per row, so two runs at once can never
//! put a commission in two payouts.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::payouts::{Owed, currency};
use super::{Backend, Exec, Tx, backend_of};
use crate::domain::ids::PartnerId;
use crate::domain::money::Currency;

/// A (partner, currency) pair of a payout run.
pub type Group = (PartnerId, Currency);

/// What a run owes a group: an approved commission in no live payout, or a clawback no live
/// payout nets yet.
pub struct GroupOwed {
    pub partner_id: PartnerId,
    pub currency: Currency,
    pub owed: Owed,
}

impl FromRow<'_, AnyRow> for GroupOwed {
    fn from_row(r: &AnyRow) -> sqlx::Result<GroupOwed> {
        Ok(GroupOwed {
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            currency: super::decode("owed.currency", r.try_get("currency")?, currency)?,
            owed: Owed::from_row(r)?,
        })
    }
}

/// Rows of a group set, as the one JSON parameter the statements below unpack.
fn groups_json(groups: &[Group]) -> String {
    let rows: Vec<serde_json::Value> = groups
        .iter()
        .map(|(p, c)| serde_json::json!({"p": p.as_str(), "c": c.as_str()}))
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The approved commissions in no live payout of these groups, each with what is left of it
/// after partial reversals, and the clawbacks no live payout nets yet. On PostgreSQL both are
/// locked with `lock` in id order (commissions first), so concurrent runs lock in one order and
/// the later one finds what the earlier took gone; SQLite's writer holds the database already.
pub async fn owed_in_groups(
    tx: &mut Tx,
    groups: &[Group],
    lock: bool,
) -> sqlx::Result<(Vec<GroupOwed>, Vec<GroupOwed>)> {
    let (source, lock) = match backend_of(tx) {
        Backend::Sqlite => ("SELECT value ->> 'p', value ->> 'c' FROM json_each($1)", ""),
        Backend::Postgres => (
            "SELECT p, c FROM json_to_recordset($1::json) AS g(p text, c text)",
            if lock { " FOR UPDATE" } else { "" },
        ),
    };
    let param = groups_json(groups);
    let commissions = sqlx::query_as(&format!(
        "SELECT partner_id, currency, id, amount_minor - reversed_minor AS amount_minor, accrued_at \
         FROM commissions WHERE status = 'approved' AND payout_id IS NULL \
         AND (partner_id, currency) IN ({source}) ORDER BY id{lock}"
    ))
    .bind(&param)
    .fetch_all(&mut **tx)
    .await?;
    let clawbacks = sqlx::query_as(&format!(
        "SELECT partner_id, currency, id, amount_minor, created_at AS accrued_at FROM clawbacks \
         WHERE payout_id IS NULL AND (partner_id, currency) IN ({source}) ORDER BY id{lock}"
    ))
    .bind(&param)
    .fetch_all(&mut **tx)
    .await?;
    Ok((commissions, clawbacks))
}

/// Rows per statement of [`hold`].
const HOLD_BATCH: usize = 5_000;

/// Puts each commission and clawback in its payout (`(payout id, owed)`), with the payout's
/// items. True only if every one of them was still free, at the amount it was read with (the
/// caller rolls back otherwise: a concurrent change took some).
pub async fn hold(
    tx: &mut Tx,
    commissions: &[(&str, &Owed)],
    clawbacks: &[(&str, &Owed)],
) -> sqlx::Result<bool> {
    // The claims as a table `h (id, payout, amount)`, joined to the claimed rows by primary key.
    // On SQLite a materialized CTE: as a subquery in `UPDATE … FROM`, SQLite scanned every
    // payable commission and re-read the JSON for each (minutes for 100k).
    let (with, from) = match backend_of(tx) {
        Backend::Sqlite => (
            "WITH h AS MATERIALIZED (SELECT value ->> 'id' AS id, value ->> 'payout' AS payout, \
             value ->> 'amount' AS amount FROM json_each($1)) ",
            "h",
        ),
        Backend::Postgres => (
            "",
            "json_to_recordset($1::json) AS h(id text, payout text, amount bigint)",
        ),
    };
    let json = |rows: &[(&str, &Owed)]| {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(payout, o)| serde_json::json!({"id": o.id, "payout": payout, "amount": o.amount_minor}))
            .collect();
        serde_json::Value::Array(rows).to_string()
    };
    for chunk in commissions.chunks(HOLD_BATCH) {
        let param = json(chunk);
        let done = sqlx::query(&format!(
            "{with}UPDATE commissions SET payout_id = h.payout FROM {from} \
             WHERE commissions.id = h.id AND commissions.payout_id IS NULL \
             AND commissions.status = 'approved' \
             AND commissions.amount_minor - commissions.reversed_minor = h.amount"
        ))
        .bind(&param)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Ok(false);
        }
        sqlx::query(&format!(
            "{with}INSERT INTO payout_items (payout_id, commission_id, amount_minor) \
             SELECT payout, id, amount FROM {from}"
        ))
        .bind(&param)
        .execute(&mut **tx)
        .await?;
    }
    for chunk in clawbacks.chunks(HOLD_BATCH) {
        let param = json(chunk);
        let done = sqlx::query(&format!(
            "{with}UPDATE clawbacks SET payout_id = h.payout FROM {from} \
             WHERE clawbacks.id = h.id AND clawbacks.payout_id IS NULL"
        ))
        .bind(&param)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != chunk.len() as u64 {
            return Ok(false);
        }
        sqlx::query(&format!(
            "{with}INSERT INTO payout_clawbacks (payout_id, clawback_id) SELECT payout, id FROM {from}"
        ))
        .bind(&param)
        .execute(&mut **tx)
        .await?;
    }
    Ok(true)
}

/// The ids of the commissions a payout holds, in id order.
pub async fn commission_ids<'e>(ex: impl Exec<'e>, payout: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT commission_id FROM payout_items WHERE payout_id = $1 ORDER BY commission_id",
    )
    .bind(payout)
    .fetch_all(ex)
    .await
}
