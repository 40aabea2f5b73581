//! Telnet over one reassembled connection (RFC 854, option negotiation RFC 855, terminal type
//! RFC 1091): one `Telnet` record per session with every DO/DONT/WILL/WONT and who sent it, the
//! terminal type the client announced, the login prompt exchange and the lines the client typed.
//!
//! Each direction is read byte by byte through the IAC state machine ([`Reader`]); data bytes of
//! the client are edited into lines (backspace and DEL remove the last character; CR LF, CR NUL
//! and LF end a line), data bytes of the server keep only its current line, which is the prompt
//! a client line answers. The server's echo of what the client types is in the server's
//! direction only, so the client's lines never contain it. Memory is bounded: at most
//! [`MAX_NEGOTIATIONS`] negotiations, [`MAX_LINES`] lines of at most [`MAX_LINE`] bytes, and
//! subnegotiations of at most [`MAX_SB`] bytes are kept.

use crate::{Ctx, T_TELNET};
use netcap_proto::v1;
use netcap_sdk::{Dir, Emitter};

/// The Telnet port.
pub const PORT: u16 = 23;
/// Most option negotiations kept per session.
pub const MAX_NEGOTIATIONS: usize = 256;
/// Most client lines kept per session.
pub const MAX_LINES: usize = 1024;
/// Longest client line kept (longer lines are cut).
pub const MAX_LINE: usize = 1024;
/// Longest subnegotiation read (longer ones are skipped).
pub const MAX_SB: usize = 512;
/// Longest server line kept as a possible prompt.
const MAX_PROMPT: usize = 256;

const IAC: u8 = 255;
const SB: u8 = 250;
const SE: u8 = 240;
const TERMINAL_TYPE: u8 = 24;

/// The name of a Telnet option (IANA's Telnet option registry, Wireshark's spelling).
pub fn option_name(o: u8) -> &'static str {
    match o {
        0 => "Binary Transmission",
        1 => "Echo",
        2 => "Reconnection",
        3 => "Suppress Go Ahead",
        4 => "Approx Message Size Negotiation",
        5 => "Status",
        6 => "Timing Mark",
        7 => "Remote Controlled Trans and Echo",
        8 => "Output Line Width",
        9 => "Output Page Size",
        10 => "Output Carriage-Return Disposition",
        11 => "Output Horizontal Tab Stops",
        12 => "Output Horizontal Tab Disposition",
        13 => "Output Formfeed Disposition",
        14 => "Output Vertical Tabstops",
        15 => "Output Vertical Tab Disposition",
        16 => "Output Linefeed Disposition",
        17 => "Extended ASCII",
        18 => "Logout",
        19 => "Byte Macro",
        20 => "Data Entry Terminal",
        21 => "SUPDUP",
        22 => "SUPDUP Output",
        23 => "Send Location",
        24 => "Terminal Type",
        25 => "End of Record",
        26 => "TACACS User Identification",
        27 => "Output Marking",
        28 => "Terminal Location Number",
        29 => "Telnet 3270 Regime",
        30 => "X.3 PAD",
        31 => "Negotiate About Window Size",
        32 => "Terminal Speed",
        33 => "Remote Flow Control",
        34 => "Linemode",
        35 => "X Display Location",
        36 => "Environment Option",
        37 => "Authentication Option",
        38 => "Encryption Option",
        39 => "New Environment Option",
        40 => "TN3270E",
        41 => "XAUTH",
        42 => "CHARSET",
        43 => "Remote Serial Port",
        44 => "Com Port Control Option",
        45 => "Telnet Suppress Local Echo",
        46 => "Telnet Start TLS",
        47 => "KERMIT",
        48 => "SEND-URL",
        49 => "FORWARD_X",
        255 => "Extended-Options-List",
        _ => "",
    }
}

/// What the byte reader of one direction is in.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum State {
    #[default]
    Data,
    /// After IAC.
    Iac,
    /// After IAC and DO/DONT/WILL/WONT (the command byte).
    Verb(u8),
    /// Inside a subnegotiation.
    Sb,
    /// IAC inside a subnegotiation.
    SbIac,
}

/// One direction's IAC state machine.
#[derive(Default)]
struct Reader {
    state: State,
    sb: Vec<u8>,
    sb_long: bool,
    /// The last data byte was CR (a following LF or NUL belongs to it).
    cr: bool,
}

/// What one byte of a direction is.
enum Event {
    Data(u8),
    Negotiation(u8, u8),
    Sub,
    None,
}

impl Reader {
    fn byte(&mut self, c: u8) -> Event {
        match self.state {
            State::Data if c == IAC => self.state = State::Iac,
            State::Data => return Event::Data(c),
            State::Iac => {
                self.state = State::Data;
                match c {
                    IAC => return Event::Data(IAC),
                    251..=254 => self.state = State::Verb(c),
                    SB => {
                        self.state = State::Sb;
                        self.sb.clear();
                        self.sb_long = false;
                    }
                    _ => {}
                }
            }
            State::Verb(v) => {
                self.state = State::Data;
                return Event::Negotiation(v, c);
            }
            State::Sb if c == IAC => self.state = State::SbIac,
            State::Sb => self.sb_push(c),
            State::SbIac => match c {
                SE => {
                    self.state = State::Data;
                    return Event::Sub;
                }
                IAC => {
                    self.state = State::Sb;
                    self.sb_push(IAC);
                }
                // An IAC command inside a subnegotiation: the subnegotiation was not ended.
                _ => self.state = State::Data,
            },
        }
        Event::None
    }

    fn sb_push(&mut self, c: u8) {
        if self.sb.len() < MAX_SB {
            self.sb.push(c);
        } else {
            self.sb_long = true;
        }
    }
}

/// Per-connection Telnet state.
#[derive(Default)]
pub struct Conn {
    rec: v1::Telnet,
    started: bool,
    readers: [Reader; 2],
    /// The client line being typed, and the server line it answers (snapshot at its first byte).
    line: Vec<u8>,
    line_prompt: Option<String>,
    /// The server's current (unfinished) line.
    server_line: Vec<u8>,
    /// The host's client is the Telnet server (the capture began after the connection did).
    swap: bool,
}

impl Conn {
    /// A connection whose host client is the Telnet server.
    pub fn swapped() -> Self {
        Conn { swap: true, ..Conn::default() }
    }

    /// The Telnet role of a host direction.
    fn role(&self, dir: Dir) -> Dir {
        match (self.swap, dir) {
            (false, d) => d,
            (true, Dir::ToServer) => Dir::ToClient,
            (true, Dir::ToClient) => Dir::ToServer,
        }
    }

    /// Bytes of one direction.
    pub fn data(&mut self, dir: Dir, b: &[u8], cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        let dir = self.role(dir);
        if !self.started {
            self.started = true;
            self.rec.timestamp = cx.meta.ts_nanos;
            (self.rec.src_port, self.rec.dst_port) =
                cx.endpoints(self.role(Dir::ToServer), &mut self.rec.src_ip, &mut self.rec.dst_ip);
            self.rec.tunnel_depth = u32::from(cx.info.tunnel_depth);
        }
        let i = usize::from(dir == Dir::ToClient);
        for &c in b {
            match self.readers[i].byte(c) {
                Event::Data(d) => match dir {
                    Dir::ToServer => self.client_byte(d),
                    Dir::ToClient => self.server_byte(d),
                },
                Event::Negotiation(v, o) => self.negotiation(dir, v, o, out),
                Event::Sub => self.subnegotiation(dir, out),
                Event::None => {}
            }
        }
    }

    /// Bytes of a direction were lost: the line in progress and the IAC state are given up.
    pub fn gap(&mut self, dir: Dir, out: &mut Emitter<'_>) {
        let dir = self.role(dir);
        out.error("telnet: gap");
        let i = usize::from(dir == Dir::ToClient);
        self.readers[i] = Reader::default();
        match dir {
            Dir::ToServer => self.end_line(),
            Dir::ToClient => self.server_line.clear(),
        }
    }

    /// End of the connection: the session record.
    pub fn close(&mut self, _cx: &Ctx<'_>, out: &mut Emitter<'_>) {
        if !self.started {
            return;
        }
        self.end_line();
        out.record(T_TELNET, &self.rec);
        self.started = false;
    }

    fn negotiation(&mut self, dir: Dir, verb: u8, option: u8, out: &mut Emitter<'_>) {
        if self.rec.negotiations.len() >= MAX_NEGOTIATIONS {
            if self.rec.negotiations.len() == MAX_NEGOTIATIONS {
                out.error("telnet: too many negotiations");
            }
            return;
        }
        let command = match verb {
            251 => "WILL",
            252 => "WONT",
            253 => "DO",
            _ => "DONT",
        };
        self.rec.negotiations.push(v1::telnet::Negotiation {
            sender: sender(dir).into(),
            command: command.into(),
            option: u32::from(option),
            option_name: option_name(option).into(),
        });
    }

    fn subnegotiation(&mut self, dir: Dir, out: &mut Emitter<'_>) {
        let r = &self.readers[usize::from(dir == Dir::ToClient)];
        if r.sb_long {
            out.error("telnet: subnegotiation too long");
            return;
        }
        // TERMINAL-TYPE IS <name> (RFC 1091), sent by the client.
        if let [TERMINAL_TYPE, 0, name @ ..] = r.sb.as_slice()
            && dir == Dir::ToServer
            && self.rec.terminal_type.is_empty()
        {
            self.rec.terminal_type = String::from_utf8_lossy(name).into_owned();
        }
    }

    fn client_byte(&mut self, c: u8) {
        let cr = std::mem::replace(&mut self.readers[0].cr, c == b'\r');
        match c {
            b'\n' | 0 if cr => {}
            b'\r' | b'\n' => self.end_line(),
            8 | 0x7f => {
                self.line.pop();
            }
            c if c < b' ' && c != b'\t' => {}
            c => {
                if self.line_prompt.is_none() {
                    self.line_prompt = Some(String::from_utf8_lossy(&self.server_line).trim().to_string());
                }
                if self.line.len() < MAX_LINE {
                    self.line.push(c);
                }
            }
        }
    }

    fn server_byte(&mut self, c: u8) {
        match c {
            b'\r' | b'\n' => self.server_line.clear(),
            0 => {}
            c if self.server_line.len() < MAX_PROMPT => self.server_line.push(c),
            _ => {}
        }
    }

    /// The client ended a line: a typed line, and the answer to a login or password prompt.
    fn end_line(&mut self) {
        let prompt = self.line_prompt.take();
        if self.line.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if let Some(p) = prompt {
            let lower = p.to_ascii_lowercase();
            let login = ["login:", "username:", "user:", "user name:"].iter().any(|s| lower.ends_with(s));
            if login || lower.ends_with("password:") {
                if login && self.rec.user.is_empty() {
                    self.rec.user.clone_from(&line);
                }
                if self.rec.prompts.len() < MAX_LINES {
                    self.rec.prompts.push(v1::telnet::Prompt { prompt: p, answer: line.clone() });
                }
            }
        }
        if self.rec.client_lines.len() < MAX_LINES {
            self.rec.client_lines.push(line);
        }
    }
}

fn sender(dir: Dir) -> &'static str {
    match dir {
        Dir::ToServer => "client",
        Dir::ToClient => "server",
    }
}
