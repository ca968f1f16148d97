//! The web console, served by the same process as the API: a login form,
//! page shells rendered on the server, and one script that fills them by
//! calling the Open API with the session cookie and its CSRF token. Assets
//! are embedded in the binary; nothing is inlined, so the strict
//! Content-Security-Policy below holds on every page.

mod invite;
mod login;
mod pages;
pub use pages::SCRIPTS;
mod plain;
pub mod session;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use dutyhook_domain::ids::{is_object_id, IncidentId};
use dutyhook_store::IncidentFilter;

use crate::error::ApiError;
use crate::state::AppState;

pub use pages::Page;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/incidents") }))
        .route(
            "/console",
            get(|| async { Redirect::to("/console/incidents") }),
        )
        .route("/incidents/{id}", get(detail_url))
        .route("/console/login", get(login::form).post(login::submit))
        .route("/console/logout", post(login::logout))
        .route("/console/invite", get(invite::form).post(invite::submit))
        .route("/console/assets/{name}", get(asset))
        .route("/console/{page}", get(page))
        .layer(middleware::from_fn(security_headers))
}

async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

fn now_s(app: &AppState) -> i64 {
    app.clock.now_ms() / 1000
}

async fn page(
    State(app): State<AppState>,
    jar: CookieJar,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(page) = Page::named(&name) else {
        return Ok((StatusCode::NOT_FOUND, pages::not_found()).into_response());
    };
    let Some((person, cookie)) = session::session_person(&app, &jar).await? else {
        return Ok(Redirect::to("/console/login").into_response());
    };
    let csrf = session::csrf_token(&app.key_secret, &cookie);
    let retention_s = app.history_retention.as_secs();
    let plain = match page {
        Page::Incidents => Some(plain_incidents(&app).await?),
        Page::Incident => plain_incident(&app, query.get("id")).await?,
        _ => None,
    };
    Ok(pages::shell(page, &person, &csrf, retention_s, plain).into_response())
}

async fn plain_incidents(app: &AppState) -> Result<maud::Markup, ApiError> {
    let now = now_s(app);
    let filter = IncidentFilter {
        start_time: now - 7 * 86400,
        end_time: now + 60,
        ..Default::default()
    };
    let listing = app
        .store
        .list_incidents(&filter, dutyhook_store::Page { p: 1, limit: 20 })
        .await?;
    let views: Vec<_> = listing.items.iter().map(|i| i.view(&app.render)).collect();
    Ok(plain::incident_list(&views, listing.total))
}

async fn plain_incident(
    app: &AppState,
    id: Option<&String>,
) -> Result<Option<maud::Markup>, ApiError> {
    let Some(id) = id
        .filter(|id| is_object_id(id))
        .map(|id| IncidentId::from(id.as_str()))
    else {
        return Ok(None);
    };
    let Some(incident) = app.store.incident(&id).await? else {
        return Ok(None);
    };
    let feed = app
        .store
        .feed(&id, &[], dutyhook_store::Page { p: 1, limit: 100 }, false)
        .await?;
    Ok(Some(plain::incident(
        &incident.view(&app.render),
        &feed.items,
    )))
}

/// Where an event's `detail_url` points: the incident's page.
/// A mail's "Acknowledge it" link (`?acknowledge=1`) opens the page
/// offering it; the acknowledgement itself is the person's press.
async fn detail_url(Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Redirect {
    let id: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    let ask = match q.get("acknowledge").map(String::as_str) {
        Some("1") => "&acknowledge=1",
        _ => "",
    };
    Redirect::to(&format!("/console/incident?id={id}{ask}"))
}

async fn asset(Path(name): Path<String>) -> Response {
    let script = pages::SCRIPTS.iter().find(|(n, _)| *n == name);
    let (body, kind) = match (name.as_str(), script) {
        (_, Some((_, js))) => (*js, "text/javascript; charset=utf-8"),
        ("style.css", _) => (pages::STYLE_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
