use super::*;

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

both_backends!(
    slowloris_and_junk_keys_cost_nothing,
    connection_cap_and_timeouts,
    forwarded_for_is_read_from_our_side,
);
