//! Building and running the application: connect and migrate the database, bind the listener
//! (port 0 in tests), serve until told to stop, then finish in-flight requests, stop the jobs
//! and flush what is buffered.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cache::TtlCache;
use crate::clicks::ClickBuffer;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::db::{self, Db};
use crate::email::Mailer;
use crate::network::client::NetworkClient;
use crate::principal::Authenticator;
use crate::rate_limit::RateLimits;
use crate::state::AppState;
use crate::{http, jobs};

pub struct Application {
    listener: TcpListener,
    /// `OPENPARTNER_METRICS_BIND`: `/metrics` without auth, on its own address.
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Application::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(
        config: Config,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        if config.metrics_token.is_some() || config.metrics_bind.is_some() {
            crate::instruments::install();
        }
        if !config.stripe_webhook_secrets.expose().is_empty() && config.stripe_livemode.is_none() {
            tracing::warn!(
                "Stripe webhooks are on without STRIPE_SECRET_KEY or STRIPE_LIVEMODE: test-mode \
                 and live-mode events both count; set STRIPE_LIVEMODE=true for a live account"
            );
        }
        let db = Db::connect(&db_options(&config)).await?;
        db.migrate().await?;
        let home = url::Url::parse(&config.public_url)
            .map_or_else(|_| config.public_url.clone(), String::from);
        db::programs::ensure_default_destination(db.pool(), &home, clock.now()).await?;
        // Offering syncs claimed by a process that stopped mid-way are sent again once their
        // lease lapsed (never one another live replica holds).
        db::programs::release_offering_claims(db.pool(), clock.now()).await?;
        import_disk_logo(&db, &config).await?;
        let cursor_key = load_secret(&db, "cursor_key").await?;
        let ip_salt = load_secret(&db, "ip_salt").await?;
        let state = build_state(config, db, clock, cursor_key, ip_salt)?;
        let listener = TcpListener::bind(state.config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", state.config.bind))?;
        let metrics_listener =
            match state.config.metrics_bind {
                Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                    format!("cannot listen on {addr} (OPENPARTNER_METRICS_BIND)")
                })?),
                None => None,
            };
        Ok(Application {
            listener,
            metrics_listener,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The port of the separate metrics listener, when `OPENPARTNER_METRICS_BIND` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully within the configured
    /// timeout: in-flight requests finish, background jobs stop, buffers are flushed.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            metrics_listener,
            state,
        } = self;
        let cancel = CancellationToken::new();
        let metrics_server = metrics_listener.map(|l| {
            let app = http::metrics_page::bind_router(state.clone());
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let stopped = async move { cancel.cancelled().await };
                if let Err(e) = axum::serve(l, app).with_graceful_shutdown(stopped).await {
                    tracing::warn!(error = %e, "metrics listener failed");
                }
            })
        });
        let scheduler = jobs::start(state.clone(), cancel.clone()).await?;
        // A backfill left running by a crashed instance resumes once its lease lapses.
        crate::network::backfill::resume(&state).await;
        tracing::info!(
            addr = %listener.local_addr()?,
            backend = ?state.db.backend(),
            "openpartner listening"
        );

        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let app = http::app(state.clone());
        let limits = crate::server::Limits {
            header_read_timeout: state.config.header_read_timeout,
            max_connections: state.config.max_connections,
        };
        let mut server = tokio::spawn(crate::server::serve(listener, app, limits, async move {
            shutdown.await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        }));
        let timeout = state.config.shutdown_timeout;
        tokio::select! {
            result = &mut server => result.context("server task failed")?,
            _ = async {
                let _ = stopping_rx.wait_for(|stopping| *stopping).await;
                tokio::time::sleep(timeout).await;
            } => {
                tracing::warn!(?timeout, "in-flight requests did not finish in time; aborting them");
                server.abort();
            }
        }
        cancel.cancel();
        if let Some(task) = metrics_server {
            let _ = task.await;
        }
        jobs::stop(scheduler).await;
        // Webhook attempts in flight finish (each is bounded by its 15 s timeout).
        state.webhooks.shutdown(timeout).await;
        // Every answered redirect's click reaches the database before we exit.
        state.clicks.shutdown().await;
        state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The part of the configuration the database needs.
pub fn db_options(config: &Config) -> db::Options<'_> {
    db::Options {
        url: config.database_url.as_ref().map(|u| u.expose().as_str()),
        data_dir: &config.data_dir,
        sqlite_path: config.default_sqlite_path(),
        max_connections: config.db_max_connections,
    }
}

/// A logo uploaded before logos moved into the database (the file `<data dir>/uploads/logo`,
/// its type and version in the `logo` setting) is imported, so an upgrade keeps it.
async fn import_disk_logo(db: &Db, config: &Config) -> anyhow::Result<()> {
    if db::logo::meta(db.pool()).await?.is_some() {
        return Ok(());
    }
    let Some(raw) = db::settings::get(db.pool(), "logo").await? else {
        return Ok(());
    };
    let Ok(bytes) = tokio::fs::read(config.uploads_dir().join("logo")).await else {
        return Ok(());
    };
    let meta: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
    if let (Some(content_type), Some(version)) =
        (meta["contentType"].as_str(), meta["version"].as_i64())
    {
        if bytes.len() <= crate::uploads::MAX_LOGO {
            db::logo::put(db, content_type, version, &bytes).await?;
            tracing::info!("imported the logo from the uploads directory into the database");
        }
    }
    Ok(())
}

/// A random instance secret (cursor signing key, IP-hash salt): made once, shared by every
/// replica through the database.
async fn load_secret(db: &Db, name: &str) -> anyhow::Result<[u8; 32]> {
    let fresh = hex::encode(rand::random::<[u8; 32]>());
    let stored = db::settings::get_or_init(db, name, &fresh).await?;
    let bytes = hex::decode(stored).with_context(|| format!("stored {name} is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored {name} is not 32 bytes"))
}

fn build_state(
    config: Config,
    db: Db,
    clock: SharedClock,
    cursor_key: [u8; 32],
    ip_salt: [u8; 32],
) -> anyhow::Result<AppState> {
    let mailer = Mailer::new(&config, db.clone(), clock.clone())?;
    let auth = Authenticator::new(
        db.clone(),
        clock.clone(),
        config.admin_api_key.as_ref().map(|k| k.expose().as_str()),
        config.auth_cache_ttl,
        config.auth_cache_capacity,
    );
    Ok(AppState::new(crate::state::Services {
        rate_limits: Arc::new(RateLimits::new(config.public_rate_per_minute)),
        link_cache: Arc::new(TtlCache::weighed(
            100_000,
            config.link_cache_max_bytes,
            crate::link_cache::cache_weight,
            config.link_cache_ttl,
        )),
        clicks: ClickBuffer::start(
            db.clone(),
            clock.clone(),
            config.click_commit_timeout,
            config.click_flush_timeout,
        ),
        network: NetworkClient::new(&config.network_url),
        stripe: config
            .stripe_secret_key
            .as_ref()
            .map(|k| crate::stripe::StripeClient::new(&config.stripe_api_base, k.expose())),
        cursor_key: Arc::new(cursor_key),
        ip_salt: Arc::new(ip_salt),
        heartbeat: Default::default(),
        backfill_worker: Default::default(),
        webhooks: crate::webhooks::worker::Worker::new(config.webhooks_allow_private)?,
        config: Arc::new(config),
        db,
        clock,
        auth,
        mailer,
    }))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
