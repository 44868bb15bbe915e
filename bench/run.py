#!/usr/bin/env python3
"""Drive `sq host` and Redis on loopback with wrk / redis-benchmark; print and record a table.

Called by bench/run.sh after it has built target/release/sq and installed wrk and Redis.
Everything listens on 127.0.0.1 and is stopped before the script exits.
"""
import argparse
import datetime
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import tenants as at_scale_bench

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SQ = os.path.join(ROOT, "target", "release", "sq")
LUA = os.path.join(ROOT, "bench", "rotate.lua")
SC, SN, CH = "\x17", "\x18", "\x19"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrolls(count, size, chapter_every=None, section_every=None):
    """`count` scrolls of `size` bytes; breaks every so often move to a new chapter/section."""
    parts = []
    for i in range(count):
        if i:
            if chapter_every and i % chapter_every == 0:
                parts.append(CH)
            elif section_every and i % section_every == 0:
                parts.append(SN)
            else:
                parts.append(SC)
        parts.append(f"scroll {i} ".ljust(size, "x"))
    return "".join(parts)


def seed(work, tenants):
    bench = scrolls(100, 100)
    toc = scrolls(1000, 60, section_every=100)
    for name, _ in tenants:
        d = os.path.join(work, "data", name)
        os.makedirs(d, exist_ok=True)
        for file, text in (("bench.phext", bench), ("toc.phext", toc)):
            with open(os.path.join(d, file), "w") as f:
                f.write(text)
    first = os.path.join(work, "data", tenants[0][0])
    with open(os.path.join(first, "big.phext"), "w") as f:
        f.write(scrolls(100_000, 100, chapter_every=10_000))
    with open(os.path.join(first, "small.phext"), "w") as f:
        f.write(scrolls(100, 100))


def wrk(port, mode, tokens_file, seconds, connections, threads=1):
    """One wrk thread, like redis-benchmark's one client thread: on a 2-core machine a
    second client thread takes a core from the server and its scheduling shows up as
    milliseconds of tail latency that belong to neither."""
    env = dict(os.environ, SQ_MODE=mode, SQ_TOKENS=tokens_file, SQ_VALUE_BYTES="100")
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", LUA,
         f"http://127.0.0.1:{port}"],
        env=env, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: to_ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"), "errors": errors}


def to_ms(value):
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def start_sq(work, flags):
    """Starts `sq host` on a free loopback port; returns the process and the port."""
    server = subprocess.Popen([SQ, "host", "0", "--config", "tenants.json", *flags], cwd=work,
                              stdout=subprocess.PIPE, stderr=open(os.path.join(work, "sq.log"), "a"),
                              env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info")))
    port = int(server.stdout.readline().decode().strip().rsplit(":", 1)[1])
    return server, port


def wait_for_port(port):
    """Waits up to 5 s for a server just started to accept on `port`."""
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)


def redis(work, seconds_hint, quick):
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
         "--appendfsync", "always", "--save", "", "--dir", work, "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        results = {}
        n = 50_000 if quick else 200_000
        for test in ("set", "get"):
            out = subprocess.run(
                ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", str(n),
                 "-d", "100", "-r", "50000", "-t", test, "--csv"],
                capture_output=True, text=True, check=True).stdout
            row = [line for line in out.splitlines() if line.startswith('"' + test.upper())][0]
            cells = [c.strip('"') for c in row.split(",")]
            results[test] = {"rps": float(cells[1]), "p50": float(cells[4]), "p99": float(cells[6]), "errors": 0}
        return results
    finally:
        server.terminate()
        server.wait()


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        kib = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    return kib * 1024


def http(port, method, target, body=b""):
    """One request on its own connection; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        data = b""
        while chunk := conn.recv(1 << 20):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


STALLED_READERS, STALLED_DOC_MB, STALLED_BUDGET_MB = 60, 20, 64


def stalled_readers():
    """RSS of `sq host` while 60 clients that asked for a 20 MB document read nothing."""
    work = tempfile.mkdtemp(prefix="sq-stalled-")
    server = subprocess.Popen(
        [SQ, "host", "0", "--data-dir", "data", "--max-response-mb", str(STALLED_BUDGET_MB)],
        cwd=work, stdout=subprocess.PIPE, stderr=open(os.path.join(work, "sq.log"), "a"),
        env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info")))
    readers = []
    try:
        port = int(server.stdout.readline().decode().strip().rsplit(":", 1)[1])
        scroll = b"s" * (1 << 20)
        for c in range(1, STALLED_DOC_MB + 1):
            assert http(port, "POST", f"/api/v2/update?p=big&c={c}", scroll)[0] == 200
        size = len(http(port, "GET", "/api/v2/get?p=big")[1])
        baseline = rss_bytes(server.pid)
        for _ in range(STALLED_READERS):
            conn = socket.socket()
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            conn.connect(("127.0.0.1", port))
            conn.sendall(b"GET /api/v2/get?p=big HTTP/1.1\r\nHost: x\r\n\r\n")
            readers.append(conn)
        sample = 'sq_requests_total{tenant="default",verb="get",status="200"} '
        for _ in range(600):
            metrics = http(port, "GET", "/metrics")[1].decode()
            served = [l for l in metrics.splitlines() if l.startswith(sample)]
            if served and float(served[0][len(sample):]) >= STALLED_READERS + 1:
                break
            time.sleep(0.05)
        held = rss_bytes(server.pid)
        response = float(re.search(r"^sq_response_bytes (\S+)", metrics, re.M).group(1))
        return {"doc": size, "baseline": baseline, "held": held, "response": response}
    finally:
        for conn in readers:
            conn.close()
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


IDLE_CONNECTIONS = 10_000
MANY_CONNECTIONS = 50_000


NGINX_CONF = """
daemon off; master_process off; worker_processes 1; error_log stderr warn; pid nginx.pid;
worker_rlimit_nofile 200000;
events {{ worker_connections {connections}; }}
http {{
    access_log off; keepalive_timeout 300s; keepalive_requests 1000000;
    client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;
    uwsgi_temp_path tmp; scgi_temp_path tmp;
    server {{ listen 127.0.0.1:{port}; location / {{ default_type text/plain; return 200 "hello"; }} }}
}}
"""


def hold_connections(port, pid, count, request, again=False):
    """Opens `count` keep-alive connections that each send `request` and read the answer,
    spread over loopback source addresses (one address has ~28,000 ports); returns the
    server's RSS before and while holding them, and the answers that failed (with `again`,
    every held connection is also served a second request)."""
    baseline = rss_bytes(pid)
    conns, failed = [], 0
    try:
        for i in range(count):
            conn = socket.socket()
            conn.bind((f"127.0.{1 + i // 20_000}.{1 + i % 200}", 0))
            conn.connect(("127.0.0.1", port))
            conn.sendall(request)
            conns.append(conn)
        for conn in conns:
            failed += not conn.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(1)
        held = rss_bytes(pid)
        if again:
            for conn in conns:
                conn.sendall(request)
            for conn in conns:
                failed += not conn.recv(4096).startswith(b"HTTP/1.1 200")
        return {"count": count, "baseline": baseline, "held": held, "failed": failed}
    finally:
        for conn in conns:
            conn.close()


def idle_connections():
    """RSS of `sq host` holding 10,000 keep-alive connections that each sent one select, of
    nginx holding as many, and sq holding and serving 50,000."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # The client holds one descriptor per connection, and so does the server: as root,
    # raise the hard limit too (up to fs.nr_open), as `LimitNOFILE=` would for a service.
    raised = hard
    for want in (2 * MANY_CONNECTIONS + 1000, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
            raised = want
            break
        except (ValueError, OSError):
            continue
    count = min(IDLE_CONNECTIONS, raised - 100)
    many = min(MANY_CONNECTIONS, raised - 100)
    work = tempfile.mkdtemp(prefix="sq-idle-")
    result = {}
    try:
        server = subprocess.Popen(
            [SQ, "host", "0", "--data-dir", "data", "--max-connections", str(many + 100),
             "--max-connections-per-address", "0", "--idle-timeout", "300"],
            cwd=work, stdout=subprocess.PIPE, stderr=open(os.path.join(work, "sq.log"), "a"),
            env=dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info")))
        try:
            port = int(server.stdout.readline().decode().strip().rsplit(":", 1)[1])
            assert http(port, "POST", "/api/v2/update?c=1", b"hello")[0] == 200
            time.sleep(0.5)
            select = b"GET /api/v2/select?c=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            result["sq"] = hold_connections(port, server.pid, count, select)
            result["many"] = hold_connections(port, server.pid, many, select, again=True)
        finally:
            server.terminate()
            server.wait()
        if shutil.which("nginx"):
            port = free_port()
            os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
            with open(os.path.join(work, "nginx.conf"), "w") as f:
                f.write(NGINX_CONF.format(connections=count + 100, port=port))
            nginx = subprocess.Popen(["nginx", "-p", work, "-c", os.path.join(work, "nginx.conf")],
                                     stderr=open(os.path.join(work, "nginx.log"), "a"))
            try:
                wait_for_port(port)
                result["nginx"] = hold_connections(port, nginx.pid, count,
                                                   b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            finally:
                nginx.terminate()
                nginx.wait()
        return result
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        shutil.rmtree(work, ignore_errors=True)


def idle_table(result):
    def row(name, held):
        grown = held["held"] - held["baseline"]
        each = grown / held["count"]
        return (f"| {name} | {held['count']:,} | {held['baseline'] / 2**20:.1f} | "
                f"{held['held'] / 2**20:.1f} | {each / 1024:.1f} | {held['failed']} |")

    lines = ["| server | idle keep-alive connections | RSS before, MiB | RSS holding them, MiB | "
             "growth per connection, KiB | failed answers |", "|---|---|---|---|---|---|",
             row("sq", result["sq"])]
    if "nginx" in result:
        lines.append(row("nginx (1 worker), yardstick", result["nginx"]))
    lines.append(row("sq, each served a second request", result["many"]))
    each = (result["sq"]["held"] - result["sq"]["baseline"]) / result["sq"]["count"]
    lines += ["", f"Goals: under 4 KiB each at {result['sq']['count']:,}: "
                  f"{'met' if each < 4096 else 'NOT met'}; {result['many']['count']:,} held and served "
                  f"without errors: {'met' if result['many']['failed'] == 0 else 'NOT met'}."]
    if "nginx" in result:
        nginx = (result["nginx"]["held"] - result["nginx"]["baseline"]) / result["nginx"]["count"]
        lines.append(f"sq / nginx per idle connection: {each / nginx:.2f}x" if nginx > 0 else "")
    return "\n".join(lines)


def stalled_table(result):
    mib = lambda n: f"{n / 2**20:.1f}"
    grown = result["held"] - result["baseline"]
    goal = 2 * result["doc"] + STALLED_BUDGET_MB * 2**20
    return ("| 60 stalled readers of a 20 MB document | MiB |\n|---|---|\n"
            f"| RSS with the document resident, before | {mib(result['baseline'])} |\n"
            f"| RSS with 60 readers holding answers | {mib(result['held'])} |\n"
            f"| growth | {mib(grown)} |\n"
            f"| response bodies held (`sq_response_bytes`) | {mib(result['response'])} |\n"
            f"| goal: growth under 2x the document plus the budget ({STALLED_BUDGET_MB} MiB) | "
            f"{mib(goal)}: {'met' if grown < goal else 'NOT met'} |")


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.+)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}, {fs} on the data directory"


def fmt(result):
    p50 = f"{result['p50']:.2f}" if result["p50"] is not None else "-"
    p99 = f"{result['p99']:.2f}" if result["p99"] is not None else "-"
    return f"{result['rps']:,.0f} | {p50} | {p99} | {result['errors']}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3-second runs instead of 10")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md")
    parser.add_argument("--only", help="run just this SQ test (select, update, mix, toc, big50, big1, small1, "
                                         "stalled, idle, tenants)")
    parser.add_argument("--sq-args", default="", help="extra flags for sq host, for experiments")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="sq host --workers (default: one core fewer than the machine has, "
                             "leaving one to wrk)")
    args = parser.parse_args()
    seconds = 3 if args.quick else 10
    work = tempfile.mkdtemp(prefix="sq-bench-")
    server = None
    try:
        subprocess.run([SQ, "tenants", "generate", "--count", "500", "--data-root", "data",
                        "--out", "tenants.json"], cwd=work, check=True,
                       stdout=open(os.path.join(work, "tokens.tsv"), "w"), stderr=subprocess.DEVNULL)
        with open(os.path.join(work, "tokens.tsv")) as f:
            tenants = [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]
        with open(os.path.join(work, "first.tsv"), "w") as f:
            f.write("\t".join(tenants[0]) + "\n")
        seed(work, tenants)
        sq_flags = ["--workers", str(args.workers), *args.sq_args.split()]
        all_tokens = os.path.join(work, "tokens.tsv")
        first = os.path.join(work, "first.tsv")
        print(f"benchmarking for {seconds}s per run ...", file=sys.stderr)

        def warm(port):
            """Loads every tenant's documents before anything is measured."""
            wrk(port, "select", all_tokens, 2, 50)
            wrk(port, "toc", all_tokens, 1, 50)

        if args.only == "stalled":
            print(stalled_table(stalled_readers()))
            return
        if args.only == "idle":
            print(idle_table(idle_connections()))
            return
        if args.only == "tenants":
            print(at_scale_bench.table(at_scale_bench.measure()))
            return
        sq = {}
        if not args.only:
            # The same select with sq's default of one worker per core: the server's threads
            # then compete with wrk for the cores. First, before any write leaves the disk
            # busy with write-back.
            server, port = start_sq(work, args.sq_args.split())
            warm(port)
            sq["select-all-cores"] = wrk(port, "select", all_tokens, seconds, 50)
            server.terminate()
            server.wait()

        server, port = start_sq(work, sq_flags)
        warm(port)
        # Reads first, then the single-connection latency pair, before heavy writes leave
        # the disk busy with write-back, so that both sizes see the same disk.
        tests = {
            "select": lambda: wrk(port, "select", all_tokens, seconds, 50),
            "toc": lambda: wrk(port, "toc", all_tokens, seconds, 50),
            "small1": lambda: wrk(port, "small-update", first, seconds, 1),
            "big1": lambda: wrk(port, "big-update", first, seconds, 1),
            "update": lambda: wrk(port, "update", all_tokens, seconds, 50),
            "mix": lambda: wrk(port, "mix", all_tokens, seconds, 50),
            "big50": lambda: wrk(port, "big-update", first, seconds, 50),
        }
        if args.only:
            print(args.only, tests[args.only]())
            return
        sq.update({name: run() for name, run in tests.items()})
        server.terminate()
        server.wait()
        server = None
        stalled = stalled_table(stalled_readers())
        idle = idle_table(idle_connections())
        at_scale = at_scale_bench.table(at_scale_bench.measure())
        rd = redis(work, seconds, args.quick)

        def ratio(a, b):
            return f"{a['rps'] / b['rps']:.2f}x" if b["rps"] else "-"

        rows = [
            ("select, 100-byte scroll, 500 tenants", sq["select"], "GET", rd["get"]),
            (f"select as above, default --workers ({os.cpu_count()}, one per core)",
             sq["select-all-cores"], "GET", rd["get"]),
            ("durable update, 100 bytes, 500 tenants", sq["update"], "SET (appendfsync always)", rd["set"]),
            ("90% select / 10% update, 500 tenants", sq["mix"], "GET", rd["get"]),
            ("toc of a 1,000-scroll phext (83 KB), 500 tenants", sq["toc"], "GET", rd["get"]),
            ("durable update on a 10 MB phext, 1 tenant", sq["big50"], "SET (appendfsync always)", rd["set"]),
        ]
        header = ("| SQ test (50 connections) | req/s | p50 ms | p99 ms | errors | Redis yardstick | Redis req/s | "
                  "Redis p50 ms | Redis p99 ms | SQ / Redis |\n|---|---|---|---|---|---|---|---|---|---|")
        lines = [header]
        for name, result, yard, redis_result in rows:
            lines.append(f"| {name} | {fmt(result)} | {yard} | {redis_result['rps']:,.0f} | "
                         f"{redis_result['p50']:.2f} | {redis_result['p99']:.2f} | {ratio(result, redis_result)} |")
        latency = (
            "| update latency, 1 connection | req/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n"
            f"| 10 KB phext (100 scrolls) | {fmt(sq['small1'])} |\n"
            f"| 10 MB phext (100,000 scrolls) | {fmt(sq['big1'])} |\n\n"
            f"p50 on 10 MB / p50 on 10 KB: {sq['big1']['p50'] / sq['small1']['p50']:.2f}x "
            f"(throughput ratio {sq['small1']['rps'] / sq['big1']['rps']:.2f}x)")
        table = "\n".join(lines)
        print(table)
        print()
        print(latency)
        print()
        print(stalled)
        print()
        print(idle)
        print()
        print(at_scale)
        if not args.no_write:
            write_report(table, latency, stalled, idle, at_scale, seconds, args.workers)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)


def write_report(table, latency, stalled, idle, at_scale, seconds, workers):
    path = os.path.join(ROOT, "docs", "BENCHMARKS.md")
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Benchmarks

Produced by `bench/run.sh` on {stamp}, on {machine()}. Every figure in a table comes from
the same run; the machine is shared and noisy, so compare ratios, not absolute numbers.

`bench/run.sh` builds the release binary, generates a 500-tenant config, seeds every tenant
with a 100-scroll `bench` document and a 1,000-scroll `toc` document (and the first tenant with
a 10 MB / 100,000-scroll `big` and a 10 KB `small` document), starts `sq host` on loopback with
the default settings (durable group commit, one info log line per request to a file) and
`--workers {workers}`, which leaves one core to the load generator, the share that Redis
(one thread) leaves it too. Then it drives the server with wrk (one client thread, as
redis-benchmark uses) for {seconds} s per test, rotating the tenant token on every request. Reads
are formatted once when wrk starts, so that wrk spends its time sending them. One row repeats
the select with the default of one worker per core. Redis (`redis-server --appendonly yes
--appendfsync always`) is measured in the same run with `redis-benchmark -c 50 -d 100` as the
yardstick. A toc answer is 83 KB, against 100 bytes for a GET.

## Throughput at 50 connections

{table}

## Update latency and document size

{latency}

## Memory with stalled readers

Sixty clients ask for the same 20 MB document (`get`) and read nothing, each with a 4 KiB
receive buffer, while `sq host --max-response-mb {STALLED_BUDGET_MB}` runs with its defaults
otherwise. RSS is read from `/proc` once all sixty answers are under way. The answers share
one rendering of the document, charged once to the response budget.

{stalled}

## Idle keep-alive connections

Each connection sends one `select`, reads the answer and stays open, as agents and editors
keep theirs. Between requests a connection holds no read or response buffer, and the state
of a request being served is allocated only while it is. nginx from Debian (one worker, no
master process, access log off) holds the same number, each having answered `GET /` with a
fixed body, as the yardstick. The 50,000 are spread over loopback source addresses (one
address has about 28,000 ports) and each is served a second request after all are held.

{idle}

## Tenants at scale

`bench/tenants.py`: a server with an admin token and no tenants. Sixteen clients, each on
its own keep-alive connection, create tenants through `POST /api/v2/admin/tenants` up to
1,000, 10,000 and 100,000; at each mark one client creates {at_scale_bench.SAMPLES} more, one after
another, for the latency. After the fold has written them all, the server restarts under a
1,024-file limit (`prlimit`), reloads once, and every tenant writes one document and reads
it back (16 clients). Every create and every write is durable before its answer.

{at_scale}
"""
    # Hand-written analysis below the tables survives a new run.
    notes = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if "\n## Notes" in old:
            notes = old[old.index("\n## Notes"):]
    with open(path, "w") as f:
        f.write(text + notes)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
