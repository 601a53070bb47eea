//! Shared by runtime/tests/lab_reconcile.rs and (through `#[path]`)
//! cli/tests/lab_cli.rs: the `ip` processes a killed lab command may leave.

/// Live `ip` processes whose parent is `parent`.
pub fn ip_children(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((comm, rest)) = stat.split_once(") ") else { continue };
        let mut fields = rest.split_whitespace();
        let (state, ppid) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        if comm.ends_with("(ip") && ppid == parent.to_string() && state != "Z" {
            found.extend(entry.file_name().to_string_lossy().parse::<u32>());
        }
    }
    found
}
