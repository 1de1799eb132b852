//! The AWS-faithful test bed (`tests/aws/`) as the Rust tests see it: a session of the layer
//! (its own account in the emulator, its own rules, faults and seed), strato run against
//! it, and the layer's own view of the account (every object counted without looking at
//! strato's tags, every refusal and fault it answered with).
//!
//! `scripts/test` starts the layer and sets `STRATO_TEST_FAITHFUL_ENDPOINT`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};

pub mod events;

pub fn endpoint() -> String {
    std::env::var("STRATO_TEST_FAITHFUL_ENDPOINT").expect(
        "STRATO_TEST_FAITHFUL_ENDPOINT is not set: run the suite with scripts/test, which starts the AWS-faithful layer",
    )
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh directory for a test's state files.
pub fn temp_dir(name: &str) -> PathBuf {
    scratch_dir("faithful", name)
}

/// A fresh, empty directory `strato-<suite>-<name>-<pid>` under the system's temporary
/// directory.
pub fn scratch_dir(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strato-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One HTTP/1.1 request to the layer's control API; the answer's JSON body.
fn control(method: &str, path: &str, body: Option<&Value>) -> Value {
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).unwrap_or_else(|e| panic!("the layer at {url} does not answer: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("?");
    assert!(status.starts_with('2'), "{method} {path}: {head}\n{rest}");
    let rest =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(rest) } else { rest.to_string() };
    if rest.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&rest).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {rest}"))
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Everything the layer models, on: what the reference architecture must pass.
pub fn all_rules() -> Value {
    json!({
        "deletion": true, "input": true, "lifecycle": true, "lingering": true,
        "propagation": true, "buckets": true, "pagination": true
    })
}

/// A session of the layer: an account of its own, with the rules, faults and seed asked for.
pub struct Session {
    pub id: String,
    pub access_key: String,
    pub account_id: String,
    pub scale: f64,
}

impl Session {
    pub fn new(config: Value) -> Session {
        let scale = config["scale"].as_f64().unwrap_or(60.0);
        let s = control("POST", "/_faithful/sessions", Some(&config));
        Session {
            id: s["id"].as_str().expect("a session id").to_string(),
            access_key: s["access_key"].as_str().expect("an access key").to_string(),
            account_id: s["account_id"].as_str().unwrap_or_default().to_string(),
            scale,
        }
    }

    /// Changes part of the session's config (faults, unavailable services, denials).
    pub fn patch(&self, config: Value) {
        control("PATCH", &format!("/_faithful/sessions/{}", self.id), Some(&config));
    }

    pub fn log(&self) -> Value {
        control("GET", &format!("/_faithful/sessions/{}/log", self.id), None)
    }

    /// Live objects in the session's account, counted by the layer from the emulator's own
    /// records, without looking at tags.
    pub fn inventory(&self) -> Value {
        control("GET", &format!("/_faithful/sessions/{}/inventory", self.id), None)
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        let inv = self.inventory();
        inv.as_object().expect("an inventory").iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect()
    }

    /// Events of one type (`refused`, `lag`, `throttled`, `fault`, `denied`), by rule.
    pub fn summary(&self, kind: &str) -> BTreeMap<String, u64> {
        let log = self.log();
        log["summary"][kind]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
            .unwrap_or_default()
    }

    /// SDK configuration for this session's caller, against the layer.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        let creds = aws_sdk_ec2::config::Credentials::new(&self.access_key, "faithful", None, None, "tests");
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint())
            .credentials_provider(creds)
            .load()
            .await
    }

    /// Runs strato as this session's caller: its credentials, on its clock, within AWS's
    /// API rate limits.
    pub fn strato(&self, args: &[&str], state: &Path) -> Output {
        self.command(args, state).output().expect("strato runs")
    }

    pub fn command(&self, args: &[&str], state: &Path) -> Command {
        self.command_at(args, state.to_str().unwrap())
    }

    /// [`Session::command`] with the state at `state`: a directory or an `s3://` URL.
    pub fn command_at(&self, args: &[&str], state: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strato"));
        c.args(args)
            .args(["--endpoint-url", &endpoint(), "--state", state])
            .current_dir(repo())
            .env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", "faithful")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("STRATO_TIME_SCALE", self.scale.to_string())
            // The layer throttles as AWS does: strato keeps to AWS's limits, as on AWS.
            .env("STRATO_API_LIMITS", "aws")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN");
        c
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            control("DELETE", &format!("/_faithful/sessions/{}", self.id), None);
        }
    }
}

/// How many objects the spec plans.
pub fn plan_len(spec: &str) -> u64 {
    let out = Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(["plan", spec, "--output", "json"])
        .current_dir(repo())
        .output()
        .expect("strato runs");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    plan["objects"].as_array().expect("a list").len() as u64
}

/// The spec's objects per kind, from `strato plan --output json`, named as the layer's
/// inventory names them.
pub fn planned(spec: &str) -> BTreeMap<String, u64> {
    let out = Command::new(env!("CARGO_BIN_EXE_strato"))
        .args(["plan", spec, "--output", "json"])
        .current_dir(repo())
        .output()
        .expect("strato runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut counts = BTreeMap::new();
    for o in plan["objects"].as_array().expect("a list") {
        match o["kind"].as_str().unwrap() {
            // One instance role is an IAM role and its instance profile of the same name.
            "instance_role" => {
                *counts.entry("iam_role".to_string()).or_default() += 1;
                *counts.entry("instance_profile".to_string()).or_default() += 1;
            }
            kind => *counts.entry(kind.to_string()).or_default() += 1,
        }
    }
    counts
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A command's JSON document, or the summary of its event stream.
pub fn json_out(out: &Output) -> Value {
    if out.stdout.is_empty() {
        panic!("no JSON on stdout:\n{}", stderr(out));
    }
    events::document(&out.stdout)
}

/// Mutating calls the session has answered so far.
pub fn mutating(s: &Session) -> u64 {
    s.log()["mutating"].as_u64().expect("the layer counts mutating calls")
}

/// A copy of the deploy-specs directory (templates and keys included), with `edit` applied
/// to the reference spec's text.
pub fn reference_copy(name: &str, edit: impl Fn(String) -> String) -> (PathBuf, PathBuf) {
    spec_copy(name, "wso2-apim-ei.toml", edit)
}

/// A copy of the deploy-specs directory, with `edit` applied to the text of `file`.
pub fn spec_copy(name: &str, file: &str, edit: impl Fn(String) -> String) -> (PathBuf, PathBuf) {
    let dir = temp_dir(name);
    let specs = dir.join("specs");
    copy_dir(&repo().join("deploy-specs"), &specs);
    let spec = specs.join(file);
    let text = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, edit(text)).unwrap();
    (dir, spec)
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Standard base64 (user data as `DescribeInstanceAttribute` returns it).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bits: Vec<u8> = s.bytes().filter_map(value).collect();
    bits.chunks(4)
        .flat_map(|c| {
            let n = c.iter().fold(0u32, |n, v| (n << 6) | u32::from(*v)) << (6 * (4 - c.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(c.len().saturating_sub(1))
        })
        .collect()
}
