use super::*;

/// `promtool check metrics` (Debian's `prometheus` package) accepts the page.
fn promtool_accepts(page: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/prometheus.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}\n{page}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn metrics_page_is_valid_and_moves(b: Backend) {
    let app = spawn_app_with(b, &[("OPENPARTNER_METRICS_TOKEN", TOKEN)]).await;
    // The token is required, compared exactly.
    app.call(Method::GET, "/metrics", None, None)
        .await
        .assert_error(401, "unauthorized");
    app.get("/metrics", "metrics-token-012345678X")
        .await
        .assert_error(401, "unauthorized");
    app.get("/metrics", &app.admin_key)
        .await
        .assert_error(401, "unauthorized");

    let before = metrics(&app).await;
    let partner = app.create_partner("metrics@example.com", false).await;
    let pid = partner["id"].as_str().unwrap();
    app.create_link(pid, "metricslink", "cmp_default").await;
    let click = app.click("metricslink").await;
    let sale = app.sale("m-1", "10.00", &click).await;
    sale.assert_status(201);
    let cid = sale.body["commission"]["id"].as_str().unwrap().to_string();
    app.admin_post(&format!("/commissions/{cid}/approve"), json!({}))
        .await
        .assert_status(200);
    app.admin_get(&format!("/partners/{pid}"))
        .await
        .assert_status(200);
    app.admin_get("/partners/no-such-partner-id").await;
    let after = metrics(&app).await;
    promtool_accepts(&after);

    for series in [
        "openpartner_http_requests_total{",
        "openpartner_clicks_queued_total",
        "openpartner_clicks_written_total",
        "openpartner_redirects_total{",
        "openpartner_conversions_total{",
        "openpartner_commission_status_changes_total{",
        "openpartner_http_request_duration_seconds_bucket{",
        "openpartner_click_batch_size_count",
    ] {
        assert!(
            value(&after, series) > value(&before, series),
            "{series} did not move:\n{after}"
        );
    }
    for present in [
        "openpartner_http_requests_in_flight",
        "openpartner_db_pool_connections",
        "openpartner_db_pool_idle_connections",
        "openpartner_network_outbox_pending",
        "openpartner_mail_pending",
        "openpartner_webhook_deliveries_pending",
        "openpartner_build_info{",
        "# HELP openpartner_http_requests_total",
    ] {
        assert!(after.contains(present), "{present} missing:\n{after}");
    }
    // The route label is the template, never the raw path.
    assert!(after.contains(r#"route="/partners/{id}""#), "{after}");
    assert!(!after.contains(pid), "a raw id in a label:\n{after}");
    assert!(!after.contains("no-such-partner-id"), "{after}");
    assert!(after.contains(r#"status="4xx""#), "{after}");
}

async fn metrics_off_without_settings(b: Backend) {
    let app = spawn_app(b).await;
    app.get("/metrics", TOKEN)
        .await
        .assert_error(404, "not_found");
    app.call(Method::GET, "/metrics", None, None)
        .await
        .assert_error(404, "not_found");
}

async fn metrics_on_a_separate_listener(b: Backend) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let app = spawn_app_with(b, &[("OPENPARTNER_METRICS_BIND", bind.as_str())]).await;
    // Not on the main listener (no token set) ...
    app.call(Method::GET, "/metrics", None, None)
        .await
        .assert_error(404, "not_found");
    // ... but on its own address, without auth.
    app.admin_get("/partners").await.assert_status(200);
    let page = app
        .client
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("openpartner_http_requests_total"), "{page}");
    promtool_accepts(&page);
}

both_backends!(
    metrics_page_is_valid_and_moves,
    metrics_off_without_settings,
    metrics_on_a_separate_listener,
);
