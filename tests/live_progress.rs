//! The live progress on a terminal, 80 columns wide: strato runs under a pseudo-terminal
//! (Python's `pty`, in the standard library) against the local emulator, and its output is
//! replayed through a small terminal model that knows what strato's redraws use (cursor
//! up, clear to the end of the screen, colours). Nothing may wrap at 80 columns (a wrapped
//! line breaks every later redraw); the bar and the running objects are drawn while the run
//! goes, and cleared at its end, which leaves the finished lines, the summary table and the
//! summary line; colour follows `NO_COLOR`.
//!
//! `scripts/test` starts the emulator and sets `STRATO_TEST_AWS_ENDPOINT`.

mod common;

use std::process::{Command, Output};

const WIDTH: usize = 80;

/// Runs `strato args` on a pseudo-terminal of 24 rows and [`WIDTH`] columns.
fn on_terminal(args: &[&str], state: &std::path::Path, env: &[(&str, &str)]) -> Output {
    const PTY: &str = r#"
import fcntl, os, pty, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, int(sys.argv[1]), 0, 0))
    os.execv(sys.argv[2], sys.argv[2:])
out = bytearray()
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(bytes(out))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let endpoint = std::env::var("STRATO_TEST_AWS_ENDPOINT").expect(
        "STRATO_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test, which starts the local emulator",
    );
    let mut cmd = Command::new("python3");
    cmd.args(["-c", PTY, &WIDTH.to_string(), env!("CARGO_BIN_EXE_strato")])
        .args(args)
        .args(["--endpoint-url", &endpoint, "--state-dir"])
        .arg(state)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("COLUMNS")
        .env_remove("AWS_PROFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("python3 runs")
}

/// A terminal of [`WIDTH`] columns and unlimited rows, as far as strato drives it.
#[derive(Default)]
struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    /// Lines that reached past the last column.
    wrapped: Vec<String>,
    /// Colour (SGR) sequences seen.
    colours: usize,
}

impl Screen {
    fn feed(&mut self, text: &str) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\x1b' => {
                    assert_eq!(chars.next(), Some('['), "only CSI sequences are expected");
                    let mut arg = String::new();
                    let end = loop {
                        let c = chars.next().expect("a complete sequence");
                        if c.is_ascii_alphabetic() {
                            break c;
                        }
                        arg.push(c);
                    };
                    match end {
                        'A' => self.row = self.row.saturating_sub(arg.parse().unwrap_or(1)),
                        'J' => {
                            let col = self.col;
                            self.line().truncate(col);
                            self.lines.truncate(self.row + 1);
                        }
                        'm' => self.colours += usize::from(!arg.is_empty() && arg != "0"),
                        other => panic!("unexpected sequence ESC[{arg}{other}"),
                    }
                }
                '\r' => self.col = 0,
                '\n' => {
                    self.row += 1;
                    self.col = 0;
                }
                c => {
                    if self.col >= WIDTH {
                        let line: String = self.line().iter().collect();
                        self.wrapped.push(line);
                        self.row += 1;
                        self.col = 0;
                    }
                    let col = self.col;
                    let line = self.line();
                    if line.len() <= col {
                        line.resize(col + 1, ' ');
                    }
                    line[col] = c;
                    self.col += 1;
                }
            }
        }
    }

    fn line(&mut self) -> &mut Vec<char> {
        while self.lines.len() <= self.row {
            self.lines.push(Vec::new());
        }
        &mut self.lines[self.row]
    }

    fn text(&self) -> String {
        self.lines.iter().map(|l| l.iter().collect::<String>().trim_end().to_string() + "\n").collect()
    }
}

#[test]
fn live_progress_at_80_columns() {
    let state = common::scratch_dir("pty", "live");
    let spec = "deploy-specs/wso2-network.toml";
    let name = format!("pty-live-{}", std::process::id());
    let out = on_terminal(&["provision", spec, "--deployment", &name], &state, &[]);
    let raw = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert_eq!(out.status.code(), Some(0), "{raw}");
    let mut screen = Screen::default();
    screen.feed(&raw);
    let text = screen.text();
    assert!(screen.wrapped.is_empty(), "lines wider than {WIDTH} columns: {:?}\n{text}", screen.wrapped);
    // While it ran: the overall bar with objects done of 57 and the time left, and running
    // objects with their elapsed time.
    assert!(raw.contains("█") || raw.contains("░"), "no bar was drawn:\n{raw}");
    assert!(raw.contains("/57 · "), "the bar counts the objects:\n{raw}");
    assert!(raw.contains(" left"), "the bar shows the time left on the critical path:\n{raw}");
    assert!(screen.colours > 0, "colour on a terminal");
    // At the end the block is gone: what stays is a line per object, the table and the summary.
    assert!(!text.contains('░') && !text.contains('█'), "the bar is cleared at the end:\n{text}");
    assert_eq!(text.matches("✓ ").count(), 57, "{text}");
    assert!(text.contains("kind") && text.contains("slowest"), "a summary table:\n{text}");
    let vpc_row = text.lines().find(|l| l.starts_with("vpc ")).unwrap_or_else(|| panic!("a row for vpc:\n{text}"));
    assert_eq!(vpc_row.split_whitespace().nth(1), Some("1"), "{vpc_row}");
    assert!(text.contains("Provision done in") && text.contains("57 created"), "{text}");

    // Colour respects NO_COLOR; the destroy's progress fits as well.
    let down = on_terminal(&["destroy", spec, "--deployment", &name, "--yes"], &state, &[("NO_COLOR", "1")]);
    let raw = String::from_utf8_lossy(&down.stdout).replace("\r\n", "\n");
    assert_eq!(down.status.code(), Some(0), "{raw}");
    let mut screen = Screen::default();
    screen.feed(&raw);
    assert_eq!(screen.colours, 0, "NO_COLOR: no colour\n{raw}");
    assert!(screen.wrapped.is_empty(), "lines wider than {WIDTH} columns: {:?}", screen.wrapped);
    assert!(screen.text().contains("Destroy done in") && screen.text().contains("57 deleted"), "{}", screen.text());
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let state = common::scratch_dir("pty", "quiet");
    let spec = "deploy-specs/wso2-network.toml";
    let name = format!("pty-quiet-{}", std::process::id());
    let out = on_terminal(&["provision", spec, "--deployment", &name, "--quiet"], &state, &[]);
    let raw = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{raw}");
    assert!(raw.trim().is_empty(), "--quiet printed: {raw}");
    let down = on_terminal(&["destroy", spec, "--deployment", &name, "--yes", "-q"], &state, &[]);
    assert_eq!(down.status.code(), Some(0), "{}", String::from_utf8_lossy(&down.stdout));
    assert!(String::from_utf8_lossy(&down.stdout).trim().is_empty());
    let _ = std::fs::remove_dir_all(&state);
}
