//! `-o FILE` of `snapshot`, `test`, `trace` and `gen` (cli/src/cmd/output_file.rs,
//! docs/build-output.md "Files routec writes with -o"): a new file, or one
//! the command wrote before, is written whole; another file, a symbolic
//! link or a folder is refused with exit 2 and left as it was.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn routec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_routec")).args(args).output().expect("routec runs")
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/mycluster").to_str().unwrap().to_string()
}

/// Each command with `-o`, as run with `FILE` for the file.
fn commands() -> Vec<(&'static str, Vec<String>)> {
    let ex = example();
    let args = |list: &[&str]| list.iter().map(|a| a.replace("EX", &ex)).collect::<Vec<_>>();
    vec![
        ("snapshot", args(&["snapshot", "EX", "-o"])),
        ("test junit", args(&["test", "EX", "--format", "junit", "-o"])),
        ("test json", args(&["test", "EX", "--format", "json", "-o"])),
        ("gen", args(&["gen", "--nodes", "2", "--pods-per-node", "2", "-o"])),
    ]
}

fn run(command: &[String], file: &Path) -> Output {
    let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
    args.push(file.to_str().unwrap());
    routec(&args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// What stays in the folder besides `keep`: no temporary file is left.
fn others(dir: &Path, keep: &[&str]) -> Vec<PathBuf> {
    let mut left: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !keep.iter().any(|k| p.file_name().unwrap() == *k))
        .collect();
    left.sort();
    left
}

#[test]
fn a_new_file_is_written_and_written_again() {
    for (name, command) in commands() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out");
        let first = run(&command, &file);
        assert_eq!(first.status.code(), Some(0), "{name}: {}", stderr(&first));
        let written = std::fs::read(&file).unwrap();
        assert!(!written.is_empty(), "{name}");
        let again = run(&command, &file);
        assert_eq!(again.status.code(), Some(0), "{name}: its own file is replaced: {}", stderr(&again));
        assert_eq!(std::fs::read(&file).unwrap(), written, "{name}");
        assert_eq!(others(dir.path(), &["out"]), Vec::<PathBuf>::new(), "{name}");
    }
}

#[test]
fn a_file_routec_did_not_write_is_left_untouched() {
    for (name, command) in commands() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "my own notes\n").unwrap();
        let out = run(&command, &file);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains("routec did not write it"), "{name}: {}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "my own notes\n", "{name}");
        assert_eq!(others(dir.path(), &["notes.txt"]), Vec::<PathBuf>::new(), "{name}");
    }
}

#[test]
fn another_commands_file_is_not_taken_for_ones_own() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("datapath.snap");
    assert!(run(&commands()[0].1, &snap).status.success());
    let before = std::fs::read(&snap).unwrap();
    for (name, command) in &commands()[1..] {
        assert_eq!(run(command, &snap).status.code(), Some(2), "{name} over a snapshot");
    }
    assert_eq!(std::fs::read(&snap).unwrap(), before);
    // A text report has no header: written to a new file only.
    let report = dir.path().join("report.txt");
    let text = |file: &Path| routec(&["test", &example(), "-o", file.to_str().unwrap()]);
    assert_eq!(text(&report).status.code(), Some(0));
    assert_eq!(text(&report).status.code(), Some(2), "a text report is not recognised");
}

#[test]
fn a_symbolic_link_is_refused_and_its_target_untouched() {
    for (name, command) in commands() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "elsewhere\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let out = run(&command, &link);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains("symbolic link"), "{name}: {}", stderr(&out));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "elsewhere\n", "{name}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "{name}");
        // A dangling link too: nothing is created where it points.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert_eq!(run(&command, &dangling).status.code(), Some(2), "{name}");
        assert!(!dir.path().join("nowhere").exists(), "{name}");
    }
}

#[test]
fn a_folder_is_refused() {
    for (name, command) in commands() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("inside"), "kept\n").unwrap();
        let out = run(&command, &folder);
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(stderr(&out).contains("not a regular file"), "{name}: {}", stderr(&out));
        assert_eq!(std::fs::read_to_string(folder.join("inside")).unwrap(), "kept\n", "{name}");
    }
}

#[test]
fn a_trace_svg_replaces_its_own_file_and_a_text_trace_only_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |file: &std::path::Path, format: &str| {
        routec(&["trace", "10.10.2.117", "10.10.1.155", &example(), "--format", format, "-o", file.to_str().unwrap()])
    };
    let svg = dir.path().join("trace.svg");
    assert_eq!(trace(&svg, "svg").status.code(), Some(0));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    let again = trace(&svg, "svg");
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));

    // An SVG routec did not draw, and a text trace (no header) already there.
    let foreign = dir.path().join("drawing.svg");
    std::fs::write(&foreign, "<svg xmlns=\"http://www.w3.org/2000/svg\">\n<title>mine</title>\n").unwrap();
    let refused = trace(&foreign, "svg");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(std::fs::read_to_string(&foreign).unwrap().contains("mine"));
    let text = dir.path().join("trace.txt");
    assert_eq!(trace(&text, "text").status.code(), Some(0));
    assert_eq!(trace(&text, "text").status.code(), Some(2));
}

#[test]
fn a_replaced_file_keeps_its_owner_and_a_long_name_works() {
    let dir = tempfile::tempdir().unwrap();
    // 250 bytes: a temporary name made from it would pass NAME_MAX.
    let file = dir.path().join("s".repeat(250));
    let (_, snapshot) = &commands()[0];
    let first = run(snapshot, &file);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let is_root = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if is_root.unwrap_or(false) {
        std::os::unix::fs::chown(&file, Some(1234), Some(4321)).unwrap();
        let again = run(snapshot, &file);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        let meta = std::fs::metadata(&file).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((meta.uid(), meta.gid()), (1234, 4321), "the owner stays");
    } else {
        eprintln!("owner check skipped: not root (chown needs it)");
    }
    assert_eq!(others(dir.path(), &[&"s".repeat(250)]), Vec::<PathBuf>::new());
}
