//! Real HTTP receivers on loopback for notification tests: they record every request and
//! answer as told — a status code, or hanging without answering.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behavior {
    Status(u16),
    /// Accept the request and never answer (until the receiver stops, at most 60 s).
    Hang,
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Lower-case header names.
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

struct Shared {
    received: Mutex<Vec<Received>>,
    behavior: Mutex<Behavior>,
    stop: AtomicBool,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    accept_loop: Option<JoinHandle<()>>,
}

impl Receiver {
    pub fn start(behavior: Behavior) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            behavior: Mutex::new(behavior),
            stop: AtomicBool::new(false),
        });
        let state = Arc::clone(&shared);
        let accept_loop = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if state.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || serve(stream, &state));
                }
            }
        });
        Receiver {
            url,
            shared,
            accept_loop: Some(accept_loop),
        }
    }

    pub fn set(&self, behavior: Behavior) {
        *self.shared.behavior.lock().unwrap() = behavior;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(handle) = self.accept_loop.take() {
            let _ = handle.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    state.received.lock().unwrap().push(Received {
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });

    let behavior = *state.behavior.lock().unwrap();
    match behavior {
        Behavior::Status(code) => {
            let response = format!(
                "HTTP/1.1 {code} Status\r\nContent-Length: 2\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nok"
            );
            let _ = (&stream).write_all(response.as_bytes());
        }
        Behavior::Hang => {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !state.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
