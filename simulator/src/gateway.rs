//! A gateway in front of the simulator that answers `HTTP/1.0` and closes the connection after every
//! answer, with no `Connection` header: some gateways in front of RegNakes do this (CONTRACT §1), and a
//! client that keeps such a connection for another request finds it closed.
//!
//! Each connection carries one request: it is forwarded to the simulator on a connection of its own, and
//! the answer goes back with its status line made `HTTP/1.0` and its `Connection`/`Keep-Alive` headers
//! removed; then the socket is closed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

pub struct Http10Gateway {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Http10Gateway {
    /// Listens on `listen` (port 0 works) and forwards to `upstream` (`http://host:port`).
    pub fn start(listen: &str, upstream: &str) -> std::io::Result<Http10Gateway> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let upstream = upstream.clone();
                thread::spawn(move || {
                    let _ = serve_one(conn, &upstream);
                });
            }
        });
        Ok(Http10Gateway { addr, stop })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Http10Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// One request, one answer, then the connection is closed.
fn serve_one(client: TcpStream, upstream: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            content_length = value.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&head)?;
    server.write_all(b"Connection: close\r\n\r\n")?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |p| p + 4);
    let (answer_head, answer_body) = answer.split_at(split);
    let answer_head = String::from_utf8_lossy(answer_head);
    let mut out = String::new();
    for (i, line) in answer_head.split("\r\n").enumerate() {
        let lower = line.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&line.replacen("HTTP/1.1", "HTTP/1.0", 1));
            out.push_str("\r\n");
        } else if !line.is_empty()
            && !lower.starts_with("connection:")
            && !lower.starts_with("keep-alive:")
        {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    let mut client = client;
    client.write_all(out.as_bytes())?;
    client.write_all(answer_body)?;
    client.flush()?;
    client.shutdown(Shutdown::Both)
}
