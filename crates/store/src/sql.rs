//! A statement with `$n` placeholders (understood by both SQLite and
//! PostgreSQL) built together with its values.

use sqlx::any::AnyArguments;
use sqlx::query::{Query, QueryAs};
use sqlx::{Any, FromRow};

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
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_string(),
            binds: vec![],
            anonymous: false,
            parts: 0,
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

    /// `(v1, v2, …)` for an `IN` list. An empty list is a query of no rows,
    /// so that `IN` is false and `NOT IN` true, as for an empty set.
    pub fn list_text<T: AsRef<str>>(&mut self, values: &[T]) -> &mut Self {
        if values.is_empty() {
            return self.push("(SELECT CAST(NULL AS TEXT) WHERE 1 = 0)");
        }
        self.push("(");
        for (i, v) in values.iter().enumerate() {
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
        for (i, v) in values.iter().enumerate() {
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
