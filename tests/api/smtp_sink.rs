//! A minimal in-process SMTP server for tests: accepts messages, records them, and can be told
//! to refuse the next N with a temporary failure (451), or to hold the next N at the end of
//! DATA (unanswered, unrecorded) until the test releases them.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct SmtpSink {
    pub messages: Arc<Mutex<Vec<String>>>,
    fail_next: Arc<Mutex<usize>>,
    hold_next: Arc<Mutex<usize>>,
    /// Messages being held; a release adds permits.
    held: Arc<std::sync::atomic::AtomicUsize>,
    gate: Arc<tokio::sync::Semaphore>,
    pub port: u16,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            messages: Default::default(),
            fail_next: Default::default(),
            hold_next: Default::default(),
            held: Default::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(0)),
            port: listener.local_addr().unwrap().port(),
        };
        let state = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = state.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn fail_next(&self, n: usize) {
        *self.fail_next.lock().unwrap() = n;
    }

    /// Holds the next `n` messages at the end of DATA until [`SmtpSink::release`].
    pub fn hold_next(&self, n: usize) {
        *self.hold_next.lock().unwrap() = n;
    }

    /// How many messages are being held now.
    pub fn held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets every held message (and any later one due to be held) through.
    pub fn release(&self) {
        self.gate.add_permits(1_000);
    }

    /// The recorded messages' `To:` addresses, in order.
    pub fn recipients(&self) -> Vec<String> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter_map(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("To: "))
                    .map(str::to_string)
            })
            .collect()
    }

    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink ESMTP\r\n").await?;
        while let Some(line) = lines.next_line().await? {
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
            } else if upper.starts_with("HELO")
                || upper.starts_with("RSET")
                || upper.starts_with("NOOP")
            {
                write.write_all(b"250 ok\r\n").await?;
            } else if upper.starts_with("MAIL FROM") {
                let refuse = {
                    let mut n = self.fail_next.lock().unwrap();
                    if *n > 0 {
                        *n -= 1;
                        true
                    } else {
                        false
                    }
                };
                if refuse {
                    write.write_all(b"451 try again later\r\n").await?;
                } else {
                    write.write_all(b"250 ok\r\n").await?;
                }
            } else if upper.starts_with("RCPT TO") {
                write.write_all(b"250 ok\r\n").await?;
            } else if upper == "DATA" {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                let hold = {
                    let mut n = self.hold_next.lock().unwrap();
                    let hold = *n > 0;
                    *n = n.saturating_sub(1);
                    hold
                };
                if hold {
                    use std::sync::atomic::Ordering;
                    self.held.fetch_add(1, Ordering::SeqCst);
                    let permit = self.gate.acquire().await;
                    self.held.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
                self.messages.lock().unwrap().push(data);
                write.write_all(b"250 queued\r\n").await?;
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                write.write_all(b"502 not implemented\r\n").await?;
            }
        }
        Ok(())
    }
}
