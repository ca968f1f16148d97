//! The login form, signing in and out.

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use dutyhook_domain::ids::PersonId;
use rand::distributions::{Alphanumeric, DistString};
use serde::Deserialize;

use super::session::{self, session_person};
use super::{now_s, pages};
use crate::error::ApiError;
use crate::listener::ClientAddr;
use crate::sign_in::{sign_in, SignIn};
use crate::state::AppState;

fn secure_cookies(app: &AppState) -> bool {
    app.render.public_url.starts_with("https://")
}

/// A cookie for the browser session; the store holds its expiry.
fn cookie(app: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure_cookies(app))
        .build()
}

pub(super) async fn form(State(app): State<AppState>, jar: CookieJar) -> Response {
    if matches!(session_person(&app, &jar).await, Ok(Some(_))) {
        return Redirect::to("/console/incidents").into_response();
    }
    fresh_form(&app, jar, None, "", StatusCode::OK)
}

fn fresh_form(
    app: &AppState,
    jar: CookieJar,
    error: Option<&str>,
    email: &str,
    status: StatusCode,
) -> Response {
    let (token, jar) = form_token(app, jar);
    (status, jar, pages::login(&token, error, email)).into_response()
}

/// The CSRF token of a form shown before there is a session, kept in a
/// cookie of its own.
pub(super) fn form_token(app: &AppState, jar: CookieJar) -> (String, CookieJar) {
    let token = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
    let jar = jar.add(cookie(app, session::LOGIN_COOKIE, token.clone()));
    (token, jar)
}

/// Whether a form posted before there is a session carries its cookie's token.
pub(super) fn form_token_matches(jar: &CookieJar, posted: &str) -> bool {
    !posted.is_empty() && jar.get(session::LOGIN_COOKIE).map(|c| c.value()) == Some(posted)
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// "09:44 UTC (in 12 minutes)".
fn when(retry_at: i64, now: i64) -> String {
    let clock = time::OffsetDateTime::from_unix_timestamp(retry_at)
        .map(|t| format!("{:02}:{:02} UTC", t.hour(), t.minute()))
        .unwrap_or_default();
    let minutes = ((retry_at - now) + 59) / 60;
    format!(
        "{clock} (in {minutes} minute{})",
        if minutes == 1 { "" } else { "s" }
    )
}

pub(super) async fn submit(
    State(app): State<AppState>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, ApiError> {
    let client = crate::forwarded::client_ip(peer.ip(), &headers, &app.trusted_proxies);
    if !form_token_matches(&jar, &form.csrf) {
        return Ok(fresh_form(
            &app,
            jar,
            Some("The form had expired; please try again."),
            &form.email,
            StatusCode::FORBIDDEN,
        ));
    }
    let person = match sign_in(&app, &form.email, &form.password, client).await? {
        SignIn::Welcome(person) => person,
        SignIn::Refused => {
            tracing::info!("console login refused");
            return Ok(fresh_form(
                &app,
                jar,
                Some("The email or the password is wrong."),
                &form.email,
                StatusCode::UNAUTHORIZED,
            ));
        }
        SignIn::Throttled { retry_at } => {
            tracing::warn!(%client, "console login throttled");
            let message = format!(
                "Too many failed sign-ins. Try again at {}.",
                when(retry_at, now_s(&app))
            );
            return Ok(fresh_form(
                &app,
                jar,
                Some(&message),
                &form.email,
                StatusCode::TOO_MANY_REQUESTS,
            ));
        }
    };
    let person_id = person.person.person_id;
    tracing::info!(person_id = person_id.get(), "console login");
    start_session(&app, jar, person_id).await
}

/// A new session for `person_id`, and on to the incidents.
pub(super) async fn start_session(
    app: &AppState,
    jar: CookieJar,
    person_id: PersonId,
) -> Result<Response, ApiError> {
    let token = session::new_token();
    let now = now_s(app);
    app.store
        .create_session(
            &session::token_hash(&app.key_secret, &token),
            person_id,
            now,
            now + session::LIFETIME_S,
        )
        .await?;
    let jar = jar
        .remove(Cookie::build(session::LOGIN_COOKIE).path("/"))
        .add(cookie(app, session::COOKIE, token));
    Ok((jar, Redirect::to("/console/incidents")).into_response())
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session for good: the cookie, copied anywhere, stops working.
pub(super) async fn logout(
    State(app): State<AppState>,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Result<Response, ApiError> {
    let cookie_value = jar.get(session::COOKIE).map(|c| c.value().to_string());
    let Some(cookie_value) =
        cookie_value.filter(|c| session::csrf_matches(&app.key_secret, c, &form.csrf))
    else {
        return Ok((
            StatusCode::FORBIDDEN,
            "This logout form did not come from your session.",
        )
            .into_response());
    };
    app.store
        .end_session(&session::token_hash(&app.key_secret, &cookie_value))
        .await?;
    let jar = jar.remove(Cookie::build(session::COOKIE).path("/"));
    Ok((jar, Redirect::to("/console/login")).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_times_read_as_a_clock_and_minutes() {
        assert_eq!(super::when(35_040, 34_320), "09:44 UTC (in 12 minutes)");
        assert_eq!(super::when(35_040, 35_000), "09:44 UTC (in 1 minute)");
    }
}
