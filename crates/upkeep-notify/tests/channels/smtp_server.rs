//! A small SMTP server on 127.0.0.1 for the email tests: greeting, EHLO (advertising AUTH PLAIN LOGIN),
//! AUTH PLAIN/LOGIN (accepting, or refusing with 535), MAIL FROM, RCPT TO, DATA, QUIT. It records each
//! session as the commands arrive, before it answers, so a test sees everything once the client returns.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Accept,
    Refuse,
}

/// One SMTP session as the server saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    pub ehlo: Vec<String>,
    /// (username, password) the client logged in with.
    pub login: Option<(String, String)>,
    pub mail_from: Option<String>,
    pub rcpt_to: Vec<String>,
    /// The message as sent after DATA, dot-unstuffed, without the final `.` line.
    pub data: Option<String>,
    pub quit: bool,
}

pub struct SmtpServer {
    pub port: u16,
    sessions: Arc<Mutex<Vec<Session>>>,
}

impl SmtpServer {
    pub async fn start(auth: Auth) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let shared = sessions.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut all = shared.lock().unwrap();
                    all.push(Session::default());
                    all.len() - 1
                };
                tokio::spawn(serve(stream, auth, shared.clone(), index));
            }
        });
        Self { port, sessions }
    }

    pub fn sessions(&self) -> Vec<Session> {
        self.sessions.lock().unwrap().clone()
    }

    pub fn only_session(&self) -> Session {
        let sessions = self.sessions();
        assert_eq!(sessions.len(), 1, "{sessions:#?}");
        sessions.into_iter().next().unwrap()
    }
}

fn decode(text: &str) -> String {
    String::from_utf8(STANDARD.decode(text.trim()).unwrap()).unwrap()
}

async fn serve(stream: TcpStream, auth: Auth, sessions: Arc<Mutex<Vec<Session>>>, index: usize) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let record = |change: &dyn Fn(&mut Session)| change(&mut sessions.lock().unwrap()[index]);
    write
        .write_all(b"220 mail.test ESMTP ready\r\n")
        .await
        .unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            record(&|s| s.ehlo.push(command.clone()));
            "250-mail.test\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
                .to_string()
        } else if upper.starts_with("AUTH PLAIN") {
            let initial = command["AUTH PLAIN".len()..].trim().to_string();
            let encoded = if initial.is_empty() {
                write.write_all(b"334 \r\n").await.unwrap();
                let mut next = String::new();
                lines.read_line(&mut next).await.unwrap();
                next
            } else {
                initial
            };
            let plain = decode(&encoded);
            let mut parts = plain.split('\0').skip(1);
            let user = parts.next().unwrap_or_default().to_string();
            let pass = parts.next().unwrap_or_default().to_string();
            record(&|s| s.login = Some((user.clone(), pass.clone())));
            auth_answer(auth)
        } else if upper.starts_with("AUTH LOGIN") {
            write.write_all(b"334 VXNlcm5hbWU6\r\n").await.unwrap();
            let mut user = String::new();
            lines.read_line(&mut user).await.unwrap();
            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await.unwrap();
            let mut pass = String::new();
            lines.read_line(&mut pass).await.unwrap();
            let (user, pass) = (decode(&user), decode(&pass));
            record(&|s| s.login = Some((user.clone(), pass.clone())));
            auth_answer(auth)
        } else if upper.starts_with("MAIL FROM:") {
            let from = address(&command["MAIL FROM:".len()..]);
            record(&|s| s.mail_from = Some(from.clone()));
            "250 2.1.0 Ok\r\n".to_string()
        } else if upper.starts_with("RCPT TO:") {
            let to = address(&command["RCPT TO:".len()..]);
            record(&|s| s.rcpt_to.push(to.clone()));
            "250 2.1.5 Ok\r\n".to_string()
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await
                .unwrap();
            let mut data = String::new();
            loop {
                let mut next = String::new();
                if lines.read_line(&mut next).await.unwrap_or(0) == 0 {
                    return;
                }
                if next == ".\r\n" {
                    break;
                }
                let unstuffed = next.strip_prefix('.').unwrap_or(&next);
                data.push_str(unstuffed);
            }
            // The CRLF before the final `.` belongs to the terminator.
            let data = data.strip_suffix("\r\n").unwrap_or(&data).to_string();
            record(&|s| s.data = Some(data.clone()));
            "250 2.0.0 Ok: queued as TEST1\r\n".to_string()
        } else if upper == "QUIT" {
            record(&|s| s.quit = true);
            let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 Ok\r\n".to_string()
        } else {
            "502 5.5.2 Error: command not recognized\r\n".to_string()
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn auth_answer(auth: Auth) -> String {
    match auth {
        Auth::Accept => "235 2.7.0 Authentication successful\r\n".to_string(),
        Auth::Refuse => "535 5.7.8 Authentication credentials invalid\r\n".to_string(),
    }
}

/// `<ana@example.com> SIZE=123` → `ana@example.com`.
fn address(rest: &str) -> String {
    let rest = rest.trim();
    let end = rest.find('>').map_or(rest.len(), |i| i + 1);
    rest[..end]
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}
