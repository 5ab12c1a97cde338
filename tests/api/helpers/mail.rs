use super::*;

// ---- mail ----

/// One message read back from the outbox directory.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
}

impl Mail {
    pub fn to(&self) -> &str {
        self.header("To").unwrap_or_default()
    }

    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.raw
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
    }

    /// The magic-link token in the message, if any.
    pub fn magic_token(&self) -> Option<String> {
        magic_token(&self.raw)
    }
}

pub fn magic_token(text: &str) -> Option<String> {
    let start = text.find("/auth/magic?token=")? + "/auth/magic?token=".len();
    Some(
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect(),
    )
}

impl TestApp {
    /// Every message written to `<data dir>/mail/`, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let dir = self.data_dir.path().join("mail");
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).collect())
            .unwrap_or_default();
        entries.retain(|e| e.path().extension().is_some_and(|x| x == "eml"));
        // File names are ULIDs: name order is creation order.
        entries.sort_by_key(|e| e.file_name());
        entries
            .iter()
            .map(|e| Mail {
                raw: std::fs::read_to_string(e.path()).unwrap_or_default(),
            })
            .collect()
    }

    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.to() == to).collect()
    }

    /// Waits (bounded) until `to` has received `count` messages; returns them.
    pub async fn wait_for_mails(&self, to: &str, count: usize) -> Vec<Mail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= count {
                return mails;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{to} got {} of {count} messages",
                mails.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The magic-link token in the newest message to `to`.
    pub async fn latest_token(&self, to: &str, nth_mail: usize) -> String {
        let mails = self.wait_for_mails(to, nth_mail).await;
        mails[nth_mail - 1]
            .magic_token()
            .expect("a magic link in the message")
    }

    /// Creates a partner as admin; returns its JSON.
    pub async fn create_partner(&self, email: &str, send_invite: bool) -> Value {
        let a = self
            .admin_post(
                "/partners",
                serde_json::json!({ "email": email, "name": format!("Partner {email}"), "sendInvite": send_invite }),
            )
            .await;
        a.assert_status(201).clone()
    }

    /// The PostgreSQL database of this test, if on PostgreSQL.
    pub fn pg_database_name(&self) -> Option<String> {
        self.pg_database.as_ref().map(|(_, name)| name.clone())
    }

    /// The id of the partner with this email (admin list filter).
    pub async fn partner_id_by_email(&self, email: &str) -> String {
        let list = self.admin_get(&format!("/partners?email={email}")).await;
        list.assert_status(200)["partners"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no partner {email}: {}", list.text))
            .to_string()
    }

    /// Verifies a magic-link token; returns the answer and the session token if one was set.
    pub async fn verify(&self, token: &str) -> (Answer, Option<String>) {
        let a = self
            .call(
                Method::POST,
                "/auth/magic/verify",
                None,
                Some(serde_json::json!({ "token": token })),
            )
            .await;
        let session = a
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("op_session="))
            .map(|c| c.split(';').next().unwrap_or_default().to_string())
            .filter(|s| !s.is_empty());
        (a, session)
    }
}
