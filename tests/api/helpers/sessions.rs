use super::*;

// ---- cookie sessions ----

impl TestApp {
    /// Signs in to the console with `key`; returns (cookie header value, CSRF token).
    pub async fn console_session_with(&self, key: &str) -> (String, String) {
        let a = self
            .call(
                Method::POST,
                "/admin/session",
                None,
                Some(serde_json::json!({ "key": key })),
            )
            .await;
        let csrf = a.assert_status(200)["csrfToken"]
            .as_str()
            .unwrap()
            .to_string();
        let set = a.header("set-cookie").unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        assert!(cookie.starts_with("op_admin=opa_"), "{cookie}");
        (cookie, csrf)
    }

    /// Signs in to the console with the test's admin key.
    pub async fn console_session(&self) -> (String, String) {
        self.console_session_with(&self.admin_key.clone()).await
    }

    /// A request authenticated by a cookie, with an optional CSRF token.
    pub async fn with_cookie(
        &self,
        method: Method,
        path: &str,
        cookie: &str,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("cookie", cookie);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        answer(req.send().await.expect("request sent")).await
    }
}
