//! What every dutyhook process holds, whether or not it answers HTTP: the
//! store, the clock, the one invoker and the dispatcher. `serve` wraps it
//! with the API ([`crate::AppState`]); `worker` runs its delivery and
//! background roles alone ([`crate::background::run`]).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dutyhook_delivery::dispatcher::Dispatcher;
use dutyhook_delivery::invoker::Invoker;
use dutyhook_delivery::metrics::Metrics;
use dutyhook_delivery::outbound::Policy;
use dutyhook_delivery::push::Pusher;
use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::incident::{Incident, RenderContext};
use dutyhook_domain::recorder::Recorder;
use dutyhook_store::{IncidentOp, Store};
use tokio::sync::watch;

use crate::error::ApiError;
use crate::run_tokens::RunTokens;
use crate::Config;

/// Set once on shutdown; loops stop at their next tick.
pub type Shutdown = watch::Receiver<bool>;

#[derive(Clone)]
pub struct Runtime {
    pub store: Arc<dyn Store>,
    pub render: RenderContext,
    pub clock: Clock,
    /// Makes every call to an endpoint (the dispatcher's, test pushes, custom actions).
    pub invoker: Invoker,
    pub outbound: Policy,
    pub metrics: Metrics,
    pub dispatcher: Dispatcher,
    /// Async runs by callback token hash, as pressed or first read.
    pub run_tokens: RunTokens,
    /// How long the invocation history is kept (the console offers no more).
    pub history_retention: Duration,
    /// Where dutyhook raises alerts about its failing integrations.
    pub delivery_alerts_channel: Option<dutyhook_domain::ids::ChannelId>,
    /// The SMTP server that mails people, when one is configured.
    pub mailer: Option<Arc<dutyhook_delivery::mail::Mailer>>,
    /// Wakes the replay pacer (a replay was started).
    pub replays: Arc<tokio::sync::Notify>,
    pub(crate) snooze_check_every: Duration,
    pub(crate) shutdown_grace: Duration,
}

impl Runtime {
    pub fn new(store: Arc<dyn Store>, config: &Config) -> Self {
        let pusher = Pusher::new(config.outbound.clone(), config.dns_overrides.clone());
        let metrics = Metrics::default();
        let invoker = Invoker::new(pusher, metrics.clone());
        let dispatcher = Dispatcher::new(store.clone(), invoker.clone(), config.delivery.clone());
        let mailer = attach_mailer(&dispatcher, config.smtp.as_ref());
        Runtime {
            store,
            render: RenderContext {
                public_url: config.public_url.clone(),
                account_id: 1,
                account_name: config.account_name.clone(),
            },
            clock: Clock::default(),
            invoker,
            outbound: config.outbound.clone(),
            metrics,
            dispatcher,
            run_tokens: RunTokens::default(),
            history_retention: config.history_retention,
            replays: Default::default(),
            delivery_alerts_channel: config.delivery_alerts_channel,
            mailer,
            snooze_check_every: config.snooze_check_every,
            shutdown_grace: config.delivery.shutdown_grace,
        }
    }

    pub fn recorder(&self) -> Recorder {
        Recorder::new(self.clock.now_ms(), self.render.clone())
    }

    /// Runs `op` over the incidents `ids` in one transaction with their
    /// events. `op` may run more than once (see [`IncidentOp`]).
    pub async fn mutate<F>(&self, ids: &[IncidentId], op: F) -> Result<Vec<Incident>, ApiError>
    where
        F: Operation<()>,
    {
        let op: IncidentOp = Arc::new(op);
        Ok(self
            .store
            .mutate_incidents(ids, self.recorder(), op)
            .await?)
    }

    /// As `mutate`, answering also what `op` answered in the run of it
    /// that committed (a job may run more than once): what the change
    /// made need not be read again after the write.
    pub async fn mutate_answering<F, T>(
        &self,
        ids: &[IncidentId],
        op: F,
    ) -> Result<(Vec<Incident>, T), ApiError>
    where
        F: Operation<T>,
        T: Send + 'static,
    {
        let (op, produced) = answering(op);
        let incidents = self
            .store
            .mutate_incidents(ids, self.recorder(), op)
            .await?;
        Ok((incidents, produced.take(ids)?))
    }

    /// Runs `op` over one incident with its run `run_id` read in the same
    /// transaction (in the recorder's `runs`), so changes to a run apply
    /// one after another on every process. Answers the incident and what
    /// `op` answered, as `mutate_answering` does.
    pub async fn mutate_run<F, T>(
        &self,
        incident_id: &IncidentId,
        run_id: &RunId,
        op: F,
    ) -> Result<(Incident, T), ApiError>
    where
        F: Operation<T>,
        T: Send + 'static,
    {
        let (op, produced) = answering(op);
        let incident = self
            .store
            .mutate_run(incident_id, run_id, self.recorder(), op)
            .await?;
        Ok((incident, produced.take(std::slice::from_ref(incident_id))?))
    }
}

/// An operation over incidents that answers a `T`; it may run more than
/// once (see [`IncidentOp`]).
pub trait Operation<T>:
    Fn(&mut Vec<Incident>, &mut Recorder) -> Result<T, dutyhook_domain::DomainError>
    + Send
    + Sync
    + 'static
{
}

impl<T, F> Operation<T> for F where
    F: Fn(&mut Vec<Incident>, &mut Recorder) -> Result<T, dutyhook_domain::DomainError>
        + Send
        + Sync
        + 'static
{
}

/// What an operation answered, kept by its last run.
struct Produced<T>(Arc<Mutex<Option<T>>>);

impl<T> Produced<T> {
    fn take(&self, ids: &[IncidentId]) -> Result<T, ApiError> {
        let value = self.0.lock().expect("not poisoned").take();
        value.ok_or_else(|| ApiError::Internal(format!("the change of {ids:?} answered nothing")))
    }
}

/// `op` as an operation of the store, keeping what it answers.
fn answering<F, T>(op: F) -> (IncidentOp, Produced<T>)
where
    F: Operation<T>,
    T: Send + 'static,
{
    let produced: Arc<Mutex<Option<T>>> = Arc::default();
    let keep = produced.clone();
    let op: IncidentOp = Arc::new(move |incs, rec| {
        let value = op(incs, rec)?;
        *keep.lock().expect("not poisoned") = Some(value);
        Ok(())
    });
    (op, Produced(produced))
}

/// Gives the dispatcher the SMTP server, if there is one, and answers it.
fn attach_mailer(
    dispatcher: &Dispatcher,
    smtp: Option<&crate::SmtpConfig>,
) -> Option<Arc<dutyhook_delivery::mail::Mailer>> {
    let smtp = smtp?;
    match dutyhook_delivery::mail::Mailer::new(&smtp.url, &smtp.from, smtp.ca_pem.as_deref()) {
        Ok(m) => {
            let m = Arc::new(m);
            dispatcher.mail_with(m.clone());
            Some(m)
        }
        Err(e) => {
            tracing::error!(error = %e, "the SMTP settings are not usable; nobody will be mailed");
            None
        }
    }
}

/// Wall-clock time plus an offset that only tests move forward (to let a
/// snooze expire without waiting a minute).
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        dutyhook_delivery::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::Relaxed);
    }
}
