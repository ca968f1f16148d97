use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::PersonId;
use crate::DomainError;

/// A person as it appears in payloads (`events.md`, "Person").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Person {
    #[schema(value_type = i64)]
    pub person_id: PersonId,
    pub person_name: String,
    pub email: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn may_operate_incidents(self) -> bool {
        matches!(self, Role::Admin | Role::Member)
    }
}

pub fn validate_person_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(DomainError::invalid(
            "person_name",
            "must be 1 to 64 characters",
        ));
    }
    Ok(name.to_string())
}

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Length is what makes a password strong; no composition rules. `field`
/// names the form field or request key it came from.
pub fn validate_password(field: &str, password: &str) -> Result<(), DomainError> {
    let n = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&n) {
        return Err(DomainError::invalid(
            field,
            format!("must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters (a few words make a good one)"),
        ));
    }
    if password.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(
            field,
            "may not contain control characters",
        ));
    }
    if password.trim().is_empty() {
        return Err(DomainError::invalid(field, "may not be only spaces"));
    }
    Ok(())
}

/// A deliberately small check: something@something.something, no spaces.
pub fn validate_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if ok {
        Ok(email.to_ascii_lowercase())
    } else {
        Err(DomainError::invalid(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        assert!(validate_password("password", "correct horse").is_ok());
        assert!(validate_password("password", "short").is_err());
        assert!(validate_password("password", &"x".repeat(257)).is_err());
        assert!(validate_password("password", "ten\0chars!!").is_err());
        assert!(validate_password("password", "           ").is_err());
        let e = validate_password("new_password", "short").unwrap_err();
        assert!(e.to_string().contains("new_password"), "{e}");
    }

    #[test]
    fn emails() {
        assert_eq!(
            validate_email(" Ada@Example.com ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.io",
            "a b@x.io",
            "ada@localhost",
            "a@b@c.io",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
