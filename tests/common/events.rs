//! The JSON event stream of `strato provision` and `strato destroy --output json`
//! (docs/events.md): one object per line, each with the format's version, its event name,
//! a UTC timestamp and the run's elapsed seconds; the summary last.

#![allow(dead_code)]

use serde_json::Value;

/// Every event of a stream, checked line by line: each a JSON object of version 1 with an
/// event name and a timestamp, elapsed seconds never going back, the summary last and
/// only there.
pub fn parse(stdout: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(stdout);
    let mut events = Vec::new();
    let mut elapsed = 0.0f64;
    for (n, line) in text.lines().enumerate() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: not JSON ({e}): {line}\n{text}", n + 1));
        assert_eq!(v["version"], 1, "line {}: {line}", n + 1);
        let event = v["event"].as_str().unwrap_or_else(|| panic!("line {}: no event name: {line}", n + 1));
        let time = v["time"].as_str().unwrap_or_else(|| panic!("line {}: no time: {line}", n + 1));
        assert!(time.len() == 24 && time.ends_with('Z') && time.as_bytes()[10] == b'T', "line {}: {time}", n + 1);
        if event != "summary" {
            let e = v["elapsed_seconds"].as_f64().unwrap_or_else(|| panic!("line {}: no elapsed_seconds", n + 1));
            assert!(e >= elapsed, "line {}: elapsed went back from {elapsed} to {e}", n + 1);
            elapsed = e;
            assert!(v["address"].is_string(), "line {}: an object event names its address: {line}", n + 1);
        }
        events.push(v);
    }
    let summaries = events.iter().filter(|e| e["event"] == "summary").count();
    assert_eq!(summaries, 1, "exactly one summary:\n{text}");
    assert_eq!(events.last().unwrap()["event"], "summary", "the summary comes last:\n{text}");
    events
}

/// The summary of a stream.
pub fn summary(stdout: &[u8]) -> Value {
    parse(stdout).pop().unwrap()
}

/// A command's JSON: one document (plan, status, ...), or the summary of an event stream.
pub fn document(stdout: &[u8]) -> Value {
    match serde_json::from_slice(stdout) {
        Ok(v) => v,
        Err(_) => summary(stdout),
    }
}
