//! An endpoint's open circuit, shared by every process of a cluster: while
//! `open_until` is ahead, no process claims the integration's deliveries.

use crate::sql::Sql;

pub(crate) fn open(integration_id: i64, until_ms: i64) -> Sql {
    let mut q = Sql::new("INSERT INTO circuits (integration_id, open_until) VALUES (");
    q.i64(integration_id).push(", ").i64(until_ms);
    q.push(") ON CONFLICT (integration_id) DO UPDATE SET open_until = excluded.open_until");
    q
}

pub(crate) fn close(integration_id: i64) -> Sql {
    let mut q = Sql::new("DELETE FROM circuits WHERE integration_id = ");
    q.i64(integration_id);
    q
}
