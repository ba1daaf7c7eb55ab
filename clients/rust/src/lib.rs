//! Shared loop of the Rust adapters: the case protocol v1 (docs/case-protocol.md).
//!
//! A binary supplies its hello fields and a `connect` function; this module does the
//! hello line, batch mode over stdin (one flushed result per case), one-shot flags,
//! `--describe`, per-case environment isolation, and never exits on a bad case.

use serde_json::{json, Map, Value};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

pub const OPTIONAL_FIELDS: [&str; 6] = [
    "sslnegotiation",
    "channel_binding",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "sslsni",
    "connect_options",
];

/// What `connect` returns: result fields to merge, or an unsupported reason.
pub enum Outcome {
    Fields(Map<String, Value>),
    Unsupported(String),
}

/// Versions of crates as locked in Cargo.lock (build.rs exports them).
pub fn locked(name: &str) -> &'static str {
    match name {
        "tokio-postgres" => env!("PGTLS_VER_TOKIO_POSTGRES"),
        "postgres-openssl" => env!("PGTLS_VER_POSTGRES_OPENSSL"),
        "tokio-postgres-rustls" => env!("PGTLS_VER_TOKIO_POSTGRES_RUSTLS"),
        "sqlx" => env!("PGTLS_VER_SQLX"),
        "rustls" => env!("PGTLS_VER_RUSTLS"),
        "webpki-roots" => env!("PGTLS_VER_WEBPKI_ROOTS"),
        _ => "unknown",
    }
}

pub fn rustc_version() -> &'static str {
    env!("PGTLS_RUSTC_VERSION")
}

fn blank(id: Value) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("id".into(), id);
    r.insert("connected".into(), json!(false));
    for k in [
        "tls", "tls_version", "cipher", "query_result", "error", "error_code", "chain",
        "unsupported", "notes",
    ] {
        r.insert(k.into(), Value::Null);
    }
    r.insert("elapsed_ms".into(), json!(0));
    r
}

/// A string field of the case: Ok(None) when absent or null, Err when not a string.
pub fn s(c: &Value, k: &str) -> Result<Option<String>, String> {
    match c.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(v)) => Ok(Some(v.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("{k} must be a string")),
    }
}

/// An integer field of the case: Ok(None) when absent or null, Err otherwise.
pub fn int(c: &Value, k: &str) -> Result<Option<i64>, String> {
    match c.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(_) => Err(format!("{k} must be an integer")),
    }
}

/// Reset the environment to the start-up one minus PG* and the trust-store
/// variables, then set the case's (HOME included). The adapters are single-threaded
/// while doing this (current-thread runtime), so set_var is sound here.
fn apply_env(base: &[(String, String)], env: &Value) -> Result<(), String> {
    let current: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    for k in current {
        std::env::remove_var(k);
    }
    for (k, v) in base {
        if k.starts_with("PG")
            || k == "SSL_CERT_FILE"
            || k == "SSL_CERT_DIR"
            || k == "NODE_EXTRA_CA_CERTS"
        {
            continue;
        }
        std::env::set_var(k, v);
    }
    match env {
        Value::Null => Ok(()),
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(v) => std::env::set_var(k, v),
                    Value::Null => {}
                    _ => return Err(format!("env.{k} must be a string")),
                }
            }
            Ok(())
        }
        _ => Err("env must be an object".into()),
    }
}

/// docs/surfaces.md: why this driver cannot express a surface (or a source page's
/// string), by feature name ("surface:conninfo", "literal"); set once by the binary.
static SURFACE_REASONS: std::sync::OnceLock<&'static [(&'static str, &'static str)]> =
    std::sync::OnceLock::new();

pub fn set_surface_reasons(reasons: &'static [(&'static str, &'static str)]) {
    let _ = SURFACE_REASONS.set(reasons);
}

/// libpq's PG* variable for each TLS keyword (the env surfaces).
pub const TLS_ENV: &[(&str, &str)] = &[
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslnegotiation", "PGSSLNEGOTIATION"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"),
    ("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"),
    ("sslsni", "PGSSLSNI"),
];

/// Sets the case's TLS settings as libpq's PG* variables (the env surfaces); the
/// next case's environment reset removes them.
pub fn set_tls_env(c: &Value) -> Result<(), String> {
    for (k, name) in TLS_ENV {
        if let Some(v) = s(c, k)? {
            std::env::set_var(name, v);
        }
    }
    Ok(())
}

fn run_case<F>(
    c: &Value,
    features: &[&str],
    base: &[(String, String)],
    connect: &mut F,
) -> Map<String, Value>
where
    F: FnMut(&Value, Duration) -> Result<Outcome, String>,
{
    let start = Instant::now();
    let mut r = blank(c.get("id").cloned().unwrap_or(Value::Null));
    let res: Result<(), String> = (|| {
        if !c.is_object() {
            return Err("case is not a JSON object".into());
        }
        for f in OPTIONAL_FIELDS {
            if !matches!(c.get(f), None | Some(Value::Null)) && !features.contains(&f) {
                r.insert(
                    "unsupported".into(),
                    json!(format!("the driver has no equivalent of {f}")),
                );
                return Ok(());
            }
        }
        let needs = [
            c.get("surface").and_then(Value::as_str).map(|s| format!("surface:{s}")),
            c.get("literal").and_then(Value::as_str).map(|_| "literal".to_string()),
        ];
        for need in needs.into_iter().flatten() {
            if !features.contains(&need.as_str()) {
                let why = SURFACE_REASONS
                    .get()
                    .and_then(|rs| rs.iter().find(|(k, _)| *k == need).map(|(_, v)| v.to_string()))
                    .unwrap_or_else(|| format!("the adapter cannot express \"{need}\""));
                r.insert("unsupported".into(), json!(why));
                return Ok(());
            }
        }
        int(c, "port")?;
        let timeout = int(c, "timeout_ms")?.filter(|t| *t > 0).unwrap_or(10000) as u64;
        apply_env(base, c.get("env").unwrap_or(&Value::Null))?;
        match connect(c, Duration::from_millis(timeout))? {
            Outcome::Fields(m) => {
                for (k, v) in m {
                    r.insert(k, v);
                }
            }
            Outcome::Unsupported(why) => {
                r.insert("unsupported".into(), json!(why));
            }
        }
        Ok(())
    })();
    if let Err(e) = res {
        r.insert("error".into(), json!(format!("adapter: bad case: {e}")));
        r.insert("error_code".into(), json!("adapter"));
    }
    r.insert("elapsed_ms".into(), json!(start.elapsed().as_millis() as u64));
    r
}

fn emit(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn parse_flags(args: &[String]) -> Result<Value, String> {
    let mut c = Map::new();
    let mut env = Map::new();
    let mut i = 0;
    while i < args.len() {
        if !args[i].starts_with("--") || i + 1 >= args.len() {
            return Err(format!("expected --FIELD VALUE, got {}", args[i]));
        }
        let name = args[i][2..].replace('-', "_");
        let v = &args[i + 1];
        if name == "env" {
            let (k, val) = v.split_once('=').ok_or(format!("--env wants NAME=VALUE, got {v}"))?;
            env.insert(k.into(), json!(val));
        } else if v == "null" {
            c.insert(name, Value::Null);
        } else if name == "port" || name == "timeout_ms" {
            c.insert(name.clone(), json!(v.parse::<i64>().map_err(|e| format!("{name}: {e}"))?));
        } else if name == "connect_options" {
            c.insert(name, serde_json::from_str(v).map_err(|e| e.to_string())?);
        } else {
            c.insert(name, json!(v));
        }
        i += 2;
    }
    c.insert("env".into(), Value::Object(env));
    c.entry("id").or_insert(json!("one-shot"));
    Ok(Value::Object(c))
}

/// Run the adapter: `hello` is the hello line (protocol and client are added here).
pub fn main<F>(client: &str, mut hello: Map<String, Value>, features: &[&str], mut connect: F) -> i32
where
    F: FnMut(&Value, Duration) -> Result<Outcome, String>,
{
    let base: Vec<(String, String)> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().skip(1).collect();
    hello.insert("protocol".into(), json!(1));
    hello.insert("client".into(), json!(client));
    hello.insert("features".into(), json!(features));
    emit(&Value::Object(hello));
    if args.first().map(String::as_str) == Some("--describe") {
        return 0;
    }
    if !args.is_empty() {
        return match parse_flags(&args) {
            Ok(c) => {
                emit(&Value::Object(run_case(&c, features, &base, &mut connect)));
                0
            }
            Err(e) => {
                let mut r = blank(Value::Null);
                r.insert("error".into(), json!(format!("adapter: bad flags: {e}")));
                r.insert("error_code".into(), json!("adapter"));
                emit(&Value::Object(r));
                2
            }
        };
    }
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(c) => emit(&Value::Object(run_case(&c, features, &base, &mut connect))),
            Err(e) => {
                let mut r = blank(Value::Null);
                r.insert("error".into(), json!(format!("adapter: cannot parse case: {e}")));
                r.insert("error_code".into(), json!("adapter"));
                emit(&Value::Object(r));
            }
        }
    }
    0
}

/// Quote a value for a libpq-style key=value connection string.
pub fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// First column of the first row as text, from a text-format value.
pub fn text(bytes: Option<&[u8]>) -> Value {
    match bytes {
        Some(b) => json!(String::from_utf8_lossy(b)),
        None => Value::Null,
    }
}
