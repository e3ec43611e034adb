//! Stand-ins for third parties we cannot run here, speaking their documented wire format, and a way to
//! run the real server as a separate process (to kill it).

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::Value;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// A Slack incoming webhook: `POST` JSON (`text`, optional `blocks`), answers `200 ok` as `text/plain`.
/// `fail_first` deliveries are answered 500 to exercise the sender's retries.
pub struct SlackWebhook {
    pub url: String,
    messages: Arc<Mutex<Vec<Value>>>,
}

impl SlackWebhook {
    pub fn start(fail_first: usize) -> SlackWebhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(Mutex::new(0usize));
        let state = (messages.clone(), attempts);
        let server = HttpServer::new(move || {
            let (messages, attempts) = state.clone();
            App::new().route(
                "/services/T000/B000/XXXX",
                web::post().to(move |body: web::Json<Value>| {
                    let messages = messages.clone();
                    let attempts = attempts.clone();
                    async move {
                        let attempt = {
                            let mut a = attempts.lock().unwrap();
                            *a += 1;
                            *a
                        };
                        if attempt <= fail_first {
                            return HttpResponse::InternalServerError()
                                .content_type("text/plain")
                                .body("server_error");
                        }
                        if body.get("text").and_then(Value::as_str).is_none() {
                            return HttpResponse::BadRequest()
                                .content_type("text/plain")
                                .body("no_text");
                        }
                        messages.lock().unwrap().push(body.into_inner());
                        HttpResponse::Ok().content_type("text/plain").body("ok")
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        actix_rt::spawn(server);
        SlackWebhook {
            url: format!("http://127.0.0.1:{port}/services/T000/B000/XXXX"),
            messages,
        }
    }

    pub fn texts(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// The `regnakes-sync` binary next to this test binary (scripts/test.sh builds it).
pub fn server_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("regnakes-sync");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p regnakes-sync` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

pub struct ServerProcess {
    pub child: Child,
    pub address: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `regnakes-sync serve` in its own process on port 0, reading the real address it prints.
pub fn spawn_process(env: &[(String, String)]) -> ServerProcess {
    use std::io::BufRead;
    let mut command = Command::new(server_binary());
    command
        .arg("serve")
        .env_clear()
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server process starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("server prints its address");
    let address = line
        .trim()
        .strip_prefix("regnakes-sync listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from the server: {line:?}"))
        .to_string();
    ServerProcess { child, address }
}
