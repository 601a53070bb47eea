//! The trace SVG renders in a real browser: headless Chromium takes a
//! screenshot of route 2 of the reference cluster. Skips with a reason when
//! Chromium is not installed (`apt-get install -y chromium`), except under
//! CI=true, where .ci/run installs it and skipping is not allowed.

#[path = "data/trace/mycluster.rs"]
mod mycluster;

use std::process::Command;

use routec_compiler::trace::{render_svg, trace, Proto, Snapshot};

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[test]
fn route2_svg_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true needs chromium");
        eprintln!("skipping route2_svg_renders_in_headless_chromium: no chromium installed");
        return;
    };
    let view = Snapshot::from_cluster(&mycluster::mycluster());
    let t = trace(&view, "10.10.2.117", "10.10.1.155", Proto::Icmp, None, 64).unwrap();
    let svg = render_svg(&view, &t);
    // The window is the picture's own size, from the root element.
    let size = |name: &str| -> u32 {
        let start = svg.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        svg[start..].split('"').next().unwrap().parse().unwrap()
    };
    let (width, height) = (size("width"), size("height"));
    let dir = std::env::temp_dir().join(format!("routec-trace-chromium-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg_path, png_path) = (dir.join("route2.svg"), dir.join("route2.png"));
    std::fs::write(&svg_path, &svg).unwrap();
    let output = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("file://{}", svg_path.display()))
        .output()
        .unwrap();
    let png = std::fs::read(&png_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // A PNG of the requested size (IHDR width and height, big-endian).
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), width);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), height);
    // A blank page compresses to a few hundred bytes; the drawing does not.
    assert!(png.len() > 20_000, "the screenshot is nearly empty ({} bytes)", png.len());
}
