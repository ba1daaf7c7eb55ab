//! pgtls adapter for sqlx (Postgres, rustls with the ring provider and webpki-roots).
//!
//! The case becomes a URL parsed by `PgConnectOptions::from_str`:
//! postgres://user:pass@host:port/db?sslmode=&sslrootcert=&application_name=
//! sqlx's own `hostaddr` parameter REPLACES the host (so TLS would check the IP), so the
//! adapter does not use it: like an /etc/hosts entry, the adapter answers the name
//! lookup for `host` with `hostaddr` (it interposes getaddrinfo, which sqlx reaches
//! through tokio and std), and sqlx's TLS still verifies `host`.

use pgtls_rust_adapters::{self as pa, Outcome};
use serde_json::{json, Map, Value};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{Connection, Row};
use std::ffi::{CStr, CString};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

static HOST_MAP: Mutex<Option<(String, CString)>> = Mutex::new(None);

type GetAddrInfo = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *const libc::addrinfo,
    *mut *mut libc::addrinfo,
) -> libc::c_int;

/// Name resolution with the case's host -> hostaddr entry; everything else goes to
/// the C library's getaddrinfo (found with dlsym(RTLD_NEXT)).
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const libc::c_char,
    service: *const libc::c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> libc::c_int {
    let real = libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr());
    if real.is_null() {
        return libc::EAI_FAIL;
    }
    let real: GetAddrInfo = std::mem::transmute(real);
    if !node.is_null() {
        let name = CStr::from_ptr(node).to_string_lossy();
        if let Ok(guard) = HOST_MAP.lock() {
            if let Some((host, addr)) = guard.as_ref() {
                if name.eq_ignore_ascii_case(host) {
                    let addr = addr.clone();
                    drop(guard);
                    return real(addr.as_ptr(), service, hints, res);
                }
            }
        }
    }
    real(node, service, hints, res)
}

fn url(c: &Value, tls_keys: &[&str]) -> Result<String, String> {
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let host = pa::s(c, "host")?.or(pa::s(c, "hostaddr")?).unwrap_or_else(|| "localhost".into());
    let host = if host.contains(':') { format!("[{host}]") } else { host };
    let mut auth = String::new();
    if let Some(u) = pa::s(c, "user")? {
        auth = enc(&u);
        if let Some(p) = pa::s(c, "password")? {
            auth.push(':');
            auth.push_str(&enc(&p));
        }
        auth.push('@');
    }
    let port = pa::int(c, "port")?.map(|p| format!(":{p}")).unwrap_or_default();
    let db = enc(&pa::s(c, "dbname")?.unwrap_or_default());
    let mut params = Vec::new();
    for k in ["sslmode", "sslrootcert", "application_name"] {
        if !tls_keys.contains(&k) && k != "application_name" {
            continue;
        }
        if let Some(v) = pa::s(c, k)? {
            params.push(format!("{k}={}", enc(&v)));
        }
    }
    if let Some(Value::Object(m)) = c.get("connect_options") {
        for (k, v) in m {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            params.push(format!("{}={}", enc(k), enc(&v)));
        }
    }
    let q = if params.is_empty() { String::new() } else { format!("?{}", params.join("&")) };
    Ok(format!("postgres://{auth}{host}{port}/{db}{q}"))
}

async fn attempt(c: &Value, timeout: Duration) -> Result<Map<String, Value>, String> {
    let mut r = Map::new();
    {
        let host = pa::s(c, "host")?;
        let addr = pa::s(c, "hostaddr")?;
        let mut m = HOST_MAP.lock().unwrap();
        *m = match (host, addr) {
            (Some(h), Some(a)) if h != a => Some((h, CString::new(a).map_err(|e| e.to_string())?)),
            _ => None,
        };
    }
    // docs/surfaces.md. sqlx parses URLs only (PgConnectOptions::from_str), reads
    // PGSSLMODE and PGSSLROOTCERT (PgConnectOptions::new, which from_str starts from)
    // and has builder methods for both.
    let surface = pa::s(c, "surface")?;
    let built: Result<PgConnectOptions, sqlx::Error> = match surface.as_deref() {
        None | Some("url") => PgConnectOptions::from_str(&url(c, &["sslmode", "sslrootcert"])?),
        Some("url+options") => PgConnectOptions::from_str(&url(c, &["sslmode"])?)
            .map(|o| match pa::s(c, "sslrootcert") {
                Ok(Some(root)) => o.ssl_root_cert(root),
                _ => o,
            }),
        Some("url+env") => {
            pa::set_tls_env(c)?;
            PgConnectOptions::from_str(&url(c, &[])?)
        }
        Some(sf) => {
            if sf == "env" {
                pa::set_tls_env(c)?;
            }
            let mut o = PgConnectOptions::new()
                .host(&pa::s(c, "host")?.or(pa::s(c, "hostaddr")?).unwrap_or_else(|| "localhost".into()));
            if let Some(p) = pa::int(c, "port")? {
                o = o.port(p as u16);
            }
            if let Some(u) = pa::s(c, "user")? {
                o = o.username(&u);
            }
            if let Some(p) = pa::s(c, "password")? {
                o = o.password(&p);
            }
            if let Some(d) = pa::s(c, "dbname")? {
                o = o.database(&d);
            }
            if let Some(a) = pa::s(c, "application_name")? {
                o = o.application_name(&a);
            }
            if sf == "options" {
                let mode = pa::s(c, "sslmode")?.map(|m| PgSslMode::from_str(&m)).transpose();
                match mode {
                    Ok(Some(m)) => Ok(o.ssl_mode(m)),
                    Ok(None) => Ok(o),
                    Err(e) => Err(e),
                }
                .map(|o| match pa::s(c, "sslrootcert") {
                    Ok(Some(root)) => o.ssl_root_cert(root),
                    _ => o,
                })
            } else {
                Ok(o)
            }
        }
    };
    let opts = match built {
        Ok(o) => o,
        Err(e) => {
            r.insert("error".into(), json!(e.to_string()));
            r.insert("error_code".into(), json!("sqlx::Error::Configuration"));
            return Ok(r);
        }
    };
    let mut conn = match tokio::time::timeout(timeout, sqlx::PgConnection::connect_with(&opts)).await {
        Err(_) => {
            r.insert("error".into(), json!(format!("adapter: timeout: no answer within {} ms", timeout.as_millis())));
            r.insert("error_code".into(), json!("timeout"));
            return Ok(r);
        }
        Ok(Err(e)) => {
            r.insert("error".into(), json!(e.to_string()));
            r.insert("error_code".into(), json!(code(&e)));
            return Ok(r);
        }
        Ok(Ok(conn)) => conn,
    };
    r.insert("connected".into(), json!(true));
    // sqlx does not expose its TLS session. With require/verify-ca/verify-full it fails
    // rather than continue in plaintext, so a connection means TLS; prefer/allow/
    // disable leave it unknown.
    if matches!(pa::s(c, "sslmode")?.as_deref(), Some("require" | "verify-ca" | "verify-full")) {
        r.insert("tls".into(), json!(true));
    } else {
        r.insert("notes".into(), json!("sqlx does not expose the TLS session: tls unknown"));
    }
    let q = pa::s(c, "query")?.unwrap_or_else(|| "SELECT ssl_is_used()".into());
    // raw_sql runs the simple query protocol, so values arrive in text format.
    match tokio::time::timeout(timeout, sqlx::raw_sql(&q).fetch_all(&mut conn)).await {
        Ok(Ok(rows)) => {
            if let Some(row) = rows.first() {
                let v = row.try_get_raw(0).ok().and_then(|v| v.as_bytes().ok().map(|b| b.to_vec()));
                r.insert("query_result".into(), pa::text(v.as_deref()));
            }
        }
        Ok(Err(e)) => {
            r.insert("error".into(), json!(e.to_string()));
            r.insert("error_code".into(), json!(code(&e)));
        }
        Err(_) => {
            r.insert("error".into(), json!("adapter: timeout: the query did not finish"));
            r.insert("error_code".into(), json!("timeout"));
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
    Ok(r)
}

fn code(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.to_string()).unwrap_or_else(|| "sqlx::Error::Database".into()),
        sqlx::Error::Tls(_) => "sqlx::Error::Tls".into(),
        sqlx::Error::Io(_) => "sqlx::Error::Io".into(),
        sqlx::Error::Configuration(_) => "sqlx::Error::Configuration".into(),
        sqlx::Error::Protocol(_) => "sqlx::Error::Protocol".into(),
        _ => "sqlx::Error".into(),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let version = pa::locked("sqlx");
    let rustls = pa::locked("rustls");
    let mut hello = Map::new();
    hello.insert("version".into(), json!(version));
    hello.insert("libpq".into(), Value::Null);
    hello.insert("tls_library".into(), json!(format!("rustls {rustls} (ring, webpki-roots)")));
    hello.insert("runtime".into(), json!(pa::rustc_version()));
    hello.insert("build".into(), json!(format!("sqlx {version} (rustls {rustls}, ring)")));
    pa::set_surface_reasons(&[
        ("surface:conninfo", "sqlx reads no keyword=value string: PgConnectOptions::from_str parses a URL (Url::parse)"),
        ("surface:npgsql", "sqlx has no parser for the ADO.NET form (Key=Value;...): PgConnectOptions::from_str parses a URL"),
        ("literal", "sqlx reads postgres:// URLs only; the source pages show libpq conninfo and Npgsql strings"),
    ]);
    let features = ["connect_options", "surface:url", "surface:env", "surface:options",
                    "surface:url+options", "surface:url+env"];
    let code = pa::main("sqlx", hello, &features, |c, t| {
        rt.block_on(attempt(c, t)).map(Outcome::Fields)
    });
    std::process::exit(code);
}
