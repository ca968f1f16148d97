//! Integrations (webhooks, custom actions, alert sources): their settings and secrets.

use async_trait::async_trait;
use dutyhook_domain::ids::IntegrationId;
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::DomainError;
use sqlx::AnyConnection;

use crate::queue::fifo::OPEN;
use crate::secrets::{map_secret_values, Keyring};
use crate::sql::{now_s, Sql};
use crate::store::SqlStore;
use crate::{IntegrationRecord, IntegrationStore, Listing, Page, Result, StoreError};

/// An integration as its row holds it.
#[derive(Clone)]
pub(crate) struct Stored {
    /// With its secrets sealed (its settings are in `config`).
    pub record: IntegrationRecord,
    /// The settings as JSON, secret values sealed.
    pub config: String,
}

row_struct! {
    struct Row {
        id: i64,
        kind: String,
        name: String,
        team_id: i64,
        enabled: i64,
        disabled_reason: String,
        config: String,
        secret: String,
        previous_secret: String,
        previous_secret_until: i64,
        created_at: i64,
        updated_at: i64,
    }
}

const COLS: &str = "id, kind, name, team_id, enabled, disabled_reason, config, secret, previous_secret, previous_secret_until, created_at, updated_at";

impl Row {
    /// The record with its secrets opened and its settings decoded.
    fn into_record(self, keys: &Keyring) -> Result<IntegrationRecord> {
        let kind = IntegrationKind::parse(&self.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("integration {}: kind {:?}", self.id, self.kind))
        })?;
        let mut config: serde_json::Value = serde_json::from_str(&self.config)?;
        map_secret_values(&mut config, &mut |v| keys.open(v))?;
        let config = IntegrationConfig::decode(kind, config)
            .map_err(|e| StoreError::Corrupt(format!("integration {}: settings: {e}", self.id)))?;
        Ok(IntegrationRecord {
            integration_id: IntegrationId(self.id),
            kind,
            name: self.name,
            team_id: self.team_id,
            enabled: self.enabled != 0,
            disabled_reason: self.disabled_reason,
            config,
            secret: keys.open(&self.secret)?,
            previous_secret: keys.open(&self.previous_secret)?,
            previous_secret_until: self.previous_secret_until,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

fn not_found(id: IntegrationId) -> crate::StoreError {
    DomainError::not_found("integration", id).into()
}

pub(crate) async fn insert_integration(
    c: &mut AnyConnection,
    stored: &Stored,
) -> Result<IntegrationId> {
    let r = &stored.record;
    let now = now_s();
    let mut q = Sql::new("INSERT INTO integrations (kind, name, team_id, enabled, disabled_reason, config, secret, created_at, updated_at) VALUES (");
    q.text(r.kind.as_str()).push(", ").text(&r.name).push(", ");
    q.i64(r.team_id).push(", ").i64(r.enabled as i64).push(", ");
    q.text(&r.disabled_reason)
        .push(", ")
        .text(stored.config.as_str())
        .push(", ");
    q.text(&r.secret).push(", ").i64(now).push(", ").i64(now);
    q.push(") RETURNING id");
    let (id,): (i64,) = q.query_as().fetch_one(&mut *c).await?;
    Ok(IntegrationId(id))
}

/// Writes name, team, enabled state and config (not the secrets).
pub(crate) async fn update_integration_row(c: &mut AnyConnection, stored: &Stored) -> Result<()> {
    let r = &stored.record;
    let mut q = Sql::new("UPDATE integrations SET name = ");
    q.text(&r.name).push(", team_id = ").i64(r.team_id);
    q.push(", enabled = ").i64(r.enabled as i64);
    q.push(", disabled_reason = ").text(&r.disabled_reason);
    q.push(", config = ").text(stored.config.as_str());
    q.push(", updated_at = ").i64(now_s());
    q.push(" WHERE id = ").i64(r.integration_id);
    if q.query().execute(&mut *c).await?.rows_affected() == 0 {
        return Err(not_found(r.integration_id));
    }
    Ok(())
}

impl SqlStore {
    /// Ends an `UPDATE integrations SET …` with the time and the row it
    /// changes; `NotFound` when there is none.
    async fn update_one(&self, mut q: Sql, id: IntegrationId) -> Result<()> {
        q.push(", updated_at = ")
            .i64(now_s())
            .push(" WHERE id = ")
            .i64(id);
        if self.exec(q).await? == 0 {
            return Err(not_found(id));
        }
        Ok(())
    }
}

#[async_trait]
impl IntegrationStore for SqlStore {
    async fn create_integration(&self, r: &IntegrationRecord) -> Result<IntegrationId> {
        let r = self.sealed(r)?;
        self.writer
            .tx(move |c| {
                let r = r.clone();
                Box::pin(async move { insert_integration(c, &r).await })
            })
            .await
    }

    async fn update_integration(&self, r: &IntegrationRecord) -> Result<()> {
        let r = self.sealed(r)?;
        self.writer
            .tx(move |c| {
                let r = r.clone();
                Box::pin(async move { update_integration_row(c, &r).await })
            })
            .await
    }

    async fn integration(&self, id: IntegrationId) -> Result<Option<IntegrationRecord>> {
        let mut q = Sql::new(&format!("SELECT {COLS} FROM integrations WHERE id = "));
        q.i64(id);
        let row: Option<Row> = q.query_as().fetch_optional(&self.read).await?;
        row.map(|r| r.into_record(&self.keys)).transpose()
    }

    async fn list_integrations(
        &self,
        kinds: &[IntegrationKind],
        page: Page,
    ) -> Result<Listing<IntegrationRecord>> {
        let kinds: Vec<String> = kinds.iter().map(|k| k.as_str().to_string()).collect();
        let mut q = Sql::new(&format!("SELECT {COLS} FROM integrations WHERE kind IN "));
        q.list_text(&kinds)
            .push(" ORDER BY id LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<Row> = q.query_as().fetch_all(&self.read).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM integrations WHERE kind IN ");
        c.list_text(&kinds);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        Ok(Listing {
            items: rows
                .into_iter()
                .map(|r| r.into_record(&self.keys))
                .collect::<Result<_>>()?,
            total,
        })
    }

    async fn delete_integration(&self, id: IntegrationId) -> Result<()> {
        self.writer
            .tx(move |c| {
                Box::pin(async move {
                    let mut q = Sql::new("DELETE FROM integrations WHERE id = ");
                    q.i64(id);
                    if q.query().execute(&mut *c).await?.rows_affected() == 0 {
                        return Err(not_found(id));
                    }
                    for table in ["action_channels", "source_keys"] {
                        let mut q =
                            Sql::new(&format!("DELETE FROM {table} WHERE integration_id = "));
                        q.i64(id);
                        q.query().execute(&mut *c).await?;
                    }
                    // Unsent deliveries go with it: nothing would ever send them.
                    let mut q = Sql::new("DELETE FROM deliveries WHERE integration_id = ");
                    q.i64(id).push(" AND ").push(OPEN);
                    q.query().execute(&mut *c).await?;
                    // Its key tails now point at nothing unfinished: the
                    // prune deletes them (ids are never reused), where a
                    // delete here would read every tail, keyed by subject.
                    Ok(())
                })
            })
            .await
    }

    async fn set_integration_enabled(
        &self,
        id: IntegrationId,
        enabled: bool,
        reason: &str,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE integrations SET enabled = ");
        q.i64(enabled as i64)
            .push(", disabled_reason = ")
            .text(reason);
        self.update_one(q, id).await
    }

    async fn rotate_secret(
        &self,
        id: IntegrationId,
        new_secret: &str,
        previous_until_ms: i64,
    ) -> Result<()> {
        let mut q = Sql::new("UPDATE integrations SET previous_secret = secret, secret = ");
        q.text(self.keys.seal(new_secret))
            .push(", previous_secret_until = ")
            .i64(previous_until_ms);
        self.update_one(q, id).await
    }
}

impl SqlStore {
    /// The record as it is stored: its secrets sealed, its settings as
    /// JSON with their secret values sealed.
    pub(crate) fn sealed(&self, r: &IntegrationRecord) -> Result<Stored> {
        let mut config = r.config.to_json();
        map_secret_values(&mut config, &mut |v| Ok(self.keys.seal(v)))?;
        Ok(Stored {
            record: IntegrationRecord {
                secret: self.keys.seal(&r.secret),
                previous_secret: self.keys.seal(&r.previous_secret),
                ..r.clone()
            },
            config: config.to_string(),
        })
    }

    /// Seals with the current key every secret that is not: values stored
    /// before secrets were sealed, and values sealed with a key rotated out.
    /// Refuses to start when a value is sealed with a key not held.
    pub(crate) async fn reseal_integrations(&self) -> Result<u64> {
        let rows: Vec<(i64, String, String, String)> =
            sqlx::query_as("SELECT id, secret, previous_secret, config FROM integrations")
                .fetch_all(&self.read)
                .await?;
        let mut changed = vec![];
        for (id, secret, previous, config) in rows {
            let mut doc: serde_json::Value = serde_json::from_str(&config)?;
            let mut stale = !self.keys.is_current(&secret) || !self.keys.is_current(&previous);
            map_secret_values(&mut doc, &mut |v| {
                stale |= !self.keys.is_current(v);
                Ok(v.to_string())
            })?;
            if !stale {
                continue;
            }
            let open = |v: &str| {
                self.keys.open(v).map_err(|e| {
                    crate::StoreError::WrongKey(format!(
                        "integration {id}: {e}; give the key that sealed it (older keys may follow the current one)"
                    ))
                })
            };
            map_secret_values(&mut doc, &mut |v| Ok(self.keys.seal(&open(v)?)))?;
            changed.push((
                id,
                self.keys.seal(&open(&secret)?),
                self.keys.seal(&open(&previous)?),
                doc.to_string(),
            ));
        }
        let n = changed.len() as u64;
        if n > 0 {
            self.writer
                .tx(move |c| {
                    let changed = changed.clone();
                    Box::pin(async move {
                        for (id, secret, previous, config) in changed {
                            let mut q = Sql::new("UPDATE integrations SET secret = ");
                            q.text(secret).push(", previous_secret = ").text(previous);
                            q.push(", config = ")
                                .text(config)
                                .push(" WHERE id = ")
                                .i64(id);
                            q.query().execute(&mut *c).await?;
                        }
                        Ok(())
                    })
                })
                .await?;
            tracing::info!(
                integrations = n,
                key = self.keys.current().id(),
                "secrets sealed with the current key"
            );
        }
        Ok(n)
    }
}
