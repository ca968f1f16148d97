//! URLs as the process prints them (its banner, its errors, `dutyhook
//! config`): a password, in the URL's user part or as a `password`
//! parameter (which sqlx takes as libpq does), is never shown.

const MASK: &str = "******";

/// `raw` with every password in it masked. A URL that does not parse keeps
/// only its scheme when it might hold one.
pub fn masked_url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        if !raw.contains('@') && !raw.to_ascii_lowercase().contains("password") {
            return raw.to_string();
        }
        let scheme = raw.split_once(':').map_or("", |(s, _)| s);
        return format!("{scheme}:{MASK} (not a valid URL)");
    };
    let in_query = url.query().is_some_and(|q| q.split('&').any(is_password));
    if url.password().is_none() && !in_query {
        // As given: parsing again would percent-encode a path's spaces.
        return raw.to_string();
    }
    if url.password().is_some() {
        let _ = url.set_password(Some(MASK));
    }
    if let Some(query) = url.query().filter(|_| in_query) {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if is_password(pair) => format!("{key}={MASK}"),
                _ => pair.to_string(),
            })
            .collect();
        url.set_query(Some(&masked.join("&")));
    }
    url.to_string()
}

/// Whether a `key=value` pair of a query names a password.
fn is_password(pair: &str) -> bool {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    url::form_urlencoded::parse(key.as_bytes())
        .next()
        .is_some_and(|(k, _)| k.eq_ignore_ascii_case("password"))
}

#[cfg(test)]
mod tests {
    use super::masked_url;

    #[test]
    fn passwords_are_masked_wherever_a_url_holds_them() {
        for (raw, shown) in [
            (
                "postgres://dh:s3cret@db:5432/dh?sslmode=require",
                "postgres://dh:******@db:5432/dh?sslmode=require",
            ),
            ("postgres://dh:p@ss@db/dh", "postgres://dh:******@db/dh"),
            (
                "postgres://dh@localhost/dh?host=/var/run/postgresql&password=s3cret",
                "postgres://dh@localhost/dh?host=/var/run/postgresql&password=******",
            ),
            (
                "postgresql:///dh?user=dh&PassWord=s3cret&sslmode=disable",
                "postgresql:///dh?user=dh&PassWord=******&sslmode=disable",
            ),
            (
                "postgres://dh@db/dh?pass%77ord=s3cret",
                "postgres://dh@db/dh?pass%77ord=******",
            ),
            (
                "smtp://alerts:s3cret@mail.internal:587?tls=required",
                "smtp://alerts:******@mail.internal:587?tls=required",
            ),
            ("postgres://dh@db/dh", "postgres://dh@db/dh"),
            ("sqlite://dutyhook.db", "sqlite://dutyhook.db"),
            (
                "sqlite:///var/lib/dutyhook/dutyhook.db?synchronous=full",
                "sqlite:///var/lib/dutyhook/dutyhook.db?synchronous=full",
            ),
            (
                "postgres://dh:s3cret@[db/dh",
                "postgres:****** (not a valid URL)",
            ),
            ("not a url", "not a url"),
            (
                "sqlite:///srv/on call/dutyhook.db",
                "sqlite:///srv/on call/dutyhook.db",
            ),
        ] {
            let masked = masked_url(raw);
            assert_eq!(masked, shown, "{raw}");
            assert!(
                !masked.contains("s3cret") && !masked.contains("ss@"),
                "{raw}"
            );
        }
    }
}
