//! The statement that settles deliveries, as PostgreSQL receives it: one
//! text and seven values whatever their number, so that it is prepared and
//! planned once, not once per count.

use std::collections::HashSet;

use super::fifo::{push_settle, End};
use crate::sql::Sql;
use crate::topology::Backend;

fn settle(n: i64) -> Sql {
    let chunk: Vec<(i64, End)> = (1..=n)
        .map(|id| match id % 5 {
            0 => (id, End::Skipped),
            3 => (id, End::Failed),
            _ => (id, End::Done),
        })
        .collect();
    let mut q = Sql::new("");
    push_settle(&mut q, Backend::Postgres, &chunk);
    q
}

#[test]
fn on_postgres_one_text_settles_any_number_of_deliveries() {
    let texts: HashSet<String> = [1, 3, 17, 110, 300].map(|n| settle(n).text).into();
    assert_eq!(texts.len(), 1, "{texts:#?}");
    assert_eq!(settle(300).binds().len(), 7);
}
