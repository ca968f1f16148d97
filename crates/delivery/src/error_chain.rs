//! Reading an error's chain of causes: what a push's failure is classed
//! by, and the text the history shows.

use std::error::Error as StdError;

/// The first error of type `T` in `e`'s chain of causes.
pub(crate) fn chain_has<'e, T: StdError + 'static>(
    e: &'e (dyn StdError + 'static),
) -> Option<&'e T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// An error and its causes, each said once.
pub(crate) fn chain_text(e: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}
