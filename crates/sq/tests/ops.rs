//! The operations plane over HTTP: health, metrics, the admin API and its persistence,
//! quotas, rate limits, failed-login limits, the config watcher, hashed tokens.

mod common;

use std::path::Path;

use common::*;
use serde_json::{json, Value};

const ADMIN: &str = "admin-secret";

fn admin() -> [(&'static str, &'static str); 1] {
    [("Authorization", "Bearer admin-secret")]
}

fn as_(token: &str) -> [(&str, &str); 1] {
    [("Authorization", token)]
}

fn config_with(dir: &Path, tenants: Value) {
    let root = json!({"admin_key": ADMIN, "tenants": tenants});
    std::fs::write(
        dir.join("tenants.json"),
        serde_json::to_vec_pretty(&root).unwrap(),
    )
    .unwrap();
}

fn start(tenants: Value, extra: &[&str]) -> Server {
    let mut args = vec!["--config", "tenants.json"];
    args.extend_from_slice(extra);
    Server::start_with(|dir| config_with(dir, tenants), &args)
}

fn alice() -> Value {
    json!({"alice-token": {"name": "alice", "data_dir": "data/alice"}})
}

fn admin_post(s: &Server, path: &str, body: Value) -> Reply {
    s.request("POST", path, &admin(), Some(body.to_string().as_bytes()))
}

#[test]
fn health_needs_no_token() {
    let s = start(alice(), &[]);
    let reply = s.get("/health");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    assert_eq!(json_of(&reply), json!({"status": "ok", "tenants": 1}));
    let single = Server::start(&["--key", "k"]);
    assert_eq!(
        json_of(&single.get("/health")),
        json!({"status": "ok", "tenants": 1})
    );
}

/// One sample: metric name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Checks Prometheus text-format syntax and returns the samples.
fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut words = rest.splitn(3, ' ');
            let kind = words.next().unwrap();
            let name = words.next().unwrap_or_default();
            assert!(matches!(kind, "HELP" | "TYPE"), "comment {line:?}");
            assert!(name_ok(name), "metric name in {line:?}");
            if kind == "TYPE" {
                assert!(
                    matches!(words.next(), Some("counter" | "gauge" | "histogram")),
                    "{line:?}"
                );
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("labels in {line:?}"));
                let mut labels = Vec::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                    assert!(name_ok(&key), "label name in {line:?}");
                    assert_eq!(chars.next(), Some('"'), "{line:?}");
                    let mut value = String::new();
                    loop {
                        match chars.next() {
                            Some('\\') => value.push(chars.next().unwrap()),
                            Some('"') => break,
                            Some(c) => value.push(c),
                            None => panic!("unterminated label in {line:?}"),
                        }
                    }
                    labels.push((key, value));
                    match chars.next() {
                        Some(',') | None => {}
                        other => panic!("{other:?} after a label in {line:?}"),
                    }
                }
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), Vec::new()),
        };
        assert!(name_ok(&name), "metric name in {line:?}");
        samples.push((name, labels, value));
    }
    samples
}

#[test]
fn metrics_are_prometheus_text_behind_the_admin_token() {
    let s = start(
        json!({"alice-token": {"name": "al\"ice", "data_dir": "data/alice"}}),
        &[],
    );
    s.get("/metrics").expect(401, "Unauthorized");
    s.get_with("/metrics", &as_("alice-token"))
        .expect(401, "Unauthorized");
    for _ in 0..3 {
        s.get_with("/api/v2/update?c=1&s=x", &as_("alice-token"))
            .expect(200, "Updated 1 bytes");
    }
    s.get_with("/api/v2/select", &as_("wrong"))
        .expect(401, "Unauthorized");
    s.get_with("/api/v2/reload", &as_("alice-token"))
        .expect(404, "Not Found");
    let reply = s.get_with("/metrics", &admin());
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let samples = parse_prometheus(&reply.text());
    let find = |name: &str, labels: &[(&str, &str)]| {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        find(
            "sq_requests_total",
            &[("tenant", "al\"ice"), ("verb", "update"), ("status", "200")]
        ),
        Some(3.0)
    );
    // What a connection costs: its task stays small (the state of a request is boxed for
    // its duration), and the one asking holds a read buffer while it is served.
    let task = find("sq_connection_task_bytes", &[]).unwrap();
    assert!((256.0..4096.0).contains(&task), "{task}");
    assert!(find("sq_connection_buffer_bytes", &[]).unwrap() >= 1024.0);
    assert_eq!(find("sq_admin_changes_unfolded", &[]), Some(0.0));
    assert_eq!(
        find(
            "sq_requests_total",
            &[("tenant", "al\"ice"), ("verb", "reload"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert_eq!(
        find("sq_request_duration_seconds_count", &[("verb", "update")]),
        Some(3.0)
    );
    assert_eq!(
        find(
            "sq_request_duration_seconds_bucket",
            &[("verb", "update"), ("le", "+Inf")]
        ),
        Some(3.0)
    );
    assert_eq!(find("sq_tenants", &[]), Some(1.0));
    assert_eq!(find("sq_active_tenants", &[]), Some(1.0));
    assert!(find("sq_auth_failures_total", &[]).unwrap() >= 3.0);
    assert_eq!(find("sq_reloads_total", &[("result", "failed")]), Some(0.0));
}

#[test]
fn admin_refusals() {
    let s = start(alice(), &[]);
    for (headers, status) in [
        (&[][..], 401),
        (&[("Authorization", "Bearer wrong")][..], 401),
        (&[("Authorization", "alice-token")][..], 403),
    ] {
        let reply = s.get_with("/api/v2/admin/tenants", headers);
        assert_eq!(reply.status, status, "{headers:?}: {}", reply.text());
        assert!(json_of(&reply)["error"].is_string());
    }
    let several = s.get_with(
        "/api/v2/admin/tenants",
        &[
            ("X-SQ-API-Key", "alice-token"),
            ("Authorization", "Bearer admin-secret"),
        ],
    );
    assert_eq!(several.status, 400, "{}", several.text());
    assert_eq!(json_of(&several)["error"], "more than one credential");
    let metrics = s.get_with(
        "/metrics",
        &[
            ("Authorization", "wrong"),
            ("Authorization", "Bearer admin-secret"),
        ],
    );
    metrics.expect(400, "Bad Request: more than one credential");
    assert_eq!(s.get_with("/api/v2/admin/nothing", &admin()).status, 404);
    assert_eq!(
        s.request("PUT", "/api/v2/admin/tenants", &admin(), None)
            .status,
        405
    );
    assert_eq!(
        admin_post(&s, "/api/v2/admin/tenants", json!({"name": "../x"})).status,
        400
    );
    assert_eq!(
        admin_post(&s, "/api/v2/admin/tenants", json!({"nom": "x"})).status,
        400
    );
    assert_eq!(
        admin_post(&s, "/api/v2/admin/tenants", json!({"name": "alice"})).status,
        409
    );
    assert_eq!(
        admin_post(&s, "/api/v2/admin/tenants/bob/rotate", json!({})).status,
        404
    );
    let broken = s.request(
        "POST",
        "/api/v2/admin/tenants",
        &admin(),
        Some(b"{not json"),
    );
    assert_eq!(broken.status, 400);
    // Without an admin token configured, the admin API is closed.
    let open = Server::start_with(
        |dir| write_config(&dir.join("tenants.json"), None, &[("t", "a", "a")]),
        &["--config", "tenants.json"],
    );
    assert_eq!(
        open.get_with("/api/v2/admin/tenants", &as_("t")).status,
        403
    );
}

#[test]
fn the_tenant_lifecycle_persists_across_restarts() {
    let mut s = start(alice(), &[]);
    // Create.
    let created = admin_post(
        &s,
        "/api/v2/admin/tenants",
        json!({"name": "bob", "quota_mb": 1}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let created = json_of(&created);
    let bob = created["token"].as_str().unwrap().to_owned();
    assert!(bob.starts_with("pmb-v1-"));
    assert_eq!(created["name"], "bob");
    s.get_with("/api/v2/update?p=notes&c=1&s=bob+was+here", &as_(&bob))
        .expect(200, "Updated 12 bytes");

    // List and show: no tokens, storage and requests counted.
    let list = json_of(&s.get_with("/api/v2/admin/tenants", &admin()));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(!list.to_string().contains(&bob) && !list.to_string().contains("alice-token"));
    let shown = json_of(&s.get_with("/api/v2/admin/tenants/bob", &admin()));
    assert_eq!(shown["storage_bytes"], 12);
    assert_eq!(shown["requests"], 1);
    assert_eq!(shown["quota_mb"], 1.0);
    assert_eq!(shown["enabled"], true);
    assert!(shown["last_active"].as_u64().is_some());

    // Rotate without grace: the old token is refused at once.
    let rotated = json_of(&admin_post(
        &s,
        "/api/v2/admin/tenants/bob/rotate",
        json!({}),
    ));
    let bob2 = rotated["token"].as_str().unwrap().to_owned();
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&bob))
        .expect(401, "Unauthorized");
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&bob2))
        .expect(200, "bob was here");

    // Disable and enable.
    admin_post(&s, "/api/v2/admin/tenants/bob/disable", json!({}))
        .expect(200, r#"{"enabled":false,"name":"bob"}"#);
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&bob2))
        .expect(403, "Forbidden: tenant disabled");

    // Everything survives a restart, and the file holds no token in the clear.
    assert!(s.terminate().success());
    let file = std::fs::read_to_string(s.dir.join("tenants.json")).unwrap();
    for secret in [bob.as_str(), bob2.as_str(), "alice-token", ADMIN] {
        assert!(!file.contains(secret), "a token is stored in the clear");
    }
    let s2 = Server::start_in(&s.dir, &["--config", "tenants.json"]);
    s2.get_with("/api/v2/select?p=notes&c=1", &as_(&bob2))
        .expect(403, "Forbidden: tenant disabled");
    s2.get_with("/api/v2/version", &as_("alice-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    admin_post(&s2, "/api/v2/admin/tenants/bob/enable", json!({}))
        .expect(200, r#"{"enabled":true,"name":"bob"}"#);
    s2.get_with("/api/v2/select?p=notes&c=1", &as_(&bob2))
        .expect(200, "bob was here");

    // Delete: refused at once, data archived, never deleted.
    let deleted = s2.request("DELETE", "/api/v2/admin/tenants/bob", &admin(), None);
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    let archived = json_of(&deleted)["archived_to"]
        .as_str()
        .unwrap()
        .to_owned();
    s2.get_with("/api/v2/select?p=notes&c=1", &as_(&bob2))
        .expect(401, "Unauthorized");
    assert_eq!(
        std::fs::read(Path::new(&archived).join("notes.phext")).unwrap(),
        b"bob was here"
    );
    assert!(!s.dir.join("data/bob").exists());

    let audit = std::fs::read_to_string(s.dir.join("audit.log")).unwrap();
    let actions: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(actions, ["create", "rotate", "disable", "enable", "delete"]);
}

#[test]
fn rotation_with_grace_keeps_the_old_token_for_a_while() {
    let s = start(alice(), &[]);
    let rotated = json_of(&admin_post(
        &s,
        "/api/v2/admin/tenants/alice/rotate",
        json!({"grace_seconds": 2}),
    ));
    let new = rotated["token"].as_str().unwrap().to_owned();
    s.get_with("/api/v2/version", &as_("alice-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    s.get_with("/api/v2/version", &as_(&new))
        .expect(200, env!("CARGO_PKG_VERSION"));
    eventually(10, "the old token to expire", || {
        s.get_with("/api/v2/version", &as_("alice-token")).status == 401
    });
    s.get_with("/api/v2/version", &as_(&new))
        .expect(200, env!("CARGO_PKG_VERSION"));
}

#[test]
fn quotas_answer_507_and_write_nothing() {
    let s = start(
        json!([{"name": "q", "token": "q-token", "data_dir": "data/q", "quota_mb": 0.001}]),
        &[],
    );
    let big = "x".repeat(800);
    s.post("/api/v2/update?p=a&c=1", big.as_bytes())
        .expect(401, "Unauthorized");
    s.request(
        "POST",
        "/api/v2/update?p=a&c=1",
        &as_("q-token"),
        Some(big.as_bytes()),
    )
    .expect(200, "Updated 800 bytes");
    s.request(
        "POST",
        "/api/v2/insert?p=b&c=1",
        &as_("q-token"),
        Some(big.as_bytes()),
    )
    .expect(507, "Insufficient Storage: quota exceeded");
    s.get_with("/api/v2/select?p=b&c=1", &as_("q-token"))
        .expect(200, "");
    s.get_with("/api/v2/update?p=a&c=1&s=small", &as_("q-token"))
        .expect(200, "Updated 5 bytes");
    s.request(
        "POST",
        "/api/v2/insert?p=b&c=1",
        &as_("q-token"),
        Some(big.as_bytes()),
    )
    .expect(200, "Inserted 800 bytes");
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let s = start(
        json!({"slow-token": {"name": "slow", "data_dir": "data/slow", "rate_limit_rps": 2}}),
        &[],
    );
    let statuses: Vec<Reply> = (0..10)
        .map(|_| s.get_with("/api/v2/version", &as_("slow-token")))
        .collect();
    let limited: Vec<&Reply> = statuses.iter().filter(|r| r.status == 429).collect();
    assert!(
        !limited.is_empty(),
        "ten requests at once, two per second allowed"
    );
    assert_eq!(limited[0].text(), "Too Many Requests");
    assert!(
        limited[0]
            .header("Retry-After")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    eventually(10, "the budget to refill", || {
        s.get_with("/api/v2/version", &as_("slow-token")).status == 200
    });
}

#[test]
fn failed_logins_are_limited_per_address() {
    let s = start(alice(), &["--auth-failures-per-minute", "3"]);
    for _ in 0..3 {
        s.get_with("/api/v2/version", &as_("guess"))
            .expect(401, "Unauthorized");
    }
    let blocked = s.get_with("/api/v2/version", &as_("alice-token"));
    assert_eq!(
        blocked.status, 429,
        "even a right token waits once the address is over"
    );
    assert!(blocked.header("Retry-After").is_some());
    assert_eq!(s.get("/health").status, 200, "health is never limited");
}

#[test]
fn a_changed_config_file_is_picked_up_without_a_signal() {
    // Probing with the new token fails until the reload: do not let that block the address.
    let s = start(alice(), &["--auth-failures-per-minute", "0"]);
    let tenants = json!({"alice-token": {"name": "alice", "data_dir": "data/alice"},
                         "carol-token": {"name": "carol", "data_dir": "data/carol"}});
    config_with(&s.dir, tenants);
    eventually(20, "the watcher to reload", || {
        s.get_with("/api/v2/version", &as_("carol-token")).status == 200
    });
    // A broken file is refused and the running config stays.
    std::fs::write(s.dir.join("tenants.json"), b"{ broken").unwrap();
    eventually(20, "the watcher to refuse the broken file", || {
        let samples = s.get_with("/metrics", &admin()).text();
        samples
            .lines()
            .any(|l| l.starts_with("sq_reloads_total{result=\"failed\"}") && !l.ends_with(" 0"))
    });
    s.get_with("/api/v2/version", &as_("carol-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
}

#[test]
fn hashed_tokens_from_the_cli() {
    let temp = tempfile::tempdir().unwrap();
    let mut hash = sq_command(temp.path())
        .args(["tenants", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    hash.stdin
        .take()
        .unwrap()
        .write_all(b"dana-token\n")
        .unwrap();
    let digest = String::from_utf8(hash.wait_with_output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(digest.len(), 64);

    let router =
        json!({"tenants": [{"token": "erin-token", "port": 9001, "data_dir": "data/erin"}]});
    std::fs::write(temp.path().join("router.json"), router.to_string()).unwrap();
    let imported = sq_command(temp.path())
        .args(["tenants", "import", "router.json"])
        .output()
        .unwrap();
    assert!(imported.status.success());
    let mut converted: Value = serde_json::from_slice(&imported.stdout).unwrap();
    assert!(!converted.to_string().contains("erin-token"));
    converted["tenants"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "dana", "token_sha256": digest, "data_dir": "data/dana"}));
    std::fs::write(temp.path().join("tenants.json"), converted.to_string()).unwrap();
    let s = Server::start_in(temp.path(), &["--config", "tenants.json"]);
    s.get_with("/api/v2/update?c=1&s=d", &as_("dana-token"))
        .expect(200, "Updated 1 bytes");
    s.get_with("/api/v2/update?c=1&s=e", &as_("erin-token"))
        .expect(200, "Updated 1 bytes");
    s.get_with("/api/v2/select?c=1", &as_(&digest))
        .expect(401, "Unauthorized");
}

/// A tenant's directory may not lie inside another's, either way round: refused with a
/// message naming both, and nothing is created or changed.
#[test]
fn nested_data_directories_are_refused() {
    let s = start(alice(), &[]);
    let before = std::fs::read(s.dir.join("tenants.json")).unwrap();
    for (name, dir) in [("inner", "data/alice/inner"), ("outer", "data")] {
        let reply = admin_post(
            &s,
            "/api/v2/admin/tenants",
            json!({"name": name, "data_dir": dir}),
        );
        assert_eq!(reply.status, 400, "{}", reply.text());
        let error = json_of(&reply)["error"].as_str().unwrap().to_owned();
        assert!(
            error.contains("have nested data directories")
                && error.contains("'alice'")
                && error.contains(&format!("'{name}'")),
            "{error}"
        );
    }
    assert!(!s.dir.join("data/alice/inner").exists());
    assert_eq!(std::fs::read(s.dir.join("tenants.json")).unwrap(), before);
    s.get_with("/api/v2/update?c=1&s=still+here", &as_("alice-token"))
        .expect(200, "Updated 10 bytes");
}

fn create_token(s: &Server, name: &str) -> String {
    let created = admin_post(s, "/api/v2/admin/tenants", json!({ "name": name }));
    assert_eq!(created.status, 201, "{}", created.text());
    json_of(&created)["token"].as_str().unwrap().to_owned()
}

/// Create, write, delete, create again, write, delete again in the same second: both
/// archives are kept apart, and a tenant created afterwards starts empty.
#[test]
fn a_recreated_tenant_never_sees_a_former_tenants_data() {
    let s = start(alice(), &[]);
    let mut archives = Vec::new();
    for owner in ["FIRST-OWNER", "SECOND-OWNER"] {
        let token = create_token(&s, "churn");
        s.get_with("/api/v2/select?p=notes&c=1", &as_(&token))
            .expect(200, "");
        s.get_with(
            &format!("/api/v2/update?p=notes&c=1&s={owner}"),
            &as_(&token),
        )
        .expect(200, &format!("Updated {} bytes", owner.len()));
        let deleted = s.request("DELETE", "/api/v2/admin/tenants/churn", &admin(), None);
        assert_eq!(deleted.status, 200, "{}", deleted.text());
        archives.push(
            json_of(&deleted)["archived_to"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_ne!(archives[0], archives[1]);
    for (archive, owner) in archives.iter().zip(["FIRST-OWNER", "SECOND-OWNER"]) {
        assert_eq!(
            std::fs::read(Path::new(archive).join("notes.phext")).unwrap(),
            owner.as_bytes()
        );
    }
    let third = create_token(&s, "churn");
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&third))
        .expect(200, "");
    s.get_with("/api/v2/toc?p=notes", &as_(&third))
        .expect(200, "");
}

/// An archive that fails leaves the data in place; a new tenant of that name is refused
/// rather than handed the former tenant's files.
#[test]
fn a_failed_archive_is_never_adopted() {
    let s = start(alice(), &[]);
    let token = create_token(&s, "churn");
    s.get_with("/api/v2/update?p=notes&c=1&s=FORMER", &as_(&token))
        .expect(200, "Updated 6 bytes");
    // A file where the archive directory should be: the move cannot happen.
    std::fs::write(s.dir.join("archive"), b"in the way").unwrap();
    let deleted = s.request("DELETE", "/api/v2/admin/tenants/churn", &admin(), None);
    assert_eq!(deleted.status, 500, "{}", deleted.text());
    assert!(json_of(&deleted)["error"]
        .as_str()
        .unwrap()
        .contains("could not be archived and stays in place"));
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&token))
        .expect(401, "Unauthorized");

    let again = admin_post(&s, "/api/v2/admin/tenants", json!({"name": "churn"}));
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(json_of(&again)["error"]
        .as_str()
        .unwrap()
        .contains("already holds files"));
    assert_eq!(
        std::fs::read(s.dir.join("data/churn/notes.phext")).unwrap(),
        b"FORMER",
        "the former tenant's data stays where it was"
    );
    // Once the operator moves it away, the name can be used again, empty.
    std::fs::rename(s.dir.join("data/churn"), s.dir.join("kept-churn")).unwrap();
    let fresh = create_token(&s, "churn");
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&fresh))
        .expect(200, "");
}

/// A tenant removed by editing the config (not through the admin API) is let go of by the
/// store as well: a tenant created later at the same path starts from the files there,
/// never from the former tenant's documents still in memory.
#[test]
fn a_tenant_removed_by_reload_leaves_nothing_in_memory() {
    let s = start(
        json!({
            "alice-token": {"name": "alice", "data_dir": "data/alice"},
            "old-token": {"name": "old", "data_dir": "data/old"}
        }),
        &[],
    );
    s.get_with(
        "/api/v2/update?p=notes&c=1&s=FORMER+SECRET",
        &as_("old-token"),
    )
    .expect(200, "Updated 13 bytes");
    s.get_with("/api/v2/select?p=notes&c=1", &as_("old-token"))
        .expect(200, "FORMER SECRET");
    config_with(&s.dir, alice());
    s.request("POST", "/api/v2/reload", &admin(), Some(b""))
        .expect(200, "Reloaded 1 tenants");
    s.get_with("/api/v2/select?p=notes&c=1", &as_("old-token"))
        .expect(401, "Unauthorized");
    // The operator moves the former tenant's files away by hand; its logs were folded in.
    assert_eq!(
        std::fs::read(s.dir.join("data/old/notes.phext")).unwrap(),
        b"FORMER SECRET"
    );
    std::fs::rename(s.dir.join("data/old"), s.dir.join("kept-old")).unwrap();
    let token = create_token(&s, "old");
    s.get_with("/api/v2/select?p=notes&c=1", &as_(&token))
        .expect(200, "");
    s.get_with("/api/v2/toc?p=notes", &as_(&token))
        .expect(200, "");
}

/// The next page's target from a `Link: <…>; rel="next"` header.
fn next_page(reply: &Reply) -> Option<String> {
    let link = reply.header("Link")?;
    let target = link.strip_prefix('<')?.split_once(">; rel=\"next\"")?.0;
    Some(target.to_owned())
}

fn names_of(reply: &Reply) -> Vec<String> {
    json_of(reply)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_tenant_listing_comes_in_pages_that_visit_every_tenant_once() {
    let tenants: serde_json::Map<String, Value> = (0..7)
        .map(|i| {
            (
                format!("token-{i}"),
                json!({"name": format!("t{i}"), "data_dir": format!("data/t{i}")}),
            )
        })
        .chain([(
            "display-token".to_owned(),
            json!({"name": "Zoë's notes & more", "data_dir": "data/zoe"}),
        )])
        .collect();
    let s = start(Value::Object(tenants), &[]);
    let mut seen = Vec::new();
    let mut target = "/api/v2/admin/tenants?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let reply = s.get_with(&target, &admin());
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
        let names = names_of(&reply);
        assert!(names.len() <= 3, "{names:?}");
        seen.extend(names);
        pages += 1;
        if pages == 1 {
            // Created while paging: one after the cursor is visited, one before is not.
            for name in ["t0a", "zz"] {
                let created = admin_post(&s, "/api/v2/admin/tenants", json!({"name": name}));
                assert_eq!(created.status, 201, "{}", created.text());
            }
        }
        match next_page(&reply) {
            Some(next) => target = next,
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    expected.extend(["zz".into(), "Zoë's notes & more".into()]);
    expected.sort();
    assert_eq!(seen, expected, "every tenant once, in name order");
    assert_eq!(pages, 3);

    // Without a limit: one page of at most 1,000, no next link here.
    let all = s.get_with("/api/v2/admin/tenants", &admin());
    assert_eq!(names_of(&all).len(), 10);
    assert_eq!(all.header("Link"), None);
    for bad in ["limit=0", "limit=10001", "limit=ten", "limit=-1"] {
        let reply = s.get_with(&format!("/api/v2/admin/tenants?{bad}"), &admin());
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text());
        assert!(json_of(&reply)["error"].as_str().unwrap().contains("limit"));
    }
    // /health counts without listing.
    let health = json_of(&s.get_with("/health", &[]));
    assert_eq!(health["tenants"], 10);
}
