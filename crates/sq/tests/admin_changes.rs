//! Admin changes are durable before the reply, decided one at a time, and combine with
//! hand edits of the config file by the documented rule: a reload replays the admin
//! changes the file lacks, and a tenant changed both ways is a conflict that refuses it.

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

fn start() -> Server {
    Server::start_with(
        |dir| {
            let root = json!({"admin_key": ADMIN, "tenants": {
                "alice-token": {"name": "alice", "data_dir": "data/alice"}}});
            std::fs::write(dir.join("tenants.json"), root.to_string()).unwrap();
        },
        &["--config", "tenants.json"],
    )
}

fn create(s: &Server, name: &str) -> Reply {
    let body = json!({ "name": name }).to_string();
    s.request(
        "POST",
        "/api/v2/admin/tenants",
        &admin(),
        Some(body.as_bytes()),
    )
}

fn token_of(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.text());
    json_of(reply)["token"].as_str().unwrap().to_owned()
}

fn config_file(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("tenants.json")).unwrap()).unwrap()
}

fn names_in(config: &Value) -> Vec<String> {
    let mut names: Vec<String> = config["tenants"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_create_acknowledged_just_before_kill_9_is_there_after_restart() {
    let mut s = start();
    let token = token_of(&create(&s, "bob"));
    s.get_with("/api/v2/update?p=notes&c=1&s=kept", &as_(&token))
        .expect(200, "Updated 4 bytes");
    // No fold has had time to run: the change log alone carries the tenant.
    s.kill();
    let s2 = Server::start_in(&s.dir, &["--config", "tenants.json"]);
    s2.get_with("/api/v2/select?p=notes&c=1", &as_(&token))
        .expect(200, "kept");
    s2.get_with("/api/v2/version", &as_("alice-token"))
        .expect(200, env!("CARGO_PKG_VERSION"));
    // The file catches up by itself, with no token in the clear.
    eventually(20, "the change to be folded into the file", || {
        names_in(&config_file(&s.dir)) == ["alice", "bob"]
    });
    let text = std::fs::read_to_string(s.dir.join("tenants.json")).unwrap();
    assert!(!text.contains(&token) && !text.contains("alice-token") && !text.contains(ADMIN));
    assert!(config_file(&s.dir)["generation"].as_u64() >= Some(1));
}

#[test]
fn concurrent_creates_of_one_name_give_exactly_one_201() {
    let s = start();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| scope.spawn(|| create(&s, "same").status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|&&st| st == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&st| st == 409).count(),
        15,
        "{statuses:?}"
    );
    let listed = json_of(&s.get_with("/api/v2/admin/tenants", &admin()));
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "same"]);
}

#[test]
fn hand_edits_and_admin_changes_combine_and_a_conflict_refuses_the_reload() {
    let s = start();
    let path = s.dir.join("tenants.json");
    // The operator opens the file; meanwhile the admin API creates bob.
    let opened = config_file(&s.dir);
    let bob = token_of(&create(&s, "bob"));
    // The operator adds carol by hand to the copy they opened, and reloads.
    let mut edited = opened.clone();
    edited["tenants"]["carol-token"] = json!({"name": "carol", "data_dir": "data/carol"});
    std::fs::write(&path, edited.to_string()).unwrap();
    let reply = s.request("POST", "/api/v2/reload", &admin(), Some(b""));
    assert_eq!(reply.status, 200, "{}", reply.text());
    for token in [bob.as_str(), "carol-token", "alice-token"] {
        s.get_with("/api/v2/version", &as_(token))
            .expect(200, env!("CARGO_PKG_VERSION"));
    }
    eventually(20, "the file to hold both changes", || {
        names_in(&config_file(&s.dir)) == ["alice", "bob", "carol"]
    });

    // Now the operator edits carol's quota in the file as it is, while the admin API
    // disables carol: both changed one tenant, so the reload is refused and says which.
    let mut stale = config_file(&s.dir);
    s.request(
        "POST",
        "/api/v2/admin/tenants/carol/disable",
        &admin(),
        Some(b"{}"),
    )
    .expect(200, r#"{"enabled":false,"name":"carol"}"#);
    for entry in stale["tenants"].as_array_mut().unwrap() {
        if entry["name"] == "carol" {
            entry["quota_mb"] = json!(5);
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&stale).unwrap()).unwrap();
    let reply = s.request("POST", "/api/v2/reload", &admin(), Some(b""));
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert!(
        reply.text().contains("tenant 'carol'") && reply.text().contains("disable"),
        "{}",
        reply.text()
    );
    // Nothing changed: carol stays disabled, the hand edit stays in the file unwritten
    // over, and admin changes go on.
    s.get_with("/api/v2/version", &as_("carol-token"))
        .expect(403, "Forbidden: tenant disabled");
    let dave = token_of(&create(&s, "dave"));
    s.get_with("/api/v2/version", &as_(&dave))
        .expect(200, env!("CARGO_PKG_VERSION"));
    eventually(
        20,
        "the fold to notice the hand edit and stand down",
        || {
            let metrics = s.get_with("/metrics", &admin()).text();
            metrics.lines().any(|l| l == "sq_config_edited_by_hand 1")
                && metrics.lines().any(|l| l == "sq_admin_changes_unfolded 2")
        },
    );
    assert_eq!(
        config_file(&s.dir),
        stale,
        "the fold never overwrites a hand edit"
    );

    // Undoing the hand edit of carol resolves it: every admin change is still there.
    for entry in stale["tenants"].as_array_mut().unwrap() {
        if entry["name"] == "carol" {
            entry.as_object_mut().unwrap().remove("quota_mb");
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&stale).unwrap()).unwrap();
    let reply = s.request("POST", "/api/v2/reload", &admin(), Some(b""));
    assert_eq!(reply.status, 200, "{}", reply.text());
    s.get_with("/api/v2/version", &as_("carol-token"))
        .expect(403, "Forbidden: tenant disabled");
    s.get_with("/api/v2/version", &as_(&dave))
        .expect(200, env!("CARGO_PKG_VERSION"));
    eventually(20, "the file to catch up", || {
        names_in(&config_file(&s.dir)) == ["alice", "bob", "carol", "dave"]
    });
}

#[test]
fn a_refused_reload_creates_nothing() {
    let s = start();
    let root = json!({"admin_key": ADMIN, "tenants": {
        "alice-token": {"name": "alice", "data_dir": "data/alice"},
        "new-token": {"name": "new", "data_dir": "fresh/new"},
        "other-token": {"name": "other", "data_dir": "data/alice"}}});
    std::fs::write(s.dir.join("tenants.json"), root.to_string()).unwrap();
    let reply = s.request("POST", "/api/v2/reload", &admin(), Some(b""));
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert!(
        reply.text().contains("share the data directory"),
        "{}",
        reply.text()
    );
    assert!(
        !s.dir.join("fresh").exists(),
        "a refused file created a directory"
    );
    assert!(
        !s.dir.join("tenants.json.changes").exists() || {
            std::fs::read(s.dir.join("tenants.json.changes"))
                .unwrap()
                .is_empty()
        }
    );
    s.get_with("/api/v2/version", &as_("new-token"))
        .expect(401, "Unauthorized");
}
