//! Raw TCP/TLS probes that speak just enough RESP to read a server's exact
//! first answer (DP1, DP2), independent of any client library's handshake.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Largest CA bundle read.
const MAX_CA_BYTES: u64 = 4 << 20;
/// Longest reply line read from a probe.
const MAX_LINE: usize = 4096;

/// The TLS trust used for every data-plane connection.
#[derive(Clone)]
pub(crate) struct Tls {
    pub config: Arc<rustls::ClientConfig>,
    /// The CA file's PEM, for the Redis client (`None`: webpki roots).
    pub pem: Option<Vec<u8>>,
    /// What the certificates are verified against, for evidence.
    pub trust: String,
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Trust from `ca_file` (PEM), or Mozilla's roots (webpki-roots) without one.
pub(crate) fn tls_setup(ca_file: Option<&Path>) -> Result<Tls, String> {
    let mut roots = rustls::RootCertStore::empty();
    let (pem, trust) = match ca_file {
        Some(path) => {
            let meta =
                std::fs::metadata(path).map_err(|e| format!("CA file {}: {e}", path.display()))?;
            if meta.len() > MAX_CA_BYTES {
                return Err(format!(
                    "CA file {} is {} bytes: too large",
                    path.display(),
                    meta.len()
                ));
            }
            let bytes =
                std::fs::read(path).map_err(|e| format!("CA file {}: {e}", path.display()))?;
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(&bytes) {
                let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA file {}: {e}", path.display()))?;
                n += 1;
            }
            if n == 0 {
                return Err(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                ));
            }
            (Some(bytes), format!("the CA in {}", path.display()))
        }
        None => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            (None, "the public web PKI roots".to_string())
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Tls {
        config: Arc::new(config),
        pem,
        trust,
    })
}

/// TCP connect with a deadline.
pub(crate) async fn tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("{host}:{port}: {e}")),
        Err(_) => Err(format!(
            "{host}:{port}: no TCP connection within {timeout:?}"
        )),
    }
}

/// A verified TLS session, and "TLSv1.3 / CIPHER" for evidence.
pub(crate) async fn tls_connect(
    tls: &Tls,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<(TlsStream<TcpStream>, String), String> {
    let stream = tcp(host, port, timeout).await?;
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let s = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(format!("TLS handshake with {host}:{port} failed: {e}")),
        Err(_) => {
            return Err(format!(
                "TLS handshake with {host}:{port} timed out after {timeout:?}"
            ))
        }
    };
    let (_, conn) = s.get_ref();
    let proto = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "TLS".into());
    let suite = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))
        .unwrap_or_default();
    Ok((s, format!("{proto} {suite}").trim().to_string()))
}

/// The first line of a RESP reply (`+PONG`, `-NOAUTH ...`), bulk bodies skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A RESP reply line.
    Line(String),
    /// The peer closed, sent something that is not RESP, or went quiet.
    NoReply(String),
}

impl Reply {
    pub fn is_error_with(&self, prefixes: &[&str]) -> bool {
        matches!(self, Reply::Line(l) if l.starts_with('-') && prefixes.iter().any(|p| l[1..].starts_with(p)))
    }
    pub fn is_pong(&self) -> bool {
        matches!(self, Reply::Line(l) if l == "+PONG")
    }
    /// For evidence: the server's line (error text trimmed), or why none.
    pub fn show(&self) -> String {
        match self {
            Reply::Line(l) => {
                let l: String = l.chars().take(80).collect();
                format!("`{l}`")
            }
            Reply::NoReply(why) => why.clone(),
        }
    }
}

fn resp_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends one command and reads the first line of the reply.
pub(crate) async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    args: &[&[u8]],
    timeout: Duration,
) -> Reply {
    let fut = async {
        if let Err(e) = s.write_all(&resp_command(args)).await {
            return Reply::NoReply(format!("write failed: {e}"));
        }
        let _ = s.flush().await;
        read_line(s).await
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| Reply::NoReply(format!("no reply within {timeout:?}")))
}

async fn read_line<S: AsyncRead + Unpin>(s: &mut S) -> Reply {
    let mut line = Vec::new();
    loop {
        match s.read_u8().await {
            Ok(b'\n') if line.last() == Some(&b'\r') => {
                line.pop();
                break;
            }
            Ok(b) => {
                line.push(b);
                if line.len() > MAX_LINE {
                    return Reply::NoReply(format!(
                        "{MAX_LINE}+ bytes without a line end: not RESP"
                    ));
                }
                if line.len() == 1 && !b"+-:$*_#,(!=%~>|".contains(&b) {
                    return Reply::NoReply(format!("non-RESP data (first byte 0x{b:02x})"));
                }
            }
            Err(e) if line.is_empty() => {
                return Reply::NoReply(match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => {
                        "the server closed the connection".to_string()
                    }
                    _ => format!("the connection failed: {e}"),
                })
            }
            Err(e) => return Reply::NoReply(format!("the connection failed mid-reply: {e}")),
        }
    }
    Reply::Line(String::from_utf8_lossy(&line).into_owned())
}

/// What a plaintext client gets from a port.
pub(crate) async fn plaintext_ping(host: &str, port: u16, timeout: Duration) -> Reply {
    match tcp(host, port, timeout).await {
        Ok(mut s) => command(&mut s, &[b"PING"], timeout).await,
        Err(e) => Reply::NoReply(format!("connection refused or failed ({e})")),
    }
}

/// Largest control-endpoint answer read.
const MAX_HTTP_BYTES: usize = 1 << 20;

/// `GET path` over plain HTTP/1.0 on a loopback control endpoint, as JSON.
pub(crate) async fn http_get_json(
    host: &str,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let fut = async {
        let mut s = tcp(host, port, timeout).await?;
        let req =
            format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > MAX_HTTP_BYTES {
                return Err("answer too large".to_string());
            }
        }
        let split = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no HTTP header end")?;
        let head = String::from_utf8_lossy(&buf[..split]);
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status != "200" {
            return Err(format!("HTTP {status}"));
        }
        serde_json::from_slice(&buf[split + 4..]).map_err(|e| e.to_string())
    };
    tokio::time::timeout(timeout, fut)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

/// `http://HOST:PORT[/...]` → (host, port).
pub(crate) fn http_host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls() {
        assert_eq!(
            http_host_port("http://127.0.0.1:4566"),
            Some(("127.0.0.1".into(), 4566))
        );
        assert_eq!(
            http_host_port("http://127.0.0.1:4566/"),
            Some(("127.0.0.1".into(), 4566))
        );
        assert_eq!(http_host_port("https://x:1"), None);
        assert_eq!(http_host_port("http://x"), None);
    }

    #[test]
    fn resp_encoding() {
        assert_eq!(
            resp_command(&[b"AUTH", b"x"]),
            b"*2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n".to_vec()
        );
    }

    #[tokio::test]
    async fn reads_lines_and_rejects_non_resp() {
        let (mut a, mut b) = tokio::io::duplex(64);
        b.write_all(b"-NOAUTH Authentication required.\r\n")
            .await
            .unwrap();
        let r = command(&mut a, &[b"PING"], Duration::from_secs(1)).await;
        assert_eq!(r, Reply::Line("-NOAUTH Authentication required.".into()));
        assert!(r.is_error_with(&["NOAUTH"]));
        assert!(!r.is_pong());

        let (mut a, mut b) = tokio::io::duplex(64);
        b.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02]).await.unwrap();
        let r = command(&mut a, &[b"PING"], Duration::from_secs(1)).await;
        assert!(
            matches!(r, Reply::NoReply(ref m) if m.contains("0x15")),
            "{r:?}"
        );

        let (mut a, b) = tokio::io::duplex(64);
        drop(b);
        let r = command(&mut a, &[b"PING"], Duration::from_secs(1)).await;
        assert!(matches!(r, Reply::NoReply(_)));

        let (mut a, _b) = tokio::io::duplex(64);
        let r = command(&mut a, &[b"PING"], Duration::from_millis(50)).await;
        assert!(
            matches!(r, Reply::NoReply(ref m) if m.contains("no reply")),
            "{r:?}"
        );
    }

    #[test]
    fn ca_file_errors_are_named() {
        let err = tls_setup(Some(Path::new("/nonexistent/ca.crt")))
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent/ca.crt"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty.pem");
        std::fs::write(&p, "not a cert").unwrap();
        let err = tls_setup(Some(&p)).err().unwrap();
        assert!(err.contains("no PEM certificate"), "{err}");
        let ok = tls_setup(None).unwrap();
        assert!(ok.pem.is_none() && ok.trust.contains("web PKI"));
    }
}
