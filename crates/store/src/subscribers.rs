//! Which integrations are told of events: every webhook (and the e-mail
//! integration) with its subscription, and whether it is enabled (a disabled
//! one's deliveries are recorded as skipped).
//!
//! Read inside the transaction that fans out. The writer keeps what it read
//! from batch to batch while it alone writes the database (SQLite) and no
//! rare change ran since: the read was one of a create batch's seven
//! statements, and subscriptions change only through rare changes.

use std::sync::Arc;

use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};

use crate::sql::Sql;
use crate::write_conn::WriteConn;
use crate::Result;

pub(crate) type Subscriber = (i64, IntegrationConfig, bool);

/// The subscriptions as last read, until forgotten.
#[derive(Default)]
pub(crate) struct Subscribers {
    read: Option<Arc<Vec<Subscriber>>>,
}

impl Subscribers {
    /// As kept, else read now (and kept).
    pub(crate) async fn get(&mut self, conn: &mut WriteConn<'_>) -> Result<Arc<Vec<Subscriber>>> {
        if let Some(read) = &self.read {
            return Ok(read.clone());
        }
        let read = Arc::new(read_subscribers(conn).await?);
        self.read = Some(read.clone());
        Ok(read)
    }

    pub(crate) fn forget(&mut self) {
        self.read = None;
    }
}

async fn read_subscribers(conn: &mut WriteConn<'_>) -> Result<Vec<Subscriber>> {
    let mut q = Sql::on(
        conn,
        "SELECT id, config, enabled, kind FROM integrations WHERE kind IN ",
    );
    q.list_text(
        &IntegrationKind::QUEUED
            .iter()
            .map(|k| k.as_str().to_string())
            .collect::<Vec<_>>(),
    );
    let rows: Vec<(i64, String, i64, String)> = conn.fetch_all(&q).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, config, enabled, kind) in rows {
        let decoded = IntegrationKind::parse(&kind)
            .ok_or_else(|| format!("unknown kind {kind:?}"))
            .and_then(|k| {
                serde_json::from_str(&config)
                    .and_then(|v| IntegrationConfig::decode(k, v))
                    .map_err(|e| e.to_string())
            });
        match decoded {
            Ok(cfg) => out.push((id, cfg, enabled != 0)),
            Err(e) => {
                tracing::error!(integration_id = id, error = %e, "unreadable webhook config; skipped")
            }
        }
    }
    Ok(out)
}
