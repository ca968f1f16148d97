//! The web console, served by the same process as the API: a login form,
//! page shells rendered on the server, and one script that fills them by
//! calling the Open API with the session cookie and its CSRF token. Assets
//! are embedded in the binary; nothing is inlined, so the strict
//! Content-Security-Policy below holds on every page.

mod login;
mod pages;
mod plain;
pub mod session;

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use dutyhook_domain::ids::is_object_id;
use dutyhook_store::{IncidentFilter, PersonRecord};

use crate::auth::Caller;
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

/// The person of a live session, with its cookie.
async fn session_person(
    app: &AppState,
    jar: &CookieJar,
) -> Result<Option<(PersonRecord, String)>, ApiError> {
    let Some(cookie) = jar.get(session::COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    let hash = session::token_hash(&app.key_secret, &cookie);
    let Some(person_id) = app.store.session_person(&hash, now_s(app)).await? else {
        return Ok(None);
    };
    Ok(app.store.person(person_id).await?.map(|p| (p, cookie)))
}

/// The caller of an API request made by the console: a live session plus
/// the CSRF token of that session in a header. `None` without a session
/// cookie, so that the API asks for a key as before.
pub async fn session_caller(parts: &Parts, app: &AppState) -> Result<Option<Caller>, ApiError> {
    let jar = CookieJar::from_headers(&parts.headers);
    if jar.get(session::COOKIE).is_none() {
        return Ok(None);
    }
    let Some((person, cookie)) = session_person(app, &jar).await? else {
        return Err(ApiError::Unauthorized(
            "the console session has ended: log in again".into(),
        ));
    };
    let token = parts
        .headers
        .get(session::CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !session::csrf_matches(&app.key_secret, &cookie, token) {
        return Err(ApiError::AccessDenied(
            "a console request needs the session's X-CSRF-Token header".into(),
        ));
    }
    Ok(Some(Caller {
        person: person.person,
        role: person.role,
    }))
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
    let Some((person, cookie)) = session_person(&app, &jar).await? else {
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
    let Some(id) = id.filter(|id| is_object_id(id)) else {
        return Ok(None);
    };
    let Some(incident) = app.store.incident(id).await? else {
        return Ok(None);
    };
    let feed = app
        .store
        .feed(id, dutyhook_store::Page { p: 1, limit: 100 }, false)
        .await?;
    Ok(Some(plain::incident(
        &incident.view(&app.render),
        &feed.items,
    )))
}

/// Where an event's `detail_url` points: the incident's page.
async fn detail_url(Path(id): Path<String>) -> Redirect {
    let id: String = id.chars().filter(char::is_ascii_hexdigit).collect();
    Redirect::to(&format!("/console/incident?id={id}"))
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (pages::APP_JS, "text/javascript; charset=utf-8"),
        "style.css" => (pages::STYLE_CSS, "text/css; charset=utf-8"),
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
