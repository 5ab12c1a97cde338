//! Email: templates as files (subject, text, HTML) rendered with minijinja, delivered over SMTP
//! (lettre, when `SMTP_URL` is set) or written as `.eml` files into `<data dir>/mail/`.
//!
//! Sending is durable: a message is recorded in the outbox (in the transaction of the change
//! that caused it) before any attempt; the attempt runs in the background, and a failure is
//! retried with backoff by the mail job. A failure never fails the request that caused it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use serde_json::Value;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::mail::OutgoingMail;
use crate::db::{Db, Tx};
use crate::domain::backoff;

/// The emails we send. Each has `templates/<name>/{subject.txt, body.txt, body.html}`.
#[derive(Debug, Clone, Copy)]
pub enum Template {
    Invite,
    SignIn,
    Signup,
    Approved,
    Revoked,
    /// A revoked partner asked to sign in: access is suspended, and why.
    Suspended,
    /// To the admin: a webhook endpoint was disabled (410, or failing for 5 days).
    WebhookDisabled,
}

impl Template {
    fn name(self) -> &'static str {
        match self {
            Template::Invite => "invite",
            Template::SignIn => "signin",
            Template::Signup => "signup",
            Template::Approved => "approved",
            Template::Revoked => "revoked",
            Template::Suspended => "suspended",
            Template::WebhookDisabled => "webhook_disabled",
        }
    }
}

macro_rules! templates {
    ($($name:literal),*) => {
        &[$(
            (concat!($name, "/subject.txt"), include_str!(concat!("templates/", $name, "/subject.txt"))),
            (concat!($name, "/body.txt"), include_str!(concat!("templates/", $name, "/body.txt"))),
            (concat!($name, "/body.html"), include_str!(concat!("templates/", $name, "/body.html"))),
        )*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates!(
    "invite",
    "signin",
    "signup",
    "approved",
    "revoked",
    "suspended",
    "webhook_disabled"
);

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Dir(PathBuf),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    brand: String,
    env: Environment<'static>,
    db: Db,
    clock: SharedClock,
}

/// How long one delivery attempt may hold a message before another deliverer may take it.
const LEASE_MS: i64 = 120_000;
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    pub fn new(config: &Config, db: Db, clock: SharedClock) -> anyhow::Result<Arc<Mailer>> {
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("SMTP_URL is not usable")?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => Transport::Dir(config.mail_dir()),
        };
        let mut env = Environment::new();
        // HTML templates are auto-escaped (minijinja decides by the .html extension).
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .with_context(|| format!("email template {name}"))?;
        }
        Ok(Arc::new(Mailer {
            transport,
            from: config.mail_from.clone(),
            brand: config.brand_name.clone(),
            env,
            db,
            clock,
        }))
    }

    /// Renders a template for `to`. `ctx` is an object; `brand` is added.
    pub fn render(&self, template: Template, to: &str, ctx: Value) -> anyhow::Result<OutgoingMail> {
        let mut ctx = match ctx {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        ctx.insert("brand".into(), Value::String(self.brand.clone()));
        let ctx = Value::Object(ctx);
        let render = |part: &str| -> anyhow::Result<String> {
            let name = format!("{}/{part}", template.name());
            Ok(self.env.get_template(&name)?.render(&ctx)?)
        };
        Ok(OutgoingMail {
            id: ulid::Ulid::new().to_string(),
            to_addr: to.to_string(),
            subject: render("subject.txt")?.trim().replace(['\r', '\n'], " "),
            text_body: render("body.txt")?,
            html_body: render("body.html")?,
            attempts: 0,
        })
    }

    /// Records `mail` in the outbox as part of `tx`. Call [`Mailer::kick`] after commit.
    pub async fn enqueue(&self, tx: &mut Tx, mail: &OutgoingMail) -> sqlx::Result<()> {
        Db::enqueue_mail(tx, mail, self.clock.now()).await
    }

    /// Attempts delivery of a recorded message in the background.
    pub fn kick(self: &Arc<Self>, id: String) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let now = mailer.clock.now();
            match mailer
                .db
                .claim_mail(&id, now, now.plus_millis(LEASE_MS))
                .await
            {
                Ok(Some(mail)) => mailer.attempt(mail).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not claim mail; the retry job will"),
            }
        });
    }

    /// The mail job: delivers every due message. Returns how many were attempted.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let mut attempted = 0;
        loop {
            let now = self.clock.now();
            let batch = self
                .db
                .claim_due_mail(now, now.plus_millis(LEASE_MS), 50)
                .await?;
            if batch.is_empty() {
                return Ok(attempted);
            }
            attempted += batch.len();
            for mail in batch {
                self.attempt(mail).await;
            }
        }
    }

    async fn attempt(&self, mail: OutgoingMail) {
        let result = self.send(&mail).await;
        let now = self.clock.now();
        let saved = match &result {
            Ok(()) => self.db.mark_mail_sent(&mail.id, now).await,
            Err(error) => {
                let next = backoff::next_attempt(mail.attempts as u32, now);
                tracing::warn!(mail_id = %mail.id, attempts = mail.attempts + 1, %error,
                    dead = next.is_none(), "mail delivery failed");
                self.db.mark_mail_failed(&mail.id, error, next).await
            }
        };
        if let Err(e) = saved {
            tracing::error!(mail_id = %mail.id, error = %e, "could not record mail delivery result");
        }
    }

    async fn send(&self, mail: &OutgoingMail) -> Result<(), String> {
        let message = self.build(mail).map_err(|e| format!("bad message: {e}"))?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| format!("smtp: {e}")),
            Transport::Dir(dir) => write_eml(dir, &mail.id, &message.formatted())
                .await
                .map_err(|e| format!("mail dir: {e}")),
        }
    }

    fn build(&self, mail: &OutgoingMail) -> anyhow::Result<Message> {
        Ok(Message::builder()
            .from(self.from.clone())
            .to(mail.to_addr.parse()?)
            .subject(mail.subject.clone())
            .message_id(Some(format!("<{}@openpartner>", mail.id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, &mail.text_body))
                    .singlepart(part(ContentType::TEXT_HTML, &mail.html_body)),
            )?)
    }
}

/// A body part kept readable on the wire (7bit or 8bit, not quoted-printable), so a link in
/// it stays intact for a person or a program reading the raw message. RFC 5322 allows lines of
/// up to 998 octets; lettre's own choice would switch to quoted-printable at 76.
fn part(content_type: ContentType, text: &str) -> SinglePart {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = text.split("\r\n").all(|line| line.len() <= 998);
    let body = match (fits, text.is_ascii()) {
        (true, true) => {
            Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::SevenBit)
        }
        (true, false) => {
            Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::EightBit)
        }
        (false, _) => Body::new(text),
    };
    SinglePart::builder().header(content_type).body(body)
}

/// Writes atomically (temp file, then rename) so a reader never sees half a message.
async fn write_eml(dir: &PathBuf, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{id}.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, dir.join(format!("{id}.eml"))).await
}
