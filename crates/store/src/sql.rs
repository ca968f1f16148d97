//! A statement with `$n` placeholders (understood by both SQLite and
//! PostgreSQL) built together with its values.

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, FromRow};

use crate::topology::Backend;

#[derive(Debug, Clone)]
pub(crate) enum Bind {
    I64(i64),
    Text(String),
    OptText(Option<String>),
}

/// What a connection's statements are best written with.
pub(crate) trait Placeholders {
    /// `?` rather than `$n` (SQLite).
    fn anonymous_placeholders(&self) -> bool;
}

impl Placeholders for sqlx::AnyConnection {
    fn anonymous_placeholders(&self) -> bool {
        self.backend_name() == "SQLite"
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    pub text: String,
    binds: Vec<Bind>,
    /// `?` instead of `$n`. For SQLite: sqlx finds the index of a `$n`
    /// parameter through `sqlite3_bind_parameter_name`, a linear scan in
    /// SQLite, which makes binding a statement quadratic in its values (11 %
    /// of the writer's time in a profile); bare `?` parameters skip it.
    anonymous: bool,
    /// How many `WITH` parts [`Sql::with_part`] wrote.
    parts: usize,
    /// The rows [`Sql::row_start`] and [`Sql::row_end`] wrote, in order,
    /// and where the one open began.
    rows: Vec<RowSpan>,
    open_row: Option<(usize, usize)>,
}

/// Where one row of a multi-row `VALUES` lies: its text and its values.
#[derive(Debug, Clone, Copy)]
struct RowSpan {
    text: (usize, usize),
    binds: (usize, usize),
}

/// A multi-row `INSERT` as one statement for a single row, run once a row:
/// its text, and the values of each run.
pub(crate) struct OneRowEach<'q> {
    pub text: String,
    before: &'q [Bind],
    rows: Vec<&'q [Bind]>,
    after: &'q [Bind],
}

/// `values`, then its last one again up to the next power of two in all:
/// the same set for an `IN` list or the same answer for a `CASE` of
/// `WHEN`s, written as one of a few texts rather than one per length.
/// Each text is a statement prepared on its own, and the writer keeps 64
/// prepared: a statement with a text per list length was prepared again
/// as its texts rotated through them.
pub(crate) fn padded<T>(values: &[T]) -> impl Iterator<Item = &T> {
    let extra = values.len().next_power_of_two() - values.len();
    let repeats = values
        .last()
        .into_iter()
        .flat_map(move |last| std::iter::repeat_n(last, extra));
    values.iter().chain(repeats)
}

impl<'q> OneRowEach<'q> {
    /// The values of each run, in the order of the rows.
    pub fn runs(&self) -> impl Iterator<Item = [&'q [Bind]; 3]> + '_ {
        self.rows.iter().map(|row| [self.before, *row, self.after])
    }
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            binds: vec![],
            anonymous: false,
            parts: 0,
            rows: vec![],
            open_row: None,
        }
    }

    /// A statement for `conn`, with the placeholders that bind fastest there.
    pub fn on(conn: &(impl Placeholders + ?Sized), text: &str) -> Self {
        Sql {
            anonymous: conn.anonymous_placeholders(),
            ..Sql::new(text)
        }
    }

    pub fn binds(&self) -> &[Bind] {
        &self.binds
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Writes what `part` pushes as the next data-modifying part of a
    /// PostgreSQL `WITH` (`WITH w0 AS (…)`, then `, w1 AS (…)`), for the
    /// statement pushed after it: statements that need nothing of each
    /// other's effects, sent as one, cost one round trip instead of one each.
    pub fn with_part(
        &mut self,
        part: impl FnOnce(&mut Sql) -> crate::Result<()>,
    ) -> crate::Result<&mut Self> {
        let n = self.parts;
        self.parts += 1;
        self.push(if n == 0 { "WITH " } else { ", " });
        self.push(&format!("w{n} AS ("));
        part(self)?;
        Ok(self.push(") "))
    }

    /// The name of the last part [`Sql::with_part`] wrote (`w0`, …).
    pub fn last_part(&self) -> String {
        format!("w{}", self.parts.saturating_sub(1))
    }

    /// Opens one row of a multi-row `VALUES`: `(`, after a comma when a
    /// row ends just before it. [`Sql::row_end`] closes it.
    pub fn row_start(&mut self) -> &mut Self {
        if self
            .rows
            .last()
            .is_some_and(|r| r.text.1 == self.text.len())
        {
            self.push(", ");
        }
        self.open_row = Some((self.text.len(), self.binds.len()));
        self.push("(")
    }

    /// Closes the row [`Sql::row_start`] opened: `)`.
    pub fn row_end(&mut self) -> &mut Self {
        self.push(")");
        if let Some((text, binds)) = self.open_row.take() {
            self.rows.push(RowSpan {
                text: (text, self.text.len()),
                binds: (binds, self.binds.len()),
            });
        }
        self
    }

    /// This `INSERT`, when its rows read alike, as one statement for a
    /// single row to run once a row. SQLite prepares a statement for each
    /// number of rows, and with batches of every size the writer's cache of
    /// prepared statements held none of them for long: preparing took a
    /// tenth of its time (profiled at 16 clients). A statement run on the
    /// writer's own connection costs no round trip, so one prepared for a
    /// single row serves every batch.
    pub fn one_row_each(&self) -> Option<OneRowEach<'_>> {
        let (first, last) = (self.rows.first()?, self.rows.last()?);
        let row_text = |r: &RowSpan| &self.text[r.text.0..r.text.1];
        let alike = self.anonymous
            && self.rows.len() > 1
            && self.text.starts_with("INSERT INTO ")
            && self.rows.windows(2).all(|w| {
                w[1].text.0 == w[0].text.1 + 2
                    && w[1].binds.0 == w[0].binds.1
                    && row_text(&w[1]) == row_text(&w[0])
            });
        alike.then(|| OneRowEach {
            text: format!(
                "{}{}{}",
                &self.text[..first.text.0],
                row_text(first),
                &self.text[last.text.1..]
            ),
            before: &self.binds[..first.binds.0],
            rows: self
                .rows
                .iter()
                .map(|r| &self.binds[r.binds.0..r.binds.1])
                .collect(),
            after: &self.binds[last.binds.1..],
        })
    }

    /// How many rows [`Sql::row_start`] and [`Sql::row_end`] wrote.
    pub fn row_count(&self) -> usize {
        self.rows.len()
    }

    pub fn bind(&mut self, b: Bind) -> &mut Self {
        self.binds.push(b);
        if self.anonymous {
            self.text.push('?');
        } else {
            use std::fmt::Write;
            let _ = write!(self.text, "${}", self.binds.len());
        }
        self
    }

    pub fn i64(&mut self, v: impl Into<i64>) -> &mut Self {
        self.bind(Bind::I64(v.into()))
    }

    pub fn text(&mut self, v: impl Into<String>) -> &mut Self {
        self.bind(Bind::Text(v.into()))
    }

    pub fn opt_text(&mut self, v: Option<String>) -> &mut Self {
        self.bind(Bind::OptText(v))
    }

    /// Whether `column` is one of `values`, in a statement that runs
    /// often. On SQLite as a `CASE`, tested in place: SQLite builds a
    /// temporary b-tree for a list of more than two values after `IN` each
    /// time the statement runs, and where an index begins with `column` it
    /// turns equalities of it joined by `OR` into such a list (without such
    /// an index they stay comparisons, as [`OPEN`](crate::queue::fifo::OPEN)
    /// does). On PostgreSQL as an `IN` list, which an index on `column`
    /// serves.
    pub fn one_of<T: AsRef<str>>(
        &mut self,
        backend: Backend,
        column: &str,
        values: &[T],
    ) -> &mut Self {
        if backend == Backend::Postgres || values.is_empty() {
            return self.push(column).push(" IN ").list_text(values);
        }
        self.push("(CASE ").push(column);
        for v in values {
            self.push(" WHEN ").text(v.as_ref()).push(" THEN 1");
        }
        self.push(" ELSE 0 END) = 1")
    }

    /// `(v1, v2, …)` for an `IN` list, [`padded`]. An empty list is a query
    /// of no rows, so that `IN` is false and `NOT IN` true, as for an empty
    /// set.
    pub fn list_text<T: AsRef<str>>(&mut self, values: &[T]) -> &mut Self {
        if values.is_empty() {
            return self.push("(SELECT CAST(NULL AS TEXT) WHERE 1 = 0)");
        }
        self.push("(");
        for (i, v) in padded(values).enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.text(v.as_ref());
        }
        self.push(")")
    }

    pub fn list_i64<T: Copy + Into<i64>>(&mut self, values: &[T]) -> &mut Self {
        if values.is_empty() {
            return self.push("(SELECT CAST(NULL AS BIGINT) WHERE 1 = 0)");
        }
        self.push("(");
        for (i, v) in padded(values).enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.i64(*v);
        }
        self.push(")")
    }

    /// A PostgreSQL `BIGINT[]` of `values`, bound as one text value: a
    /// statement whose lists vary in length keeps one text, so that it is
    /// parsed once and planned as one value rather than one per item.
    pub fn array_i64(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        let items: Vec<String> = values.into_iter().map(|v| v.to_string()).collect();
        self.push("CAST(")
            .text(format!("{{{}}}", items.join(",")))
            .push(" AS BIGINT[])")
    }

    /// [`Sql::array_i64`] made once a run, for an expression tested
    /// row by row (`id = ANY(…)` in a `CASE`): the text's conversion,
    /// written bare, runs for every row, and in a scalar subquery (an
    /// `InitPlan`) once. The outer `CAST` keeps PostgreSQL from reading
    /// `ANY((SELECT …))` as `ANY` over the subquery's rows.
    pub fn array_once_i64(&mut self, values: impl IntoIterator<Item = i64>) -> &mut Self {
        self.push("CAST((SELECT ")
            .array_i64(values)
            .push(") AS BIGINT[])")
    }

    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query(&self.text);
        for b in &self.binds {
            q = match b {
                Bind::I64(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.as_str()),
                Bind::OptText(v) => q.bind(v.as_deref()),
            };
        }
        q
    }

    pub fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as(&self.text);
        for b in &self.binds {
            q = match b {
                Bind::I64(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.as_str()),
                Bind::OptText(v) => q.bind(v.as_deref()),
            };
        }
        q
    }
}

/// The one number a `SELECT COUNT(*) …` answers.
pub(crate) async fn count(pool: &sqlx::AnyPool, sql: &str) -> crate::Result<i64> {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
    Ok(n)
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn like_contains(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub(crate) use dutyhook_domain::clock::{now_ms, now_s};

/// A connection of bare `?` placeholders, for statements built in tests.
#[cfg(test)]
pub(crate) struct Anonymous;

#[cfg(test)]
impl Placeholders for Anonymous {
    fn anonymous_placeholders(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(on: Option<&Anonymous>, rows: &[(i64, &str)]) -> Sql {
        let mut q = match on {
            Some(conn) => Sql::on(conn, "INSERT INTO t (a, b) VALUES "),
            None => Sql::new("INSERT INTO t (a, b) VALUES "),
        };
        for (a, b) in rows {
            q.row_start().i64(*a).push(", ").text(*b).row_end();
        }
        q.push(" ON CONFLICT (a) DO UPDATE SET b = ").text("x");
        q
    }

    fn values(run: [&[Bind]; 3]) -> Vec<String> {
        run.iter()
            .flat_map(|part| part.iter())
            .map(|b| match b {
                Bind::I64(v) => v.to_string(),
                Bind::Text(v) => v.clone(),
                Bind::OptText(v) => format!("{v:?}"),
            })
            .collect()
    }

    #[test]
    fn rows_alike_run_as_one_statement_for_a_single_row() {
        let q = insert(Some(&Anonymous), &[(1, "a"), (2, "b"), (3, "c")]);
        assert_eq!(
            q.text,
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT (a) DO UPDATE SET b = ?"
        );
        let each = q.one_row_each().expect("rows alike");
        assert_eq!(
            each.text,
            "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO UPDATE SET b = ?"
        );
        let runs: Vec<Vec<String>> = each.runs().map(values).collect();
        assert_eq!(runs, [["1", "a", "x"], ["2", "b", "x"], ["3", "c", "x"]]);
    }

    #[test]
    fn other_statements_run_as_written() {
        // One row: already the statement for one.
        assert!(insert(Some(&Anonymous), &[(1, "a")])
            .one_row_each()
            .is_none());
        // `$n` placeholders differ from row to row.
        assert!(insert(None, &[(1, "a"), (2, "b")]).one_row_each().is_none());
        // Rows that read differently.
        let mut q = Sql::on(&Anonymous, "INSERT INTO t (a, b) VALUES ");
        q.row_start().i64(1).push(", 'pending'").row_end();
        q.row_start().i64(2).push(", 'waiting'").row_end();
        assert!(q.one_row_each().is_none());
        // Rows of two lists, or of something else than an INSERT.
        let mut q = Sql::on(&Anonymous, "WITH v(a) AS (VALUES ");
        q.row_start().i64(1).row_end();
        q.row_start().i64(2).row_end();
        q.push("), w(b) AS (VALUES ");
        q.row_start().i64(3).row_end();
        q.push(") INSERT INTO t (a) SELECT a FROM v");
        assert_eq!(
            q.text,
            "WITH v(a) AS (VALUES (?), (?)), w(b) AS (VALUES (?)) INSERT INTO t (a) SELECT a FROM v"
        );
        assert!(q.one_row_each().is_none());
        let mut q = Sql::on(&Anonymous, "INSERT INTO t (a) VALUES ");
        q.row_start().i64(1).row_end();
        q.push(", (0), ");
        q.row_start().i64(2).row_end();
        assert_eq!(q.text, "INSERT INTO t (a) VALUES (?), (0), (?)");
        assert!(q.one_row_each().is_none());
    }

    #[test]
    fn lists_of_every_length_up_to_a_power_of_two_read_alike() {
        let texts: std::collections::HashSet<String> = (1..=16i64)
            .map(|n| {
                let ids: Vec<i64> = (1..=n).collect();
                let mut q = Sql::on(&Anonymous, "DELETE FROM t WHERE a IN ");
                q.list_i64(&ids);
                q.text
            })
            .collect();
        // 1, 2, 4, 8 and 16 places.
        assert_eq!(texts.len(), 5);
        let mut q = Sql::on(&Anonymous, "DELETE FROM t WHERE b IN ");
        q.list_text(&["x", "y", "z"]);
        assert_eq!(q.text, "DELETE FROM t WHERE b IN (?, ?, ?, ?)");
        assert_eq!(values([q.binds(), &[], &[]]), ["x", "y", "z", "z"]);
    }

    proptest::proptest! {
        #[test]
        fn padding_keeps_the_values_and_their_order(values in proptest::collection::vec(0u8..50, 0..200)) {
            let written: Vec<u8> = padded(&values).copied().collect();
            proptest::prop_assert_eq!(&written[..values.len()], &values[..]);
            proptest::prop_assert!(written[values.len()..].iter().all(|v| Some(v) == values.last()));
            if !values.is_empty() {
                proptest::prop_assert!(written.len().is_power_of_two());
                proptest::prop_assert!(written.len() < 2 * values.len());
            }
        }
    }
}
