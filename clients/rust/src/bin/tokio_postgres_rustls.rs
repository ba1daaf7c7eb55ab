//! pgtls adapter for tokio-postgres with tokio-postgres-rustls (rustls with the ring
//! provider): the same driver as tokio-postgres-adapter over a second TLS stack.
//!
//! The case becomes tokio-postgres's own key=value config string, exactly as in
//! tokio_postgres.rs (host, hostaddr, port, user, password, dbname, sslmode,
//! sslnegotiation, channel_binding, connect_timeout, application_name); verify-ca and
//! verify-full are tokio-postgres's parse error. Roots belong to the connector, so
//! sslrootcert becomes what a rustls user writes: a RootCertStore with the platform's
//! roots (rustls-native-certs, which honours SSL_CERT_FILE / SSL_CERT_DIR, the rustls
//! counterpart of OpenSSL's default paths) plus the certificates of the sslrootcert PEM
//! file; `system` adds nothing. rustls's WebPkiServerVerifier checks chain and host
//! name whatever the sslmode. ssl_min/max_protocol_version choose the protocol
//! versions the ClientConfig is built with (rustls has TLS 1.2 and 1.3 only).
//! sslnegotiation=direct sets the "postgresql" ALPN protocol, as tokio-postgres's
//! `sslnegotiation` documentation asks.

use pgtls_rust_adapters::{self as pa, Outcome};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;
use x509_cert::der::Decode;

#[path = "../tokio_surfaces.rs"]
mod tokio_surfaces;
use tokio_surfaces::{builder, surface_config};

/// Delegates every decision to rustls's WebPkiServerVerifier and only records that a
/// certificate was presented (so a TLS session existed) and the presented chain.
#[derive(Debug)]
struct Observing {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<SeenBox>>,
}

#[derive(Debug, Default)]
struct SeenBox(Option<(bool, Vec<String>)>);

fn subject(der: &CertificateDer<'_>) -> String {
    match x509_cert::Certificate::from_der(der.as_ref()) {
        // x509-cert prints a Name the RFC 4514 way: most specific RDN first.
        Ok(cert) => cert.tbs_certificate.subject.to_string(),
        Err(e) => format!("(unparsable certificate: {e})"),
    }
}

impl ServerCertVerifier for Observing {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity).chain(intermediates.iter()).map(subject).collect();
        self.seen.lock().unwrap().0 = Some((true, chain));
        self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The protocol versions of a case's bounds (libpq names; rustls knows 1.2 and 1.3).
fn versions(c: &Value) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |v: &str| match v {
        "TLSv1" => Ok(10),
        "TLSv1.1" => Ok(11),
        "TLSv1.2" => Ok(12),
        "TLSv1.3" => Ok(13),
        _ => Err(format!("unknown TLS version {v:?}")),
    };
    let min = match pa::s(c, "ssl_min_protocol_version")? {
        Some(v) => rank(&v)?,
        None => 0,
    };
    let max = match pa::s(c, "ssl_max_protocol_version")? {
        Some(v) => rank(&v)?,
        None => 99,
    };
    let mut out = Vec::new();
    if min <= 13 && max >= 13 {
        out.push(&rustls::version::TLS13);
    }
    if min <= 12 && max >= 12 {
        out.push(&rustls::version::TLS12);
    }
    Ok(out)
}

/// The connector a user builds; Err is the text of what failed (rustls's or the file's).
fn connector(c: &Value, seen: Arc<Mutex<SeenBox>>) -> Result<(MakeRustlsConnect, Option<String>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    let note = if native.errors.is_empty() {
        None
    } else {
        Some(format!(
            "rustls-native-certs: {} ({added} roots loaded)",
            native.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
        ))
    };
    if let Some(root) = pa::s(c, "sslrootcert")? {
        if root != "system" {
            for cert in CertificateDer::pem_file_iter(&root).map_err(|e| format!("sslrootcert {root}: {e}"))? {
                let cert = cert.map_err(|e| format!("sslrootcert {root}: {e}"))?;
                roots.add(cert).map_err(|e| format!("sslrootcert {root}: {e}"))?;
            }
        }
    }
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("TLS connector: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(c)?)
        .map_err(|e| format!("TLS connector: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Observing { inner, seen }))
        .with_no_client_auth();
    if pa::s(c, "sslnegotiation")?.as_deref() == Some("direct") {
        config.alpn_protocols = vec![b"postgresql".to_vec()];
    }
    Ok((MakeRustlsConnect::new(config), note))
}

fn config_string(c: &Value, timeout: Duration) -> Result<String, String> {
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
    versions(c)?; // a bad version name is a bad case
    // docs/surfaces.md: the same driver and config-string path as tokio_postgres.rs;
    // the root file of url+options goes to this connector.
    let (conf, tls_case) = match surface_config(c, timeout, config_string)? {
        Ok(x) => x,
        Err(why) => {
            r.insert("unsupported".into(), json!(why));
            return Ok(r);
        }
    };
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
    let seen = Arc::new(Mutex::new(SeenBox::default()));
    let tls = match connector(&tls_case, seen.clone()) {
        Ok((t, note)) => {
            if let Some(n) = note {
                r.insert("notes".into(), json!(n));
            }
            t
        }
        Err(e) => {
            r.insert("error".into(), json!(e));
            r.insert("error_code".into(), json!("connector"));
            return Ok(r);
        }
    };
    let (client, conn) = match tokio::time::timeout(timeout, cfg.connect(tls)).await {
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
        let (handshake, chain) = s.0.clone().unwrap_or_default();
        r.insert("tls".into(), json!(handshake));
        if !chain.is_empty() {
            r.insert("chain".into(), json!(chain));
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
/// handshake"); the source chain carries rustls's reason.
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
    let rustls_v = pa::locked("rustls");
    let mut hello = Map::new();
    hello.insert("version".into(), json!(version));
    hello.insert("libpq".into(), Value::Null);
    // rustls has no run-time version API: the version Cargo.lock pins, compiled in.
    hello.insert("tls_library".into(), json!(format!("rustls {rustls_v} (ring, rustls-native-certs)")));
    hello.insert("runtime".into(), json!(pa::rustc_version()));
    hello.insert(
        "build".into(),
        json!(format!(
            "tokio-postgres {version} + tokio-postgres-rustls {} (rustls {rustls_v}, ring)",
            pa::locked("tokio-postgres-rustls")
        )),
    );
    pa::set_surface_reasons(&[
        ("surface:npgsql", "tokio-postgres parses key=value strings and postgresql:// URLs (Config::from_str); it has no parser for the ADO.NET form (Key=Value;...)"),
        ("literal", "tokio-postgres-rustls adapter: source-page strings are run by libpq-based adapters"),
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
    let code = pa::main("tokio-postgres-rustls", hello, &features, |c, t| {
        rt.block_on(attempt(c, t)).map(Outcome::Fields)
    });
    std::process::exit(code);
}
