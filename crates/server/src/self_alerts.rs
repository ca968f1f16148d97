//! dutyhook's alerts about its own failing integrations (`delivery.md`,
//! "Delivery health"): a delivery given up or a circuit open for 5 minutes
//! raise a Warning, a disable a Critical, through the built-in `dutyhook`
//! alert source into the configured channel, where they group and notify as
//! any alert; a push that succeeds again, or re-enabling, recovers it.
//!
//! One alert per integration (key `dutyhook/integration/<id>`), raised only
//! when it is not already open at that severity or worse: the self-incident's
//! own events failing on the same webhook change nothing, so there is no
//! feedback loop.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use dutyhook_delivery::dispatcher::HealthSignal;
use dutyhook_delivery::lanes::CircuitState;
use dutyhook_domain::alert::{AlertEvent, Source};
use dutyhook_domain::ids::{ChannelId, IntegrationId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind, SourceConfig, SourceType};
use dutyhook_domain::severity::{Progress, Status};
use dutyhook_store::{AlertFilter, IntegrationRecord, Page};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::runtime::{Runtime, Shutdown};

pub const SOURCE_NAME: &str = "dutyhook";
const CIRCUIT_OPEN_FOR: Duration = Duration::from_secs(5 * 60);
const CHECK_EVERY: Duration = Duration::from_secs(10);

pub fn alert_key(id: IntegrationId) -> String {
    format!("dutyhook/integration/{id}")
}

/// Listens to the dispatcher and raises or recovers alerts in `channel`.
pub async fn watch(app: Runtime, channel: ChannelId, mut shutdown: Shutdown) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    app.dispatcher.signal_to(tx);
    let mut open_since: HashMap<IntegrationId, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        let result = tokio::select! {
            Some(signal) = rx.recv() => on_signal(&app, channel, signal).await,
            _ = tick.tick() => check_circuits(&app, channel, &mut open_since).await,
            _ = shutdown.changed() => return,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "a delivery alert could not be raised or recovered");
        }
    }
}

async fn on_signal(app: &Runtime, channel: ChannelId, s: HealthSignal) -> Result<(), ApiError> {
    match s {
        HealthSignal::GaveUp {
            integration_id,
            error_class,
            error,
        } => {
            let why = format!("a delivery was given up ({error_class}: {error})");
            raise(
                app,
                channel,
                integration_id,
                Status::Warning,
                &error_class,
                &why,
            )
            .await
        }
        HealthSignal::Disabled {
            integration_id,
            reason,
        } => {
            raise(
                app,
                channel,
                integration_id,
                Status::Critical,
                "disabled",
                &reason,
            )
            .await
        }
        HealthSignal::Succeeded { integration_id } => {
            recover(app, channel, integration_id, "a push succeeded again").await
        }
    }
}

/// Circuits open (or probing) for 5 minutes raise a Warning.
async fn check_circuits(
    app: &Runtime,
    channel: ChannelId,
    open_since: &mut HashMap<IntegrationId, Instant>,
) -> Result<(), ApiError> {
    let open: HashSet<IntegrationId> = app
        .dispatcher
        .circuit_states()
        .into_iter()
        .filter(|(_, s)| *s != CircuitState::Closed)
        .map(|(id, _)| id)
        .collect();
    open_since.retain(|id, _| open.contains(id));
    for id in open {
        let since = *open_since.entry(id).or_insert_with(Instant::now);
        if since.elapsed() >= CIRCUIT_OPEN_FOR {
            let why = "its circuit has been open for 5 minutes: every push fails";
            raise(app, channel, id, Status::Warning, "circuit_open", why).await?;
        }
    }
    Ok(())
}

/// Raises the integration's alert, unless it is open at this severity or worse.
pub async fn raise(
    app: &Runtime,
    channel: ChannelId,
    integration_id: IntegrationId,
    status: Status,
    error_class: &str,
    why: &str,
) -> Result<(), ApiError> {
    let Some(r) = app.store.integration(integration_id).await? else {
        return Ok(());
    };
    let found = find_source(app).await?;
    if let Some(open) = open_alert(app, found, integration_id).await? {
        if open == Status::Critical || open == status {
            return Ok(());
        }
    }
    let verb = if status == Status::Critical {
        "is disabled"
    } else {
        "is failing"
    };
    let title = format!("{} “{}” {verb}", noun(&r), r.name);
    let mut labels = BTreeMap::new();
    labels.insert("integration_id".into(), integration_id.to_string());
    labels.insert("integration_name".into(), r.name.clone());
    labels.insert("kind".into(), r.kind.as_str().into());
    labels.insert("error_class".into(), error_class.into());
    labels.insert("endpoint_host".into(), endpoint_host(&r));
    let source = source(app, channel, found).await?;
    ingest(app, source, integration_id, title, why, status, labels).await
}

/// Recovers the integration's alert when one is open.
pub async fn recover(
    app: &Runtime,
    channel: ChannelId,
    integration_id: IntegrationId,
    why: &str,
) -> Result<(), ApiError> {
    let found = find_source(app).await?;
    if open_alert(app, found, integration_id).await?.is_none() {
        return Ok(());
    }
    let name = app
        .store
        .integration(integration_id)
        .await?
        .map(|r| r.name)
        .unwrap_or_default();
    let title = format!("Integration “{name}” works again");
    let source = source(app, channel, found).await?;
    ingest(
        app,
        source,
        integration_id,
        title,
        why,
        Status::Ok,
        BTreeMap::new(),
    )
    .await
}

async fn ingest(
    app: &Runtime,
    source: Source,
    integration_id: IntegrationId,
    title: String,
    why: &str,
    status: Status,
    labels: BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let event = AlertEvent {
        title_rule: title.clone(),
        title,
        description: why.to_string(),
        status,
        alert_key: alert_key(integration_id),
        labels,
        images: vec![],
    };
    tracing::info!(integration_id = integration_id.get(), status = ?status, "delivery alert");
    app.store
        .ingest_alerts(source, vec![event], app.recorder())
        .await?;
    Ok(())
}

/// The severity of the integration's open alert, if it has one; `source`:
/// the built-in source, if made yet.
async fn open_alert(
    app: &Runtime,
    source: Option<IntegrationId>,
    integration_id: IntegrationId,
) -> Result<Option<Status>, ApiError> {
    let Some(source_id) = source else {
        return Ok(None);
    };
    let filter = AlertFilter {
        start_time: 0,
        end_time: i64::MAX / 2000,
        source_ids: vec![source_id],
        alert_keys: vec![alert_key(integration_id)],
        ..Default::default()
    };
    let found = app
        .store
        .list_alerts(&filter, Page { p: 1, limit: 10 })
        .await?;
    Ok(found
        .items
        .iter()
        .find(|a| a.alert_status != Status::Ok && a.progress != Progress::Closed)
        .map(|a| a.alert_status))
}

async fn find_source(app: &Runtime) -> Result<Option<IntegrationId>, ApiError> {
    let sources = app
        .store
        .list_integrations(&[IntegrationKind::AlertSource], Page { p: 1, limit: 1000 })
        .await?;
    Ok(sources
        .items
        .iter()
        .find(|r| matches!(r.config.source(), Some(c) if c.source_type == SourceType::Dutyhook))
        .map(|r| r.integration_id))
}

/// The built-in source (`found`, or made now on first use), in `channel`.
async fn source(
    app: &Runtime,
    channel: ChannelId,
    found: Option<IntegrationId>,
) -> Result<Source, ApiError> {
    let channel = app.store.channel(channel).await?.ok_or_else(|| {
        ApiError::invalid(
            "delivery_alerts.channel_id",
            format!("channel {channel} does not exist"),
        )
    })?;
    let integration_id = match found {
        Some(id) => id,
        None => {
            let record = IntegrationRecord {
                integration_id: IntegrationId(0),
                kind: IntegrationKind::AlertSource,
                name: SOURCE_NAME.into(),
                team_id: 0,
                enabled: true,
                disabled_reason: String::new(),
                config: IntegrationConfig::Source(SourceConfig {
                    source_type: SourceType::Dutyhook,
                    channel_id: channel.channel_id,
                }),
                secret: String::new(),
                previous_secret: String::new(),
                previous_secret_until: 0,
                created_at: 0,
                updated_at: 0,
            };
            // No key hashes to this: nobody can push to the built-in source.
            let unusable = format!("built-in:{}", dutyhook_domain::ids::new_event_id());
            app.store.create_alert_source(&record, &unusable).await?
        }
    };
    Ok(Source {
        integration_id,
        name: SOURCE_NAME.into(),
        source_type: SourceType::Dutyhook,
        channel,
    })
}

fn noun(r: &IntegrationRecord) -> &'static str {
    match r.kind {
        IntegrationKind::CustomAction => "Custom action",
        IntegrationKind::AlertWebhook => "Alert webhook",
        _ => "Webhook",
    }
}

fn endpoint_host(r: &IntegrationRecord) -> String {
    let endpoint = match &r.config {
        IntegrationConfig::Webhook(w) => w.endpoint.as_str(),
        IntegrationConfig::Action(a) => a.endpoint.as_str(),
        IntegrationConfig::Source(_) | IntegrationConfig::Mail(_) => "",
    };
    url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default()
}
