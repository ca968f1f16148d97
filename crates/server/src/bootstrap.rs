//! The first admin: made from the command line or by `serve` on an empty
//! database, never by an unauthenticated call.

use dutyhook_domain::person::{validate_email, validate_person_name, Role};
use dutyhook_store::NewPerson;
use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;

use crate::error::ApiError;
use crate::routes::directory::issue_key;
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct AdminCreated {
    pub person_id: i64,
    pub app_key: String,
    pub password: String,
}

pub async fn create_admin(
    app: &AppState,
    name: &str,
    email: &str,
) -> Result<(AdminCreated, String), ApiError> {
    let name = validate_person_name(name)?;
    let email = validate_email(email)?;
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 20);
    let person = app
        .store
        .create_person(NewPerson {
            name,
            email: email.clone(),
            role: Role::Admin,
            password_hash: app.passwords.hash(&password).await?,
        })
        .await?;
    let key = issue_key(app, person.person.person_id, "created with the admin").await?;
    Ok((
        AdminCreated {
            person_id: person.person.person_id.into(),
            app_key: key.app_key,
            password,
        },
        email,
    ))
}
