//! Email: templates as files (subject, text, HTML) rendered with minijinja, delivered over SMTP
//! (lettre, when `SMTP_URL` is set) or written as `.eml` files into `<data dir>/mail/`.
//!
//! Sending is durable: a message is recorded in the outbox (in the transaction of the change
//! that caused it) before any attempt; the attempt runs in the background, and a failure is
//! retried with backoff by the mail job. A failure never fails the request that caused it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db;
use crate::db::mail::OutgoingMail;
use crate::db::{Db, Tx};
use crate::domain::backoff;
use crate::domain::ids::MailId;
use crate::domain::time::Timestamp;
use crate::domain::tokens::redact;

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
    /// A payout was paid: amount, currency, method, reference.
    Paid,
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
            Template::Paid => "paid",
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
    "paid",
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

/// The SMTP timeout applies to each command of a session (connect, EHLO, MAIL, RCPT, DATA…), so
/// one message is also bounded as a whole: an attempt that has not finished by then is a failed
/// attempt, retried later.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
const SEND_DEADLINE: Duration = Duration::from_secs(120);
/// How long one delivery attempt holds its message before another deliverer may take it: longer
/// than the worst attempt (the deadline, and the database writes around it), so a message is never
/// sent by a second deliverer while the first is still sending it. Messages are claimed one at a
/// time, so the lease never has to cover a batch.
const LEASE_MS: i64 = 300_000;

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

    /// Renders a template for `to`. `ctx` is an object; `brand` is added: the name an admin
    /// stored (read in `tx`, so every replica writes the same), else the configured one.
    pub async fn render(
        &self,
        tx: &mut Tx,
        template: Template,
        to: &str,
        ctx: Value,
    ) -> anyhow::Result<OutgoingMail> {
        let mut ctx = match ctx {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let brand = db::settings::brand_name(&mut **tx, &self.brand).await?;
        ctx.insert("brand".into(), Value::String(brand));
        let ctx = Value::Object(ctx);
        let render = |part: &str| -> anyhow::Result<String> {
            let name = format!("{}/{part}", template.name());
            Ok(self.env.get_template(&name)?.render(&ctx)?)
        };
        Ok(OutgoingMail {
            id: MailId::generate(),
            to_addr: to.to_string(),
            subject: render("subject.txt")?.trim().replace(['\r', '\n'], " "),
            text_body: render("body.txt")?,
            html_body: render("body.html")?,
            attempts: 0,
        })
    }

    /// Records `mail` in the outbox as part of `tx`. Call [`Mailer::kick`] after commit.
    pub async fn enqueue(&self, tx: &mut Tx, mail: &OutgoingMail) -> sqlx::Result<()> {
        db::mail::enqueue(&mut **tx, mail, self.clock.now()).await
    }

    /// Attempts delivery of a recorded message in the background.
    pub fn kick(self: &Arc<Self>, id: MailId) {
        let mailer = self.clone();
        tokio::spawn(async move {
            let now = mailer.clock.now();
            match db::mail::claim(mailer.db.pool(), &id, now, now.plus_millis(LEASE_MS)).await {
                Ok(Some(mail)) => mailer.attempt(mail).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not claim mail; the retry job will"),
            }
        });
    }

    /// The mail job: delivers every due message, one claim at a time. Returns how many were
    /// attempted.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let mut attempted = 0;
        loop {
            let now = self.clock.now();
            let Some(mail) = db::mail::claim_due(&self.db, now, now.plus_millis(LEASE_MS), 1)
                .await?
                .pop()
            else {
                return Ok(attempted);
            };
            attempted += 1;
            self.attempt(mail).await;
        }
    }

    async fn attempt(&self, mail: OutgoingMail) {
        let result = match tokio::time::timeout(SEND_DEADLINE, self.send(&mail)).await {
            Ok(result) => result,
            Err(_) => Err(format!("not sent within {} s", SEND_DEADLINE.as_secs())),
        };
        let now = self.clock.now();
        // What stays in the outbox once a message is sent, or will never be, holds no secret:
        // the magic link in it is redacted.
        let text = redact(&mail.text_body);
        let html = redact(&mail.html_body);
        let saved = match &result {
            Ok(()) => {
                metrics::counter!(crate::instruments::MAIL_SENT).increment(1);
                db::mail::mark_sent(self.db.pool(), &mail.id, (&text, &html), now).await
            }
            Err(error) => {
                metrics::counter!(crate::instruments::MAIL_FAILED).increment(1);
                let next = backoff::next_attempt(mail.attempts as u32, now);
                tracing::warn!(mail_id = %mail.id, attempts = mail.attempts + 1, %error,
                    dead = next.is_none(), "mail delivery failed");
                db::mail::mark_failed(self.db.pool(), &mail.id, error, next, (&text, &html)).await
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
            Transport::Dir(dir) => write_eml(dir, mail.id.as_str(), &message.formatted())
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

/// Writes atomically (temp file, then rename) so a reader never sees half a message. Only the
/// owner may read it: it is a mailbox, and a fresh message holds a live magic link.
async fn write_eml(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{id}.tmp"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&tmp).await?;
    file.write_all(bytes).await?;
    file.flush().await?;
    drop(file);
    tokio::fs::rename(&tmp, dir.join(format!("{id}.eml"))).await
}

impl Mailer {
    /// Tidies the outbox directory, when mail goes there: our messages (`<ulid>.eml`) written
    /// before `delete_before` are deleted, and the secrets in those written before
    /// `redact_before` are redacted. The directory is the delivery (a developer's mailbox), so a
    /// fresh message keeps its link; once the link has expired nothing in the file is worth
    /// keeping secret, and the copy goes. Returns (redacted, deleted).
    pub async fn tidy_outbox_dir(
        &self,
        redact_before: Timestamp,
        delete_before: Timestamp,
    ) -> std::io::Result<(usize, usize)> {
        let Transport::Dir(dir) = &self.transport else {
            return Ok((0, 0));
        };
        let mut entries = match tokio::fs::read_dir(dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(e),
        };
        let (mut redacted, mut deleted) = (0, 0);
        while let Some(entry) = entries.next_entry().await? {
            let path = entry.path();
            let Some((name, id)) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".eml"))
                .and_then(|n| Some((n.to_string(), ulid::Ulid::from_string(n).ok()?)))
            else {
                continue;
            };
            let written = Timestamp::from_millis(id.timestamp_ms() as i64);
            if written < delete_before {
                tokio::fs::remove_file(&path).await?;
                deleted += 1;
            } else if written < redact_before {
                let text = tokio::fs::read_to_string(&path).await?;
                let clean = redact(&text);
                if clean != text {
                    write_eml(dir, &name, clean.as_bytes()).await?;
                    redacted += 1;
                }
            }
        }
        Ok((redacted, deleted))
    }
}
