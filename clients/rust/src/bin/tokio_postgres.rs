//! pgtls adapter for tokio-postgres with postgres-openssl (OpenSSL through the
//! `openssl` crate: the system libssl it links).
//!
//! The case becomes tokio-postgres's own key=value config string: host, hostaddr,
//! port, user, password, dbname, sslmode, sslnegotiation, channel_binding,
//! connect_timeout, application_name, passed unchanged. tokio-postgres accepts only
//! sslmode disable/prefer/require: verify-ca and verify-full are a parse error, which
//! is the finding (reported verbatim, not pre-empted). It has no sslrootcert keyword;
//! roots belong to the TLS connector, so sslrootcert becomes what a user writes:
//! `SslConnector::builder(...)` (OpenSSL default paths, which honour SSL_CERT_FILE /
//! SSL_CERT_DIR) plus `set_ca_file(sslrootcert)`; `system` adds nothing. The connector
//! verifies chain and host name whatever the sslmode (require ~ verify-full).
//! ssl_min/max_protocol_version also go to the connector (set_min/max_proto_version).

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use pgtls_rust_adapters::{self as pa, Outcome};
use postgres_openssl::MakeTlsConnector;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[path = "../tokio_surfaces.rs"]
mod tokio_surfaces;
use tokio_surfaces::{builder, surface_config};

#[derive(Default)]
struct Seen {
    handshake: bool,
    chain: Vec<(u32, String)>,
}

/// RFC 2253 order (most specific RDN first), as the other adapters print subjects.
fn subject(cert: &openssl::x509::X509Ref) -> String {
    let mut rdns: Vec<String> = cert
        .subject_name()
        .entries()
        .map(|e| {
            let v = String::from_utf8_lossy(e.data().as_slice()).into_owned();
            let mut esc = String::with_capacity(v.len());
            for ch in v.chars() {
                if ",+\"\\<>;".contains(ch) {
                    esc.push('\\');
                }
                esc.push(ch);
            }
            format!("{}={}", e.object().nid().short_name().unwrap_or("?"), esc)
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

fn tls_version(v: &str) -> Option<SslVersion> {
    match v {
        "TLSv1" => Some(SslVersion::TLS1),
        "TLSv1.1" => Some(SslVersion::TLS1_1),
        "TLSv1.2" => Some(SslVersion::TLS1_2),
        "TLSv1.3" => Some(SslVersion::TLS1_3),
        _ => None,
    }
}

fn connector(c: &Value, seen: Arc<Mutex<Seen>>) -> Result<MakeTlsConnector, openssl::error::ErrorStack> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    // Protocol bounds belong to the connector too (SslContextBuilder::set_*_proto_version).
    if let Ok(Some(v)) = pa::s(c, "ssl_min_protocol_version") {
        b.set_min_proto_version(tls_version(&v))?;
    }
    if let Ok(Some(v)) = pa::s(c, "ssl_max_protocol_version") {
        b.set_max_proto_version(tls_version(&v))?;
    }
    if let Ok(Some(root)) = pa::s(c, "sslrootcert") {
        if root != "system" {
            b.set_ca_file(&root)?;
        }
    }
    // Direct TLS needs the "postgresql" ALPN protocol (PostgreSQL 17 closes a direct
    // ClientHello without it); tokio-postgres leaves ALPN to the connector and its
    // config.rs docs for `sslnegotiation` name postgres_openssl::set_postgresql_alpn.
    if let Ok(Some(neg)) = pa::s(c, "sslnegotiation") {
        if neg == "direct" {
            postgres_openssl::set_postgresql_alpn(&mut b)?;
        }
    }
    let mut m = MakeTlsConnector::new(b.build());
    m.set_callback(move |cfg, _domain| {
        let seen = seen.clone();
        // Observe verification only (it keeps OpenSSL's own verdict `ok`): the chain
        // the client built, and that a handshake happened at all.
        cfg.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
            let mut s = seen.lock().unwrap();
            s.handshake = true;
            if let Some(cert) = ctx.current_cert() {
                let depth = ctx.error_depth();
                if !s.chain.iter().any(|(d, _)| *d == depth) {
                    s.chain.push((depth, subject(cert)));
                }
            }
            ok
        });
        Ok(())
    });
    Ok(m)
}

fn config_string(c: &Value, timeout: Duration) -> Result<String, String> {
    for k in ["ssl_min_protocol_version", "ssl_max_protocol_version"] {
        if let Some(v) = pa::s(c, k)? {
            if tls_version(&v).is_none() {
                return Err(format!("{k}: unknown TLS version {v:?}"));
            }
        }
    }
    let mut parts = Vec::new();
    for k in [
        "host", "hostaddr", "user", "password", "dbname", "sslmode", "application_name",
        "sslnegotiation", "channel_binding",
    ] {
        if let Some(v) = pa::s(c, k)? {
            parts.push(format!("{k}={}", pa::quote(&v)));
        }
    }
    if let Some(p) = pa::int(c, "port")? {
        parts.push(format!("port={p}"));
    }
    parts.push(format!("connect_timeout={}", timeout.as_secs().max(1)));
    if let Some(Value::Object(m)) = c.get("connect_options") {
        for (k, v) in m {
            let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            parts.push(format!("{k}={}", pa::quote(&v)));
        }
    }
    Ok(parts.join(" "))
}

async fn attempt(c: &Value, timeout: Duration) -> Result<Map<String, Value>, String> {
    let mut r = Map::new();
    let (conf, tls_case) = match surface_config(c, timeout, config_string)? {
        Ok(x) => x,
        Err(why) => {
            r.insert("unsupported".into(), json!(why));
            return Ok(r);
        }
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let parsed = if pa::s(c, "surface")?.as_deref() == Some("options") {
        Ok(builder(c, timeout)?)
    } else {
        conf.parse::<tokio_postgres::Config>()
    };
    let cfg: tokio_postgres::Config = match parsed {
        Ok(cfg) => cfg,
        Err(e) => {
            r.insert("error".into(), json!(describe(&e)));
            r.insert("error_code".into(), json!("tokio_postgres::Error(config)"));
            return Ok(r);
        }
    };
    let tls = match connector(&tls_case, seen.clone()) {
        Ok(t) => t,
        Err(e) => {
            r.insert("error".into(), json!(format!("TLS connector: {e}")));
            r.insert("error_code".into(), json!("openssl::error::ErrorStack"));
            return Ok(r);
        }
    };
    let fut = cfg.connect(tls);
    let (client, conn) = match tokio::time::timeout(timeout, fut).await {
        Err(_) => {
            r.insert("error".into(), json!(format!("adapter: timeout: no answer within {} ms", timeout.as_millis())));
            r.insert("error_code".into(), json!("timeout"));
            return Ok(r);
        }
        Ok(Err(e)) => {
            r.insert("error".into(), json!(describe(&e)));
            r.insert(
                "error_code".into(),
                json!(e.code().map(|c| c.code().to_string()).unwrap_or_else(|| "tokio_postgres::Error".into())),
            );
            return Ok(r);
        }
        Ok(Ok(pair)) => pair,
    };
    let task = tokio::spawn(conn);
    r.insert("connected".into(), json!(true));
    {
        let s = seen.lock().unwrap();
        r.insert("tls".into(), json!(s.handshake));
        if !s.chain.is_empty() {
            let mut chain = s.chain.clone();
            chain.sort_by_key(|(d, _)| *d);
            r.insert("chain".into(), json!(chain.into_iter().map(|(_, s)| s).collect::<Vec<_>>()));
        }
    }
    let q = pa::s(c, "query")?.unwrap_or_else(|| "SELECT ssl_is_used()".into());
    match tokio::time::timeout(timeout, client.simple_query(&q)).await {
        Ok(Ok(msgs)) => {
            for m in msgs {
                if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
                    r.insert("query_result".into(), pa::text(row.get(0).map(str::as_bytes)));
                    break;
                }
            }
        }
        Ok(Err(e)) => {
            r.insert("error".into(), json!(describe(&e)));
            r.insert("error_code".into(), json!(e.code().map(|c| c.code().to_string())));
        }
        Err(_) => {
            r.insert("error".into(), json!("adapter: timeout: the query did not finish"));
            r.insert("error_code".into(), json!("timeout"));
        }
    }
    drop(client);
    let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    Ok(r)
}

/// tokio-postgres's Display shows only the outer message ("error performing TLS
/// handshake"); the source chain carries OpenSSL's reason.
fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        src = s.source();
    }
    text
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let version = pa::locked("tokio-postgres");
    let ossl = openssl::version::version();
    let mut hello = Map::new();
    hello.insert("version".into(), json!(version));
    hello.insert("libpq".into(), Value::Null);
    hello.insert("tls_library".into(), json!(ossl));
    hello.insert("runtime".into(), json!(pa::rustc_version()));
    let short: Vec<&str> = ossl.split_whitespace().take(2).collect();
    hello.insert(
        "build".into(),
        json!(format!(
            "tokio-postgres {version} + postgres-openssl {} ({})",
            pa::locked("postgres-openssl"),
            short.join(" ")
        )),
    );
    pa::set_surface_reasons(&[
        ("surface:npgsql", "tokio-postgres parses key=value strings and postgresql:// URLs (Config::from_str); it has no parser for the ADO.NET form (Key=Value;...)"),
        ("literal", "tokio-postgres adapter: source-page strings are run by libpq-based adapters"),
    ]);
    let features = [
        "channel_binding",
        "connect_options",
        "ssl_max_protocol_version",
        "ssl_min_protocol_version",
        "sslnegotiation",
        "surface:conninfo",
        "surface:url",
        "surface:env",
        "surface:options",
        "surface:url+options",
        "surface:url+env",
    ];
    let code = pa::main("tokio-postgres", hello, &features, |c, t| {
        rt.block_on(attempt(c, t)).map(Outcome::Fields)
    });
    std::process::exit(code);
}
