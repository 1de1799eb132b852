//! Every byte strato prints goes through here: `print!`, `println!`, `eprint!` and
//! `eprintln!` are shadowed for the whole binary by the macros below (declared before the
//! other modules, so they are in scope everywhere).
//!
//! std's macros panic when the reader of a pipe has gone (`strato status | head -1`): a
//! panic message and exit 101. Here a closed stream is remembered and written to no more;
//! the command finishes what it was doing (a provision is never abandoned midway because
//! its output is no longer read), and `main` then exits with 141, the status a shell
//! reports for a process stopped by SIGPIPE (128 + 13), without a word. ripgrep treats a
//! broken pipe the same way, as the end of the output rather than an error
//! (BurntSushi/ripgrep `crates/core/main.rs`), but exits 0; strato does not, because its
//! exit codes say something (`status`: in sync; `plan --detailed-exitcode`: changes) that
//! a truncated output must not claim.

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout (or stderr) found the reader gone.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
static STDERR_CLOSED: AtomicBool = AtomicBool::new(false);

/// The exit status of a run whose output was cut off: 128 + SIGPIPE.
pub const CLOSED_PIPE: u8 = 141;

/// Whether stdout found its reader gone: the command's output is incomplete. (A closed
/// stderr only silences the messages.)
pub fn closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Writes to stdout; a reader that has gone ends all further output, any other error is
/// ignored as std's `print!` would not (it panics), since there is nowhere left to report it.
pub fn stdout(args: std::fmt::Arguments<'_>, newline: bool) {
    write(&mut std::io::stdout().lock(), args, newline, &STDOUT_CLOSED);
}

/// The same for stderr.
pub fn stderr(args: std::fmt::Arguments<'_>, newline: bool) {
    write(&mut std::io::stderr().lock(), args, newline, &STDERR_CLOSED);
}

fn write(w: &mut dyn Write, args: std::fmt::Arguments<'_>, newline: bool, closed: &AtomicBool) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    let mut r = w.write_fmt(args);
    if newline && r.is_ok() {
        r = w.write_all(b"\n");
    }
    // A line-buffered stdout flushes at the newline; flush here too so that the error is
    // seen on the write that met it.
    if r.is_ok() {
        r = w.flush();
    }
    if let Err(e) = r {
        if e.kind() == ErrorKind::BrokenPipe {
            closed.store(true, Ordering::Relaxed);
        }
    }
}

macro_rules! print {
    ($($arg:tt)*) => { $crate::out::stdout(format_args!($($arg)*), false) };
}

macro_rules! println {
    () => { $crate::out::stdout(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::stdout(format_args!($($arg)*), true) };
}

macro_rules! eprint {
    ($($arg:tt)*) => { $crate::out::stderr(format_args!($($arg)*), false) };
}

macro_rules! eprintln {
    () => { $crate::out::stderr(format_args!(""), true) };
    ($($arg:tt)*) => { $crate::out::stderr(format_args!($($arg)*), true) };
}
