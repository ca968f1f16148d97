//! The writer's write-ahead log, reaching the file in a few writes a commit.
//!
//! SQLite writes each page of a commit to the log as two writes, the
//! frame's header and then the page, and syncs the log at the end. At 10
//! webhooks a commit is ~66 pages: 132 `pwrite`s, a tenth of the writer's
//! CPU (`perf`). Measured alone on this machine's disk, 66 frames written
//! one by one and synced took 1.0–1.16 ms a commit, 340–400 µs of it CPU;
//! gathered into three writes, 0.50–0.60 ms and 114–138 µs. In the
//! writer at 10 webhooks, commits took 1.57–1.61 ms instead of 1.83–1.99.
//!
//! This VFS sits over the default one and changes only the log of the
//! connection that opens through it (the writer's own): writes that follow
//! each other are gathered in memory and reach the file together (in
//! writes of up to 124 KiB), before anything that could need them — a sync, a read, the file's size,
//! a truncation, a file control, or a write elsewhere in the file. Every
//! other file, and every other method, is the default VFS's own.
//!
//! Why that keeps every commit as SQLite keeps it: other connections learn
//! of new frames from the log's index, which SQLite updates only after the
//! commit's frames are written and, under `synchronous=FULL`, synced. So
//! the writer opens through it only under FULL (NORMAL publishes frames
//! without a sync), and a log whose device pads commits to its sectors
//! (which writes after the sync) is passed through untouched. What a
//! transaction that did not commit left gathered belongs to no commit:
//! it is dropped at its rollback and at the file's close, never written
//! later over frames another connection committed meanwhile.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use rusqlite::ffi;

/// The VFS's name, for `Connection::open_with_flags_and_vfs`.
pub(crate) const NAME: &str = "dutyhook-gathered-log";
const NAME_C: &CStr = c"dutyhook-gathered-log";

/// Gathered bytes are written once they reach this, so that a huge
/// transaction holds no more than this in memory.
const MOST_GATHERED: usize = 4 << 20;
/// The most the default VFS writes in one call: its `seekAndWriteFd` keeps
/// the low 17 bits of a length, so a longer write would come back short
/// and read as a full disk.
const MOST_IN_ONE_WRITE: usize = 0x1f000;
/// Room kept between commits: a commit of 10 webhooks' pushes is ~270 KiB.
const ROOM_KEPT: usize = 1 << 20;

/// Registers the VFS once in the process; its name.
pub(crate) fn register() -> std::result::Result<&'static str, String> {
    static REGISTERED: OnceLock<std::result::Result<(), c_int>> = OnceLock::new();
    match REGISTERED.get_or_init(|| {
        // SAFETY: the default VFS is never unregistered, so `under` lives as
        // long as the process; the new VFS is leaked, as SQLite requires of
        // a registered VFS, and registered once.
        unsafe {
            let under = ffi::sqlite3_vfs_find(null());
            if under.is_null() {
                return Err(ffi::SQLITE_ERROR);
            }
            let _ = UNDER.set(Under(under));
            let mut vfs = *under;
            vfs.szOsFile = (real_offset() + (*under).szOsFile as usize) as c_int;
            vfs.pNext = null_mut();
            vfs.zName = NAME_C.as_ptr();
            vfs.xOpen = Some(open);
            match ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 0) {
                ffi::SQLITE_OK => Ok(()),
                rc => Err(rc),
            }
        }
    }) {
        Ok(()) => Ok(NAME),
        Err(rc) => Err(format!("registering SQLite's gathered log: code {rc}")),
    }
}

/// Drops what the connection's log holds gathered and unwritten: after a
/// rollback, frames that no commit will claim.
pub(crate) fn drop_unwritten(conn: &mut rusqlite::Connection) {
    // SAFETY: the file SQLite answers is the connection's log, open while
    // the connection is; only files this VFS opened carry its methods.
    unsafe {
        if let Some(g) = gathered_of(conn).as_mut() {
            g.bytes.clear();
        }
    }
}

/// How many writes reached the connection's log file through this VFS.
#[cfg(test)]
pub(crate) fn writes(conn: &rusqlite::Connection) -> Option<u64> {
    // SAFETY: as in `drop_unwritten`.
    unsafe { gathered_of(conn).as_ref().map(|g| g.writes) }
}

/// The connection's gathered writes, or null where its log is not gathered.
unsafe fn gathered_of(conn: &rusqlite::Connection) -> *mut Gathered {
    let mut file: *mut ffi::sqlite3_file = null_mut();
    let rc = ffi::sqlite3_file_control(
        conn.handle(),
        c"main".as_ptr(),
        ffi::SQLITE_FCNTL_JOURNAL_POINTER,
        (&mut file as *mut *mut ffi::sqlite3_file).cast(),
    );
    if rc != ffi::SQLITE_OK || file.is_null() || !std::ptr::eq((*file).pMethods, &METHODS) {
        return null_mut();
    }
    (*file.cast::<LogFile>()).gathered
}

/// The default VFS, under this one.
struct Under(*mut ffi::sqlite3_vfs);
// SAFETY: SQLite's VFS objects are shared by every thread of the process.
unsafe impl Send for Under {}
unsafe impl Sync for Under {}
static UNDER: OnceLock<Under> = OnceLock::new();

#[derive(Default)]
struct Gathered {
    /// Where in the file `bytes` go.
    start: i64,
    bytes: Vec<u8>,
    writes: u64,
}

/// A log file opened through this VFS; the default VFS's file follows it,
/// at `real_offset()`.
#[repr(C)]
struct LogFile {
    base: ffi::sqlite3_file,
    /// Null when the log is passed through.
    gathered: *mut Gathered,
}

fn real_offset() -> usize {
    std::mem::size_of::<LogFile>().next_multiple_of(16)
}

unsafe fn real(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    file.cast::<u8>().add(real_offset()).cast()
}

unsafe fn methods<'a>(file: *mut ffi::sqlite3_file) -> &'a ffi::sqlite3_io_methods {
    &*(*file).pMethods
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let Some(under) = UNDER.get().map(|u| u.0) else {
        return ffi::SQLITE_ERROR;
    };
    let Some(under_open) = (*under).xOpen else {
        return ffi::SQLITE_ERROR;
    };
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        // The default VFS's file in place of ours: its methods, untouched.
        return under_open(under, name, file, flags, out_flags);
    }
    (*file).pMethods = null();
    let inner = real(file);
    let rc = under_open(under, name, inner, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let characteristics = methods(inner)
        .xDeviceCharacteristics
        .map_or(0, |f| f(inner));
    let padded = characteristics & ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE == 0;
    let log = file.cast::<LogFile>();
    (*log).gathered = if padded {
        null_mut()
    } else {
        Box::into_raw(Box::default())
    };
    (*file).pMethods = &METHODS;
    ffi::SQLITE_OK
}

/// Writes what is gathered: one write, or a few for a large commit.
unsafe fn flush(file: *mut ffi::sqlite3_file) -> c_int {
    let Some(g) = (*file.cast::<LogFile>()).gathered.as_mut() else {
        return ffi::SQLITE_OK;
    };
    if g.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let inner = real(file);
    let mut rc = ffi::SQLITE_OK;
    let mut at = g.start;
    for part in g.bytes.chunks(MOST_IN_ONE_WRITE) {
        rc = match methods(inner).xWrite {
            Some(write) => write(inner, part.as_ptr().cast(), part.len() as c_int, at),
            None => ffi::SQLITE_IOERR_WRITE,
        };
        g.writes += 1;
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += part.len() as i64;
    }
    g.bytes.clear();
    if g.bytes.capacity() > ROOM_KEPT {
        g.bytes = Vec::new();
    }
    rc
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amount: c_int,
    offset: ffi::sqlite3_int64,
) -> c_int {
    let log = file.cast::<LogFile>();
    let follows = match (*log).gathered.as_ref() {
        None => {
            let inner = real(file);
            return methods(inner)
                .xWrite
                .map_or(ffi::SQLITE_IOERR_WRITE, |f| f(inner, buf, amount, offset));
        }
        Some(g) => g.bytes.is_empty() || offset == g.start + g.bytes.len() as i64,
    };
    if !follows {
        let rc = flush(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    let Some(g) = (*log).gathered.as_mut() else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if g.bytes.is_empty() {
        g.start = offset;
    }
    g.bytes.extend_from_slice(std::slice::from_raw_parts(
        buf.cast::<u8>(),
        amount as usize,
    ));
    if g.bytes.len() >= MOST_GATHERED {
        return flush(file);
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let log = file.cast::<LogFile>();
    if !(*log).gathered.is_null() {
        // Unwritten at the close: written by no commit.
        drop(Box::from_raw((*log).gathered));
        (*log).gathered = null_mut();
    }
    let inner = real(file);
    methods(inner).xClose.map_or(ffi::SQLITE_OK, |f| f(inner))
}

/// A method of the default VFS's file, called after what is gathered is
/// written (`$flush`), or at once.
macro_rules! forward {
    ($name:ident, $field:ident, $flush:expr, ($($arg:ident: $ty:ty),*), $missing:expr) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file $(, $arg: $ty)*) -> c_int {
            if $flush {
                let rc = flush(file);
                if rc != ffi::SQLITE_OK {
                    return rc;
                }
            }
            let inner = real(file);
            match methods(inner).$field {
                Some(f) => f(inner $(, $arg)*),
                None => $missing,
            }
        }
    };
}

forward!(read, xRead, true, (buf: *mut c_void, amount: c_int, offset: ffi::sqlite3_int64), ffi::SQLITE_IOERR_READ);
forward!(truncate, xTruncate, true, (size: ffi::sqlite3_int64), ffi::SQLITE_IOERR_TRUNCATE);
forward!(sync, xSync, true, (flags: c_int), ffi::SQLITE_IOERR_FSYNC);
forward!(file_size, xFileSize, true, (size: *mut ffi::sqlite3_int64), ffi::SQLITE_IOERR_FSTAT);
forward!(lock, xLock, false, (level: c_int), ffi::SQLITE_OK);
forward!(unlock, xUnlock, false, (level: c_int), ffi::SQLITE_OK);
forward!(check_reserved_lock, xCheckReservedLock, false, (out: *mut c_int), ffi::SQLITE_OK);
forward!(file_control, xFileControl, true, (op: c_int, arg: *mut c_void), ffi::SQLITE_NOTFOUND);
forward!(sector_size, xSectorSize, false, (), 4096);
forward!(device_characteristics, xDeviceCharacteristics, false, (), 0);
forward!(shm_map, xShmMap, false, (region: c_int, size: c_int, extend: c_int, out: *mut *mut c_void), ffi::SQLITE_IOERR_SHMMAP);
forward!(shm_lock, xShmLock, false, (offset: c_int, n: c_int, flags: c_int), ffi::SQLITE_IOERR_SHMLOCK);
forward!(shm_unmap, xShmUnmap, false, (delete: c_int), ffi::SQLITE_OK);
forward!(fetch, xFetch, true, (offset: ffi::sqlite3_int64, amount: c_int, out: *mut *mut c_void), {
    *out = null_mut();
    ffi::SQLITE_OK
});
forward!(unfetch, xUnfetch, false, (offset: ffi::sqlite3_int64, page: *mut c_void), ffi::SQLITE_OK);

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let inner = real(file);
    if let Some(f) = methods(inner).xShmBarrier {
        f(inner)
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};
