use dutyhook_domain::person::{Person, Role};
use dutyhook_domain::severity::Progress;

/// `p` from 1, `limit` from 1 to 100 (validated by the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub p: i64,
    pub limit: i64,
}

impl Page {
    pub fn offset(&self) -> i64 {
        (self.p - 1) * self.limit
    }
    pub fn all() -> Self {
        Page {
            p: 1,
            limit: i64::MAX / 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

impl<T> Listing<T> {
    pub fn has_next_page(&self, page: Page) -> bool {
        page.offset() + (self.items.len() as i64) < self.total
    }
}

#[derive(Debug, Clone)]
pub struct NewPerson {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub person: Person,
    pub role: Role,
    pub created_at: i64,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub team_id: i64,
    pub team_name: String,
    pub person_ids: Vec<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeyRecord {
    pub app_key_id: i64,
    pub person_id: i64,
    pub name: String,
    /// The first characters of the key, enough to recognise it.
    pub key_hint: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub start_time: i64,
    pub end_time: i64,
    pub progress: Vec<Progress>,
    pub severities: Vec<String>,
    pub channel_ids: Vec<i64>,
    pub query: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub event_time: i64,
    pub payload: String,
}
