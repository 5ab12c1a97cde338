use super::*;

// ---- the money loop ----

impl TestApp {
    /// Creates a program; returns its id.
    pub async fn create_program(&self, destination: &str, commission: Value) -> String {
        let a = self
            .admin_post(
                "/programs",
                serde_json::json!({"name": "Program", "destinationUrl": destination, "commission": commission}),
            )
            .await;
        a.assert_status(201)["id"].as_str().unwrap().to_string()
    }

    /// Creates a link as admin; returns its JSON.
    pub async fn create_link(&self, partner_id: &str, key: &str, program: &str) -> Value {
        let a = self
            .admin_post(
                &format!("/partners/{partner_id}/links"),
                serde_json::json!({"linkKey": key, "programId": program}),
            )
            .await;
        a.assert_status(201).clone()
    }

    /// Follows a share link like a browser would (without following the redirect); returns
    /// the click id the destination receives.
    pub async fn click(&self, key: &str) -> String {
        let res = self
            .client
            .get(self.url(&format!("/r/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        location
            .split("op_click=")
            .nth(1)
            .unwrap()
            .split(['&', '#'])
            .next()
            .unwrap()
            .to_string()
    }

    /// Posts a sale attributed by click id.
    pub async fn sale(&self, external_id: &str, value: &str, click_id: &str) -> Answer {
        self.admin_post(
            "/events",
            serde_json::json!({"externalEventId": external_id, "type": "sale", "value": value, "currency": "USD", "clickId": click_id}),
        )
        .await
    }

    pub async fn clicks_in_db(&self) -> i64 {
        db::clicks::total(self.state.db.pool()).await.unwrap()
    }
}
