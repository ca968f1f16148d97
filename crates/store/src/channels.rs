//! Channels, custom field definitions and the installation's settings.

use async_trait::async_trait;
use dutyhook_domain::channel::{Channel, Grouping};
use dutyhook_domain::field::FieldDef;
use dutyhook_domain::ids::ChannelId;
use dutyhook_domain::notify::ChannelNotify;
use dutyhook_domain::DomainError;

use crate::sql::{count, now_s, Sql};
use crate::store::SqlStore;
use crate::{ChannelStore, Listing, Page, Result, StoreError};

row_struct! {
    struct ChannelRow {
        id: i64,
        name: String,
        team_id: i64,
        description: String,
        grouping: String,
        storm_thresholds: String,
        notify: String,
        created_at: i64,
    }
}

impl ChannelRow {
    fn into_channel(self) -> Result<Channel> {
        let grouping: Grouping = serde_json::from_str(&self.grouping)?;
        Ok(Channel {
            channel_id: ChannelId(self.id),
            channel_name: self.name,
            team_id: self.team_id,
            description: self.description,
            grouping,
            storm_thresholds: serde_json::from_str(&self.storm_thresholds)?,
            notify: serde_json::from_str(&self.notify)?,
            created_at: self.created_at,
        })
    }
}

/// As stored: `{}` when the channel tells nobody beyond the responders,
/// which the re-notifier skips without reading.
fn notify_json(n: &ChannelNotify) -> Result<String> {
    if *n == ChannelNotify::default() {
        return Ok("{}".into());
    }
    Ok(serde_json::to_string(n)?)
}

const CHANNEL_COLS: &str =
    "id, name, team_id, description, grouping, storm_thresholds, notify, created_at";

#[async_trait]
impl ChannelStore for SqlStore {
    async fn create_channel(&self, c: &Channel) -> Result<ChannelId> {
        let mut q = Sql::new("INSERT INTO channels (name, team_id, description, grouping, storm_thresholds, notify, created_at) VALUES (");
        q.text(&c.channel_name)
            .push(", ")
            .i64(c.team_id)
            .push(", ")
            .text(&c.description)
            .push(", ");
        q.text(serde_json::to_string(&c.grouping)?).push(", ");
        q.text(serde_json::to_string(&c.storm_thresholds)?)
            .push(", ")
            .text(notify_json(&c.notify)?)
            .push(", ")
            .i64(now_s())
            .push(") RETURNING id");
        let name = c.channel_name.clone();
        self.writer
            .tx(move |c| {
                let (q, name) = (q.clone(), name.clone());
                Box::pin(async move {
                    let (id,): (i64,) = q.query_as().fetch_one(&mut *c).await.map_err(|e| {
                        StoreError::conflict_or(e, || {
                            format!("channel_name: a channel named {name:?} already exists")
                        })
                    })?;
                    Ok(ChannelId(id))
                })
            })
            .await
    }

    async fn update_channel(&self, c: &Channel) -> Result<()> {
        let mut q = Sql::new("UPDATE channels SET name = ");
        q.text(&c.channel_name).push(", team_id = ").i64(c.team_id);
        q.push(", description = ").text(&c.description);
        q.push(", grouping = ")
            .text(serde_json::to_string(&c.grouping)?);
        q.push(", storm_thresholds = ")
            .text(serde_json::to_string(&c.storm_thresholds)?);
        q.push(", notify = ").text(notify_json(&c.notify)?);
        q.push(" WHERE id = ").i64(c.channel_id);
        let conflict = format!(
            "channel_name: a channel named {:?} already exists",
            c.channel_name
        );
        if self.exec_or_conflict(q, conflict).await? == 0 {
            return Err(DomainError::not_found("channel", c.channel_id).into());
        }
        Ok(())
    }

    async fn channel(&self, channel_id: ChannelId) -> Result<Option<Channel>> {
        let mut q = Sql::new(&format!("SELECT {CHANNEL_COLS} FROM channels WHERE id = "));
        q.i64(channel_id);
        let row: Option<ChannelRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(ChannelRow::into_channel).transpose()
    }

    async fn list_channels(&self, page: Page) -> Result<Listing<Channel>> {
        let mut q = Sql::new(&format!(
            "SELECT {CHANNEL_COLS} FROM channels ORDER BY id LIMIT "
        ));
        q.i64(page.limit).push(" OFFSET ").i64(page.offset());
        let rows: Vec<ChannelRow> = q.query_as().fetch_all(&self.read).await?;
        Ok(Listing {
            items: rows
                .into_iter()
                .map(ChannelRow::into_channel)
                .collect::<Result<_>>()?,
            total: count(&self.read, "SELECT COUNT(*) FROM channels").await?,
        })
    }

    async fn create_field(&self, def: &FieldDef) -> Result<i64> {
        let def = def.clone();
        self.writer
            .tx(move |c| {
                let def = def.clone();
                Box::pin(async move {
                    let mut q = Sql::new("INSERT INTO field_defs (name, doc) VALUES (");
                    q.text(&def.field_name).push(", '{}') RETURNING id");
                    let name = def.field_name.clone();
                    let (id,): (i64,) = q.query_as().fetch_one(&mut *c).await.map_err(|e| {
                        StoreError::conflict_or(e, || {
                            format!("field_name: a field named {name:?} already exists")
                        })
                    })?;
                    let stored = FieldDef {
                        field_id: id,
                        ..def
                    };
                    let mut q = Sql::new("UPDATE field_defs SET doc = ");
                    q.text(serde_json::to_string(&stored)?)
                        .push(" WHERE id = ")
                        .i64(id);
                    q.query().execute(&mut *c).await?;
                    Ok(id)
                })
            })
            .await
    }

    async fn update_field(&self, def: &FieldDef) -> Result<()> {
        let mut q = Sql::new("UPDATE field_defs SET name = ");
        q.text(&def.field_name)
            .push(", doc = ")
            .text(serde_json::to_string(def)?);
        q.push(" WHERE id = ").i64(def.field_id);
        let conflict = format!(
            "field_name: a field named {:?} already exists",
            def.field_name
        );
        if self.exec_or_conflict(q, conflict).await? == 0 {
            return Err(DomainError::not_found("field", def.field_id).into());
        }
        Ok(())
    }

    async fn delete_field(&self, field_id: i64) -> Result<()> {
        let mut q = Sql::new("DELETE FROM field_defs WHERE id = ");
        q.i64(field_id);
        if self.exec(q).await? == 0 {
            return Err(DomainError::not_found("field", field_id).into());
        }
        Ok(())
    }

    async fn fields(&self) -> Result<Vec<FieldDef>> {
        let kept = &self.kept;
        let (read_in, found) = kept.fields.get(&());
        if let Some(defs) = found {
            return Ok(defs);
        }
        let defs = self.read_fields().await?;
        kept.fields.keep(read_in, (), defs.clone());
        Ok(defs)
    }

    async fn setting_or_init(&self, key: &str, init: &str) -> Result<String> {
        let mut q = Sql::new("INSERT INTO settings (key, value) VALUES (");
        q.text(key)
            .push(", ")
            .text(init)
            .push(") ON CONFLICT (key) DO NOTHING");
        let mut read = Sql::new("SELECT value FROM settings WHERE key = ");
        read.text(key);
        self.writer
            .tx(move |c| {
                let (q, read) = (q.clone(), read.clone());
                Box::pin(async move {
                    q.query().execute(&mut *c).await?;
                    let (v,): (String,) = read.query_as().fetch_one(&mut *c).await?;
                    Ok(v)
                })
            })
            .await
    }
}

impl SqlStore {
    async fn read_fields(&self) -> Result<Vec<FieldDef>> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT doc FROM field_defs ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|(doc,)| Ok(serde_json::from_str(doc)?))
            .collect()
    }
}
