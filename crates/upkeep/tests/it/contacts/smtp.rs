//! A small SMTP server on 127.0.0.1 that refuses every login with 535, as a mail provider does when the
//! password is wrong (cut down from upkeep-notify's test server). It counts the AUTH attempts it saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct RefusingSmtp {
    pub port: u16,
    logins: Arc<AtomicUsize>,
}

impl RefusingSmtp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let logins = Arc::new(AtomicUsize::new(0));
        let counter = logins.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, counter.clone()));
            }
        });
        Self { port, logins }
    }

    pub fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }
}

async fn serve(stream: TcpStream, logins: Arc<AtomicUsize>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write
        .write_all(b"220 mail.test ESMTP ready\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let answer: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-mail.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            if upper.trim() == "AUTH PLAIN" {
                // The credentials come on the next line.
                let _ = write.write_all(b"334 \r\n").await;
                let mut credentials = String::new();
                let _ = lines.read_line(&mut credentials).await;
            }
            logins.fetch_add(1, Ordering::SeqCst);
            b"535 5.7.8 Authentication credentials invalid\r\n"
        } else if upper.starts_with("AUTH LOGIN") {
            for prompt in [&b"334 VXNlcm5hbWU6\r\n"[..], b"334 UGFzc3dvcmQ6\r\n"] {
                let _ = write.write_all(prompt).await;
                let mut answer = String::new();
                let _ = lines.read_line(&mut answer).await;
            }
            logins.fetch_add(1, Ordering::SeqCst);
            b"535 5.7.8 Authentication credentials invalid\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 2.0.0 Ok\r\n"
        } else {
            b"530 5.7.0 Authentication required\r\n"
        };
        if write.write_all(answer).await.is_err() {
            return;
        }
    }
}
