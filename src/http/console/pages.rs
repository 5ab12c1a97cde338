//! The console's pages and assets, compiled into the binary: each page is a thin HTML shell
//! with the brand's name in its header; `app.js` and the page's own script fill it from the API.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::http::brand::with_brand;
use crate::service::stripe_events;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(console_home))
        .routes(routes!(app_css))
        .routes(routes!(login_page))
        .routes(routes!(network_page))
        .routes(routes!(partners_page))
        .routes(routes!(partner_page))
        .routes(routes!(programs_page))
        .routes(routes!(webhooks_page))
        .routes(routes!(payouts_page))
        .routes(routes!(commissions_page))
        .routes(routes!(stripe_page))
        .routes(routes!(mail_page))
        .routes(routes!(audit_page))
        .routes(routes!(webhooks_js))
        .routes(routes!(payouts_js))
        .routes(routes!(stripe_js))
        .routes(routes!(commissions_js))
        .routes(routes!(mail_js))
        .routes(routes!(audit_js))
        .routes(routes!(app_js))
        .routes(routes!(overview_page))
        .routes(routes!(api_keys_page))
        .routes(routes!(settings_page))
        .routes(routes!(overview_js))
        .routes(routes!(settings_js))
        .routes(routes!(chart_js))
        .routes(routes!(common_js))
        .routes(routes!(network_js))
}

macro_rules! page {
    ($name:ident, $path:literal, $file:literal, $doc:literal $(, params($($params:tt)*))?) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "console", $(params($($params)*),)?
            responses((status = 200, description = "HTML page", content_type = "text/html")))]
        async fn $name(State(state): State<AppState>) -> Response {
            static PAGE: LazyLock<String> = LazyLock::new(|| with_nav(include_str!($file)));
            html(with_brand(&state, &PAGE).await)
        }
    };
}

/// The console's sections, in the order of its nav: the one list every page's nav is made
/// from (a page's `{{nav}}`).
const NAV: &[(&str, &str)] = &[
    ("/admin/overview", "Overview"),
    ("/admin/network", "Network"),
    ("/admin/partners", "Partners"),
    ("/admin/programs", "Programs"),
    ("/admin/commissions", "Commissions"),
    ("/admin/payouts", "Payouts"),
    ("/admin/webhooks", "Webhooks"),
    ("/admin/stripe", "Stripe"),
    ("/admin/mail", "Mail"),
    ("/admin/audit-log", "Audit log"),
    ("/admin/api-keys", "API keys"),
    ("/admin/settings", "Settings"),
];

/// `page` with its `{{nav}}` made from [`NAV`], and `{{stripe_events}}` from the event types
/// the Stripe webhook handles (one list, so the page cannot drift from the code). Once per
/// page, at its first request.
fn with_nav(page: &str) -> String {
    let links: String = NAV
        .iter()
        .map(|(href, label)| format!(r#"<a href="{href}">{label}</a>"#))
        .collect();
    page.replace(
        "{{nav}}",
        &format!(r#"<nav aria-label="Console">{links}</nav>"#),
    )
    .replace("{{stripe_events}}", &stripe_events::HANDLED.join(", "))
}

/// Pages only talk to this origin; scripts and styles come from the binary itself.
fn html(body: String) -> Response {
    (
        [
            (CACHE_CONTROL, "no-store"),
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ],
        Html(body),
    )
        .into_response()
}

/// The console's home: the Overview page.
#[utoipa::path(get, path = "/admin", tag = "console", responses((status = 303, description = "To /admin/overview")))]
async fn console_home() -> Redirect {
    Redirect::to("/admin/overview")
}

page!(
    login_page,
    "/admin/login",
    "login.html",
    "The console's sign-in page."
);
page!(
    network_page,
    "/admin/network",
    "network.html",
    "The Network page."
);
page!(
    partners_page,
    "/admin/partners",
    "partners.html",
    "The partners page."
);
page!(
    partner_page,
    "/admin/partners/{id}",
    "partner.html",
    "One partner: links, snapshot, dashboard (the page reads the id from its address).",
    params(("id" = String, Path, description = "Partner id"))
);
page!(
    programs_page,
    "/admin/programs",
    "programs.html",
    "The programs page."
);

page!(
    webhooks_page,
    "/admin/webhooks",
    "webhooks.html",
    "The webhooks page: endpoints, test events, the delivery log."
);

page!(
    payouts_page,
    "/admin/payouts",
    "payouts.html",
    "The payouts page: balances, a previewed payout run, the list and its actions, the CSV export."
);
page!(
    commissions_page,
    "/admin/commissions",
    "commissions.html",
    "The commissions page: filter, approve one or many, reverse with a reason."
);
page!(
    stripe_page,
    "/admin/stripe",
    "stripe.html",
    "The Stripe page: the webhook URL for Stripe's dashboard, the received events, retry."
);
page!(
    mail_page,
    "/admin/mail",
    "mail.html",
    "The mail page: pending, dead and sent messages (never their bodies), retry."
);
page!(
    audit_page,
    "/admin/audit-log",
    "audit.html",
    "The audit log page: who changed what, newest first."
);

macro_rules! script {
    ($name:ident, $path:literal, $file:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "console",
            responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
        async fn $name() -> Response {
            (
                [
                    (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                    (CACHE_CONTROL, "no-cache"),
                ],
                include_str!($file),
            )
                .into_response()
        }
    };
}

script!(
    network_js,
    "/admin/assets/network.js",
    "network.js",
    "The Network page's script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    webhooks_js,
    "/admin/assets/webhooks.js",
    "webhooks.js",
    "The webhooks page's script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    payouts_js,
    "/admin/assets/payouts.js",
    "payouts.js",
    "The payouts page's script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    stripe_js,
    "/admin/assets/stripe.js",
    "stripe.js",
    "The Stripe page's script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    commissions_js,
    "/admin/assets/commissions.js",
    "commissions.js",
    "The commissions page's script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    mail_js,
    "/admin/assets/mail.js",
    "mail.js",
    "The mail page's script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    audit_js,
    "/admin/assets/audit.js",
    "audit.js",
    "The audit log page's script (it uses the console's helpers in `common.js` and `app.js`)."
);

script!(
    app_js,
    "/admin/assets/app.js",
    "app.js",
    "The console's script."
);

/// The console's styles.
#[utoipa::path(get, path = "/admin/assets/app.css", tag = "console",
    responses((status = 200, description = "CSS", content_type = "text/css")))]
async fn app_css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("app.css"),
    )
        .into_response()
}

page!(
    overview_page,
    "/admin/overview",
    "overview.html",
    "The console's home: the period's totals, the program's chart, top partners and links."
);
page!(
    api_keys_page,
    "/admin/api-keys",
    "api-keys.html",
    "The API keys page: list, create (shown once), revoke."
);
page!(
    settings_page,
    "/admin/settings",
    "settings.html",
    "The settings page: partner sign-up, payouts, brand."
);
script!(
    overview_js,
    "/admin/assets/overview.js",
    "overview.js",
    "The overview page's script (it uses the console's helpers in `common.js` and `app.js` and `chart.js`)."
);
script!(
    settings_js,
    "/admin/assets/settings.js",
    "settings.js",
    "The API keys and settings pages' script (it uses the console's helpers in `common.js` and `app.js`)."
);
script!(
    common_js,
    "/admin/assets/common.js",
    "common.js",
    "Helpers shared by the console's scripts and the partner portal: the API call, status messages, busy buttons."
);
script!(
    chart_js,
    "/admin/assets/chart.js",
    "chart.js",
    "SVG charts, shared by the console and the partner portal."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stripe_page_lists_every_handled_event() {
        let page = with_nav(include_str!("stripe.html"));
        let list = format!(
            r#"<code id="stripe-event-types">{}</code>"#,
            stripe_events::HANDLED.join(", ")
        );
        assert!(page.contains(&list), "{page}");
        assert!(stripe_events::HANDLED.contains(&"invoice_payment.paid"));
        assert!(!page.contains("{{stripe_events}}") && !page.contains("{{nav}}"));
    }

    #[test]
    fn every_page_but_sign_in_has_the_one_nav() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/console");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("html") {
                continue;
            }
            let page = std::fs::read_to_string(&path).unwrap();
            let login = path.ends_with("login.html");
            assert_eq!(page.contains("{{nav}}"), !login, "{}", path.display());
            assert!(
                !page.contains("<nav"),
                "{}: a nav of its own",
                path.display()
            );
        }
        let made = with_nav("<body>{{nav}}</body>");
        assert_eq!(made.matches("<a href=").count(), NAV.len());
        assert!(made.contains(r#"<a href="/admin/mail">Mail</a>"#));
    }
}
