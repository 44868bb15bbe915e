"""Tenants at scale: admin creates at 1,000, 10,000 and 100,000 tenants, provisioning from
16 concurrent clients, and then every tenant writing and reading one document under a
1,024-file limit. Run by bench/run.py (`--only tenants`); prints a Markdown table."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQ = os.path.join(ROOT, "target", "release", "sq")
ADMIN = "bench-admin-token"
CLIENTS = 16
SAMPLES = 500
TARGETS = (1_000, 10_000, 100_000)


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port):
        self.conn = socket.create_connection(("127.0.0.1", port))
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method, target, token, body=b""):
        self.conn.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
        while len(self.buffer) < length:
            self.buffer += self._recv()
        answer, self.buffer = self.buffer[:length], self.buffer[length:]
        return int(head.split()[1]), answer

    def _recv(self):
        chunk = self.conn.recv(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk

    def close(self):
        self.conn.close()


def create(client, name):
    """Creates tenant `name`; returns its token."""
    status, body = client.request("POST", "/api/v2/admin/tenants", ADMIN, json.dumps({"name": name}).encode())
    if status != 201:
        raise RuntimeError(f"create {name}: {status} {body[:200]!r}")
    return json.loads(body)["token"]


def provision(port, names, tokens):
    """Creates `names` from CLIENTS concurrent connections; returns the seconds it took."""
    chunks = [names[i::CLIENTS] for i in range(CLIENTS)]
    errors = []

    def work(chunk):
        client = Client(port)
        try:
            for name in chunk:
                tokens[name] = create(client, name)
        except Exception as error:  # reported below, with the run failed
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def sample(port, names, tokens):
    """Creates `names` one after another on one connection; returns p50 and p99 in ms."""
    client = Client(port)
    took = []
    for name in names:
        started = time.perf_counter()
        tokens[name] = create(client, name)
        took.append((time.perf_counter() - started) * 1000)
    client.close()
    took.sort()
    return took[len(took) // 2], took[int(len(took) * 0.99)]


def status_of(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{field}:\s+(\d+)", f.read()).group(1)) * 1024


def start(work, file_limit=None):
    """Starts sq host; returns the process, its port and the seconds until it listened."""
    command = [SQ, "host", "0", "--config", "tenants.json"]
    if file_limit:
        command = ["prlimit", f"--nofile={file_limit}:{file_limit}", *command]
    started = time.perf_counter()
    server = subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE,
                              stderr=open(os.path.join(work, "sq.log"), "a"),
                              env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info")))
    port = int(server.stdout.readline().decode().strip().rsplit(":", 1)[1])
    return server, port, time.perf_counter() - started


def unfolded(port):
    status, body = Client(port).request("GET", "/metrics", ADMIN)
    return int(re.search(rb"sq_admin_changes_unfolded (\d+)", body).group(1))


def one_document_each(port, tokens):
    """Every tenant writes one document and reads it back; returns (seconds, errors)."""
    items = list(tokens.items())
    chunks = [items[i::CLIENTS] for i in range(CLIENTS)]
    errors = [0] * CLIENTS

    def work(index, chunk):
        client = Client(port)
        for name, token in chunk:
            text = f"hello from {name}".encode()
            wrote = client.request("POST", "/api/v2/update?p=note&c=1.1.1/1.1.1/1.1.1", token, text)
            read = client.request("GET", "/api/v2/select?p=note&c=1.1.1/1.1.1/1.1.1", token)
            if wrote[0] != 200 or read != (200, text):
                errors[index] += 1
        client.close()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(chunks)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(errors)


def measure():
    work = tempfile.mkdtemp(prefix="sq-tenants-")
    server = None
    try:
        with open(os.path.join(work, "tenants.json"), "w") as f:
            json.dump({"admin_key": ADMIN, "data_root": "data", "tenants": []}, f)
        server, port, _ = start(work)
        tokens = {}
        latency = {}
        provisioned, provision_seconds = 0, 0.0
        count = 0
        for target in TARGETS:
            names = [f"tenant-{i:06d}" for i in range(count, target)]
            provision_seconds += provision(port, names, tokens)
            provisioned += len(names)
            count = target
            names = [f"tenant-{i:06d}" for i in range(count, count + SAMPLES)]
            latency[target] = sample(port, names, tokens)
            count += SAMPLES
        grown_rss = status_of(server.pid, "VmRSS")
        deadline = time.time() + 120
        while unfolded(port) and time.time() < deadline:
            time.sleep(0.5)
        config_bytes = os.path.getsize(os.path.join(work, "tenants.json"))
        server.terminate()
        server.wait()
        server, port, startup = start(work, file_limit=1024)
        idle_rss = status_of(server.pid, "VmRSS")
        reload_started = time.perf_counter()
        status, _ = Client(port).request("POST", "/api/v2/reload", ADMIN)
        reload_seconds = time.perf_counter() - reload_started
        assert status == 200, status
        seconds, errors = one_document_each(port, tokens)
        peak = status_of(server.pid, "VmHWM")
        # Every write is durable already; the checkpoints of a graceful stop are not measured.
        server.kill()
        server.wait()
        server = None
        return {
            "latency": latency, "provisioned": provisioned, "provision_seconds": provision_seconds,
            "total": count, "grown_rss": grown_rss, "config_bytes": config_bytes, "startup": startup,
            "idle_rss": idle_rss, "reload": reload_seconds, "docs_seconds": seconds, "docs_errors": errors,
            "peak_rss": peak,
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


def table(result):
    mib = lambda n: f"{n / 2**20:.0f}"
    lines = ["| admin create, one client, existing tenants | p50 ms | p99 ms |", "|---|---|---|"]
    for target, (p50, p99) in result["latency"].items():
        lines.append(f"| {target:,} | {p50:.2f} | {p99:.2f} |")
    low, high = result["latency"][TARGETS[0]][1], result["latency"][TARGETS[-1]][1]
    rate = result["provisioned"] / result["provision_seconds"]
    lines += [
        "",
        f"p99 at {TARGETS[-1]:,} / p99 at {TARGETS[0]:,}: {high / low:.2f}x "
        f"(goals: p99 under 5 ms at 100,000: {'met' if high < 5 else 'NOT met'}; "
        f"within 2x: {'met' if high / low <= 2 else 'NOT met'})",
        "",
        "| tenants at scale | |", "|---|---|",
        f"| {result['provisioned']:,} creates from {CLIENTS} concurrent clients, s | "
        f"{result['provision_seconds']:.1f} ({rate:,.0f}/s) |",
        f"| 100,000 at that rate, s (goal: under 120) | {100_000 / rate:.1f} |",
        f"| config file after the fold, {result['total']:,} tenants, MiB | {result['config_bytes'] / 2**20:.1f} |",
        f"| RSS after provisioning, MiB | {mib(result['grown_rss'])} |",
        f"| start-up with {result['total']:,} tenants, s | {result['startup']:.2f} |",
        f"| idle RSS after start-up, MiB | {mib(result['idle_rss'])} |",
        f"| reload, s | {result['reload']:.2f} |",
        f"| every tenant writes one document and reads it back, 1,024-file limit, s | "
        f"{result['docs_seconds']:.1f} |",
        f"| errors | {result['docs_errors']} |",
        f"| peak RSS, MiB | {mib(result['peak_rss'])} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
