//! Who is calling, and what their role allows.

use dutyhook_domain::person::{Person, Role};

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub struct Caller {
    pub person: Person,
    pub role: Role,
}

impl Caller {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(ApiError::AccessDenied(format!(
                "this call needs the admin role; person {} is {}",
                self.person.person_id,
                self.role.as_str()
            )))
        }
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.role.may_operate_incidents() {
            Ok(())
        } else {
            Err(ApiError::AccessDenied(format!(
                "person {} has the viewer role, which may only read",
                self.person.person_id
            )))
        }
    }
}
