//! Real monitoring daemons (Debian's Prometheus, Alertmanager, blackbox exporter) on loopback,
//! each in its own process group and temp directory, ended when dropped.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Daemon {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its own directory (configuration copies, storage), removed when dropped.
    pub dir: PathBuf,
    child: Child,
}

impl Daemon {
    /// Starts `program` with the arguments `args` gives for its directory and port, and waits
    /// (up to 30 s) until `ready_path` answers 200. `setup` may write files into the directory
    /// first.
    pub fn start(
        program: &str,
        setup: impl FnOnce(&Path),
        args: impl FnOnce(&Path, u16) -> Vec<String>,
        ready_path: &str,
    ) -> Daemon {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("vigil-{program}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        setup(&dir);
        let port = crate::dev::free_port();
        let log = std::fs::File::create(dir.join("daemon.log")).expect("a log file");
        let child = Command::new(program)
            .args(args(&dir, port))
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{program} runs (`make test-tools` installs it): {e}"));
        let daemon = Daemon {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&format!("{}{ready_path}", daemon.url))
            .call()
            .is_err()
        {
            let log = std::fs::read_to_string(daemon.dir.join("daemon.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "{program} did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    /// What it printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
