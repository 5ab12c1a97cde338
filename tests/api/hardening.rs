//! Hardening: answered clicks survive kill -9 (real binary, under load), a NUL wedges nothing,
//! slowloris connections are cut off (real binary), the connection cap and the request and
//! body timeouts, `X-Forwarded-For` read from our proxies' side, the payout account is admin
//! only, holdback enforced, list bounds.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openpartner::db;
use openpartner::db::clicks::Click;
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, free_port, spawn_app, spawn_app_with, spawn_with_network};

/// A partner with a link on the default program; returns the link key.
async fn linked(app: &TestApp, email: &str) -> String {
    let p = app.create_partner(email, false).await;
    let id = p["id"].as_str().unwrap();
    let key = format!("k-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(id, &key, "cmp_default").await;
    key
}

/// Starts the real binary on `app`'s database; returns it and its base URL once it answers.
async fn real_binary(app: &TestApp, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let port = free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_openpartner"));
    cmd.envs(app.env.iter())
        .envs(env.iter().copied())
        .env("OPENPARTNER_BIND", format!("127.0.0.1:{port}"))
        .env("OPENPARTNER_LOG", "warn")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "the binary did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

async fn answered_clicks_survive_kill_9(b: Backend) {
    let app = spawn_app(b).await;
    let key = linked(&app, "load@example.com").await;
    let (mut child, base) = real_binary(&app, &[]).await;
    let answered = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/r/{key}"));
            let (answered, count, stop) = (answered.clone(), count.clone(), stop.clone());
            tokio::spawn(async move {
                // Bounded: at most 2,000 requests per worker, and none once the server is gone.
                for _ in 0..2_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(res) = client.get(&url).send().await else {
                        break;
                    };
                    let location = res
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    if let Some(id) = location.split("op_click=").nth(1) {
                        answered.lock().unwrap().push(id.to_string());
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < 1_500 {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // In the middle of the load: SIGKILL, no chance to flush anything.
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let answered: Vec<String> = answered.lock().unwrap().clone();
    let stored: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT id FROM clicks")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
    let lost: Vec<&String> = answered.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(answered.len() >= 1_500);
    assert!(
        lost.is_empty(),
        "{} of {} answered clicks lost (stored {})",
        lost.len(),
        answered.len(),
        stored.len()
    );
}

async fn a_nul_wedges_nothing(b: Backend) {
    let mut app = spawn_app(b).await;
    let key = linked(&app, "nul@example.com").await;
    let res = app
        .client
        .get(app.url(&format!("/r/{key}?utm_source=a%00b&utm_medium=%00")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let click = location.split("op_click=").nth(1).unwrap().to_string();
    // The readers that flush clicks are not stuck behind it.
    let a = app.sale("after-nul", "10.00", &click).await;
    assert_eq!(a.assert_status(201)["attributed"], true);
    let utm: Option<String> = sqlx::query_scalar("SELECT utm_source FROM clicks WHERE id = $1")
        .bind(&click)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        utm.as_deref(),
        Some("ab"),
        "NUL stripped from what we record"
    );
    // NUL in JSON bodies, queries and paths is a 400 / 404, never a 500.
    app.call(
        Method::POST,
        "/partner-signup",
        None,
        Some(json!({"email": "n@example.com", "name": "a\u{0}b"})),
    )
    .await
    .assert_error(400, "invalid_body");
    app.admin_post(
        "/partners",
        json!({"email": "x@example.com", "name": "x", "metadata": {"k": ["\u{0}"]}}),
    )
    .await
    .assert_error(400, "invalid_body");
    app.admin_get("/partners?email=a%00b")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/partners/a%00b")
        .await
        .assert_error(404, "not_found");
    app.post(
        "/clicks",
        &app.admin_key,
        json!({"id": "c\u{0}1", "linkKey": key}),
    )
    .await
    .assert_error(400, "invalid_body");
    // A click the database refuses (only PostgreSQL refuses NUL) is set aside with its error;
    // the rest of its batch goes in, and the writer goes on.
    let raw = |id: &str, utm: &str| Click {
        id: id.into(),
        link_id: "l".into(),
        partner_id: "p".into(),
        program_id: "cmp_default".into(),
        ts: 1,
        utm: [Some(utm.into()), None, None, None, None],
        source: "redirect",
        ..Default::default()
    };
    let (poison, good) = tokio::join!(
        app.state.clicks.record(raw("poison", "x\u{0}y")),
        app.state.clicks.record(raw("good", "fine")),
    );
    assert!(good);
    let dead = db::clicks::dead_letter_count(app.state.db.pool())
        .await
        .unwrap();
    match b {
        Backend::Postgres => {
            assert!(!poison, "a set-aside click is not reported as stored");
            assert_eq!(dead, 1);
        }
        Backend::Sqlite => {
            assert!(poison);
            assert_eq!(dead, 0);
        }
    }
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM clicks WHERE id IN ('poison', 'good') ORDER BY id")
            .fetch_all(app.state.db.pool())
            .await
            .unwrap();
    assert!(ids.contains(&"good".to_string()));
    app.click(&key).await;
    // Graceful shutdown finishes (the writer is not stuck retrying).
    app.stop().await;
}

/// Reads until the server closes the connection; false if it is still open at `deadline`.
async fn closed_by_server(mut stream: TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

async fn slowloris_and_junk_keys_cost_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let (mut child, base) =
        real_binary(&app, &[("OPENPARTNER_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let addr = base.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        // Headers that never finish.
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // A well-behaved client is served meanwhile.
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    for s in slow {
        assert!(
            closed_by_server(s, deadline).await,
            "a slowloris connection was kept open"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Junk link keys: refused before any lookup, cached nowhere. (A fresh process with the
    // default header timeout: a starved test machine must not turn this into a timeout test.)
    let (mut child, base) = real_binary(&app, &[]).await;
    let client = reqwest::Client::new();
    for i in 0..20 {
        client
            .get(format!("{base}/r/warm{i}"))
            .send()
            .await
            .unwrap();
    }
    let before = rss_kib(child.id());
    for i in 0..2_000 {
        let junk = format!("{i}{}", "x".repeat(60_000));
        let res = client.get(format!("{base}/r/{junk}")).send().await.unwrap();
        assert_eq!(res.status(), 404);
    }
    let grown_mib = rss_kib(child.id()).saturating_sub(before) / 1024;
    assert!(
        grown_mib < 40,
        "2,000 junk keys grew RSS by {grown_mib} MiB"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn connection_cap_and_timeouts(b: Backend) {
    let (app, sim) = spawn_with_network(
        b,
        true,
        &[
            ("OPENPARTNER_MAX_CONNECTIONS", "2"),
            ("OPENPARTNER_REQUEST_TIMEOUT_SECS", "2"),
            ("OPENPARTNER_BODY_READ_TIMEOUT_SECS", "1"),
        ],
    )
    .await;
    app.connect_hosted().await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // Two idle connections take both slots: a third client is not served...
    let idle1 = TcpStream::connect(&addr).await.unwrap();
    let idle2 = TcpStream::connect(&addr).await.unwrap();
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(
        quick.get(app.url("/health")).send().await.is_err(),
        "served past the cap"
    );
    // ...until one of them goes away.
    drop(idle1);
    let patient = reqwest::Client::new();
    assert_eq!(
        patient
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(idle2);
    // A request slower than the limit (the Network takes 3 s here) gets 503 request_timeout.
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/offerings".into()),
        delay_ms: Some(3_000),
        ..Default::default()
    });
    app.admin_get("/admin/network/offerings")
        .await
        .assert_error(503, "request_timeout");
    // A body that never arrives in full is refused, not waited on.
    let mut s = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /partners HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"email\":",
        app.admin_key
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!((400..500).contains(&status), "answer: {answer}");
}

async fn forwarded_for_is_read_from_our_side(b: Backend) {
    let app = spawn_app_with(
        b,
        &[
            ("OPENPARTNER_TRUST_PROXY", "true"),
            ("OPENPARTNER_RATE_LIMIT_PER_MINUTE", "3"),
        ],
    )
    .await;
    let signin = |xff: String| {
        let req = app
            .client
            .post(app.url("/auth/signin"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": "nobody@example.com"}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // The client rotates what it writes; our proxy appends the same address every time.
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(signin(format!("10.0.0.{i}, 203.0.113.9")).await);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    // Another real client (another proxy-appended address) has its own budget.
    assert_eq!(signin("10.0.0.1, 203.0.113.10".into()).await, 200);
}

async fn payout_account_is_admin_only(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("pay@example.com", false).await;
    let path = format!("/partners/{}", p["id"].as_str().unwrap());
    let writer = app.scoped_key(&["partners:read", "partners:write"]).await;
    let patch = |key: String, body: Value| {
        let path = path.clone();
        let app = &app;
        async move { app.call(Method::PATCH, &path, Some(&key), Some(body)).await }
    };
    patch(
        writer.clone(),
        json!({"stripeConnectAccountId": "acct_evil"}),
    )
    .await
    .assert_error(403, "forbidden");
    patch(writer.clone(), json!({"name": "Renamed"}))
        .await
        .assert_status(200);
    let a = patch(
        app.admin_key.clone(),
        json!({"stripeConnectAccountId": "acct_good"}),
    )
    .await;
    assert_eq!(a.assert_status(200)["stripeConnectAccountId"], "acct_good");
}

async fn holdback_is_enforced(b: Backend) {
    let app = spawn_app(b).await;
    app.call(
        Method::PATCH,
        "/programs/cmp_default",
        Some(&app.admin_key),
        Some(json!({"holdbackDays": 14})),
    )
    .await
    .assert_status(200);
    let key = linked(&app, "hold@example.com").await;
    let c = app.click(&key).await;
    let sale = app.sale("held", "100.00", &c).await;
    let id = sale.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/commissions/{id}/approve");
    let approve = |body: Option<Value>| app.call(Method::POST, &path, Some(&app.admin_key), body);
    let a = approve(None).await;
    assert!(a.assert_error(409, "not_mature")["matureAt"].is_string());
    approve(Some(json!({"force": true, "typo": 1})))
        .await
        .assert_error(400, "invalid_body");
    let a = approve(Some(json!({"force": true}))).await;
    let c = a.assert_status(200);
    assert_eq!(c["status"], "approved");
    assert_eq!(c["approvalForced"], true);
    approve(None).await.assert_error(409, "invalid_transition");
    // A matured commission is approved without force, and not marked forced.
    let c2 = app.click(&key).await;
    let id2 = app.sale("matured", "100.00", &c2).await.body["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.advance(Duration::from_secs(14 * 86_400));
    let a = app
        .admin_post(&format!("/commissions/{id2}/approve"), json!({}))
        .await;
    assert_eq!(a.assert_status(200)["approvalForced"], false);
}

async fn lists_are_bounded(b: Backend) {
    let app = spawn_app(b).await;
    // A 1 MB list of one id, repeated: refused at once by its length.
    let many: Vec<&str> = vec!["cmp_default"; 60_000];
    app.admin_post(
        "/partners",
        json!({"email": "l@example.com", "name": "L", "programIds": many}),
    )
    .await
    .assert_error(400, "invalid_body");
    // Duplicates within the bound are folded.
    let dup: Vec<&str> = vec!["cmp_default"; 1_000];
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "d@example.com", "name": "D", "programIds": dup, "sendInvite": false}),
        )
        .await;
    assert_eq!(a.assert_status(201)["programIds"], json!(["cmp_default"]));
}

async fn a_lost_database_is_503_not_500(b: Backend) {
    let app = spawn_app(b).await;
    let create = || {
        app.admin_post(
            "/partners",
            json!({"email": "outage@example.com", "name": "O", "sendInvite": false}),
        )
    };
    match b {
        Backend::Postgres => {
            // The database stops taking connections and drops the ones it has, as during a
            // restart.
            let name = app.pg_database_name().unwrap();
            let server =
                openpartner::db::Db::connect_url(&crate::helpers::pg_server_url().unwrap(), 1)
                    .await
                    .unwrap();
            sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
                .execute(server.pool())
                .await
                .unwrap();
            sqlx::query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            )
            .bind(&name)
            .execute(server.pool())
            .await
            .unwrap();
            let a = create().await;
            a.assert_error(503, "database_unavailable");
            assert!(a.header("retry-after").is_some());
            sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                .execute(server.pool())
                .await
                .unwrap();
            server.close().await;
        }
        Backend::Sqlite => {
            // Another process holds the write lock past the busy timeout.
            let url = format!(
                "sqlite://{}",
                app.data_dir.path().join("openpartner.db").display()
            );
            let other = openpartner::db::Db::connect_url(&url, 1).await.unwrap();
            let mut conn = other.pool().acquire().await.unwrap();
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut *conn)
                .await
                .unwrap();
            let a = create().await;
            a.assert_error(503, "database_unavailable");
            assert!(a.header("retry-after").is_some());
            sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
        }
    }
    // Once the database is back, the same call works.
    create().await.assert_status(201);
}

both_backends!(
    a_lost_database_is_503_not_500,
    answered_clicks_survive_kill_9,
    a_nul_wedges_nothing,
    slowloris_and_junk_keys_cost_nothing,
    connection_cap_and_timeouts,
    forwarded_for_is_read_from_our_side,
    payout_account_is_admin_only,
    holdback_is_enforced,
    lists_are_bounded,
);
