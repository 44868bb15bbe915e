//! A full disk, for real: a small ext4 image made and loop-mounted by the test. After a
//! kill -9 (or a clean stop) on a full disk the server starts again, serves every
//! acknowledged write, answers 507 to writes that do not fit, and takes writes again
//! once there is room, without a restart. Skipped, with a message, where the machine
//! cannot mount a loop device (no root, no loop driver).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// A loop-mounted ext4 filesystem, unmounted (and its image removed) on drop.
struct Mounted {
    point: PathBuf,
    _temp: tempfile::TempDir,
}

impl Mounted {
    /// Makes and mounts an ext4 image of `megabytes`, or says why it cannot.
    fn ext4(megabytes: u64) -> Result<Mounted, String> {
        let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = temp.path().join("disk.img");
        let point = temp.path().join("mnt");
        std::fs::create_dir(&point).map_err(|e| e.to_string())?;
        std::fs::File::create(&image)
            .and_then(|f| f.set_len(megabytes << 20))
            .map_err(|e| e.to_string())?;
        run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image))?;
        run(Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&point))?;
        Ok(Mounted { point, _temp: temp })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.point).status();
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Mounts a small filesystem, or prints why the test is skipped.
fn mount_or_skip(test: &str) -> Option<Mounted> {
    match Mounted::ext4(24) {
        Ok(mounted) => Some(mounted),
        Err(why) => {
            eprintln!("{test}: skipped, this machine cannot loop-mount an ext4 image: {why}");
            None
        }
    }
}

/// Fills the filesystem holding `dir` with one file until a write fails for lack of room.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler");
    let chunk = vec![0xa5u8; 64 * 1024];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(error) => panic!("filling the disk: {error}"),
        }
    }
    // Whatever still fits in a partial block.
    for size in [4096usize, 512, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

fn start(mounted: &Mounted) -> Server {
    Server::start_in(
        &mounted.point,
        &["--data-dir", "data", "--idle-checkpoint-secs", "0"],
    )
}

/// Writes some documents, fills the disk, checks that writes get 507.
fn write_then_fill(s: &Server) -> PathBuf {
    for i in 1..=20 {
        s.post(
            &format!("/api/v2/update?p=doc{}&c={i}", i % 3),
            format!("acknowledged {i} ").repeat(200).as_bytes(),
        )
        .expect(
            200,
            &format!("Updated {} bytes", format!("acknowledged {i} ").len() * 200),
        );
    }
    let filler = fill(&s.dir);
    let refused = s.post("/api/v2/update?p=doc1&c=99", &vec![b'x'; 256 * 1024]);
    refused.expect(507, "Insufficient Storage");
    filler
}

fn check_acknowledged(s: &Server) {
    for i in 1..=20 {
        s.get(&format!("/api/v2/select?p=doc{}&c={i}", i % 3))
            .expect(200, &format!("acknowledged {i} ").repeat(200));
    }
    s.get("/api/v2/select?p=doc1&c=99").expect(200, "");
}

fn room_again(s: &Server, filler: &Path) {
    s.post("/api/v2/update?p=doc1&c=99", &vec![b'x'; 256 * 1024])
        .expect(507, "Insufficient Storage");
    std::fs::remove_file(filler).expect("remove the filler");
    s.post("/api/v2/update?p=doc1&c=99", b"room again")
        .expect(200, "Updated 10 bytes");
    s.get("/api/v2/select?p=doc1&c=99")
        .expect(200, "room again");
}

#[test]
fn a_server_killed_on_a_full_disk_starts_again() {
    let Some(mounted) = mount_or_skip("a_server_killed_on_a_full_disk_starts_again") else {
        return;
    };
    let mut first = start(&mounted);
    let filler = write_then_fill(&first);
    first.kill();
    let second = start(&mounted);
    check_acknowledged(&second);
    room_again(&second, &filler);
}

#[test]
fn a_server_stopped_on_a_full_disk_starts_again() {
    let Some(mounted) = mount_or_skip("a_server_stopped_on_a_full_disk_starts_again") else {
        return;
    };
    let mut first = start(&mounted);
    let filler = write_then_fill(&first);
    // The checkpoints of a clean stop find no room; the logs keep every write.
    assert!(first.terminate().success());
    let second = start(&mounted);
    check_acknowledged(&second);
    room_again(&second, &filler);
}
