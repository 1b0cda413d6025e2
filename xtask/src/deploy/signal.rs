//! SIGTERM and SIGINT during a deploy or rollback: the handler only records the signal; the
//! polling loops (health gate, smoke retries) and the phases between steps check it, stop,
//! and write the ledger entry's outcome. A second signal stops the process at once.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    RECEIVED.store(sig, Ordering::SeqCst);
    // SAFETY: signal(2) is async-signal-safe; the default action makes a second signal fatal.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
    }
}

/// The handlers, installed while it lives; the previous dispositions come back on drop.
pub struct Guard {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

/// Record SIGTERM and SIGINT instead of dying of them, until the guard is dropped.
pub fn install() -> Guard {
    RECEIVED.store(0, Ordering::SeqCst);
    let mut previous = Vec::new();
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is valid; the handler only touches an atomic and calls
        // signal(2); SA_RESTART keeps the waits of spawned programs going.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, &action, &mut old) == 0 {
                previous.push((sig, old));
            }
        }
    }
    Guard { previous }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (sig, old) in &self.previous {
            // SAFETY: restoring a disposition sigaction(2) returned.
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
    }
}

/// The signal received since [`install`], by name.
pub fn received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        libc::SIGTERM => Some("SIGTERM"),
        libc::SIGINT => Some("SIGINT"),
        _ => None,
    }
}

/// Sleep for `d`, or less when a signal arrives: false then.
pub fn sleep(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if received().is_some() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}
