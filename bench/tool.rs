//! `openpartner-bench`: seeds benchmark data and measures what an HTTP load tool cannot.
//! Every command takes the database with `--database-url` (as the server does).
//!
//! - `seed`: N partners (and L links), fast multi-row inserts; writes a random sample of ids
//!   and the link keys as request paths for wrk.
//! - `pages`: latency of the first page and of the last page of `GET /partners?limit=100`
//!   (the last page's cursor is made with the instance's own cursor key).
//! - `insert-loop`: the raw insert rate of the same partner rows through a pool of the same
//!   size, for the `POST /partners` ratio.
//! - `count`: the heartbeat's live-partner count, median of repeated runs.
//! - `clicks`: how many clicks are stored.
//! - `seed-series`: one partner with N clicks spread over the last D days (plus other partners
//!   with a few clicks each), written by the server's own click writer (`db::clicks::insert`, so
//!   `click_daily` is kept as the server keeps it), and attributed conversions with commissions.
//! - `series`: median and p99 latency of `GET /partners/:id/timeseries` and
//!   `GET /stats/timeseries` over D days by day, sequential requests; checks the totals.
//! - `seed-clicks`: fresh clicks on the existing links (the server's click writer); writes
//!   their ids, for `POST /events` with a `clickId` each.
//! - `event-loop`: the raw insert rate of an event and its commission, one transaction each,
//!   through a pool of the same size, for the `POST /events` ratio.
//! - `events-check`: how many events, and commissions of them, have an external id with a prefix.
//! - `seed-payable`: approved, matured commissions (with their events) spread over partners,
//!   for the payout run.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use openpartner::db;
use openpartner::db::clicks::Click;
use openpartner::db::commissions::Commission;
use openpartner::db::events::NewEvent;
use openpartner::db::{Backend, Db, Tx};
use openpartner::domain::commission::CommissionStatus;
use openpartner::domain::cursor::{self, Position};
use openpartner::domain::ids::{CommissionId, EventId, PartnerId};
use openpartner::domain::money::Currency;
use openpartner::domain::time::Timestamp;
use rand::seq::SliceRandom;
use serde_json::json;
use sqlx::Row;

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    database_url: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Seed {
        #[arg(long)]
        partners: usize,
        #[arg(long, default_value_t = 0)]
        links: usize,
        /// Write this many random partner paths (`/partners/<id>`) here.
        #[arg(long)]
        ids_out: Option<String>,
        #[arg(long, default_value_t = 100_000)]
        sample: usize,
        /// Write `/r/<key>` paths of every link here.
        #[arg(long)]
        keys_out: Option<String>,
    },
    Pages {
        #[arg(long)]
        base: String,
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 30)]
        reps: usize,
    },
    InsertLoop {
        #[arg(long, default_value_t = 8)]
        secs: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 16)]
        pool: u32,
    },
    Count {
        #[arg(long, default_value_t = 21)]
        reps: usize,
    },
    Clicks,
    SeedSeries {
        #[arg(long, default_value_t = 1_000_000)]
        clicks: usize,
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// Attributed conversions (each with a commission) of the partner.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        /// Other partners of the program, each with `other_clicks` clicks and one conversion.
        #[arg(long, default_value_t = 1000)]
        other_partners: usize,
        #[arg(long, default_value_t = 100)]
        other_clicks: usize,
    },
    Series {
        #[arg(long)]
        base: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        partner: String,
        #[arg(long, default_value_t = 90)]
        days: i64,
        #[arg(long, default_value_t = 100)]
        reps: usize,
    },
    SeedClicks {
        #[arg(long)]
        clicks: usize,
        #[arg(long)]
        out: String,
    },
    EventLoop {
        #[arg(long, default_value_t = 8)]
        secs: u64,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 16)]
        pool: u32,
    },
    EventsCheck {
        #[arg(long)]
        prefix: String,
    },
    SeedPayable {
        #[arg(long, default_value_t = 10_000)]
        partners: usize,
        #[arg(long, default_value_t = 100_000)]
        commissions: usize,
    },
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let pool_size = match &cli.cmd {
        Cmd::InsertLoop { pool, .. } | Cmd::EventLoop { pool, .. } => *pool,
        _ => 8,
    };
    let db = Db::connect_url(&cli.database_url, pool_size).await?;
    db.migrate().await?;
    match cli.cmd {
        Cmd::Seed {
            partners,
            links,
            ids_out,
            sample,
            keys_out,
        } => seed(&db, partners, links, ids_out, sample, keys_out).await?,
        Cmd::Pages { base, key, reps } => pages(&db, &base, &key, reps).await?,
        Cmd::InsertLoop {
            secs, concurrency, ..
        } => insert_loop(&db, secs, concurrency).await?,
        Cmd::Count { reps } => {
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..reps {
                let t = Instant::now();
                n = openpartner::db::network::count_live_partners(db.pool()).await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            println!("{{\"count\": {n}, \"median_ms\": {:.3}}}", median(times));
        }
        Cmd::Clicks => println!("{}", db::clicks::total(db.pool()).await?),
        Cmd::SeedSeries {
            clicks,
            days,
            events,
            other_partners,
            other_clicks,
        } => seed_series(&db, clicks, days, events, other_partners, other_clicks).await?,
        Cmd::Series {
            base,
            key,
            partner,
            days,
            reps,
        } => series(&base, &key, &partner, days, reps).await?,
        Cmd::SeedClicks { clicks, out } => seed_clicks(&db, clicks, &out).await?,
        Cmd::EventLoop {
            secs, concurrency, ..
        } => event_loop(&db, secs, concurrency).await?,
        Cmd::EventsCheck { prefix } => {
            let like = format!("{prefix}%");
            let events: i64 =
                sqlx::query("SELECT COUNT(*) FROM events WHERE external_event_id LIKE $1")
                    .bind(&like)
                    .fetch_one(db.pool())
                    .await?
                    .try_get(0)?;
            let commissions: i64 = sqlx::query(
                "SELECT COUNT(*) FROM commissions c JOIN events e ON e.id = c.event_id \
                 WHERE e.external_event_id LIKE $1",
            )
            .bind(&like)
            .fetch_one(db.pool())
            .await?
            .try_get(0)?;
            println!("{{\"events\": {events}, \"commissions\": {commissions}}}");
        }
        Cmd::SeedPayable {
            partners,
            commissions,
        } => seed_payable(&db, partners, commissions).await?,
    }
    Ok(())
}

const PARTNER_COLS: &str = "id, email, name, metadata, program_ids, source, campaign_grant_source, \
    pending_review, created_at, updated_at, activated_at";

async fn seed(
    db: &Db,
    n: usize,
    links: usize,
    ids_out: Option<String>,
    sample: usize,
    keys_out: Option<String>,
) -> anyhow::Result<()> {
    let start = chrono::Utc::now().timestamp_millis() - n as i64;
    let t = Instant::now();
    let ids = seed_partners(db, n, start, "").await?;
    eprintln!("seeded {n} partners in {:.1}s", t.elapsed().as_secs_f64());
    let mut keys = Vec::with_capacity(links);
    let mut tx = db.begin().await?;
    for (i, id) in ids.iter().take(links).enumerate() {
        let key = format!("bk{i:05}");
        insert_link(&mut tx, &key, id, start).await?;
        keys.push(key);
    }
    tx.commit().await?;
    if let Some(path) = ids_out {
        let mut rng = rand::thread_rng();
        let mut chosen: Vec<&String> = ids
            .choose_multiple(&mut rng, sample.min(ids.len()))
            .collect();
        chosen.shuffle(&mut rng);
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for id in chosen {
            writeln!(f, "/partners/{id}")?;
        }
    }
    if let Some(path) = keys_out {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
        for k in keys {
            writeln!(f, "/r/{k}")?;
        }
    }
    Ok(())
}

async fn insert_link(tx: &mut Tx, key: &str, partner: &str, at: i64) -> anyhow::Result<String> {
    let id = ulid::Ulid::new().to_string();
    sqlx::query("INSERT INTO links (id, link_key, partner_id, program_id, created_at) VALUES ($1, $2, $3, 'cmp_default', $4)")
        .bind(&id)
        .bind(key)
        .bind(partner)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(id)
}

/// `n` partners of the default program created at `start`, `start + 1`, ... (ms), with emails
/// `partner{tag}{i}@bench.example`; returns their ids.
async fn seed_partners(db: &Db, n: usize, start: i64, tag: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    let per_stmt = 500;
    for chunk_start in (0..n).step_by(20_000) {
        let chunk_end = (chunk_start + 20_000).min(n);
        let mut tx = db.begin().await?;
        for s in (chunk_start..chunk_end).step_by(per_stmt) {
            let e = (s + per_stmt).min(chunk_end);
            let mut sql = format!("INSERT INTO partners ({PARTNER_COLS}) VALUES ");
            for (k, _) in (s..e).enumerate() {
                let b = k * 6;
                if k > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, '{{}}', 'cmp_default', 'admin_invite', 'admin', 0, ${}, ${}, ${})",
                    b + 1, b + 2, b + 3, b + 4, b + 5, b + 6
                ));
            }
            let mut q = sqlx::query(&sql);
            for i in s..e {
                let at = start + i as i64;
                let id = ulid::Ulid::from_parts(at as u64, rand::random()).to_string();
                q = q
                    .bind(id.clone())
                    .bind(format!("partner{tag}{i:07}@bench.example"))
                    .bind(format!("Bench Partner {i}"))
                    .bind(at)
                    .bind(at)
                    .bind(at);
                ids.push(id);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(ids)
}

async fn pages(db: &Db, base: &str, key: &str, reps: usize) -> anyhow::Result<()> {
    let stored = openpartner::db::settings::get(db.pool(), "cursor_key")
        .await?
        .context("no cursor key: start the server once")?;
    let cursor_key = hex::decode(stored)?;
    // The position just after the 100 oldest partners: the page after it is the last one.
    let row = sqlx::query(
        "SELECT created_at, id FROM partners ORDER BY created_at ASC, id ASC LIMIT 1 OFFSET 100",
    )
    .fetch_one(db.pool())
    .await?;
    let last = cursor::encode(
        &cursor_key,
        &Position {
            created_at: row.try_get(0)?,
            id: row.try_get(1)?,
        },
    );
    let client = reqwest::Client::new();
    let time = |url: String| {
        let client = client.clone();
        async move {
            let t = Instant::now();
            let res = client.get(&url).bearer_auth(key).send().await?;
            anyhow::ensure!(res.status() == 200, "{} answered {}", url, res.status());
            let body: serde_json::Value = res.json().await?;
            Ok::<_, anyhow::Error>((t.elapsed().as_secs_f64() * 1000.0, body))
        }
    };
    let (mut first, mut deep) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let (ms, body) = time(format!("{base}/partners?limit=100")).await?;
        anyhow::ensure!(body["partners"].as_array().map_or(0, Vec::len) == 100);
        first.push(ms);
        let (ms, body) = time(format!("{base}/partners?limit=100&cursor={last}")).await?;
        anyhow::ensure!(
            body["partners"].as_array().map_or(0, Vec::len) == 100,
            "the last page has 100 partners"
        );
        anyhow::ensure!(
            body["nextCursor"].is_null(),
            "the last page has no next cursor"
        );
        deep.push(ms);
    }
    // And a real walk of consecutive pages, following nextCursor.
    let mut walked = Vec::new();
    let mut url = format!("{base}/partners?limit=100");
    for _ in 0..200 {
        let (ms, body) = time(url.clone()).await?;
        walked.push(ms);
        match body["nextCursor"].as_str() {
            Some(c) => url = format!("{base}/partners?limit=100&cursor={c}"),
            None => break,
        }
    }
    println!(
        "{{\"first_ms\": {:.3}, \"last_ms\": {:.3}, \"walk_median_ms\": {:.3}, \"walked_pages\": {}}}",
        median(first),
        median(deep),
        median(walked.clone()),
        walked.len()
    );
    Ok(())
}

async fn insert_loop(db: &Db, secs: u64, concurrency: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let prefix = ulid::Ulid::new().to_string();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let db = db.clone();
        let prefix = prefix.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let now = chrono::Utc::now().timestamp_millis();
                sqlx::query(&format!(
                    "INSERT INTO partners ({PARTNER_COLS}) VALUES ($1, $2, $3, '{{}}', 'cmp_default', 'admin_invite', 'admin', 0, $4, $4, $4)"
                ))
                .bind(ulid::Ulid::new().to_string())
                .bind(format!("raw-{prefix}-{t}-{n}@bench.example"))
                .bind("Bench")
                .bind(now)
                .execute(db.pool())
                .await?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        }));
    }
    report_rate(tasks, secs).await
}

const DAY_MS: i64 = 86_400_000;

/// The nearest-rank percentile `p` (0..1) of `v`.
fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A click as the redirect records it (id: a ULID of its time).
fn click(link_id: &str, partner_id: &str, program_id: &str, ts: i64) -> Click {
    Click {
        id: ulid::Ulid::from_parts(ts as u64, rand::random()).to_string(),
        link_id: link_id.to_string(),
        partner_id: partner_id.to_string(),
        program_id: program_id.to_string(),
        ts,
        ip_hash: Some(format!("{:016x}", rand::random::<u64>())),
        user_agent: Some("Mozilla/5.0 (bench)".into()),
        source: "redirect",
        ..Default::default()
    }
}

/// Inserts rows (JSON objects keyed by column name) in one statement: the database unpacks
/// the array (SQLite `json_each`, PostgreSQL `json_to_recordset`), as the click writer does.
/// `cols` are (name, PostgreSQL type).
async fn bulk_insert(
    tx: &mut Tx,
    backend: Backend,
    table: &str,
    cols: &[(&str, &str)],
    rows: Vec<serde_json::Value>,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let names = cols.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
    let source = match backend {
        Backend::Sqlite => format!(
            "SELECT {} FROM json_each($1) WHERE true",
            cols.iter()
                .map(|(c, _)| format!("value ->> '{c}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Backend::Postgres => format!(
            "SELECT {names} FROM json_to_recordset($1::json) AS x({})",
            cols.iter()
                .map(|(c, t)| format!("{c} {t}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    sqlx::query(&format!("INSERT INTO {table} ({names}) {source}"))
        .bind(serde_json::Value::Array(rows).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

const EVENT_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("external_event_id", "text"),
    ("type", "text"),
    ("value_minor", "bigint"),
    ("currency", "text"),
    ("click_id", "text"),
    ("ts", "bigint"),
    ("partner_id", "text"),
    ("program_id", "text"),
    ("attributed", "bigint"),
    ("created_at", "bigint"),
];
const COMMISSION_COLS: &[(&str, &str)] = &[
    ("id", "text"),
    ("partner_id", "text"),
    ("program_id", "text"),
    ("event_id", "text"),
    ("amount_minor", "bigint"),
    ("currency", "text"),
    ("status", "text"),
    ("rule_source", "text"),
    ("accrued_at", "bigint"),
    ("mature_at", "bigint"),
    ("updated_at", "bigint"),
    ("rule_trigger", "text"),
    ("approved_at", "bigint"),
    ("reversed_minor", "bigint"),
];

/// An attributed sale of `value_minor` at `ts` and its 10 % commission (`status`).
#[allow(clippy::too_many_arguments)]
fn event_and_commission(
    tag: &str,
    k: usize,
    partner: &str,
    click_id: Option<&str>,
    ts: i64,
    value_minor: i64,
    currency: &str,
    status: &str,
    mature_at: i64,
    approved_at: Option<i64>,
) -> (serde_json::Value, serde_json::Value) {
    let event_id = ulid::Ulid::from_parts(ts as u64, rand::random()).to_string();
    let amount = value_minor / 10;
    let event = json!({
        "id": event_id, "external_event_id": format!("{tag}-{k}"), "type": "sale",
        "value_minor": value_minor, "currency": currency, "click_id": click_id, "ts": ts,
        "partner_id": partner, "program_id": "cmp_default", "attributed": 1, "created_at": ts,
    });
    let commission = json!({
        "id": ulid::Ulid::from_parts(ts as u64, rand::random()).to_string(),
        "partner_id": partner, "program_id": "cmp_default", "event_id": event_id,
        "amount_minor": amount, "currency": currency, "status": status, "rule_source": "program",
        "accrued_at": ts, "mature_at": mature_at, "updated_at": approved_at.unwrap_or(ts),
        "rule_trigger": "every", "approved_at": approved_at,
        "reversed_minor": if status == "reversed" { amount } else { 0 },
    });
    (event, commission)
}

async fn analyze(db: &Db) -> anyhow::Result<()> {
    // What autovacuum does shortly after a bulk load (PostgreSQL 13+ vacuums after inserts
    // too, which sets the visibility map that index-only scans rely on); SQLite's planner is
    // left as the server leaves it.
    if db.backend() == Backend::Postgres {
        sqlx::query("VACUUM ANALYZE").execute(db.pool()).await?;
    }
    Ok(())
}

async fn seed_series(
    db: &Db,
    n: usize,
    days: i64,
    events: usize,
    others: usize,
    other_clicks: usize,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let now = now_ms();
    // Clicks and conversions fall in [first, first + span): the last `days` days, a minute
    // clear of both ends.
    let first = now - days * DAY_MS + 60_000;
    let span = days * DAY_MS - 120_000;
    let ids = seed_partners(db, others + 1, first - 1_000_000, "series").await?;
    let mut links = Vec::with_capacity(ids.len());
    let mut tx = db.begin().await?;
    for (i, id) in ids.iter().enumerate() {
        links.push(insert_link(&mut tx, &format!("ts{i:05}"), id, first).await?);
    }
    tx.commit().await?;
    let main = ids[0].as_str();
    // The partner's clicks in time order (as the writer sees them), through the server's own
    // writer: clicks rows and their click_daily counts in one transaction per statement.
    let batch = 20_000;
    let events = events.min(n);
    let mut conversion_clicks: Vec<(String, i64)> = Vec::with_capacity(events);
    let mut next_wanted = 0usize;
    let mut written = 0u64;
    for s in (0..n).step_by(batch) {
        let e = (s + batch).min(n);
        let clicks: Vec<Click> = (s..e)
            .map(|i| {
                click(
                    &links[0],
                    main,
                    "cmp_default",
                    first + (i as i64 * span) / n as i64,
                )
            })
            .collect();
        // Conversion k comes from click k * n / events.
        for (j, c) in clicks.iter().enumerate() {
            if next_wanted < events && s + j == next_wanted * n / events {
                conversion_clicks.push((c.id.clone(), c.ts));
                next_wanted += 1;
            }
        }
        written += db::clicks::insert(db, &clicks).await?;
    }
    let total_other = others * other_clicks;
    for s in (0..total_other).step_by(batch) {
        let e = (s + batch).min(total_other);
        let clicks: Vec<Click> = (s..e)
            .map(|i| {
                let p = 1 + i % others;
                click(
                    &links[p],
                    &ids[p],
                    "cmp_default",
                    first + (i as i64 * span) / total_other as i64,
                )
            })
            .collect();
        written += db::clicks::insert(db, &clicks).await?;
    }
    let clicks_secs = t.elapsed().as_secs_f64();
    // Conversions a minute after their click, 10 % in EUR; commissions approved once a day
    // old (the daily auto-approval, holdback 0), every 20th reversed.
    for (c, chunk) in conversion_clicks.chunks(5000).enumerate() {
        let mut ev = Vec::with_capacity(chunk.len());
        let mut cm = Vec::with_capacity(chunk.len());
        for (j, (click_id, click_ts)) in chunk.iter().enumerate() {
            let k = c * 5000 + j;
            let ts = click_ts + 60_000;
            let status = if k % 20 == 19 {
                "reversed"
            } else if ts < now - DAY_MS {
                "approved"
            } else {
                "accrued"
            };
            let approved = (status == "approved").then_some(ts + DAY_MS);
            let currency = if k % 10 == 9 { "EUR" } else { "USD" };
            let value = 1000 + (rand::random::<u64>() % 19_000) as i64;
            let (e, m) = event_and_commission(
                "series",
                k,
                main,
                Some(click_id.as_str()),
                ts,
                value,
                currency,
                status,
                ts,
                approved,
            );
            ev.push(e);
            cm.push(m);
        }
        let mut tx = db.begin().await?;
        bulk_insert(&mut tx, db.backend(), "events", EVENT_COLS, ev).await?;
        bulk_insert(&mut tx, db.backend(), "commissions", COMMISSION_COLS, cm).await?;
        tx.commit().await?;
    }
    analyze(db).await?;
    println!(
        "{}",
        json!({
            "partner": main, "clicks": n, "program_clicks": written, "events": events,
            "clicks_secs": clicks_secs, "seconds": t.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

async fn series(
    base: &str,
    key: &str,
    partner: &str,
    days: i64,
    reps: usize,
) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let since = Timestamp::from_millis(now_ms() - days * DAY_MS).to_rfc3339();
    let mut out = serde_json::Map::new();
    let warmup = 5;
    for (name, url) in [
        ("partner", format!("{base}/partners/{partner}/timeseries")),
        ("program", format!("{base}/stats/timeseries")),
    ] {
        let mut times = Vec::with_capacity(reps);
        let mut body = serde_json::Value::Null;
        for i in 0..reps + warmup {
            let t = Instant::now();
            let res = client
                .get(&url)
                .query(&[("since", since.as_str()), ("interval", "day")])
                .bearer_auth(key)
                .send()
                .await?;
            anyhow::ensure!(res.status() == 200, "{url} answered {}", res.status());
            let bytes = res.bytes().await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if i >= warmup {
                times.push(ms);
            }
            if i + 1 == reps + warmup {
                body = serde_json::from_slice(&bytes)?;
            }
        }
        let buckets = body["buckets"].as_array().context("no buckets")?;
        let sum = |f: &str| {
            buckets
                .iter()
                .map(|b| b[f].as_i64().unwrap_or(0))
                .sum::<i64>()
        };
        out.insert(
            name.into(),
            json!({
                "median_ms": median(times.clone()), "p99_ms": percentile(times, 0.99),
                "buckets": buckets.len(), "clicks": sum("clicks"), "conversions": sum("conversions"),
                "reps": reps,
            }),
        );
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}

async fn seed_clicks(db: &Db, n: usize, out: &str) -> anyhow::Result<()> {
    let t = Instant::now();
    let links: Vec<(String, String, String)> =
        sqlx::query("SELECT id, partner_id, program_id FROM links ORDER BY link_key LIMIT 10000")
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<sqlx::Result<_>>()?;
    anyhow::ensure!(!links.is_empty(), "no links: seed them first");
    // Within the last hour, in time order.
    let first = now_ms() - 3_600_000;
    let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut written = 0;
    for s in (0..n).step_by(20_000) {
        let e = (s + 20_000).min(n);
        let clicks: Vec<Click> = (s..e)
            .map(|i| {
                let (l, p, g) = &links[i % links.len()];
                click(l, p, g, first + (i as i64 * 3_000_000) / n as i64)
            })
            .collect();
        written += db::clicks::insert(db, &clicks).await?;
        for c in &clicks {
            writeln!(f, "{}", c.id)?;
        }
    }
    analyze(db).await?;
    println!(
        "{}",
        json!({"clicks": written, "seconds": t.elapsed().as_secs_f64()})
    );
    Ok(())
}

/// The floor under `POST /events`: the event row and its commission row, in one transaction
/// (as the server writes them), and nothing else: no lookups, no attribution, no webhook rows.
async fn event_loop(db: &Db, secs: u64, concurrency: usize) -> anyhow::Result<()> {
    let partner: String = sqlx::query("SELECT partner_id FROM links ORDER BY link_key LIMIT 1")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let prefix = ulid::Ulid::new().to_string();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let db = db.clone();
        let prefix = prefix.clone();
        let partner = partner.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let now = Timestamp::from_millis(now_ms());
                let event_id = EventId::generate();
                let external = format!("raw-{prefix}-{t}-{n}");
                let click = format!("rawclick-{prefix}-{t}-{n}");
                let mut tx = db.begin().await?;
                db::events::insert(
                    &mut *tx,
                    &NewEvent {
                        id: &event_id,
                        external_event_id: &external,
                        kind: "sale",
                        value_minor: 2500,
                        currency: "USD",
                        click_id: Some(click.as_str()),
                        user_id: None,
                        ts: now,
                        partner_id: Some(partner.as_str()),
                        program_id: Some("cmp_default"),
                        attributed: true,
                        result: "{}",
                        created_at: now,
                    },
                )
                .await?;
                db::commissions::insert(
                    &mut *tx,
                    &Commission {
                        id: CommissionId::generate(),
                        partner_id: PartnerId::from_string(partner.clone()),
                        program_id: "cmp_default".into(),
                        event_id: event_id.clone(),
                        user_id: None,
                        amount_minor: 250,
                        currency: Currency::usd(),
                        status: CommissionStatus::Accrued,
                        rule_source: "program".into(),
                        accrued_at: now,
                        mature_at: now,
                        trigger: None,
                        paid_at: None,
                        approved_at: None,
                        approval_forced: false,
                        reversed_minor: 0,
                    },
                )
                .await?;
                tx.commit().await?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        }));
    }
    report_rate(tasks, secs).await
}

async fn seed_payable(db: &Db, partners: usize, n: usize) -> anyhow::Result<()> {
    let t = Instant::now();
    let now = now_ms();
    let ids = seed_partners(db, partners, now - 200 * DAY_MS, "pay").await?;
    // Accrued 60 to 30 days ago, matured after a 14-day holdback, approved an hour later:
    // payable by the manual rail (the partner's email) with no payout minimum.
    let first = now - 60 * DAY_MS;
    let span = 30 * DAY_MS;
    for s in (0..n).step_by(10_000) {
        let e = (s + 10_000).min(n);
        let mut ev = Vec::with_capacity(e - s);
        let mut cm = Vec::with_capacity(e - s);
        for k in s..e {
            let ts = first + (k as i64 * span) / n as i64;
            let mature = ts + 14 * DAY_MS;
            let value = 5000 + (rand::random::<u64>() % 45_000) as i64;
            let (ev1, cm1) = event_and_commission(
                "pay",
                k,
                &ids[k % partners],
                None,
                ts,
                value,
                "USD",
                "approved",
                mature,
                Some(mature + 3_600_000),
            );
            ev.push(ev1);
            cm.push(cm1);
        }
        let mut tx = db.begin().await?;
        bulk_insert(&mut tx, db.backend(), "events", EVENT_COLS, ev).await?;
        bulk_insert(&mut tx, db.backend(), "commissions", COMMISSION_COLS, cm).await?;
        tx.commit().await?;
    }
    analyze(db).await?;
    println!(
        "{}",
        json!({"partners": partners, "commissions": n, "seconds": t.elapsed().as_secs_f64()})
    );
    Ok(())
}

/// Sums the rows the loop tasks inserted and prints them with the rate over `secs`.
async fn report_rate(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<u64>>>,
    secs: u64,
) -> anyhow::Result<()> {
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    println!(
        "{{\"rows\": {total}, \"per_sec\": {:.1}}}",
        total as f64 / secs as f64
    );
    Ok(())
}
