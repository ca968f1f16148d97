//! Console sessions and failed sign-ins.

use async_trait::async_trait;
use dutyhook_domain::ids::PersonId;

use crate::sql::Sql;
use crate::store::SqlStore;
use crate::Result;

/// Failed sign-ins of one scope (an account, a client address) since a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures {
    pub scope: String,
    pub count: i64,
    /// The oldest of them (s): when it leaves the window, one more try is allowed.
    pub oldest_at: i64,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Opens a session for `person_id` until `expires_at` (s); the token is
    /// kept hashed. Ends sessions that have expired meanwhile.
    async fn create_session(
        &self,
        token_hash: &str,
        person_id: PersonId,
        now_s: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The person of a live session.
    async fn session_person(&self, token_hash: &str, now_s: i64) -> Result<Option<PersonId>>;
    async fn end_session(&self, token_hash: &str) -> Result<()>;
    /// Ends a person's sessions, but `except` (the one changing a password);
    /// answers how many.
    async fn end_sessions(&self, person_id: PersonId, except: Option<&str>) -> Result<u64>;
    /// Failed sign-ins of each scope since `since_s`, for the scopes that had any.
    async fn sign_in_failures(&self, scopes: &[String], since_s: i64) -> Result<Vec<Failures>>;
    /// Records one failed sign-in against each scope; forgets those older
    /// than a day.
    async fn record_sign_in_failure(&self, scopes: &[String], at_s: i64) -> Result<()>;
    async fn clear_sign_in_failures(&self, scope: &str) -> Result<()>;
}

const FORGET_FAILURES_AFTER_S: i64 = 24 * 3600;

#[async_trait]
impl AccountStore for SqlStore {
    async fn create_session(
        &self,
        token_hash: &str,
        person_id: PersonId,
        now_s: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut expired = Sql::new("DELETE FROM sessions WHERE expires_at <= ");
        expired.i64(now_s);
        let mut q = Sql::new(
            "INSERT INTO sessions (token_hash, person_id, created_at, expires_at) VALUES (",
        );
        q.text(token_hash).push(", ").i64(person_id);
        q.push(", ").i64(now_s).push(", ").i64(expires_at).push(")");
        self.exec_all(vec![expired, q]).await
    }

    async fn session_person(&self, token_hash: &str, now_s: i64) -> Result<Option<PersonId>> {
        let mut q = Sql::new("SELECT person_id FROM sessions WHERE token_hash = ");
        q.text(token_hash).push(" AND expires_at > ").i64(now_s);
        let row: Option<(i64,)> = q.query_as().fetch_optional(&self.read).await?;
        Ok(row.map(|(id,)| PersonId(id)))
    }

    async fn end_session(&self, token_hash: &str) -> Result<()> {
        let mut q = Sql::new("DELETE FROM sessions WHERE token_hash = ");
        q.text(token_hash);
        self.exec(q).await.map(|_| ())
    }

    async fn end_sessions(&self, person_id: PersonId, except: Option<&str>) -> Result<u64> {
        let mut q = Sql::new("DELETE FROM sessions WHERE person_id = ");
        q.i64(person_id);
        if let Some(keep) = except {
            q.push(" AND token_hash <> ").text(keep);
        }
        self.exec(q).await
    }

    async fn sign_in_failures(&self, scopes: &[String], since_s: i64) -> Result<Vec<Failures>> {
        let mut q =
            Sql::new("SELECT scope, COUNT(*), MIN(at) FROM sign_in_failures WHERE scope IN ");
        q.list_text(scopes)
            .push(" AND at > ")
            .i64(since_s)
            .push(" GROUP BY scope");
        let rows: Vec<(String, i64, i64)> = q.query_as().fetch_all(&self.read).await?;
        Ok(rows
            .into_iter()
            .map(|(scope, count, oldest_at)| Failures {
                scope,
                count,
                oldest_at,
            })
            .collect())
    }

    async fn record_sign_in_failure(&self, scopes: &[String], at_s: i64) -> Result<()> {
        let mut forget = Sql::new("DELETE FROM sign_in_failures WHERE at < ");
        forget.i64(at_s - FORGET_FAILURES_AFTER_S);
        let mut q = Sql::new("INSERT INTO sign_in_failures (scope, at) VALUES ");
        for (i, scope) in scopes.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.text(scope.as_str()).push(", ").i64(at_s).push(")");
        }
        self.exec_all(vec![forget, q]).await
    }

    async fn clear_sign_in_failures(&self, scope: &str) -> Result<()> {
        let mut q = Sql::new("DELETE FROM sign_in_failures WHERE scope = ");
        q.text(scope);
        self.exec(q).await.map(|_| ())
    }
}
