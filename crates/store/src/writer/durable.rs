//! SQLite at `synchronous=FULL`: commits made durable beside the writer
//! instead of inside its commits.
//!
//! At FULL, SQLite syncs the write-ahead log in every `COMMIT`, and the
//! writer's thread waited there for the disk: 46 % of its busy time went to
//! commits, and the machine stood a third idle or waiting while 16 clients
//! created as fast as answers came. So the writer commits without the sync
//! (`synchronous=NORMAL` on its own connections), and hands what the batch
//! lets go of (its answers, the deliveries it claimed) to the syncer's
//! thread, which syncs the log and only then lets them go. One sync covers
//! every commit written before it began, so the batches committed while a
//! sync ran wait for the next one together; meanwhile the writer writes.
//!
//! Nothing leaves the process before the commit it depends on is on disk:
//! no answer, no push (claims are let go of here too). Readers in the
//! process may see a commit up to one sync earlier than it is durable, as
//! they may see the writer's transaction after `COMMIT`.
//!
//! When a sync fails, what the log holds on disk is unknown, while readers
//! already see the commits: the process stops at once (as PostgreSQL does
//! on a failed sync), no caller having been told that those commits held,
//! and on the next start SQLite recovers what the disk has.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc;

/// What a committed batch lets go of once it is durable.
pub(crate) type Release = Box<dyn FnOnce() + Send>;

/// The handle the writer holds; the thread ends when it is dropped, after
/// letting go of what it was handed.
pub(crate) struct Syncer {
    releases: mpsc::Sender<Release>,
}

impl Syncer {
    /// Starts the thread that syncs the log at `wal` (the database file's
    /// name with `-wal` after it).
    pub(crate) fn start(wal: PathBuf) -> Syncer {
        Self::start_with(WalFile::new(wal))
    }

    fn start_with(mut log: impl Flush + Send + 'static) -> Syncer {
        let (releases, rx) = mpsc::channel::<Release>();
        std::thread::Builder::new()
            .name("dutyhook-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut due = vec![first];
                    due.extend(rx.try_iter());
                    if let Err(e) = log.flush() {
                        tracing::error!(
                            error = %e,
                            "the database's write-ahead log could not be synced to disk; \
                             stopping, so that no commit it may not hold is reported as done"
                        );
                        std::process::abort();
                    }
                    due.into_iter().for_each(|release| release());
                }
            })
            .expect("the syncer's thread starts");
        Syncer { releases }
    }

    /// Lets `release` run once everything committed before this call is on
    /// disk.
    pub(crate) fn after_sync(&self, release: Release) {
        if let Err(mpsc::SendError(release)) = self.releases.send(release) {
            // The thread ended (it only does when aborting): nothing was
            // synced, so nothing may be let go of either.
            drop(release);
        }
    }
}

/// Something that makes what was written to it durable.
trait Flush {
    fn flush(&mut self) -> io::Result<()>;
}

/// The log file, opened again whenever the name points at another file
/// than the one held (SQLite may delete it when the last connection closes,
/// and create it anew).
struct WalFile {
    path: PathBuf,
    held: Option<(File, (u64, u64))>,
}

impl WalFile {
    fn new(path: PathBuf) -> WalFile {
        WalFile { path, held: None }
    }
}

impl Flush for WalFile {
    fn flush(&mut self) -> io::Result<()> {
        let identity = match std::fs::metadata(&self.path) {
            Ok(m) => (m.dev(), m.ino()),
            // No log: the last connection's checkpoint moved it all into the
            // database file, and synced that.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if self.held.as_ref().map(|(_, id)| *id) != Some(identity) {
            self.held = Some((File::options().write(true).open(&self.path)?, identity));
        }
        let (file, _) = self.held.as_ref().expect("the log was just opened");
        file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log whose syncs are counted as they begin; the first waits for
    /// `gate`, so that the test can hand over more while it runs.
    struct Counted {
        begun: Arc<AtomicUsize>,
        gate: Option<mpsc::Receiver<()>>,
    }

    impl Flush for Counted {
        fn flush(&mut self) -> io::Result<()> {
            self.begun.fetch_add(1, Ordering::SeqCst);
            if let Some(gate) = self.gate.take() {
                gate.recv().unwrap();
            }
            Ok(())
        }
    }

    #[test]
    fn each_release_waits_for_a_sync_begun_after_it_and_they_keep_their_order() {
        let begun = Arc::new(AtomicUsize::new(0));
        let (open, gate) = mpsc::channel();
        let syncer = Syncer::start_with(Counted {
            begun: begun.clone(),
            gate: Some(gate),
        });
        let ran = Arc::new(Mutex::new(vec![]));
        let (done, all_done) = mpsc::channel();
        for n in 0..100 {
            let handed_at = begun.load(Ordering::SeqCst);
            let (seen, ran, done) = (begun.clone(), ran.clone(), done.clone());
            syncer.after_sync(Box::new(move || {
                ran.lock()
                    .unwrap()
                    .push((n, handed_at, seen.load(Ordering::SeqCst)));
                done.send(()).unwrap();
            }));
            if n == 0 {
                // The first sync has begun, and waits.
                while begun.load(Ordering::SeqCst) == 0 {
                    std::thread::yield_now();
                }
            }
        }
        open.send(()).unwrap();
        // Dropped with releases still due: they are let go of all the same.
        drop(syncer);
        for _ in 0..100 {
            all_done.recv().unwrap();
        }
        let ran = ran.lock().unwrap();
        assert_eq!(
            ran.iter().map(|r| r.0).collect::<Vec<_>>(),
            (0..100).collect::<Vec<_>>()
        );
        assert!(ran.iter().all(|(_, handed, seen)| seen > handed), "{ran:?}");
        // The 99 handed over during the first sync shared the second.
        assert_eq!(begun.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_log_is_opened_again_when_its_name_points_at_another_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-wal");
        let mut log = WalFile::new(path.clone());
        log.flush().unwrap();
        assert!(log.held.is_none(), "no log, nothing to sync");
        std::fs::write(&path, b"frames").unwrap();
        log.flush().unwrap();
        let first = log.held.as_ref().unwrap().1;
        std::fs::remove_file(&path).unwrap();
        // Created while the old file is still open: another inode.
        std::fs::write(&path, b"frames again").unwrap();
        log.flush().unwrap();
        let second = log.held.as_ref().unwrap().1;
        assert_ne!(first, second);
        assert_eq!(second.1, std::fs::metadata(&path).unwrap().ino());
    }
}
