//! The page an invitation link opens: the person chooses a password, which
//! uses the link up, ends any session they had, and signs them in.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use dutyhook_domain::error::DomainError;
use dutyhook_domain::person::{validate_password, PASSWORD_MIN_CHARS};
use dutyhook_store::PersonRecord;
use maud::{html, Markup};
use serde::Deserialize;

use super::login::{form_token, form_token_matches, start_session};
use super::pages::signed_out;
use super::{now_s, session};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub(super) struct Link {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub(super) struct ChosenPassword {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    csrf: String,
}

async fn invited(app: &AppState, token: &str) -> Result<Option<PersonRecord>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let hash = session::invite_hash(&app.key_secret, token);
    let Some(id) = app.store.invited_person(&hash, now_s(app)).await? else {
        return Ok(None);
    };
    Ok(app.store.person(id).await?.filter(|p| p.active))
}

pub(super) async fn form(
    State(app): State<AppState>,
    jar: CookieJar,
    Query(link): Query<Link>,
) -> Result<Response, ApiError> {
    Ok(match invited(&app, &link.token).await? {
        Some(person) => choose(&app, jar, &person, &link.token, None, StatusCode::OK),
        None => (StatusCode::GONE, used_up()).into_response(),
    })
}

pub(super) async fn submit(
    State(app): State<AppState>,
    jar: CookieJar,
    Form(form): Form<ChosenPassword>,
) -> Result<Response, ApiError> {
    let Some(person) = invited(&app, &form.token).await? else {
        return Ok((StatusCode::GONE, used_up()).into_response());
    };
    let refused = |error: String, status| {
        Ok(choose(
            &app,
            jar.clone(),
            &person,
            &form.token,
            Some(&error),
            status,
        ))
    };
    if !form_token_matches(&jar, &form.csrf) {
        return refused(
            "The form had expired; please try again.".into(),
            StatusCode::FORBIDDEN,
        );
    }
    if let Err(DomainError::InvalidParameter { message, .. }) =
        validate_password("password", &form.password)
    {
        return refused(format!("The password {message}."), StatusCode::BAD_REQUEST);
    }
    if form.password != form.confirm {
        return refused("The two passwords differ.".into(), StatusCode::BAD_REQUEST);
    }
    let hash = app.passwords.hash(&form.password).await?;
    let token_hash = session::invite_hash(&app.key_secret, &form.token);
    let Some(person_id) = app
        .store
        .accept_invite(&token_hash, now_s(&app), &hash)
        .await?
    else {
        return Ok((StatusCode::GONE, used_up()).into_response());
    };
    tracing::info!(person_id = person_id.get(), "invitation used: password set");
    start_session(&app, jar, person_id).await
}

fn choose(
    app: &AppState,
    jar: CookieJar,
    person: &PersonRecord,
    token: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, jar) = form_token(app, jar);
    let p = &person.person;
    let page = signed_out(
        "Choose a password",
        html! {
                    form.card method="post" action="/console/invite" {
                        h2 { "Welcome, " (p.person_name) }
                        p { "Choose the password you will sign in with as " strong { (p.email) } "." }
                        @if let Some(e) = error {
                            p.error role="alert" { (e) }
                        }
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="token" value=(token);
                        input type="email" name="email" value=(p.email) autocomplete="username" hidden;
                        label for="password" { "New password" }
                        input #password type="password" name="password" autocomplete="new-password"
                            minlength=(PASSWORD_MIN_CHARS) required aria-describedby="password-hint";
                        p.hint #password-hint { "At least " (PASSWORD_MIN_CHARS) " characters; a few words make a good one." }
                        label for="confirm" { "The same again" }
                        input #confirm type="password" name="confirm" autocomplete="new-password" required;
                        button type="submit" { "Set password and sign in" }
                    }
        },
    );
    (status, jar, page).into_response()
}

fn used_up() -> Markup {
    signed_out(
        "Invitation",
        html! {
                    div.card {
                        h2 { "This link no longer works" }
                        p { "An invitation link works once, for 7 days, and only the newest one an admin made for you. Ask an admin for a new one." }
                        p { a href="/console/login" { "Log in" } }
                    }
        },
    )
}
