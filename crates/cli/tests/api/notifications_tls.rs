//! The SMTP connection as configured: STARTTLS and TLS to a server whose
//! certificate chains to a private CA given in `smtp.ca_file` (refused as
//! `tls` without it), and the URL's user and password logging in.

use serde_json::json;

use crate::helpers::Db;
use crate::notifications::{spawn, spawn_trusting};
use crate::smtp::{recipients, SmtpSink};

both_dbs!(
    mails_go_over_starttls_and_tls_to_a_server_of_a_private_ca,
    the_url_s_login_is_used
);

async fn mails_go_over_starttls_and_tls_to_a_server_of_a_private_ca(db: Db) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let url = |mode: &str, port: u16| match mode {
        "starttls" => format!("smtp://127.0.0.1:{port}?tls=required"),
        _ => format!("smtps://127.0.0.1:{port}"),
    };
    for mode in ["starttls", "wrapper"] {
        let sink = SmtpSink::tls(mode, &cert_pem, &key_pem).await;
        let app = spawn_trusting(
            db,
            &url(mode, sink.port),
            Some(cert_pem.clone().into_bytes()),
        )
        .await;
        let tested = app.ok("/integration/email/test", json!({})).await;
        assert_eq!(tested["success"], true, "{mode}: {tested}");
        let mail = &sink.wait_for(1).await[0];
        assert_eq!(mail["tls"], true, "{mode}: the mail came over TLS");
        assert_eq!(recipients(mail), ["ada@example.com"]);
        // Not trusting the private CA, the same server is refused.
        let wary = spawn(db, &url(mode, sink.port)).await;
        let refused = wary.ok("/integration/email/test", json!({})).await;
        assert_eq!(refused["success"], false, "{mode}: {refused}");
        assert_eq!(refused["error_class"], "tls", "{mode}: {refused}");
    }
}

async fn the_url_s_login_is_used(db: Db) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let login = Some(("alerts", "s3cret pw"));
    let sink = SmtpSink::tls_with_login("starttls", &cert_pem, &key_pem, login).await;
    let ca = Some(cert_pem.clone().into_bytes());
    let url = |password: &str| {
        format!(
            "smtp://alerts:{password}@127.0.0.1:{}?tls=required",
            sink.port
        )
    };
    let app = spawn_trusting(db, &url("s3cret%20pw"), ca).await;
    let tested = app.ok("/integration/email/test", json!({})).await;
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(sink.wait_for(1).await[0]["authenticated"], true);
}
