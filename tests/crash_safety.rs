//! Never a duplicate or an orphan, whatever instant a run dies: `strato provision`,
//! `strato destroy` and a day-two update of the reference architecture are killed with
//! SIGKILL at seeded points spread over the whole run (at the N-th mutating call, after
//! AWS answered and before the state recorded it, or after the intent was recorded and
//! before the call was sent; and at seeded instants), on the AWS-faithful layer. After
//! each kill the next run must end with exactly the spec's objects, counted by the layer
//! from the emulator's own records (not from strato's tags), and a destroy must leave
//! nothing.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{all_rules, json_out, mutating, planned, reference_copy, stderr, temp_dir, Session};
use serde_json::json;

const SPEC: &str = "deploy-specs/wso2-apim-ei.toml";

/// Emulated time runs this many times faster than AWS's: the kills are about what a run
/// leaves behind, not about how long AWS takes.
const SCALE: f64 = 600.0;

fn session(seed: u64) -> Session {
    Session::new(json!({ "seed": seed, "scale": SCALE, "rules": all_rules() }))
}

/// A small seeded generator (xorshift), so every run of the test kills at the same points.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How a run is killed.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// At the N-th mutating call, after its answer and before the state records it.
    After(u64),
    /// At the N-th mutating call, after its intent is durable and before it is sent.
    Before(u64),
    /// After this long.
    At(Duration),
}

/// Runs strato and kills it as `kill` says. Returns whether it was killed (a run may end
/// before the point is reached).
fn killed(session: &Session, args: &[&str], state: &Path, kill: Kill) -> bool {
    let mut c = session.command(args, state);
    match kill {
        Kill::After(n) => {
            c.env("STRATO_KILL_AT_CALL", n.to_string()).env("STRATO_KILL_WHEN", "after");
        }
        Kill::Before(n) => {
            c.env("STRATO_KILL_AT_CALL", n.to_string()).env("STRATO_KILL_WHEN", "before");
        }
        Kill::At(_) => {}
    }
    let mut child = c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    if let Kill::At(after) = kill {
        let start = Instant::now();
        while start.elapsed() < after {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    match out.status.signal() {
        Some(9) => true,
        Some(other) => panic!("{args:?} ({kill:?}) died of signal {other}: {}", stderr(&out)),
        None => {
            assert!(out.status.success(), "{args:?} ({kill:?}) failed before its kill point: {}", stderr(&out));
            false
        }
    }
}

fn completed(session: &Session, args: &[&str], state: &Path, when: &str) -> Output {
    let out = session.strato(args, state);
    assert_eq!(out.status.code(), Some(0), "{when}: {args:?} must finish: {}", stderr(&out));
    out
}

fn assert_exactly(session: &Session, spec: &BTreeMap<String, u64>, when: &str) {
    let counts = session.counts();
    for (kind, n) in spec {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), *n, "{when}: {kind} (the layer counts {counts:?})");
    }
}

fn assert_nothing_left(session: &Session, spec: &BTreeMap<String, u64>, when: &str) {
    let counts = session.counts();
    for kind in spec.keys() {
        assert_eq!(counts.get(kind).copied().unwrap_or(0), 0, "{when}: {kind} left (the layer counts {counts:?})");
    }
}

/// The kill points of one kind of run: mutating-call numbers spread over `calls` (every
/// stretch of the run gets one), alternately after and before the call, and a few instants
/// spread over `secs`.
fn points(rng: &mut Seeded, n: usize, calls: u64, timed: usize, secs: f64) -> Vec<Kill> {
    let mut kills = Vec::new();
    let stretch = (calls as f64 / n as f64).max(1.0);
    for i in 0..n {
        let at = 1 + (i as f64 * stretch) as u64 + rng.below(stretch as u64);
        kills.push(if i % 2 == 0 { Kill::After(at.min(calls)) } else { Kill::Before(at.min(calls)) });
    }
    for i in 0..timed {
        let frac = (i as f64 + rng.below(1000) as f64 / 1000.0) / timed as f64;
        kills.push(Kill::At(Duration::from_secs_f64(secs * frac)));
    }
    kills
}

/// One session, one deployment: each kill point of provision, then of destroy.
fn provision_and_destroy_killed(seed: u64, provision: &[Kill], destroy: &[Kill]) -> (usize, usize) {
    let spec = planned(SPEC);
    let s = session(seed);
    let state = temp_dir(&format!("kills-{seed}"));
    let (mut p, mut d) = (0, 0);
    for (i, (pk, dk)) in provision.iter().zip(destroy).enumerate() {
        let when = format!("seed {seed}, round {i}: provision killed {pk:?}");
        p += usize::from(killed(&s, &["provision", SPEC, "--yes"], &state, *pk));
        let out = completed(&s, &["provision", SPEC, "--yes", "--output", "json"], &state, &when);
        assert_eq!(json_out(&out)["success"], true, "{when}");
        assert_exactly(&s, &spec, &when);
        let when = format!("seed {seed}, round {i}: destroy killed {dk:?}");
        d += usize::from(killed(&s, &["destroy", SPEC, "--yes"], &state, *dk));
        completed(&s, &["destroy", SPEC, "--yes"], &state, &when);
        assert_nothing_left(&s, &spec, &when);
        assert!(!state.join("wso2").join("state.json").exists(), "{when}: the state is removed with the last object");
    }
    (p, d)
}

/// Mutating calls and seconds of a clean provision and destroy, as the layer counts them.
fn measure(seed: u64) -> ((u64, f64), (u64, f64)) {
    let s = session(seed);
    let state = temp_dir(&format!("kills-measure-{seed}"));
    let start = Instant::now();
    completed(&s, &["provision", SPEC, "--yes"], &state, "a clean provision");
    let provision = (mutating(&s), start.elapsed().as_secs_f64());
    let start = Instant::now();
    completed(&s, &["destroy", SPEC, "--yes"], &state, "a clean destroy");
    let destroy = (mutating(&s) - provision.0, start.elapsed().as_secs_f64());
    (provision, destroy)
}

#[test]
fn sigkill_anywhere_in_provision_or_destroy_leaves_no_duplicate_and_no_orphan() {
    let ((p_calls, p_secs), (d_calls, d_secs)) = measure(100);
    eprintln!("a clean run: provision {p_calls} mutating calls in {p_secs:.1} s, destroy {d_calls} in {d_secs:.1} s");
    let mut rng = Seeded(0x5eed_2026);
    // 25 call points and 5 instants for each.
    let provision = points(&mut rng, 25, p_calls, 5, p_secs);
    let mut destroy = points(&mut rng, 25, d_calls, 5, d_secs);
    // And at its very end, around the deletion of what outlives every object (the
    // deployment's CSR challenge) and of the state.
    destroy.extend([Kill::Before(d_calls), Kill::After(d_calls)]);
    let mut provision = provision;
    provision.extend([Kill::Before(p_calls), Kill::After(p_calls)]);
    // Five sessions at once: the runs mostly wait on the emulated clock.
    let lanes = 5;
    let results: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..lanes)
            .map(|lane| {
                let p: Vec<Kill> = provision.iter().skip(lane).step_by(lanes).copied().collect();
                let d: Vec<Kill> = destroy.iter().skip(lane).step_by(lanes).copied().collect();
                scope.spawn(move || provision_and_destroy_killed(101 + lane as u64, &p, &d))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a lane")).collect()
    });
    let (p, d) = results.iter().fold((0, 0), |(a, b), (x, y)| (a + x, b + y));
    eprintln!("killed {p} of {} provisions and {d} of {} destroys", provision.len(), destroy.len());
    assert!(p >= 25, "at least 25 provisions must actually have been killed, {p} were");
    assert!(d >= 25, "at least 25 destroys must actually have been killed, {d} were");
}

/// One session: the reference provisioned, then each update killed and resumed, alternately
/// towards the changed spec and back, so that every round is an update.
fn updates_killed(seed: u64, changed: &str, kills: &[Kill]) -> usize {
    let spec = planned(SPEC);
    let s = session(seed);
    let state = temp_dir(&format!("kills-day-two-state-{seed}"));
    completed(&s, &["provision", SPEC, "--yes"], &state, "the first provision");
    let mut n = 0;
    for (i, k) in kills.iter().enumerate() {
        let target = if i % 2 == 0 { changed } else { SPEC };
        let when = format!("seed {seed}: update round {i} killed {k:?}");
        n += usize::from(killed(&s, &["provision", target, "--yes"], &state, *k));
        completed(&s, &["provision", target, "--yes"], &state, &when);
        assert_exactly(&s, &spec, &when);
        let plan = s.strato(&["plan", target, "--detailed-exitcode"], &state);
        let shown = String::from_utf8_lossy(&plan.stdout);
        assert_eq!(plan.status.code(), Some(0), "{when}: nothing must be left to change: {shown}");
    }
    completed(&s, &["destroy", SPEC, "--yes"], &state, "the last destroy");
    assert_nothing_left(&s, &spec, &format!("seed {seed}: after the day-two kills"));
    n
}

#[test]
fn sigkill_during_a_day_two_update_resumes_to_exactly_the_new_spec() {
    // The update: the API Manager nodes to another type (stop, modify, start, wait until
    // their targets are healthy) and a new tag on every object.
    let (_dir, changed) = reference_copy("kills-day-two", |t| {
        let t = t.replacen("Environment = \"production\"", "Environment = \"production\"\nOwner = \"platform\"", 1);
        t.replacen("instance_type = \"t2.large\"", "instance_type = \"m5.xlarge\"", 1)
    });
    let changed = changed.to_str().unwrap().to_string();
    // Its calls and duration, measured once.
    let s = session(200);
    let state = temp_dir("kills-day-two-measure");
    completed(&s, &["provision", SPEC, "--yes"], &state, "the first provision");
    let before = mutating(&s);
    let start = Instant::now();
    completed(&s, &["provision", &changed, "--yes"], &state, "a clean update");
    let (calls, secs) = (mutating(&s) - before, start.elapsed().as_secs_f64());
    completed(&s, &["destroy", SPEC, "--yes"], &state, "the measuring destroy");
    eprintln!("a clean update: {calls} mutating calls in {secs:.1} s");
    let mut rng = Seeded(0xda72);
    let kills = points(&mut rng, 10, calls, 2, secs);
    let lanes = 3;
    let n: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..lanes)
            .map(|lane| {
                let mine: Vec<Kill> = kills.iter().skip(lane).step_by(lanes).copied().collect();
                let changed = changed.as_str();
                scope.spawn(move || updates_killed(201 + lane as u64, changed, &mine))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a lane")).sum()
    });
    eprintln!("killed {n} of {} updates", kills.len());
    assert!(n >= 10, "at least 10 updates must actually have been killed, {n} were");
}
