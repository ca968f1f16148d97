//! A probe of the disk under the database: 4 KiB written and `fdatasync`ed
//! every 50 ms while a scenario runs. Each commit waits for such a sync
//! (SQLite `synchronous=FULL`), so the figure tells a slow scenario apart
//! from a slow disk: on shared machines its p99 varies between runs.

use std::io::{Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct DiskProbe {
    samples_us: Arc<Mutex<Vec<u64>>>,
}

impl DiskProbe {
    /// Probes in `dir` (the file system the scenarios' databases are on)
    /// from a thread of its own until the process ends.
    pub fn start(dir: std::path::PathBuf) -> DiskProbe {
        let probe = DiskProbe::default();
        let samples = probe.samples_us.clone();
        std::thread::spawn(move || {
            let path = dir.join(format!("dutyhook-bench-probe-{}", std::process::id()));
            let mut file = match std::fs::File::create(&path) {
                Ok(f) => f,
                Err(e) => return eprintln!("no disk probe: {e}"),
            };
            let _ = std::fs::remove_file(&path);
            let page = [0x5au8; 4096];
            loop {
                let started = Instant::now();
                let synced = file
                    .seek(SeekFrom::Start(0))
                    .and_then(|_| file.write_all(&page))
                    .and_then(|_| file.sync_data());
                if synced.is_err() {
                    return;
                }
                let us = started.elapsed().as_micros() as u64;
                samples.lock().unwrap().push(us);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        probe
    }

    /// Flushes what earlier scenarios left to write and waits (up to 60 s)
    /// for a second in which no sync took over 5 ms: a scenario that
    /// deleted a database of a gigabyte or more leaves the disk slow for a
    /// while (syncs of 50-200 ms seen at the start of the next scenario),
    /// and the next scenario should not pay for it. Answers the seconds
    /// waited; the samples it waited on are dropped, not counted in the
    /// next `take`.
    pub fn settle(&self) -> f64 {
        let started = Instant::now();
        let _ = std::process::Command::new("sync").status();
        self.samples_us.lock().unwrap().clear();
        while started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_secs(1));
            let second = std::mem::take(&mut *self.samples_us.lock().unwrap());
            if !second.is_empty() && second.iter().all(|us| *us < 5_000) {
                break;
            }
        }
        started.elapsed().as_secs_f64()
    }

    /// Samples since the last call, summarised (ms).
    pub fn take(&self) -> serde_json::Value {
        let samples = std::mem::take(&mut *self.samples_us.lock().unwrap());
        crate::stats::latency_summary(&samples)
    }
}
