//! The web console, served by the same process as the API: a login form,
//! page shells rendered on the server, and one script that fills them by
//! calling the Open API with the session cookie and its CSRF token. Assets
//! are embedded in the binary; nothing is inlined, so the strict
//! Content-Security-Policy below holds on every page.

mod pages;
mod plain;
pub mod session;

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use dutyhook_domain::ids::is_object_id;
use dutyhook_store::{IncidentFilter, PersonRecord};
use rand::distributions::{Alphanumeric, DistString};
use serde::Deserialize;

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
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
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

/// The person of a valid session cookie, with that cookie.
async fn session_person(
    app: &AppState,
    jar: &CookieJar,
) -> Result<Option<(PersonRecord, String)>, ApiError> {
    let Some(cookie) = jar.get(session::COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    let Some(claimed) = session::verify(&app.key_secret, &cookie, now_s(app)) else {
        return Ok(None);
    };
    Ok(app
        .store
        .person(claimed.person_id)
        .await?
        .filter(|p| claimed.matches_password(&p.password_hash))
        .map(|p| (p, cookie)))
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

fn secure_cookies(app: &AppState) -> bool {
    app.render.public_url.starts_with("https://")
}

/// A cookie for the browser session; the signed value carries its own expiry.
fn cookie(app: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(app))
        .build()
}

async fn login_form(State(app): State<AppState>, jar: CookieJar) -> Response {
    if matches!(session_person(&app, &jar).await, Ok(Some(_))) {
        return Redirect::to("/console/incidents").into_response();
    }
    fresh_login_form(&app, jar, None, "", StatusCode::OK)
}

fn fresh_login_form(
    app: &AppState,
    jar: CookieJar,
    error: Option<&str>,
    email: &str,
    status: StatusCode,
) -> Response {
    let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
    let jar = jar.add(cookie(app, session::LOGIN_COOKIE, token.clone()));
    (status, jar, pages::login(&token, error, email)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(app): State<AppState>,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let expected = jar
        .get(session::LOGIN_COOKIE)
        .map(|c| c.value().to_string());
    if expected.as_deref() != Some(form.csrf.as_str()) || form.csrf.is_empty() {
        return Ok(fresh_login_form(
            &app,
            jar,
            Some("The form had expired; please try again."),
            &form.email,
            StatusCode::FORBIDDEN,
        ));
    }
    let person = app.store.person_by_email(form.email.trim()).await?;
    let verified = match &person {
        Some(p) => verify_password(&form.password, &p.password_hash).await,
        None => false,
    };
    let Some(person) = person.filter(|_| verified) else {
        tracing::info!("console login refused");
        return Ok(fresh_login_form(
            &app,
            jar,
            Some("The email or the password is wrong."),
            &form.email,
            StatusCode::UNAUTHORIZED,
        ));
    };
    tracing::info!(person_id = person.person.person_id, "console login");
    let value = session::issue(
        &app.key_secret,
        person.person.person_id,
        &person.password_hash,
        now_s(&app) + session::LIFETIME_S,
    );
    let jar = jar
        .remove(Cookie::build(session::LOGIN_COOKIE).path("/"))
        .add(cookie(&app, session::COOKIE, value));
    Ok((jar, Redirect::to("/console/incidents")).into_response())
}

async fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): State<AppState>,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Response {
    let cookie_value = jar.get(session::COOKIE).map(|c| c.value().to_string());
    let genuine = cookie_value
        .as_deref()
        .is_some_and(|c| session::csrf_matches(&app.key_secret, c, &form.csrf));
    if !genuine {
        return (
            StatusCode::FORBIDDEN,
            "This logout form did not come from your session.",
        )
            .into_response();
    }
    let jar = jar.remove(Cookie::build(session::COOKIE).path("/"));
    (jar, Redirect::to("/console/login")).into_response()
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
