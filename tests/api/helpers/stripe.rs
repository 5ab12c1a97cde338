use super::*;

// ---- Stripe ----

pub const STRIPE_KEY: &str = "sk_test_openpartner_tests";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_openpartner_tests";

/// An app pointed at a fresh in-process Stripe simulator (`STRIPE_API_BASE`), whose webhooks
/// the simulator sends to the app's `POST /webhooks/stripe`, signed with
/// [`STRIPE_WEBHOOK_SECRET`]. `extra` settings override these.
pub async fn spawn_with_stripe(
    b: Backend,
    extra: &[(&str, &str)],
) -> (TestApp, openpartner::stripe_sim::StripeSim) {
    let sim = openpartner::stripe_sim::StripeSim::start(
        "127.0.0.1:0".parse().unwrap(),
        openpartner::stripe_sim::SimOptions {
            secret_key: STRIPE_KEY.into(),
            webhook: None,
        },
    )
    .await
    .unwrap();
    let mut env: Vec<(&str, &str)> = vec![
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_API_BASE", sim.url.as_str()),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_with(b, &env).await;
    sim.set_webhook(&app.url("/webhooks/stripe"), STRIPE_WEBHOOK_SECRET);
    (app, sim)
}

impl TestApp {
    /// A partner API key for `partner_id`, minted by the admin.
    pub async fn partner_key(&self, partner_id: &str) -> String {
        let a = self
            .admin_post(
                &format!("/partners/{partner_id}/api-keys"),
                serde_json::json!({}),
            )
            .await;
        a.assert_status(201)["plaintext"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The Stripe event `id` as `GET /admin/stripe/events` lists it, once `done` holds for it
    /// (10 s at most: processing runs in the background).
    pub async fn stripe_event_when(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let list = self.admin_get("/admin/stripe/events?limit=200").await;
            let event = list.assert_status(200)["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == id)
                .cloned();
            if let Some(e) = event.filter(|e| done(e)) {
                return e;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "event {id} never got there: {}",
                list.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
