//! Tests' view of the statements the writer's own SQLite connection ran:
//! each text once, with how many temporary b-trees SQLite builds to run it
//! (`OpenEphemeral` in its program). Such a b-tree costs ~12,000
//! instructions to set up and tear down on every run, more than the row a
//! statement writes; tests hold the per-delivery statements free of them.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// By database file: each statement's text and its temporary b-trees.
static SEEN: Mutex<BTreeMap<String, BTreeMap<String, usize>>> = Mutex::new(BTreeMap::new());

/// Notes `text`, run on `conn`, the first time it is run there.
pub(crate) fn note(conn: &rusqlite::Connection, text: &str) {
    let file = conn.path().unwrap_or_default().to_string();
    let mut seen = SEEN.lock().unwrap();
    let of_file = seen.entry(file).or_default();
    if !of_file.contains_key(text) {
        of_file.insert(text.to_string(), temporary_btrees(conn, text));
    }
}

/// The statements run on the database `file`, each with the temporary
/// b-trees it builds.
pub(crate) fn statements(file: &str) -> Vec<(String, usize)> {
    // SQLite names the file as it was opened, made absolute: the same file
    // once both names are resolved.
    let canonical = |f: &str| std::fs::canonicalize(f).ok();
    let wanted = canonical(file).expect("the database file exists");
    let seen = SEEN.lock().unwrap();
    let Some((_, of_file)) = seen
        .iter()
        .find(|(f, _)| canonical(f).as_ref() == Some(&wanted))
    else {
        return vec![];
    };
    of_file.iter().map(|(t, n)| (t.clone(), *n)).collect()
}

fn temporary_btrees(conn: &rusqlite::Connection, text: &str) -> usize {
    let mut explain = conn.prepare(&format!("EXPLAIN {text}")).unwrap();
    // Unbound parameters read as NULL; the program does not depend on them.
    let mut rows = explain.raw_query();
    let mut n = 0;
    while let Some(row) = rows.next().unwrap() {
        n += usize::from(row.get::<_, String>(1).unwrap() == "OpenEphemeral");
    }
    n
}
