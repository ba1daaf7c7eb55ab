//! docs/surfaces.md for the tokio-postgres binaries (postgres-openssl and
//! tokio-postgres-rustls): the same driver, so the same surfaces; each binary
//! passes its own config_string and builds its own connector from the case this
//! returns. Included by both binaries as a module.

use pgtls_rust_adapters as pa;
use serde_json::Value;
use std::time::Duration;

/// A copy of the case without some keys.
pub fn without(c: &Value, keys: &[&str]) -> Value {
    let mut v = c.clone();
    if let Value::Object(m) = &mut v {
        for k in keys {
            m.remove(*k);
        }
    }
    v
}

/// The settings as a postgresql:// URL (keys other than the authority and the
/// database become query parameters), for the url surfaces.
pub fn url_string(conf: &str) -> String {
    let enc = |v: &str| -> String {
        v.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    };
    // conf is the adapter's own key='value' string: split it back.
    let mut kv: Vec<(String, String)> = Vec::new();
    let mut rest = conf;
    while let Some(eq) = rest.find('=') {
        let k = rest[..eq].trim().to_string();
        let mut v = String::new();
        let mut it = rest[eq + 1..].char_indices();
        let mut end = rest.len() - eq - 1;
        if rest[eq + 1..].starts_with('\'') {
            it.next();
            let mut esc = false;
            for (i, ch) in it {
                if esc {
                    v.push(ch);
                    esc = false;
                } else if ch == '\\' {
                    esc = true;
                } else if ch == '\'' {
                    end = i + 1;
                    break;
                } else {
                    v.push(ch);
                }
            }
        } else {
            let tail = &rest[eq + 1..];
            end = tail.find(' ').unwrap_or(tail.len());
            v = tail[..end].to_string();
        }
        kv.push((k, v));
        rest = &rest[(eq + 1 + end).min(rest.len())..];
    }
    let get = |k: &str| kv.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let mut auth = String::new();
    if let Some(u) = get("user") {
        auth = enc(&u);
        if let Some(p) = get("password") {
            auth = format!("{auth}:{}", enc(&p));
        }
        auth.push('@');
    }
    let host = get("host").unwrap_or_default();
    let port = get("port").map(|p| format!(":{p}")).unwrap_or_default();
    let db = get("dbname").map(|d| enc(&d)).unwrap_or_default();
    let q: Vec<String> = kv
        .iter()
        .filter(|(k, _)| !["user", "password", "host", "port", "dbname"].contains(&k.as_str()))
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let q = if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) };
    format!("postgresql://{auth}{}{port}/{db}{q}", enc(&host))
}

pub const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert", "sslnegotiation", "channel_binding",
                            "ssl_min_protocol_version", "ssl_max_protocol_version", "sslsni"];

/// docs/surfaces.md. tokio-postgres parses a key=value string or a URL
/// (Config::from_str) and reads no environment variable; it has no sslrootcert
/// option (roots are the TLS connector's) and its SslMode is Disable, Prefer or
/// Require. Returns the config text and the case the connector is built from.
pub fn surface_config(
    c: &Value,
    timeout: Duration,
    config_string: fn(&Value, Duration) -> Result<String, String>,
) -> Result<Result<(String, Value), String>, String> {
    let surface = pa::s(c, "surface")?;
    Ok(Ok(match surface.as_deref() {
        None => (config_string(c, timeout)?, c.clone()),
        Some("conninfo") | Some("url") => {
            // Everything in the string, sslrootcert included: the connector gets no root.
            let mut conf = config_string(c, timeout)?;
            if let Some(root) = pa::s(c, "sslrootcert")? {
                conf.push_str(&format!(" sslrootcert={}", pa::quote(&root)));
            }
            if surface.as_deref() == Some("url") {
                conf = url_string(&conf);
            }
            (conf, without(c, &["sslrootcert"]))
        }
        Some("env") | Some("url+env") => {
            pa::set_tls_env(c)?;
            let target = without(c, TLS_KEYS);
            let conf = config_string(&target, timeout)?;
            (if surface.as_deref() == Some("url+env") { url_string(&conf) } else { conf }, target)
        }
        Some("url+options") => {
            // The URL carries the target and sslmode, the connector the root file.
            let conf = config_string(&without(c, &["sslnegotiation", "channel_binding"]), timeout)?;
            (url_string(&conf), c.clone())
        }
        Some("options") => {
            if matches!(pa::s(c, "sslmode")?.as_deref(), Some("verify-ca" | "verify-full" | "allow")) {
                return Ok(Err(format!(
                    "tokio-postgres's SslMode is Disable, Prefer or Require (config.rs); no option value says {} (verification is the TLS connector's, which verifies whatever the mode)",
                    pa::s(c, "sslmode")?.unwrap_or_default())));
            }
            (String::new(), c.clone())
        }
        Some(other) => return Ok(Err(format!("surface {other} is not one this adapter knows"))),
    }))
}

/// The options surface: Config's builder methods, as a Rust user writes them.
pub fn builder(c: &Value, timeout: Duration) -> Result<tokio_postgres::Config, String> {
    use tokio_postgres::config::SslMode;
    let mut cfg = tokio_postgres::Config::new();
    if let Some(h) = pa::s(c, "host")? {
        cfg.host(&h);
    }
    if let Some(a) = pa::s(c, "hostaddr")? {
        cfg.hostaddr(a.parse().map_err(|e| format!("hostaddr: {e}"))?);
    }
    if let Some(p) = pa::int(c, "port")? {
        cfg.port(p as u16);
    }
    if let Some(u) = pa::s(c, "user")? {
        cfg.user(&u);
    }
    if let Some(p) = pa::s(c, "password")? {
        cfg.password(p);
    }
    if let Some(d) = pa::s(c, "dbname")? {
        cfg.dbname(&d);
    }
    if let Some(a) = pa::s(c, "application_name")? {
        cfg.application_name(&a);
    }
    cfg.connect_timeout(Duration::from_secs(timeout.as_secs().max(1)));
    match pa::s(c, "sslmode")?.as_deref() {
        Some("disable") => {
            cfg.ssl_mode(SslMode::Disable);
        }
        Some("require") => {
            cfg.ssl_mode(SslMode::Require);
        }
        _ => {
            cfg.ssl_mode(SslMode::Prefer);
        }
    }
    Ok(cfg)
}
