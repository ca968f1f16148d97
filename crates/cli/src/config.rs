//! Settings come from, in order of precedence: flags, environment variables,
//! the `--config` TOML file, then defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://dutyhook.db";

#[derive(Args, Clone)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, env = "DUTYHOOK_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

impl DbArgs {
    pub fn resolve(&self) -> Result<String, String> {
        Ok(self
            .database
            .clone()
            .unwrap_or_else(|| DEFAULT_DATABASE.to_string()))
    }
}

/// Where the key that seals the database's secrets comes from.
#[derive(Args, Clone, Default)]
pub struct KeyArgs {
    /// File with the key that seals the secrets stored in the database (one
    /// base64 key per line: the current one first, older ones after it)
    /// [default: FILE.key beside a SQLite database; PostgreSQL needs one].
    /// DUTYHOOK_SECRET_KEY may hold the keys themselves instead.
    #[arg(long, env = "DUTYHOOK_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// The keys given by `DUTYHOOK_SECRET_KEY`, the flag or the config
    /// file's `secret_key_file`; `None` leaves the default to the store.
    pub fn keyring(
        &self,
        from_config: Option<PathBuf>,
    ) -> Result<Option<dutyhook_store::Keyring>, String> {
        let file = self.secret_key_file.clone().or(from_config);
        match (std::env::var("DUTYHOOK_SECRET_KEY").ok(), file) {
            (Some(_), Some(path)) => Err(format!(
                "both DUTYHOOK_SECRET_KEY and the secret key file {} are set: give one",
                path.display()
            )),
            (Some(inline), None) => dutyhook_store::Keyring::parse(&inline)
                .map(Some)
                .map_err(|e| format!("DUTYHOOK_SECRET_KEY: {e}")),
            (None, Some(path)) => dutyhook_store::Keyring::from_file(&path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Where [`KeyArgs::keyring`] takes the keys from, said for `dutyhook
    /// config`: the variable, the file, or the store's default for `url`.
    pub fn source(&self, from_config: Option<PathBuf>, url: &str) -> String {
        let file = self.secret_key_file.clone().or(from_config);
        match (std::env::var_os("DUTYHOOK_SECRET_KEY").is_some(), file) {
            (true, _) => "DUTYHOOK_SECRET_KEY (set)".to_string(),
            (false, Some(path)) => path.display().to_string(),
            (false, None) => match dutyhook_store::sqlite_key_path(url) {
                Some(path) => format!("{} (beside the SQLite database)", path.display()),
                None => "none: PostgreSQL needs one".to_string(),
            },
        }
    }
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DUTYHOOK_LISTEN")]
    pub listen: Option<String>,
    /// Database URL: sqlite://FILE (created if missing) or postgres://… [default: sqlite://dutyhook.db].
    #[arg(long, env = "DUTYHOOK_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// TOML file with any of: listen, database_url, public_url, account_name, snooze_check_ms.
    #[arg(long, env = "DUTYHOOK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Base URL of the console, used in every payload's detail_url [default: http://LISTEN].
    #[arg(long, env = "DUTYHOOK_PUBLIC_URL")]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

#[derive(Args)]
pub struct WorkerArgs {
    /// Database URL (PostgreSQL shared with the `serve` processes).
    #[arg(long, env = "DUTYHOOK_DATABASE_URL", hide_env_values = true)]
    pub database: Option<String>,
    /// The same TOML file the `serve` processes read.
    #[arg(long, env = "DUTYHOOK_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

impl WorkerArgs {
    pub fn serve_args(&self) -> ServeArgs {
        ServeArgs {
            listen: None,
            database: self.database.clone(),
            config: self.config.clone(),
            public_url: None,
            keys: self.keys.clone(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DeliveryAlerts {
    channel_id: Option<i64>,
}

/// The SMTP server that mails people.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Smtp {
    url: Option<String>,
    from: Option<String>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    public_url: Option<String>,
    account_name: Option<String>,
    snooze_check_ms: Option<u64>,
    /// `default` or `public-only`.
    outbound_policy: Option<String>,
    outbound_allow: Option<Vec<String>>,
    outbound_deny: Option<Vec<String>>,
    history_retention_days: Option<u64>,
    /// Where dutyhook raises alerts about its own failing integrations.
    delivery_alerts: Option<DeliveryAlerts>,
    /// Mails to responders and teams; none: nobody is mailed.
    smtp: Option<Smtp>,
    /// An integration whose every push failed for this long is disabled
    /// (default 72; 0: never).
    disable_after_hours: Option<u64>,
    /// How long a claimed delivery stays this process's before others may retry it.
    delivery_lease_ms: Option<u64>,
    /// On SIGTERM, how long pushes in flight may finish before they are given back.
    shutdown_grace_ms: Option<u64>,
    /// On SIGTERM, how long `/ready` answers 503 before the port closes.
    shutdown_delay_ms: Option<u64>,
    /// Custom actions a channel may hold (default 3).
    custom_actions_per_channel: Option<usize>,
    /// How long a client may take to send a request's headers (default 10 s).
    header_timeout_ms: Option<u64>,
    /// How long a kept-alive connection may sit idle (default 60 s).
    idle_timeout_ms: Option<u64>,
    /// The key file that seals the secrets stored in the database.
    secret_key_file: Option<PathBuf>,
    /// When set, `/metrics` needs `Authorization: Bearer <token>`.
    metrics_token: Option<String>,
    /// Reverse proxies (CIDRs) whose X-Forwarded-For names the client.
    trusted_proxies: Option<Vec<String>>,
}

pub struct Resolved {
    pub listen: String,
    pub database_url: String,
    pub keys: Option<dutyhook_store::Keyring>,
    /// Where the sealing key comes from, said for `dutyhook config`.
    pub key_source: String,
    pub server: dutyhook_server::Config,
}

pub fn server_config_defaults() -> dutyhook_server::Config {
    dutyhook_server::Config::new(&format!("http://{DEFAULT_LISTEN}"))
}

fn cidrs(key: &str, list: Option<Vec<String>>) -> Result<Vec<ipnet::IpNet>, String> {
    list.unwrap_or_default()
        .iter()
        .map(|c| {
            c.parse::<ipnet::IpNet>()
                .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{key}: {c:?} is not a CIDR such as 10.0.0.0/8"))
        })
        .collect()
}

impl ServeArgs {
    pub fn resolve(&self) -> Result<Resolved, String> {
        let file: FileConfig = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = self
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.into());
        let database_url = self
            .database
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| DEFAULT_DATABASE.into());
        let public_url = self
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(format!(
                "public URL {public_url:?} must start with http:// or https://"
            ));
        }
        let defaults = server_config_defaults();
        let snooze_check_every = file
            .snooze_check_ms
            .map(Duration::from_millis)
            .unwrap_or(defaults.snooze_check_every);
        if snooze_check_every < Duration::from_millis(10) {
            return Err("snooze_check_ms must be at least 10".into());
        }
        let base = match file.outbound_policy.as_deref() {
            None | Some("default") => dutyhook_delivery::outbound::Base::Default,
            Some("public-only") => dutyhook_delivery::outbound::Base::PublicOnly,
            Some(other) => {
                return Err(format!(
                    "outbound_policy: {other:?} is not \"default\" or \"public-only\""
                ))
            }
        };
        let allow = cidrs("outbound_allow", file.outbound_allow)?;
        let deny = cidrs("outbound_deny", file.outbound_deny)?;
        let trusted_proxies = cidrs("trusted_proxies", file.trusted_proxies)?;
        let mut delivery = dutyhook_delivery::dispatcher::DeliveryConfig::default();
        if let Some(ms) = file.shutdown_grace_ms {
            delivery.shutdown_grace = Duration::from_millis(ms);
        }
        if let Some(ms) = file.delivery_lease_ms {
            if ms < 500 {
                return Err("delivery_lease_ms must be at least 500".into());
            }
            delivery.lease = Duration::from_millis(ms);
        }
        match file.disable_after_hours {
            Some(0) => delivery.disable_after = None,
            Some(h) if h > 8760 => {
                return Err("disable_after_hours must be from 0 (never) to 8760".into())
            }
            Some(h) => delivery.disable_after = Some(Duration::from_secs(h * 3600)),
            None => {}
        }
        let retention_days = file.history_retention_days.unwrap_or(7);
        if !(1..=365).contains(&retention_days) {
            return Err("history_retention_days must be from 1 to 365".into());
        }
        let actions_per_channel = file
            .custom_actions_per_channel
            .unwrap_or(dutyhook_domain::action::DEFAULT_PER_CHANNEL);
        if !(1..=100).contains(&actions_per_channel) {
            return Err("custom_actions_per_channel must be from 1 to 100".into());
        }
        let mut connections = dutyhook_server::listener::Limits::default();
        if let Some(ms) = file.header_timeout_ms {
            if ms < 100 {
                return Err("header_timeout_ms must be at least 100".into());
            }
            connections.header_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = file.idle_timeout_ms {
            if ms < 100 {
                return Err("idle_timeout_ms must be at least 100".into());
            }
            connections.idle_timeout = Duration::from_millis(ms);
        }
        let key_source = self
            .keys
            .source(file.secret_key_file.clone(), &database_url);
        let keys = self.keys.keyring(file.secret_key_file)?;
        let metrics_token = std::env::var("DUTYHOOK_METRICS_TOKEN")
            .ok()
            .or(file.metrics_token)
            .filter(|t| !t.trim().is_empty());
        if metrics_token.as_ref().is_some_and(|t| t.trim().len() < 16) {
            return Err("metrics_token must be at least 16 characters".into());
        }
        let delivery_alerts = match std::env::var("DUTYHOOK_DELIVERY_ALERTS_CHANNEL_ID") {
            Ok(v) if !v.trim().is_empty() => Some(v.trim().parse::<i64>().map_err(|_| {
                format!("DUTYHOOK_DELIVERY_ALERTS_CHANNEL_ID must be a channel id, got {v:?}")
            })?),
            _ => file.delivery_alerts.and_then(|d| d.channel_id),
        };
        if delivery_alerts.is_some_and(|id| id < 1) {
            return Err("delivery_alerts.channel_id must be a channel id (1 or more)".into());
        }
        let smtp = smtp(file.smtp.unwrap_or_default())?;
        let shutdown_delay_ms = file.shutdown_delay_ms.unwrap_or(0);
        if shutdown_delay_ms > 300_000 {
            return Err("shutdown_delay_ms must be at most 300000 (5 minutes)".into());
        }
        Ok(Resolved {
            listen,
            database_url,
            keys,
            key_source,
            server: dutyhook_server::Config {
                account_name: file.account_name.unwrap_or(defaults.account_name),
                snooze_check_every,
                outbound: dutyhook_delivery::outbound::Policy { base, allow, deny },
                history_retention: Duration::from_secs(retention_days * 24 * 3600),
                delivery,
                actions_per_channel,
                connections,
                metrics_token,
                trusted_proxies,
                shutdown_delay: Duration::from_millis(shutdown_delay_ms),
                delivery_alerts_channel: delivery_alerts.map(dutyhook_domain::ids::ChannelId),
                smtp,
                ..dutyhook_server::Config::new(&public_url)
            },
        })
    }
}

fn env_or(name: &str, file: Option<String>) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or(file)
        .filter(|v| !v.trim().is_empty())
}

/// The SMTP settings, checked now so a bad one stops the start naming it.
fn smtp(file: Smtp) -> Result<Option<dutyhook_server::SmtpConfig>, String> {
    let url = env_or("DUTYHOOK_SMTP_URL", file.url);
    let from = env_or("DUTYHOOK_SMTP_FROM", file.from);
    let (url, from) = match (url, from) {
        (None, None) => return Ok(None),
        (Some(url), Some(from)) => (url, from),
        (None, Some(_)) => {
            return Err("smtp.url is needed with smtp.from (DUTYHOOK_SMTP_URL)".into())
        }
        (Some(_), None) => return Err(
            "smtp.from is needed with smtp.url: the address mails come from (DUTYHOOK_SMTP_FROM)"
                .into(),
        ),
    };
    let ca_file = env_or(
        "DUTYHOOK_SMTP_CA_FILE",
        file.ca_file.map(|p| p.display().to_string()),
    );
    let ca_pem = match ca_file {
        Some(path) => Some(
            std::fs::read(&path).map_err(|e| format!("smtp.ca_file: cannot read {path}: {e}"))?,
        ),
        None => None,
    };
    dutyhook_delivery::mail::Mailer::new(&url, &from, ca_pem.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(Some(dutyhook_server::SmtpConfig { url, from, ca_pem }))
}
