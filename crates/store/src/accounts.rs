//! Console sessions, failed sign-ins, invitations and password changes.

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
    /// Replaces the person's invitation (voiding the one before) with one
    /// whose token hashes to `token_hash`, usable until `expires_at` (s).
    async fn replace_invite(
        &self,
        person_id: PersonId,
        token_hash: &str,
        now_s: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// The active person a live invitation is for.
    async fn invited_person(&self, token_hash: &str, now_s: i64) -> Result<Option<PersonId>>;
    /// Uses up a live invitation of an active person: sets their password
    /// and ends all their sessions, in one transaction; `None` when the
    /// invitation is unknown, expired, used, or its person deactivated.
    async fn accept_invite(
        &self,
        token_hash: &str,
        now_s: i64,
        password_hash: &str,
    ) -> Result<Option<PersonId>>;
    /// Sets a person's password and ends their sessions but `keep` (the
    /// one that changed it), in one transaction.
    async fn change_password(
        &self,
        person_id: PersonId,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<()>;
}

const FORGET_FAILURES_AFTER_S: i64 = 24 * 3600;

/// A live invitation of an active person.
fn live_invite(select: &str, token_hash: &str, now_s: i64) -> Sql {
    let mut q = Sql::new(select);
    q.push(" WHERE token_hash = ").text(token_hash);
    q.push(" AND expires_at > ").i64(now_s);
    q.push(" AND person_id IN (SELECT id FROM people WHERE active = 1)");
    q
}

fn set_password_ending_sessions(
    person_id: PersonId,
    password_hash: &str,
    keep: Option<&str>,
) -> [Sql; 2] {
    let mut set = Sql::new("UPDATE people SET password_hash = ");
    set.text(password_hash).push(" WHERE id = ").i64(person_id);
    let mut end = Sql::new("DELETE FROM sessions WHERE person_id = ");
    end.i64(person_id);
    if let Some(keep) = keep {
        end.push(" AND token_hash <> ").text(keep);
    }
    [set, end]
}

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
        self.exec_outside_kept(q).await.map(|_| ())
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
        self.exec_outside_kept(q).await.map(|_| ())
    }

    async fn replace_invite(
        &self,
        person_id: PersonId,
        token_hash: &str,
        now_s: i64,
        expires_at: i64,
    ) -> Result<()> {
        let mut void = Sql::new("DELETE FROM invites WHERE person_id = ");
        void.i64(person_id).push(" OR expires_at <= ").i64(now_s);
        let mut q = Sql::new(
            "INSERT INTO invites (person_id, token_hash, created_at, expires_at) VALUES (",
        );
        q.i64(person_id).push(", ").text(token_hash);
        q.push(", ").i64(now_s).push(", ").i64(expires_at).push(")");
        self.exec_all(vec![void, q]).await
    }

    async fn invited_person(&self, token_hash: &str, now_s: i64) -> Result<Option<PersonId>> {
        let q = live_invite("SELECT person_id FROM invites", token_hash, now_s);
        let row: Option<(i64,)> = q.query_as().fetch_optional(&self.read).await?;
        Ok(row.map(|(id,)| PersonId(id)))
    }

    async fn accept_invite(
        &self,
        token_hash: &str,
        now_s: i64,
        password_hash: &str,
    ) -> Result<Option<PersonId>> {
        let mut used = live_invite("DELETE FROM invites", token_hash, now_s);
        used.push(" RETURNING person_id");
        let password_hash = password_hash.to_string();
        self.writer
            .tx(move |c| {
                let (used, password_hash) = (used.clone(), password_hash.clone());
                Box::pin(async move {
                    let row: Option<(i64,)> = used.query_as().fetch_optional(&mut *c).await?;
                    let Some((id,)) = row else {
                        return Ok(None);
                    };
                    for q in set_password_ending_sessions(PersonId(id), &password_hash, None) {
                        q.query().execute(&mut *c).await?;
                    }
                    Ok(Some(PersonId(id)))
                })
            })
            .await
    }

    async fn change_password(
        &self,
        person_id: PersonId,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<()> {
        let statements = set_password_ending_sessions(person_id, password_hash, keep);
        self.exec_all(statements.into()).await
    }
}
