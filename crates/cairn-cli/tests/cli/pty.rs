//! Running the binary on a pseudo-terminal (libc `openpty`; no extra crate):
//! what a person at a terminal sees, and typing answers to prompts.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which of the child's streams are the terminal (the rest are pipes).
#[derive(Clone, Copy)]
pub struct Wiring {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Wiring {
    pub const ALL: Wiring = Wiring {
        stdin: true,
        stdout: true,
        stderr: true,
    };
}

/// A child on a pseudo-terminal: everything written to the terminal is
/// collected; piped stdout/stderr are collected separately.
pub struct PtyChild {
    child: Child,
    master: std::fs::File,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

pub struct PtyRun {
    pub code: Option<i32>,
    /// What the terminal received (stdout and/or stderr, as wired).
    pub screen: String,
    pub stdout: String,
    pub stderr: String,
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    let mut master = -1;
    let mut slave = -1;
    // 40 rows x 120 columns, so progress bars have room.
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into valid pointers; name and termios are null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened by openpty and are owned here.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

/// Starts `cmd` with the streams in `wiring` on a new pseudo-terminal (its
/// controlling terminal) and the others piped.
pub fn spawn(cmd: Command, wiring: Wiring) -> PtyChild {
    spawn_with(cmd, wiring, &[])
}

/// [`spawn`], with `env` set after the colour variables are cleared.
pub fn spawn_with(mut cmd: Command, wiring: Wiring, env: &[(&str, &str)]) -> PtyChild {
    let (master, slave) = open_pty();
    let tty = |on: bool| -> Stdio {
        if on {
            Stdio::from(slave.try_clone().expect("dup pty slave"))
        } else {
            Stdio::piped()
        }
    };
    cmd.stdin(tty(wiring.stdin))
        .stdout(tty(wiring.stdout))
        .stderr(tty(wiring.stderr))
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The terminal of whichever standard stream is on it.
            for fd in 0..3 {
                if libc::isatty(fd) == 1 {
                    libc::ioctl(fd, libc::TIOCSCTTY as _, 0);
                    break;
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn cairn on a pty");
    drop(slave);
    let master = std::fs::File::from(master);
    let screen = Arc::new(Mutex::new(Vec::new()));
    let mut reading = master.try_clone().expect("dup pty master");
    let sink = screen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // EIO once the child and every copy of the slave are gone.
        while let Ok(n) = reading.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().expect("screen").extend_from_slice(&buf[..n]);
        }
    });
    PtyChild {
        child,
        master,
        screen,
        reader: Some(reader),
    }
}

impl PtyChild {
    /// What the terminal has shown so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().expect("screen")).into_owned()
    }

    /// Waits until the terminal shows `needle`; panics with the screen after `timeout`.
    pub fn expect(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.screen().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the terminal did not show {needle:?} within {timeout:?}; it showed:\n{}",
            self.screen()
        );
    }

    /// The child's process id (to signal it).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Types `text` at the terminal.
    pub fn send(&mut self, text: &str) {
        self.master
            .write_all(text.as_bytes())
            .expect("write to the pty");
    }

    /// Waits for exit (killing the child after `timeout`) and collects everything.
    pub fn finish(mut self, timeout: Duration) -> PtyRun {
        let mut stdout = self.child.stdout.take();
        let mut stderr = self.child.stderr.take();
        let out_thread = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(o) = stdout.as_mut() {
                let _ = o.read_to_string(&mut s);
            }
            s
        });
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(e) = stderr.as_mut() {
                let _ = e.read_to_string(&mut s);
            }
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                let screen = self.screen();
                let _ = self.child.wait();
                panic!("cairn did not exit within {timeout:?}; the terminal showed:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader drain what the child wrote last; it ends on EIO
        // once the slave is closed (not joined: a grandchild may hold it).
        std::thread::sleep(Duration::from_millis(150));
        drop(self.reader.take());
        PtyRun {
            code: status.code(),
            screen: String::from_utf8_lossy(&self.screen.lock().expect("screen")).into_owned(),
            stdout: out_thread.join().unwrap_or_default(),
            stderr: err_thread.join().unwrap_or_default(),
        }
    }
}

impl PtyRun {
    /// Both piped streams.
    pub fn all_piped(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}
