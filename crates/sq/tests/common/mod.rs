//! Test harness: the real `sq` binary on a free loopback port, spoken to over TCP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server; killed when dropped, and by the kernel if the test dies first.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `sq host 0 <args>` in a fresh temporary working directory.
    pub fn start(args: &[&str]) -> Server {
        Server::start_with(|_| {}, args)
    }

    /// Like [`Server::start`], after `setup` prepared the directory (a config, data).
    pub fn start_with(setup: impl FnOnce(&Path), args: &[&str]) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        setup(&dir);
        let mut server = Server::start_in(&dir, args);
        server._temp = Some(temp);
        server
    }

    /// Starts `sq host 0 <args>` with `dir` as the working directory.
    pub fn start_in(dir: &Path, args: &[&str]) -> Server {
        Server::spawn(dir, args, Stdio::null(), "warn")
    }

    /// Starts `sq host 0 <args>` in `dir`, logging at `level` into the file `log`.
    pub fn start_logging(dir: &Path, args: &[&str], log: &Path, level: &str) -> Server {
        let file = std::fs::File::create(log).expect("log file");
        Server::spawn(dir, args, Stdio::from(file), level)
    }

    /// Starts `sq host 0 <args>` in `dir` with files limited to `max_file_bytes` (writes
    /// past it fail with EFBIG, a real I/O error from the kernel).
    pub fn start_with_file_limit(dir: &Path, args: &[&str], max_file_bytes: u64) -> Server {
        // Ignored signals stay ignored across exec: EFBIG instead of SIGXFSZ.
        Server::start_limited(
            dir,
            args,
            libc::RLIMIT_FSIZE,
            max_file_bytes,
            Some(libc::SIGXFSZ),
        )
    }

    /// Starts `sq host 0 <args>` in `dir` able to hold at most `max_files` descriptors
    /// (soft and hard limit: the server cannot raise it).
    pub fn start_with_open_file_limit(dir: &Path, args: &[&str], max_files: u64) -> Server {
        Server::start_limited(dir, args, libc::RLIMIT_NOFILE, max_files, None)
    }

    /// Starts the server with `resource` limited to `value` (soft and hard), and `ignore`d
    /// if given.
    fn start_limited(
        dir: &Path,
        args: &[&str],
        resource: libc::__rlimit_resource_t,
        value: u64,
        ignore: Option<libc::c_int>,
    ) -> Server {
        let mut command = sq_command(dir);
        // SAFETY: setrlimit and signal in the forked child before exec touch only it.
        unsafe {
            command.pre_exec(move || {
                let limit = libc::rlimit {
                    rlim_cur: value,
                    rlim_max: value,
                };
                libc::setrlimit(resource, &limit);
                if let Some(signal) = ignore {
                    libc::signal(signal, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        Server::spawn_command(command, dir, args, Stdio::null(), "warn")
    }

    fn spawn(dir: &Path, args: &[&str], stderr: Stdio, level: &str) -> Server {
        Server::spawn_command(sq_command(dir), dir, args, stderr, level)
    }

    fn spawn_command(
        mut command: Command,
        dir: &Path,
        args: &[&str],
        stderr: Stdio,
        level: &str,
    ) -> Server {
        command
            .arg("host")
            .arg("0")
            .args(args)
            .env("RUST_LOG", level);
        command.stdout(Stdio::piped()).stderr(stderr);
        let mut child = command.spawn().expect("spawn sq");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read listening line");
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("sq did not start: {line:?}"));
        Server {
            child,
            port,
            dir: dir.to_path_buf(),
            _temp: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends raw bytes on a new connection and reads one response.
    pub fn raw(&self, request: &[u8]) -> Reply {
        let mut stream = self.connect();
        stream.write_all(request).expect("write request");
        read_reply(&mut BufReader::new(stream)).expect("a response")
    }

    /// A GET with extra header lines.
    pub fn get_with(&self, target: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", target, headers, None)
    }

    pub fn get(&self, target: &str) -> Reply {
        self.request("GET", target, &[], None)
    }

    pub fn post(&self, target: &str, body: &[u8]) -> Reply {
        self.request("POST", target, &[], Some(body))
    }

    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        self.raw(&build_request(method, target, headers, body))
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
        stream
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        signal(self.child.id(), libc::SIGTERM);
        self.child.wait().expect("wait")
    }

    /// Sends SIGKILL and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal to a process.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a child's pid has no memory effects.
    unsafe {
        libc::kill(pid as i32, signal);
    }
}

/// A `sq` command that dies with the test thread that started it.
pub fn sq_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sq"));
    command.current_dir(dir).env("RUST_LOG", "warn");
    // SAFETY: prctl in the forked child before exec only sets its parent-death signal.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    command
}

/// Builds an HTTP/1.1 request with a Host header and, for a body, a Content-Length.
pub fn build_request(
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if let Some(body) = body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts status and exact body.
    #[track_caller]
    pub fn expect(&self, status: u16, body: &str) {
        assert_eq!((self.status, self.text().as_str()), (status, body));
    }
}

/// Reads one response (status line, headers, Content-Length body; none for HEAD-like
/// callers that pass `head = true` via [`read_reply_head`]).
pub fn read_reply(reader: &mut impl BufRead) -> Option<Reply> {
    read_reply_inner(reader, false)
}

/// Reads a response to a HEAD request (no body bytes follow).
pub fn read_reply_head(reader: &mut impl BufRead) -> Option<Reply> {
    read_reply_inner(reader, true)
}

fn read_reply_inner(reader: &mut impl BufRead, head: bool) -> Option<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; if head { 0 } else { length }];
    reader.read_exact(&mut body).ok()?;
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// Writes a reference-shape config file.
pub fn write_config(path: &Path, admin_key: Option<&str>, tenants: &[(&str, &str, &str)]) {
    let mut map = serde_json::Map::new();
    for (token, name, dir) in tenants {
        map.insert(
            token.to_string(),
            serde_json::json!({"name": name, "data_dir": dir}),
        );
    }
    let mut root = serde_json::json!({ "tenants": map });
    if let Some(key) = admin_key {
        root["admin_key"] = serde_json::json!(key);
    }
    std::fs::write(path, serde_json::to_vec_pretty(&root).unwrap()).unwrap();
}

/// Every file below `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.push(format!("{}/", path.strip_prefix(base).unwrap().display()));
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Runs `sq tenants generate --count N` in `dir` (config `tenants.json`, data under
/// `data/`) and returns each tenant's `(name, token)`.
pub fn generate_tenants(dir: &Path, count: usize) -> Vec<(String, String)> {
    let output = sq_command(dir)
        .args([
            "tenants",
            "generate",
            "--count",
            &count.to_string(),
            "--data-root",
            "data",
            "--out",
            "tenants.json",
        ])
        .output()
        .expect("run sq tenants generate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let (name, token) = line.split_once('\t').expect("name<TAB>token");
            (name.to_owned(), token.to_owned())
        })
        .collect()
}

/// The resident set size of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// The body of `reply` as JSON.
pub fn json_of(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()))
}

/// Polls `probe` until it holds or `seconds` pass.
pub fn eventually(seconds: u64, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
