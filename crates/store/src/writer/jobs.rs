//! What callers hand the writer, and how each learns how its job ended.
//!
//! A job may run more than once: when a batch fails for a reason that is
//! not the database's (one job's data), the writer runs the batch's jobs
//! again one at a time, so that only the job at fault fails. Jobs therefore
//! keep their inputs, and their operations are `Fn`, not `FnOnce`.

use std::any::Any;
use std::sync::{Arc, Mutex};

use dutyhook_domain::alert::{AlertEvent, Source};
use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use sqlx::AnyConnection;
use tokio::sync::oneshot;

use crate::queue::fifo::Leasing;
use crate::{Completion, IncidentOp, Result, StoreError};

pub(crate) type BoxFut<'c, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'c>>;

/// How a batch that did not commit failed, for every job that was in it.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The database cannot be reached or cannot write: nothing any job did
    /// is at fault, and retrying at once would fail the same way.
    Unavailable(String),
    /// The job's own change could not be written.
    Rejected(String),
}

impl From<Failure> for StoreError {
    fn from(f: Failure) -> StoreError {
        match f {
            Failure::Unavailable(m) => StoreError::Unavailable(m),
            Failure::Rejected(m) => StoreError::Commit(m),
        }
    }
}

/// The caller's end of a job, answered once by whichever run settles it.
pub(crate) struct Answer<T>(Arc<Mutex<Option<oneshot::Sender<Result<T>>>>>);

impl<T> Clone for Answer<T> {
    fn clone(&self) -> Self {
        Answer(self.0.clone())
    }
}

impl<T> Answer<T> {
    pub fn new() -> (Answer<T>, oneshot::Receiver<Result<T>>) {
        let (tx, rx) = oneshot::channel();
        (Answer(Arc::new(Mutex::new(Some(tx)))), rx)
    }

    /// Answers the caller unless it was answered already.
    pub fn send(&self, result: Result<T>) {
        if let Some(tx) = self.0.lock().expect("answer lock").take() {
            let _ = tx.send(result);
        }
    }

    pub fn fail(&self, failure: &Failure) {
        self.send(Err(failure.clone().into()));
    }

    pub fn is_answered(&self) -> bool {
        self.0.lock().expect("answer lock").is_none()
    }
}

/// Told once the batch that ran a job has committed: hands the job's result
/// to its caller.
pub(crate) type Reply = Box<dyn FnOnce() + Send>;

/// A rare change: statements run in a savepoint of the batch's transaction.
/// An error is the caller's own (a conflict, an unknown id): the savepoint
/// is rolled back and the rest of the batch goes on.
pub(crate) type TxFn =
    Box<dyn for<'c> Fn(&'c mut AnyConnection) -> BoxFut<'c, Result<Box<dyn Any + Send>>> + Send>;

pub(crate) struct TxJob {
    pub run: TxFn,
    pub answer: Answer<Box<dyn Any + Send>>,
    /// Whether it may change what processes keep in memory (`kept.rs`):
    /// true unless its caller says otherwise.
    pub may_change_kept: bool,
}

pub(crate) struct MutateJob {
    pub ids: Vec<IncidentId>,
    /// A run the operation changes: read in the transaction and handed to
    /// the operation in its recorder's `runs`.
    pub run: Option<RunId>,
    /// For [`Step::Run`] empty, each run recording into a copy; for
    /// [`Step::Made`] what the operation recorded, settled.
    pub rec: Recorder,
    pub op: Step,
    pub answer: Answer<Vec<Incident>>,
}

/// What the writer does with a [`MutateJob`]'s operation.
pub(crate) enum Step {
    /// Run it over the incidents as stored, in the batch.
    Run(IncidentOp),
    /// It read no stored incident, so its caller ran it (off the writer's
    /// thread, which every job waits for): these are the incidents it made,
    /// to write as they are.
    Made(Made),
}

/// Incidents an operation made, each with the document it is stored as,
/// serialised by the caller too: on the writer's thread that was a
/// twentieth of its instructions a push at one webhook.
pub(crate) struct Made {
    pub incidents: Vec<Incident>,
    /// `incidents`' documents, in the same order.
    pub docs: Vec<Arc<str>>,
}

impl Made {
    pub(crate) fn new(incidents: Vec<Incident>) -> Result<Made> {
        let docs = incidents
            .iter()
            .map(|i| serde_json::to_string(i).map(Arc::from))
            .collect::<serde_json::Result<_>>()?;
        Ok(Made { incidents, docs })
    }
}

pub(crate) struct IngestJob {
    pub source: Source,
    pub events: Vec<AlertEvent>,
    pub rec: Recorder,
    /// The alert keys of `events`, in order.
    pub answer: Answer<Vec<String>>,
}

pub(crate) struct CompleteJob {
    /// Shared with the caller, who sends them again if the database could
    /// not take them.
    pub rows: Arc<[Completion]>,
    pub answer: Answer<()>,
}

pub(crate) enum Job {
    Tx(TxJob),
    Mutate(Box<MutateJob>),
    Ingest(Box<IngestJob>),
    Complete(CompleteJob),
    /// Claim due deliveries for the attached dispatcher now.
    Tick(Answer<usize>),
    /// Finish what is queued, give the connection back and stop.
    Close(oneshot::Sender<()>),
}

/// Jobs of one batch, sorted by kind.
#[derive(Default)]
pub(crate) struct Batch {
    pub txs: Vec<TxJob>,
    pub mutations: Vec<MutateJob>,
    pub ingests: Vec<IngestJob>,
    pub completions: Vec<CompleteJob>,
    pub ticks: Vec<Answer<usize>>,
    pub closes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    pub fn add(&mut self, job: Job) {
        match job {
            Job::Tx(t) => self.txs.push(t),
            Job::Mutate(m) => self.mutations.push(*m),
            Job::Ingest(i) => self.ingests.push(*i),
            Job::Complete(c) => self.completions.push(c),
            Job::Tick(t) => self.ticks.push(t),
            Job::Close(c) => self.closes.push(c),
        }
    }

    /// Whether a job of it may change what processes keep in memory.
    pub fn changes_kept(&self) -> bool {
        self.txs.iter().any(|j| j.may_change_kept)
    }

    pub fn len(&self) -> usize {
        self.txs.len()
            + self.mutations.len()
            + self.ingests.len()
            + self.completions.len()
            + self.ticks.len()
    }

    /// Jobs whose callers have not been answered: what a failed batch
    /// still owes.
    pub fn unanswered(self) -> Batch {
        Batch {
            txs: keep(self.txs, |j| &j.answer),
            mutations: keep(self.mutations, |j| &j.answer),
            ingests: keep(self.ingests, |j| &j.answer),
            completions: keep(self.completions, |j| &j.answer),
            ticks: keep(self.ticks, |a| a),
            closes: self.closes,
        }
    }

    /// Answers every job still owed an answer with `failure`.
    pub fn fail(&self, failure: &Failure) {
        self.txs.iter().for_each(|j| j.answer.fail(failure));
        self.mutations.iter().for_each(|j| j.answer.fail(failure));
        self.ingests.iter().for_each(|j| j.answer.fail(failure));
        self.completions.iter().for_each(|j| j.answer.fail(failure));
        self.ticks.iter().for_each(|a| a.fail(failure));
    }

    /// One batch per job, in the order the kinds run in a batch.
    pub fn one_by_one(self) -> Vec<Batch> {
        let mut out = vec![];
        out.extend(self.txs.into_iter().map(|j| Batch {
            txs: vec![j],
            ..Default::default()
        }));
        out.extend(self.mutations.into_iter().map(|j| Batch {
            mutations: vec![j],
            ..Default::default()
        }));
        out.extend(self.ingests.into_iter().map(|j| Batch {
            ingests: vec![j],
            ..Default::default()
        }));
        out.extend(self.completions.into_iter().map(|j| Batch {
            completions: vec![j],
            ..Default::default()
        }));
        if !self.ticks.is_empty() {
            out.push(Batch {
                ticks: self.ticks,
                ..Default::default()
            });
        }
        out
    }
}

fn keep<J, T>(jobs: Vec<J>, answer: impl Fn(&J) -> &Answer<T>) -> Vec<J> {
    jobs.into_iter()
        .filter(|j| !answer(j).is_answered())
        .collect()
}

/// What a committed batch changed, for those who wait on it.
#[derive(Default)]
pub(crate) struct Effects {
    pub events: usize,
    /// Deliveries that may have become due (new, promoted, released).
    pub deliveries_moved: bool,
    /// New deliveries leased as they were inserted, for the batch's claim.
    pub leasing: Leasing,
}
