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

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use openpartner::db::Db;
use openpartner::domain::cursor::{self, Position};
use rand::seq::SliceRandom;
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
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let pool_size = match &cli.cmd {
        Cmd::InsertLoop { pool, .. } => *pool,
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
                n = db.count_live_partners().await?;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            println!("{{\"count\": {n}, \"median_ms\": {:.3}}}", median(times));
        }
        Cmd::Clicks => println!("{}", db.total_clicks().await?),
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
    let mut ids = Vec::with_capacity(n);
    let per_stmt = 500;
    let t = Instant::now();
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
                    .bind(format!("partner{i:07}@bench.example"))
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
    eprintln!("seeded {n} partners in {:.1}s", t.elapsed().as_secs_f64());
    let mut keys = Vec::with_capacity(links);
    let mut tx = db.begin().await?;
    for (i, id) in ids.iter().take(links).enumerate() {
        let key = format!("bk{i:05}");
        sqlx::query("INSERT INTO links (id, link_key, partner_id, program_id, created_at) VALUES ($1, $2, $3, 'cmp_default', $4)")
            .bind(ulid::Ulid::new().to_string())
            .bind(&key)
            .bind(id.as_str())
            .bind(start)
            .execute(&mut *tx)
            .await?;
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

async fn pages(db: &Db, base: &str, key: &str, reps: usize) -> anyhow::Result<()> {
    let stored = db
        .get_setting("cursor_key")
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
