//! Which integrations are told of events: every webhook (and the e-mail
//! integration) with its subscription, and whether it is enabled (a disabled
//! one's deliveries are recorded as skipped).
//!
//! Read inside the transaction that fans out. The writer keeps what it read
//! from batch to batch while no rare change ran since: the read was one of
//! a create batch's seven statements (on PostgreSQL a round trip), and
//! subscriptions change only through rare changes. On SQLite this process
//! makes them all; on PostgreSQL another process may, so each batch that
//! uses what was kept first checks, as it begins, that the count of rare
//! changes in the database is still the one read with it
//! (`dialect::begin_postgres`).

use std::sync::Arc;

use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};

use crate::sql::Sql;
use crate::write_conn::WriteConn;
use crate::Result;

pub(crate) type Subscriber = (i64, IntegrationConfig, bool);

/// The subscriptions as last read, with the count of rare changes they
/// were read at, until forgotten.
#[derive(Default)]
pub(crate) struct Subscribers {
    read: Option<(i64, Arc<Vec<Subscriber>>)>,
}

impl Subscribers {
    /// As kept, else read now (and kept).
    pub(crate) async fn get(&mut self, conn: &mut WriteConn<'_>) -> Result<Arc<Vec<Subscriber>>> {
        if let Some((_, read)) = &self.read {
            return Ok(read.clone());
        }
        let (at, read) = read_subscribers(conn).await?;
        let read = Arc::new(read);
        self.read = Some((at, read.clone()));
        Ok(read)
    }

    /// The count of rare changes what is kept was read at, if anything is.
    pub(crate) fn kept_at(&self) -> Option<i64> {
        self.read.as_ref().map(|(at, _)| *at)
    }

    pub(crate) fn forget(&mut self) {
        self.read = None;
    }
}

/// The subscriptions and, in the same statement, the count of rare changes.
async fn read_subscribers(conn: &mut WriteConn<'_>) -> Result<(i64, Vec<Subscriber>)> {
    let mut q = Sql::on(
        conn,
        "SELECT c.n, i.id, i.config, i.enabled, i.kind FROM rare_changes c \
         LEFT JOIN integrations i ON ",
    );
    q.one_of(
        conn.backend(),
        "i.kind",
        &IntegrationKind::QUEUED.map(IntegrationKind::as_str),
    );
    q.push(" WHERE c.id = 1");
    type Row = (
        i64,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let rows: Vec<Row> = conn.fetch_all(&q).await?;
    // Never none: read as none, every event would go unsent.
    let at = rows
        .first()
        .map(|r| r.0)
        .ok_or_else(|| crate::StoreError::Corrupt("rare_changes has lost its row".into()))?;
    let rows = rows
        .into_iter()
        .filter_map(|(_, id, config, enabled, kind)| Some((id?, config?, enabled?, kind?)));
    let mut out = vec![];
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
    Ok((at, out))
}
