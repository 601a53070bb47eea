//! `/metrics` and `/healthz` on `--listen`, with tiny_http: synchronous, a
//! few small dependencies, no async runtime. The agent serves one scraper
//! and one kubelet, a handful of requests a minute, so a thread answering
//! them in turn is all it needs; an async stack (hyper, tokio) would be most
//! of the binary for nothing.
//!
//! With `--netns`, the socket is made inside the node's namespace (a socket
//! keeps the namespace it was made in), so the node's address serves it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use routec_runtime::{netns, Error, Result};
use tiny_http::{Header, Response, Server};

use crate::health::Health;
use crate::metrics::Metrics;

/// Binds `listen` (in `netns`) and answers requests on a thread of its own.
pub fn serve(
    listen: SocketAddr,
    netns: Option<&Path>,
    health: Arc<Mutex<Health>>,
    metrics: Arc<Metrics>,
) -> Result<SocketAddr> {
    let server = netns::run_in(netns, || {
        Server::http(listen).map_err(|e| std::io::Error::other(format!("cannot listen on {listen}: {e}")))
    })
    .map_err(|e| Error::msg(e.to_string()))?;
    let bound = server.server_addr().to_ip().unwrap_or(listen);
    std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let response = answer(request.url(), accept(&request).as_deref(), &health, &metrics);
                // A client that went away is no concern of the agent.
                let _ = request.respond(response);
            }
        })
        .map_err(|e| Error::msg(format!("cannot start the HTTP thread: {e}")))?;
    Ok(bound)
}

fn accept(request: &tiny_http::Request) -> Option<String> {
    request.headers().iter().find(|h| h.field.equiv("Accept")).map(|h| h.value.to_string())
}

fn answer(
    url: &str,
    accept: Option<&str>,
    health: &Mutex<Health>,
    metrics: &Metrics,
) -> Response<std::io::Cursor<Vec<u8>>> {
    let path = url.split('?').next().unwrap_or(url);
    let (status, content_type, body) = match path {
        "/metrics" => {
            let (content_type, body) = metrics.encode(accept);
            (200, content_type, body)
        }
        "/healthz" => match health.lock().expect("health lock").verdict() {
            Ok(text) => (200, "text/plain; charset=utf-8", format!("ok: {text}\n")),
            Err(reason) => (503, "text/plain; charset=utf-8", format!("unhealthy: {reason}\n")),
        },
        _ => (404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n".to_string()),
    };
    let header = Header::from_bytes("Content-Type", content_type).expect("a valid header");
    Response::from_data(body.into_bytes()).with_status_code(status).with_header(header)
}
