//! Real HTTP servers on loopback, as notification receivers and probe targets: they record every
//! request and answer as told — a status code, slowly, never, with an endless or trickling body,
//! or with a redirect to themselves — per path if asked.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behavior {
    Status(u16),
    /// Accept the request and never answer (until the receiver stops, at most 60 s).
    Hang,
    /// Answer 200 after this many milliseconds.
    Slow(u64),
    /// Answer 200 with a body announced as 4 GiB, sent as fast as it is read.
    Huge,
    /// Answer 200 and send one byte of body per second (for up to 60 s).
    Trickle,
    /// Answer 302 with `Location` pointing at the same path.
    RedirectLoop,
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
    /// Behaviours of particular paths, over `behavior`.
    paths: Mutex<BTreeMap<String, Behavior>>,
    stop: AtomicBool,
    /// Requests being answered now, and the most there ever were at once.
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
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
            paths: Mutex::new(BTreeMap::new()),
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
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

    /// Answers requests for `path` with `behavior` (others keep the receiver's).
    pub fn set_path(&self, path: &str, behavior: Behavior) {
        let mut paths = self.shared.paths.lock().unwrap();
        paths.insert(path.to_string(), behavior);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The most requests this receiver was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
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
    let behavior = match state.paths.lock().unwrap().get(&path) {
        Some(behavior) => *behavior,
        None => *state.behavior.lock().unwrap(),
    };
    state.received.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    answer(&stream, behavior, &path, state);
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
}

fn answer(mut stream: &TcpStream, behavior: Behavior, path: &str, state: &Shared) {
    let head = |status: u16, extra: &str| {
        format!("HTTP/1.1 {status} Status\r\n{extra}Content-Type: text/plain\r\nConnection: close\r\n\r\n")
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let running = || !state.stop.load(Ordering::SeqCst) && Instant::now() < deadline;
    match behavior {
        Behavior::Status(code) => {
            let _ = stream.write_all((head(code, "Content-Length: 2\r\n") + "ok").as_bytes());
        }
        Behavior::Slow(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            let _ = stream.write_all((head(200, "Content-Length: 2\r\n") + "ok").as_bytes());
        }
        Behavior::Hang => {
            while running() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Behavior::Huge => {
            let length = format!("Content-Length: {}\r\n", 4u64 << 30);
            let _ = stream.write_all(head(200, &length).as_bytes());
            let chunk = vec![b'x'; 64 * 1024];
            while running() && stream.write_all(&chunk).is_ok() {}
        }
        Behavior::Trickle => {
            let _ = stream.write_all(head(200, "").as_bytes());
            while running() && stream.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Behavior::RedirectLoop => {
            let location = format!("Location: {path}\r\nContent-Length: 0\r\n");
            let _ = stream.write_all(head(302, &location).as_bytes());
        }
    }
}
