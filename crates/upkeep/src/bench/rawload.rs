//! A lean HTTP/1.1 load generator: pre-built request bytes written over keep-alive connections, answers
//! read just far enough to know their status and where they end. It runs on one thread of its own (a
//! current-thread runtime), so on a small machine it takes at most one core from the server it measures
//! and wakes no other threads, unlike a general-purpose client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the connections saw.
#[derive(Debug, Default)]
pub struct LoadResult {
    /// Milliseconds from sending to the end of each `2xx` answer.
    pub latencies_ms: Vec<f64>,
    /// Answers that were not `2xx`, and connection failures.
    pub refused: u64,
    pub elapsed: Duration,
}

/// `GET <path>` with the headers a cron job's `curl` would send, as bytes.
pub fn get_request(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: upkeep-bench\r\naccept: */*\r\n\r\n"
    )
    .into_bytes()
}

/// Send `requests` round-robin (connection `i` starts at request `i` and steps by `connections`) for
/// `duration`, one request at a time per connection, on a thread of its own.
pub fn run(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    if requests.is_empty() {
        bail!("no requests to send");
    }
    let thread = std::thread::Builder::new()
        .name("bench-load".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drive(addr, requests, connections.max(1), duration))
        })?;
    thread
        .join()
        .map_err(|_| anyhow::anyhow!("the load generator thread panicked"))?
}

async fn drive(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let started = Instant::now();
    let stop_at = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for (worker, stream) in streams.into_iter().enumerate() {
        let requests = requests.clone();
        // A current-thread runtime: every connection runs on this one thread.
        tasks.push(tokio::spawn(connection(
            stream,
            requests,
            worker,
            connections,
            stop_at,
        )));
    }
    let mut result = LoadResult::default();
    for task in tasks {
        let (mut latencies, refused) = task.await?;
        result.latencies_ms.append(&mut latencies);
        result.refused += refused;
    }
    result.elapsed = started.elapsed();
    Ok(result)
}

async fn connection(
    mut stream: TcpStream,
    requests: Arc<Vec<Vec<u8>>>,
    first: usize,
    step: usize,
    stop_at: Instant,
) -> (Vec<f64>, u64) {
    let mut latencies = Vec::new();
    let mut refused = 0u64;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut index = first;
    while Instant::now() < stop_at {
        let request = &requests[index % requests.len()];
        index += step;
        let sent = Instant::now();
        if stream.write_all(request).await.is_err() {
            refused += 1;
            break;
        }
        match read_answer(&mut stream, &mut buffer).await {
            Some(status) if (200..300).contains(&status) => {
                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            Some(_) => refused += 1,
            None => {
                refused += 1;
                break;
            }
        }
    }
    (latencies, refused)
}

/// Read one whole answer (headers and a `content-length` body); its status, or `None` when the connection
/// failed or the answer cannot be framed.
async fn read_answer(stream: &mut TcpStream, buffer: &mut [u8]) -> Option<u16> {
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            return None;
        }
        let read = stream.read(&mut buffer[filled..]).await.ok()?;
        if read == 0 {
            return None;
        }
        filled += read;
        let Some(head_end) = find(&buffer[..filled], b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
        let status = head.get(9..12)?.parse::<u16>().ok()?;
        let length = head
            .split("\r\n")
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let total = head_end + 4 + length;
        while filled < total {
            if filled == buffer.len() {
                return None;
            }
            let read = stream.read(&mut buffer[filled..]).await.ok()?;
            if read == 0 {
                return None;
            }
            filled += read;
        }
        return Some(status);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(find(b"HTTP/1.1 200 OK\r\n\r\nOK", b"\r\n\r\n"), Some(15));
        assert_eq!(find(b"HTTP/1.1 200 OK\r\n", b"\r\n\r\n"), None);
    }
}
