//! Storage: one code base over SQLite (embedded default) and PostgreSQL through sqlx's `Any`
//! driver. All SQL lives in this module's files. Portable SQL only (`$n` placeholders, BIGINT
//! epoch-millisecond timestamps, TEXT ids and JSON, 0/1 integers for booleans); the few
//! backend-specific statements branch on [`Backend`] here, never in handlers.

pub mod api_keys;
pub mod audit;
pub mod backfill;
pub mod clicks;
pub mod commissions;
pub mod events;
pub mod exports;
pub mod gauges;
pub mod jobs;
pub mod links;
pub mod logo;
pub mod magic_links;
pub mod mail;
pub mod network;
pub mod outbox;
pub mod partners;
pub mod payout_reports;
pub mod payout_runs;
pub mod payout_transfers;
pub mod payouts;
pub mod programs;
pub mod retention;
pub mod sessions;
pub mod settings;
pub mod stats;
pub mod stripe;
pub mod stripe_billing;
pub mod transfer;
pub mod webhook_deliveries;
pub mod webhooks;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Executor, Transaction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle shared by the whole application. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

pub type Tx = Transaction<'static, Any>;

/// What a one-statement storage function runs on: the pool (`db.pool()`) or an open
/// transaction (`&mut **tx`). Storage is free functions per module (`db::links::get(ex, id)`):
/// one statement takes `impl Exec`, several that must commit together take `&mut Tx`, and a
/// function that opens its own transactions takes `&Db`.
pub trait Exec<'e>: sqlx::Executor<'e, Database = Any> {}

impl<'e, T: sqlx::Executor<'e, Database = Any>> Exec<'e> for T {}

/// The backend a connection talks to, for the backend-specific statements run inside a
/// transaction.
pub fn backend_of(conn: &sqlx::AnyConnection) -> Backend {
    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

/// Migrations, compiled in: one folder per backend, same logical schema, same file names,
/// listed once.
macro_rules! migrations {
    ($(($version:literal, $name:literal)),* $(,)?) => {
        const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[$((
            $version,
            $name,
            include_str!(concat!("../../migrations/sqlite/", $name, ".sql")),
        )),*];
        const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[$((
            $version,
            $name,
            include_str!(concat!("../../migrations/postgres/", $name, ".sql")),
        )),*];
    };
}

migrations!(
    (1, "0001_api_keys"),
    (2, "0002_partners"),
    (3, "0003_links_clicks_commissions"),
    (4, "0004_network"),
    (5, "0005_outbox_version"),
    (6, "0006_click_indexes"),
    (7, "0007_admin_sessions"),
    (8, "0008_live_partner_count"),
    (9, "0009_commission_rules"),
    (10, "0010_hardening"),
    (11, "0011_leases_retention_logo"),
    (12, "0012_webhooks"),
    (13, "0013_payouts"),
    (14, "0014_operations"),
    (15, "0015_stripe_connect_events"),
    (16, "0016_stripe_billing"),
    (17, "0017_click_daily"),
    (18, "0018_commission_program_index"),
    (19, "0019_mail_list_index"),
    (20, "0020_stripe_events_object"),
    (21, "0021_series_covering_indexes"),
    (22, "0022_stripe_sales_by_sale"),
);

/// Where the database is and how many connections to hold: the part of the configuration
/// [`Db::connect`] needs (the `database` section and the data directory), so storage does not
/// depend on the whole `Config`.
pub struct Options<'a> {
    /// `DATABASE_URL`; `None` uses the SQLite file `sqlite_path`.
    pub url: Option<&'a str>,
    /// Created when missing, for the SQLite file.
    pub data_dir: &'a Path,
    pub sqlite_path: PathBuf,
    pub max_connections: u32,
}

impl Db {
    /// Connects to `DATABASE_URL`, or to `<data dir>/openpartner.db` (created if missing).
    pub async fn connect(options: &Options<'_>) -> anyhow::Result<Db> {
        let url = match options.url {
            Some(url) => url.to_string(),
            None => {
                std::fs::create_dir_all(options.data_dir).with_context(|| {
                    format!("cannot create data dir {}", options.data_dir.display())
                })?;
                format!("sqlite://{}", options.sqlite_path.display())
            }
        };
        Db::connect_url(&url, options.max_connections).await
    }

    pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            // Create the file on first start.
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the writer; the busy timeout makes writers
                    // queue instead of failing; foreign keys are off by default in SQLite.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .with_context(|| format!("cannot connect to the {backend:?} database"))?;
        Ok(Db { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies pending migrations (PostgreSQL serializes concurrent migrators with a lock).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let files = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations = files
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect::<Vec<_>>();
        let migrator = Migrator {
            migrations: Cow::Owned(migrations),
            ..Migrator::DEFAULT
        };
        migrator.run(&self.pool).await.context("migration failed")?;
        Ok(())
    }

    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`) so
    /// two writers queue on the busy timeout instead of failing with SQLITE_BUSY on upgrade.
    ///
    /// Cancel-safe: the `BEGIN` runs in a task of its own. A caller dropped while it is in
    /// flight (a client gone, a timeout) would otherwise leave the pooled connection inside a
    /// transaction sqlx does not track (sqlx 0.8.6 and 0.9.0, upstream issue #4393), and every
    /// later write on that connection would be silently discarded. The task always finishes;
    /// if nobody waits for its transaction any more, dropping it rolls back.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        let start = std::time::Instant::now();
        let (pool, backend) = (self.pool.clone(), self.backend);
        let tx = tokio::spawn(async move {
            match backend {
                Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Backend::Postgres => pool.begin().await,
            }
        })
        .await
        .unwrap_or_else(|e| Err(sqlx::Error::Protocol(format!("begin task failed: {e}"))));
        metrics::histogram!(crate::instruments::DB_POOL_WAIT).record(start.elapsed().as_secs_f64());
        tx
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl Db {
    /// Claims up to `limit` due rows of a retry queue (`status`, `next_attempt_at`,
    /// `locked_until` columns) until `lease_until`, and returns them. A row is delivered by one
    /// claimant at a time: the update re-checks the lease, and on PostgreSQL concurrent
    /// claimants skip each other's rows (`FOR UPDATE SKIP LOCKED`). A crashed claimant's rows
    /// come back when the lease lapses.
    pub(crate) async fn claim_due<T>(
        &self,
        table: &str,
        returning: &str,
        now: crate::domain::time::Timestamp,
        lease_until: crate::domain::time::Timestamp,
        limit: i64,
    ) -> sqlx::Result<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        sqlx::query_as(&format!(
            "UPDATE {table} SET locked_until = $1 WHERE id IN ( \
               SELECT id FROM {table} WHERE status = 'pending' AND next_attempt_at <= $2 \
               AND locked_until <= $2 ORDER BY next_attempt_at, id LIMIT $3 {lock}) \
             AND locked_until <= $2 RETURNING {returning}"
        ))
        .bind(lease_until.millis())
        .bind(now.millis())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }
}

/// An operator's retry of a retry-queue row, in `tx`: `update` (binding `$1` now and `$2` the
/// row's id) puts the row back to pending; when it changed the row, the audit row
/// `{status: {before, after: "pending"}}` goes in the same transaction. True when requeued.
pub(crate) async fn requeue_audited(
    tx: &mut Tx,
    update: &str,
    (action, target_type): (&str, &str),
    id: &str,
    before: Option<&str>,
    now: crate::domain::time::Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(update)
        .bind(now.millis())
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    let change = audit::Change {
        action,
        target_type,
        target_id: id,
        changes: serde_json::json!({"status": {"before": before, "after": "pending"}}),
    };
    audit::append(tx, change, now).await?;
    Ok(true)
}

/// A nullable epoch-millisecond column as a timestamp.
pub fn opt_ts(
    r: &sqlx::any::AnyRow,
    column: &str,
) -> sqlx::Result<Option<crate::domain::time::Timestamp>> {
    use sqlx::Row;
    Ok(r.try_get::<Option<i64>, _>(column)?
        .map(crate::domain::time::Timestamp::from_millis))
}

/// 0/1 integers stand for booleans in storage.
pub fn flag(b: bool) -> i64 {
    i64::from(b)
}

/// Decodes a stored text value with `parse`. An unknown value is a decode error naming its
/// `column` (`table.column`), never a silent default.
pub fn decode<T>(
    column: &str,
    value: String,
    parse: impl FnOnce(&str) -> Option<T>,
) -> sqlx::Result<T> {
    parse(&value).ok_or_else(|| sqlx::Error::Decode(format!("{column}: {value}").into()))
}

/// [`decode`] for a descriptive column with no CHECK constraint (a value only an edited export
/// or a hand-made fix could hold): an unknown value reads as `fallback`, logged, instead of
/// failing every read of the row, as the text column was read before it was typed.
pub fn decode_or<T>(
    column: &str,
    value: String,
    parse: impl FnOnce(&str) -> Option<T>,
    fallback: T,
) -> T {
    parse(&value).unwrap_or_else(|| {
        tracing::warn!(column, value = %value, "unknown stored value; read as the default");
        fallback
    })
}
