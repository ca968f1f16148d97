//! `dutyhook config`: the configuration `serve` would run with, after
//! flags, environment and the config file, as TOML with where each setting
//! may be given. Secrets are masked.

use crate::config::Resolved;
use crate::masked::masked_url;

fn line(out: &mut String, key: &str, value: String, how: &str) {
    out.push_str(&format!("# {how}\n{key} = {value}\n\n"));
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: &[ipnet::IpNet]) -> String {
    let quoted: Vec<String> = items.iter().map(|n| quoted(&n.to_string())).collect();
    format!("[{}]", quoted.join(", "))
}

pub fn render(r: &Resolved) -> String {
    let c = &r.server;
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let mut out = String::from(
        "# dutyhook's effective configuration: flags, then environment, then the\n\
         # --config file, then defaults. Secrets are masked.\n\n",
    );
    line(
        &mut out,
        "listen",
        quoted(&r.listen),
        "--listen, DUTYHOOK_LISTEN; default 127.0.0.1:8080",
    );
    line(
        &mut out,
        "database_url",
        quoted(&masked_url(&r.database_url)),
        "--database, DUTYHOOK_DATABASE_URL; default sqlite://dutyhook.db",
    );
    line(&mut out, "public_url", quoted(&c.public_url),
        "--public-url, DUTYHOOK_PUBLIC_URL; default http:// + listen; the base of every detail_url and callback_url");
    line(
        &mut out,
        "account_name",
        quoted(&c.account_name),
        "config file only; default \"dutyhook\"",
    );
    line(
        &mut out,
        "snooze_check_ms",
        ms(c.snooze_check_every),
        "config file only; default 1000",
    );
    let base = match c.outbound.base {
        dutyhook_delivery::outbound::Base::Default => "default",
        dutyhook_delivery::outbound::Base::PublicOnly => "public-only",
    };
    line(&mut out, "outbound_policy", quoted(base),
        "config file only; default \"default\" (\"public-only\" also denies loopback and private ranges)");
    line(
        &mut out,
        "outbound_allow",
        list(&c.outbound.allow),
        "config file only; CIDRs allowed beyond the policy",
    );
    line(
        &mut out,
        "outbound_deny",
        list(&c.outbound.deny),
        "config file only; CIDRs denied (deny wins)",
    );
    line(
        &mut out,
        "history_retention_days",
        (c.history_retention.as_secs() / 86_400).to_string(),
        "config file only; default 7 (1 to 365)",
    );
    line(
        &mut out,
        "delivery_lease_ms",
        ms(c.delivery.lease),
        "config file only; default 120000",
    );
    line(
        &mut out,
        "shutdown_grace_ms",
        ms(c.delivery.shutdown_grace),
        "config file only; default 10000",
    );
    line(
        &mut out,
        "shutdown_delay_ms",
        ms(c.shutdown_delay),
        "config file only; default 0 (up to 300000)",
    );
    line(
        &mut out,
        "custom_actions_per_channel",
        c.actions_per_channel.to_string(),
        "config file only; default 3 (1 to 100)",
    );
    line(
        &mut out,
        "header_timeout_ms",
        ms(c.connections.header_timeout),
        "config file only; default 10000",
    );
    line(
        &mut out,
        "idle_timeout_ms",
        ms(c.connections.idle_timeout),
        "config file only; default 60000",
    );
    line(&mut out, "trusted_proxies", list(&c.trusted_proxies),
        "config file only; reverse proxies (CIDRs) whose X-Forwarded-For names the client; default none");
    let token = match &c.metrics_token {
        Some(_) => quoted("******"),
        None => quoted(""),
    };
    line(
        &mut out,
        "metrics_token",
        token,
        "DUTYHOOK_METRICS_TOKEN or config file; default none (\"\": /metrics is open)",
    );
    if let Some(smtp) = &c.smtp {
        out.push_str("[smtp]\n");
        line(&mut out, "url", quoted(&masked_url(&smtp.url)),
            "DUTYHOOK_SMTP_URL or config file; smtp:// (plain), smtp://…?tls=required (STARTTLS), smtps:// (TLS)");
        line(
            &mut out,
            "from",
            quoted(&smtp.from),
            "DUTYHOOK_SMTP_FROM or config file",
        );
    }
    out.push_str(&format!(
        "# --secret-key-file, DUTYHOOK_SECRET_KEY_FILE, DUTYHOOK_SECRET_KEY or config file secret_key_file\n\
         # the key that seals secrets: {}\n",
        r.key_source
    ));
    out
}
