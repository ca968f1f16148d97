//! The process's allocator: jemalloc, for the Rust code and for the bundled
//! SQLite alike (compiled in on Linux with glibc only).

/// jemalloc for Rust and, through the unprefixed `malloc`, for the bundled
/// SQLite too. With glibc's malloc the soak's RSS grew by ~1 MB a minute
/// while the live heap stayed near 11 MB (heaptrack): freed pages kept in
/// the arenas of SQLite's connection threads (`malloc_trim` gave back 7.7 of
/// 22 MB). jemalloc returns unused pages on its own (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start. Freed pages go back to the system
/// after 1 s instead of 10: building a backlog of 1,000,000 deliveries
/// peaked at 153 MB with the default, and the limit is 150 MB.
#[no_mangle]
#[used]
pub static malloc_conf: JemallocConf =
    JemallocConf(c"dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr());

#[repr(transparent)]
pub struct JemallocConf(*const std::ffi::c_char);

// A pointer to a constant string, never written.
unsafe impl Sync for JemallocConf {}

#[cfg(test)]
mod tests {
    extern "C" {
        fn malloc(size: usize) -> *mut u8;
        fn free(ptr: *mut u8);
    }

    #[test]
    fn freed_pages_go_back_within_a_second() {
        let read = |name: &[u8]| unsafe { tikv_jemalloc_ctl::raw::read::<isize>(name).unwrap() };
        assert_eq!(read(b"opt.dirty_decay_ms\0"), 1000);
        assert_eq!(read(b"opt.muzzy_decay_ms\0"), 0);
    }

    /// The soak's growing RSS came from glibc's arenas holding what SQLite
    /// freed: SQLite (C, calling `malloc`) must allocate from jemalloc too.
    #[test]
    fn c_malloc_is_served_by_jemalloc() {
        const SIZE: u64 = 8 << 20;
        // Bytes this thread has allocated through jemalloc: other tests' threads cannot move it.
        let allocated = tikv_jemalloc_ctl::thread::allocatedp::read().unwrap();
        let before = allocated.get();
        let p = unsafe { malloc(SIZE as usize) };
        assert!(!p.is_null());
        let during = allocated.get();
        unsafe { free(p) };
        assert!(
            during >= before + SIZE,
            "an 8 MiB malloc is not in jemalloc's books: {before} -> {during}"
        );
    }
}
