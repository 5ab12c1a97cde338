//! Queue depths for the metrics page, read at scrape time in one statement.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::Exec;

/// Rows waiting in each retry queue.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepths {
    pub outbox_pending: i64,
    pub outbox_dead: i64,
    pub mail_pending: i64,
    pub mail_dead: i64,
    pub webhooks_pending: i64,
}

impl FromRow<'_, AnyRow> for QueueDepths {
    fn from_row(r: &AnyRow) -> sqlx::Result<QueueDepths> {
        Ok(QueueDepths {
            outbox_pending: r.try_get(0)?,
            outbox_dead: r.try_get(1)?,
            mail_pending: r.try_get(2)?,
            mail_dead: r.try_get(3)?,
            webhooks_pending: r.try_get(4)?,
        })
    }
}

pub async fn queue_depths<'e>(ex: impl Exec<'e>) -> sqlx::Result<QueueDepths> {
    sqlx::query_as(
        "SELECT \
         (SELECT COUNT(*) FROM network_outbox WHERE status = 'pending'), \
         (SELECT COUNT(*) FROM network_outbox WHERE status = 'dead'), \
         (SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'), \
         (SELECT COUNT(*) FROM mail_outbox WHERE status = 'dead'), \
         (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending')",
    )
    .fetch_one(ex)
    .await
}
