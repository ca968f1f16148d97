//! Structs read from query rows by column name.

/// A struct with one field per column, and its `sqlx::FromRow`: what
/// `#[derive(sqlx::FromRow)]` writes, without sqlx's proc-macro crate (which
/// builds both database drivers and SQLite's C source a second time).
macro_rules! row_struct {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($field_vis:vis $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        $vis struct $name {
            $($field_vis $field: $ty),*
        }

        impl<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> for $name {
            fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                Ok($name {
                    $($field: row.try_get(stringify!($field))?),*
                })
            }
        }
    };
}
