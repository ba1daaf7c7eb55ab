// Exports the locked versions of the driver crates (from Cargo.lock) and the rustc
// version, so the hello line names the exact build.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for (krate, var) in [
        ("tokio-postgres", "TOKIO_POSTGRES"),
        ("postgres-openssl", "POSTGRES_OPENSSL"),
        ("tokio-postgres-rustls", "TOKIO_POSTGRES_RUSTLS"),
        ("sqlx", "SQLX"),
        ("rustls", "RUSTLS"),
        ("webpki-roots", "WEBPKI_ROOTS"),
    ] {
        let needle = format!("name = \"{krate}\"\nversion = \"");
        let v = lock
            .find(&needle)
            .map(|i| {
                let rest = &lock[i + needle.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .unwrap_or_else(|| "unknown".into());
        println!("cargo:rustc-env=PGTLS_VER_{var}={v}");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let v = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "rustc unknown".into());
    println!("cargo:rustc-env=PGTLS_RUSTC_VERSION={v}");
}
