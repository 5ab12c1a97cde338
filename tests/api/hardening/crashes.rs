use super::*;

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
);
