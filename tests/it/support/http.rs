//! The server side of a scripted HTTP/1.1 exchange, for tests that put the
//! CLI in front of a fake daemon: reads one request off a connection.
#![allow(dead_code)]

use std::io::BufRead;

/// Reads one request: its head (request line, headers, blank line) and its
/// body (`content-length` bytes). `None` when the peer closed the connection.
pub fn read_request(reader: &mut impl BufRead) -> Option<(String, String)> {
    let mut head = String::new();
    if reader.read_line(&mut head).unwrap_or(0) == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        head.push_str(&line);
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Some((head, String::from_utf8(body).unwrap()))
}
