//! Encrypted in transit (CONTRACT §5): the RPC listener over HTTPS with a throw-away CA, mutual TLS, a
//! renewed certificate picked up without a restart, the container healthcheck over HTTPS, and a sync
//! against a PostgreSQL that speaks only TLS, verified with `sslmode=verify-full`.

use crate::certs::{client_config, TempDir, TestCa, Usage};
use crate::doubles::server_binary;
use crate::helpers::{init, spawn_app, spawn_server, token_for, Backend, Options, TestApp};
use regnakes_sync::rpc::auth::Role;
use rustls::pki_types::ServerName;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What an HTTPS exchange gave: the response's status and body, and the certificate the server showed.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
    server_cert: Vec<u8>,
}

/// One request on its own TLS connection to `127.0.0.1:port`, the server named `host`; `Err` carries
/// the TLS or I/O error in words (unknown CA, certificate required, …).
async fn https(
    port: u16,
    config: rustls::ClientConfig,
    host: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<Answer, String> {
    let token = token_for("ops", Role::Viewer);
    let body = body.unwrap_or_default().to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let host = host.to_string();
    actix_rt::task::spawn_blocking(move || exchange(port, config, &host, &request))
        .await
        .expect("exchange thread")
}

fn exchange(
    port: u16,
    config: rustls::ClientConfig,
    host: &str,
    request: &str,
) -> Result<Answer, String> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    if let Err(err) = tls.read_to_end(&mut raw) {
        // A peer that closes without close_notify after a whole response is still an answer.
        if raw.is_empty() || err.kind() != std::io::ErrorKind::UnexpectedEof {
            return Err(err.to_string());
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {text:?}"))?;
    let server_cert = tls
        .conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|cert| cert.to_vec())
        .unwrap_or_default();
    Ok(Answer {
        status,
        body: text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
        server_cert,
    })
}

const STATUS_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"sync.status","params":{}}"#;

async fn status_over_https(port: u16, config: rustls::ClientConfig) -> Result<Answer, String> {
    https(
        port,
        config,
        "localhost",
        "POST",
        "/jsonrpc",
        Some(STATUS_CALL),
    )
    .await
}

fn port_of(app: &TestApp) -> u16 {
    app.address.rsplit(':').next().unwrap().parse().unwrap()
}

/// `regnakes-sync healthcheck` as a container runs it, with the server's TLS settings.
fn healthcheck(port: u16, env: &[(&str, &Path)]) -> std::process::Output {
    let mut command = std::process::Command::new(server_binary());
    command
        .arg("healthcheck")
        .env_clear()
        .env("LISTEN_ADDR", format!("0.0.0.0:{port}"));
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("healthcheck runs")
}

/// The healthcheck said ready (exit 0); its stderr otherwise.
fn assert_ready(probe: &std::process::Output) {
    assert_eq!(
        probe.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&probe.stderr)
    );
}

/// A server on SQLite with `TLS_CERT_FILE`/`TLS_KEY_FILE` (and `extra`) set.
async fn https_app(cert: &Path, key: &Path, extra: &[(&str, &Path)]) -> TestApp {
    let mut options = Options::records(20)
        .env("TLS_CERT_FILE", cert.to_str().unwrap())
        .env("TLS_KEY_FILE", key.to_str().unwrap());
    for (k, v) in extra {
        options = options.env(k, v.to_str().unwrap());
    }
    spawn_app(Backend::Sqlite, options).await
}

#[actix_web::test]
async fn https_answers_a_client_that_trusts_the_ca_and_refuses_one_that_does_not() {
    let dir = TempDir::new("tls");
    let ca = TestCa::new("RegNakes Sync test CA");
    let (cert, key) = ca
        .issue("regnakes-sync", &["localhost", "127.0.0.1"], Usage::Server)
        .write(dir.path(), "server");
    let app = https_app(&cert, &key, &[]).await;
    assert!(app.address.starts_with("https://"), "{}", app.address);
    let port = port_of(&app);

    let answer = status_over_https(port, client_config(&[&ca.pem], None))
        .await
        .expect("a client that trusts the CA is answered");
    assert_eq!(answer.status, 200, "{answer:?}");
    let status: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert!(status["result"]["enabled"].is_boolean(), "{status}");
    for probe in ["/healthz", "/readyz", "/metrics"] {
        let answer = https(
            port,
            client_config(&[&ca.pem], None),
            "localhost",
            "GET",
            probe,
            None,
        )
        .await
        .unwrap();
        assert_eq!(answer.status, 200, "{probe}: {answer:?}");
    }

    let stranger = TestCa::new("Some other CA");
    let refused = status_over_https(port, client_config(&[&stranger.pem], None))
        .await
        .expect_err("a client that does not trust the CA gets no answer");
    assert!(refused.contains("UnknownIssuer"), "{refused}");
    let wrong_name = https(
        port,
        client_config(&[&ca.pem], None),
        "odoo.example",
        "GET",
        "/healthz",
        None,
    )
    .await
    .expect_err("a certificate for another host name is refused");
    assert!(wrong_name.contains("not valid for name"), "{wrong_name}");

    let probe = healthcheck(port, &[("TLS_CERT_FILE", &cert), ("TLS_KEY_FILE", &key)]);
    assert_ready(&probe);
    // Without the TLS settings the probe speaks plain HTTP to an HTTPS port: not ready.
    assert_eq!(healthcheck(port, &[]).status.code(), Some(1));
}

#[actix_web::test]
async fn with_a_client_ca_only_clients_with_its_certificates_are_served() {
    let dir = TempDir::new("mtls");
    let ca = TestCa::new("SDMK internal CA");
    // Issued for both ends, so the healthcheck can present the server's own pair.
    let (cert, key) = ca
        .issue("regnakes-sync", &["localhost"], Usage::ServerAndClient)
        .write(dir.path(), "server");
    let client_ca = ca.write(dir.path(), "clients-ca.crt");
    let app = https_app(&cert, &key, &[("TLS_CLIENT_CA_FILE", &client_ca)]).await;
    let port = port_of(&app);

    let odoo = ca.issue("odoo", &["odoo.internal"], Usage::Client);
    let answer = status_over_https(port, client_config(&[&ca.pem], Some(&odoo)))
        .await
        .expect("Odoo with its client certificate is answered");
    assert_eq!(answer.status, 200, "{answer:?}");

    let without = status_over_https(port, client_config(&[&ca.pem], None))
        .await
        .expect_err("a client without a certificate is refused");
    assert!(without.contains("CertificateRequired"), "{without}");
    let stranger = TestCa::new("Some other CA").issue("mallory", &["mallory"], Usage::Client);
    let foreign = status_over_https(port, client_config(&[&ca.pem], Some(&stranger)))
        .await
        .expect_err("a certificate from another CA is refused");
    assert!(foreign.contains("alert"), "{foreign}");

    let tls = [
        ("TLS_CERT_FILE", cert.as_path()),
        ("TLS_KEY_FILE", key.as_path()),
    ];
    let mut env = tls.to_vec();
    env.push(("TLS_CLIENT_CA_FILE", client_ca.as_path()));
    let probe = healthcheck(port, &env);
    assert_ready(&probe);
    // A pair of its own for the probe, when the server's certificate is not a client's.
    let (probe_cert, probe_key) = odoo.write(dir.path(), "probe");
    env.push(("TLS_HEALTHCHECK_CERT_FILE", probe_cert.as_path()));
    env.push(("TLS_HEALTHCHECK_KEY_FILE", probe_key.as_path()));
    let probe = healthcheck(port, &env);
    assert_ready(&probe);
}

#[actix_web::test]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = TempDir::new("renew");
    let ca = TestCa::new("RegNakes Sync test CA");
    let first = ca.issue("regnakes-sync", &["localhost"], Usage::Server);
    let (cert, key) = first.write(dir.path(), "server");
    let app = https_app(&cert, &key, &[]).await;
    let port = port_of(&app);
    let answer = status_over_https(port, client_config(&[&ca.pem], None))
        .await
        .unwrap();
    assert_eq!(answer.server_cert, first.cert_der());

    // A half-finished renewal (a key without its certificate) keeps the old certificate in service.
    let renewed = ca.issue("regnakes-sync renewed", &["localhost"], Usage::Server);
    crate::certs::write(dir.path(), "server.key", &renewed.key_pem);
    // The resolver looks at the files once a second: over two seconds, every handshake still gets
    // the first certificate.
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        let answer = status_over_https(port, client_config(&[&ca.pem], None))
            .await
            .expect("the previous certificate still serves while the pair does not match");
        assert_eq!(answer.server_cert, first.cert_der());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    renewed.write(dir.path(), "server");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = status_over_https(port, client_config(&[&ca.pem], None))
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        if answer.server_cert == renewed.cert_der() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the renewed certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Outbound HTTPS to a service behind an internal CA (here Odoo's notification endpoint): verified
/// against `TLS_OUTBOUND_CA_FILE` beside Mozilla's roots, and delivered.
#[actix_web::test]
async fn the_notification_reaches_an_odoo_behind_an_internal_ca() {
    let dir = TempDir::new("outbound");
    let ca = TestCa::new("Ministry internal CA");
    let odoo_cert = ca.issue("odoo", &["localhost"], Usage::Server);
    let odoo = crate::doubles::OdooReceiver::start_with(0, Some(odoo_cert.server_config()));
    assert!(odoo.url.starts_with("https://"));
    let ca_file = ca.write(dir.path(), "internal-ca.crt");
    let app = spawn_app(
        Backend::Sqlite,
        Options::records(100)
            .env("ODOO_NOTIFY_URL", &odoo.url)
            .env("TLS_OUTBOUND_CA_FILE", ca_file.to_str().unwrap()),
    )
    .await;
    let batch = app.sync(json!({"mode": "full"})).await;
    let id = batch["id"].as_str().unwrap().to_string();
    app.eventually("the finished batch is announced over HTTPS", || async {
        odoo.deliveries().iter().any(|d| {
            String::from_utf8_lossy(&d.body).contains(&id)
                && String::from_utf8_lossy(&d.body).contains("batch_finished")
        })
    })
    .await;
}

/// A PostgreSQL of the test's own (initdb in a temporary directory) that accepts only TLS connections
/// (`hostssl` alone in pg_hba.conf), with a server certificate for `localhost` from a throw-away CA.
struct TlsPostgres {
    child: std::process::Child,
    port: u16,
    ca_file: PathBuf,
    _dir: TempDir,
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        // Fast shutdown (SIGINT), so the postmaster's children leave with it.
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The directory of PostgreSQL's server programs (`initdb`, `postgres`) on this machine.
fn postgres_bin() -> PathBuf {
    let versions = std::fs::read_dir("/usr/lib/postgresql").expect(
        "PostgreSQL's server programs under /usr/lib/postgresql (Debian's postgresql package)",
    );
    versions
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .find(|bin| bin.join("initdb").exists())
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

/// A command run as the `postgres` user when the tests run as root (PostgreSQL refuses root).
fn as_postgres_user(program: &Path) -> std::process::Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    if root {
        let mut command = std::process::Command::new("setpriv");
        command.args(["--reuid=postgres", "--regid=postgres", "--clear-groups"]);
        command.arg(program);
        command
    } else {
        std::process::Command::new(program)
    }
}

impl TlsPostgres {
    fn start(ca: &TestCa) -> TlsPostgres {
        let dir = TempDir::new("pg-tls");
        let data = dir.path().join("data");
        let bin = postgres_bin();
        let (cert, key) = ca
            .issue("localhost", &["localhost"], Usage::Server)
            .write(dir.path(), "server");
        let ca_file = ca.write(dir.path(), "ca.crt");
        let _ = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status();
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let init = as_postgres_user(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb runs");
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .unwrap();
        let port = crate::doubles::free_port();
        let child = as_postgres_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=localhost",
                "-c",
                "ssl=on",
            ])
            .args(["-c", "fsync=off", "-c", "unix_socket_directories="])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", key.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("postgres starts");
        let server = TlsPostgres {
            child,
            port,
            ca_file,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the TLS PostgreSQL did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self, params: &str) -> String {
        format!(
            "postgres://postgres@localhost:{}/postgres?{params}",
            self.port
        )
    }
}

/// Production's database URL across a network: `sslmode=verify-full` with the CA that issued the
/// database's certificate. The suite's sync runs over it; a CA that did not issue the certificate, and
/// a connection without TLS, are refused.
#[actix_web::test]
async fn a_sync_runs_against_postgres_over_verified_tls() {
    init();
    let ca = TestCa::new("Database CA");
    let postgres = TlsPostgres::start(&ca);
    let verified = postgres.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        postgres.ca_file.display()
    ));
    // The server may connect before the postmaster accepts: poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    while regnakes_sync::startup::connect(&verified).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "no verified connection to the TLS PostgreSQL"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let other_dir = TempDir::new("other-ca");
    let other_ca = TestCa::new("Not the database's CA").write(other_dir.path(), "other.crt");
    let wrong_ca = postgres.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    ));
    let refused = regnakes_sync::startup::connect(&wrong_ca)
        .await
        .expect_err("unknown CA");
    assert!(
        format!("{refused:?}").contains("UnknownIssuer"),
        "{refused:?}"
    );
    let plain = regnakes_sync::startup::connect(&postgres.url("sslmode=disable")).await;
    assert!(plain.is_err(), "the database takes TLS connections only");

    let sim = regnakes_sim::server::spawn(regnakes_sim::server::SimConfig {
        records: 600,
        bad_share: 0.0,
        ..Default::default()
    })
    .unwrap();
    let app = spawn_server(sim, verified, &Options::records(600)).await;
    let batch = app.sync(json!({"mode": "full"})).await;
    assert_eq!(batch["status"], "succeeded", "{batch}");
    assert_eq!(batch["inserted"], 600, "{batch}");
    assert_eq!(app.worker_count().await, 600);
    let tls_connections = app
        .scalar("SELECT count(*) FROM pg_stat_ssl WHERE ssl")
        .await;
    assert!(tls_connections >= 1, "the server's connections are TLS");
    let plain_connections = app
        .scalar("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE NOT s.ssl AND a.client_addr IS NOT NULL")
        .await;
    assert_eq!(plain_connections, 0);
}
