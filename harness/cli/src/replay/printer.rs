//! The full streamed replay's printer thread: formats the lines the
//! analysis hands over ([`Line`]) and writes them to stdout, so formatting
//! millions of lines overlaps analysing the next segments.

use super::line::{push_comment, push_segment, SegLine};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc::Receiver;

/// One line to print.
pub enum Line {
    /// A packet comment, at `rel_ns` seconds since the first frame.
    Comment { rel_ns: u64, text: Box<str> },
    /// A connection's first line: `#N client .. server ..`.
    Intro {
        conn: u64,
        client: SocketAddr,
        server: SocketAddr,
    },
    /// A segment's line; its port indexes the port names sent so far.
    Segment(SegLine<usize>),
}

/// Lines in order, and the port names first used in them.
#[derive(Default)]
pub struct Lines {
    pub ports: Vec<String>,
    pub lines: Vec<Line>,
}

/// How many bytes of lines are written at once.
const BUFFER: usize = 1 << 16;

/// Prints the column header, then every line received, to stdout; the
/// first write error ends it (the analysis goes on, and reports it).
/// Nothing is printed when nothing comes (a file that is no capture).
pub fn print_lines(rx: Receiver<Lines>) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    let mut buf: Vec<u8> = Vec::with_capacity(BUFFER + 4096);
    let mut ports: Vec<String> = Vec::new();
    let mut started = false;
    for batch in rx {
        if !started {
            started = true;
            buf.extend_from_slice(
                b"  frame, seconds since the first frame, connection, direction, tcpdump's flags\n",
            );
        }
        ports.extend(batch.ports);
        for l in batch.lines {
            match l {
                Line::Comment { rel_ns, text } => push_comment(&mut buf, rel_ns, &text),
                // Once per connection: format! is fine here.
                Line::Intro {
                    conn,
                    client,
                    server,
                } => buf.extend_from_slice(
                    format!("  #{conn} client {client} server {server}").as_bytes(),
                ),
                Line::Segment(s) => push_segment(&mut buf, &s.with_port(|p| ports[p].as_str())),
            }
            buf.push(b'\n');
            if buf.len() >= BUFFER {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
    }
    out.write_all(&buf)?;
    out.flush()
}
