//! TFTP packets: a pure codec (no I/O), strict about what it accepts.
//!
//! Parsing borrows from the datagram; encoding appends to a caller's buffer so the hot
//! path allocates nothing. Option negotiation (RFC 2347) is [`parse_options`], also pure.

/// Largest request (RRQ/WRQ with options) accepted: RFC 2347 §"Packet Formats" limits a
/// request packet, options included, to 512 octets.
pub const MAX_REQUEST_BYTES: usize = 512;
/// Block size when no `blksize` option is negotiated (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;
/// Valid `blksize` values (RFC 2348).
pub const MIN_BLKSIZE: u16 = 8;
pub const MAX_BLKSIZE: u16 = 65464;

pub const OP_RRQ: u16 = 1;
pub const OP_WRQ: u16 = 2;
pub const OP_DATA: u16 = 3;
pub const OP_ACK: u16 = 4;
pub const OP_ERROR: u16 = 5;
pub const OP_OACK: u16 = 6;

/// Error codes (RFC 1350 §5, RFC 2347 for 8).
pub mod code {
    pub const NOT_DEFINED: u16 = 0;
    pub const FILE_NOT_FOUND: u16 = 1;
    pub const ACCESS_VIOLATION: u16 = 2;
    pub const DISK_FULL: u16 = 3;
    pub const ILLEGAL_OPERATION: u16 = 4;
    pub const UNKNOWN_TID: u16 = 5;
    pub const FILE_EXISTS: u16 = 6;
    pub const NO_SUCH_USER: u16 = 7;
    pub const OPTION_NEGOTIATION: u16 = 8;
}

/// Transfer mode of a request. Only `octet` and `netascii` exist for us; `mail` (obsolete
/// in RFC 1350) and anything else is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Octet,
    /// Served byte for byte, exactly like `octet`: the files are boot images and scripts,
    /// and converting line ends would corrupt binaries that a client asked for in the
    /// wrong mode (some firmware does). tftpd-hpa converts; we deliberately do not.
    Netascii,
}

impl Mode {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Mode::Octet => b"octet",
            Mode::Netascii => b"netascii",
        }
    }
}

/// Option name/value pairs in the order sent.
pub type Options<'a> = Vec<(&'a [u8], &'a [u8])>;

/// A read or write request. Strings are raw bytes (no NUL inside); the server sanitises
/// the name with [`crate::name::sanitize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub filename: &'a [u8],
    pub mode: Mode,
    /// Option name/value pairs in the order sent (names not yet case-folded).
    pub options: Options<'a>,
}

/// One TFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Rrq(Request<'a>),
    Wrq(Request<'a>),
    Data { block: u16, data: &'a [u8] },
    Ack(u16),
    Error { code: u16, message: &'a [u8] },
    Oack(Options<'a>),
}

/// Why a datagram is not a valid packet. Every variant is answered (if at all) with
/// ERROR 4, illegal TFTP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than the opcode (and, for DATA/ACK/ERROR, the 2-byte field) need.
    TooShort,
    UnknownOpcode(u16),
    /// A request over [`MAX_REQUEST_BYTES`].
    RequestTooLong,
    /// A string without its terminating NUL.
    Unterminated,
    /// A mode other than `octet` or `netascii` (case-insensitive).
    BadMode,
    /// An option with an empty name, or a name without a value.
    MalformedOption,
    /// DATA carrying more than [`MAX_BLKSIZE`] bytes.
    DataTooLong,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::TooShort => f.write_str("packet too short"),
            ParseError::UnknownOpcode(op) => write!(f, "unknown opcode {op}"),
            ParseError::RequestTooLong => f.write_str("request longer than 512 bytes"),
            ParseError::Unterminated => f.write_str("unterminated string"),
            ParseError::BadMode => f.write_str("unsupported transfer mode"),
            ParseError::MalformedOption => f.write_str("malformed option"),
            ParseError::DataTooLong => f.write_str("data block too long"),
        }
    }
}

/// Takes one NUL-terminated string off the front of `rest`.
fn take_str<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8], ParseError> {
    let nul = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or(ParseError::Unterminated)?;
    let s = &rest[..nul];
    *rest = &rest[nul + 1..];
    Ok(s)
}

/// Option pairs up to the end of the packet. Trailing NUL padding after the last pair is
/// tolerated (some PXE ROMs pad their requests); anything else must be complete pairs.
fn take_options(mut rest: &[u8]) -> Result<Options<'_>, ParseError> {
    let mut options = Vec::new();
    while !rest.iter().all(|&b| b == 0) {
        let name = take_str(&mut rest)?;
        if name.is_empty() {
            return Err(ParseError::MalformedOption);
        }
        let value = take_str(&mut rest).map_err(|_| ParseError::MalformedOption)?;
        options.push((name, value));
    }
    Ok(options)
}

fn parse_request(body: &[u8]) -> Result<Request<'_>, ParseError> {
    let mut rest = body;
    let filename = take_str(&mut rest)?;
    let mode = take_str(&mut rest)?;
    let mode = if mode.eq_ignore_ascii_case(b"octet") {
        Mode::Octet
    } else if mode.eq_ignore_ascii_case(b"netascii") {
        Mode::Netascii
    } else {
        return Err(ParseError::BadMode);
    };
    let options = take_options(rest)?;
    Ok(Request {
        filename,
        mode,
        options,
    })
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16, ParseError> {
    match bytes.get(at..at + 2) {
        Some(&[hi, lo]) => Ok(u16::from_be_bytes([hi, lo])),
        _ => Err(ParseError::TooShort),
    }
}

/// Parses one datagram.
pub fn parse(datagram: &[u8]) -> Result<Packet<'_>, ParseError> {
    let opcode = u16_at(datagram, 0)?;
    let body = &datagram[2..];
    match opcode {
        OP_RRQ | OP_WRQ => {
            if datagram.len() > MAX_REQUEST_BYTES {
                return Err(ParseError::RequestTooLong);
            }
            let request = parse_request(body)?;
            Ok(if opcode == OP_RRQ {
                Packet::Rrq(request)
            } else {
                Packet::Wrq(request)
            })
        }
        OP_DATA => {
            let block = u16_at(datagram, 2)?;
            let data = &datagram[4..];
            if data.len() > usize::from(MAX_BLKSIZE) {
                return Err(ParseError::DataTooLong);
            }
            Ok(Packet::Data { block, data })
        }
        // Bytes after the block number are ignored: some clients pad their ACKs.
        OP_ACK => Ok(Packet::Ack(u16_at(datagram, 2)?)),
        OP_ERROR => {
            let code = u16_at(datagram, 2)?;
            let mut rest = &datagram[4..];
            // An unterminated message is taken whole: an ERROR ends the transfer anyway.
            let message = take_str(&mut rest).unwrap_or(&datagram[4..]);
            Ok(Packet::Error { code, message })
        }
        OP_OACK => Ok(Packet::Oack(take_options(body)?)),
        other => Err(ParseError::UnknownOpcode(other)),
    }
}

fn put_options(out: &mut Vec<u8>, options: &[(&[u8], &[u8])]) {
    for (name, value) in options {
        out.extend_from_slice(name);
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
}

impl Packet<'_> {
    /// Appends the wire form to `out`. Strings must not contain NUL (the codec never
    /// produces such packets from [`parse`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Packet::Rrq(request) | Packet::Wrq(request) => {
                let op = if matches!(self, Packet::Rrq(_)) {
                    OP_RRQ
                } else {
                    OP_WRQ
                };
                out.extend_from_slice(&op.to_be_bytes());
                out.extend_from_slice(request.filename);
                out.push(0);
                out.extend_from_slice(request.mode.as_bytes());
                out.push(0);
                put_options(out, &request.options);
            }
            Packet::Data { block, data } => {
                out.extend_from_slice(&OP_DATA.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Packet::Ack(block) => {
                out.extend_from_slice(&OP_ACK.to_be_bytes());
                out.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                out.extend_from_slice(&OP_ERROR.to_be_bytes());
                out.extend_from_slice(&code.to_be_bytes());
                out.extend_from_slice(message);
                out.push(0);
            }
            Packet::Oack(options) => {
                out.extend_from_slice(&OP_OACK.to_be_bytes());
                put_options(out, options);
            }
        }
    }

    /// The wire form in a new buffer (tests, rare paths).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// An ERROR packet in a new buffer; `message` is cut at 200 bytes and at any NUL.
pub fn error_packet(code: u16, message: &str) -> Vec<u8> {
    let mut message = message.as_bytes();
    if let Some(nul) = message.iter().position(|&b| b == 0) {
        message = &message[..nul];
    }
    let message = &message[..message.len().min(200)];
    Packet::Error { code, message }.to_vec()
}

/// The options of a read request this server understands, as the client asked for them.
/// Values are validated against their RFC ranges, not yet against the server's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestedOptions {
    /// RFC 2348, 8..=65464.
    pub blksize: Option<u16>,
    /// RFC 2349, 1..=255 seconds.
    pub timeout: Option<u8>,
    /// RFC 2349. On a read request the client sends 0 and the server answers with the
    /// size. The value is not checked: it carries nothing on a read request, and atftp
    /// 0.8 sends `tsize enable` literally; any value is answered with the real size.
    pub tsize: bool,
    /// RFC 7440, 1..=65535.
    pub windowsize: Option<u16>,
}

/// Why the options of a request are refused: answered with ERROR 8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError(pub String);

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decimal option value: ASCII digits only (no sign, no spaces), at most 20 digits.
fn decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Reads the options of a read request.
///
/// The RFC choices, precisely:
/// - names are case-insensitive (RFC 2347);
/// - unknown options are ignored and left out of the OACK; they never cause an error
///   (RFC 2347: "must not cause an ERROR packet to be generated");
/// - `tsize` is answered whatever its value (see [`RequestedOptions::tsize`]);
/// - a known option whose value is not a decimal number, or lies outside the range its RFC
///   defines (blksize 8..=65464, timeout 1..=255, windowsize 1..=65535), refuses the
///   request with ERROR 8 ("request should be terminated due to option negotiation",
///   RFC 2347). Ignoring it would also be allowed; refusing tells a broken client why
///   instead of silently serving it 512-byte blocks;
/// - a known option given twice is refused the same way: the RFCs do not say which one
///   wins, so there is no right answer to give.
pub fn parse_options(options: &[(&[u8], &[u8])]) -> Result<RequestedOptions, OptionError> {
    let mut out = RequestedOptions::default();
    for &(name, value) in options {
        let name = name.to_ascii_lowercase();
        let (label, range): (&str, std::ops::RangeInclusive<u64>) = match name.as_slice() {
            b"blksize" => ("blksize", u64::from(MIN_BLKSIZE)..=u64::from(MAX_BLKSIZE)),
            b"timeout" => ("timeout", 1..=255),
            b"tsize" => {
                if std::mem::replace(&mut out.tsize, true) {
                    return Err(OptionError("tsize given twice".into()));
                }
                continue;
            }
            b"windowsize" => ("windowsize", 1..=65535),
            _ => continue,
        };
        let number = decimal(value)
            .filter(|n| range.contains(n))
            .ok_or_else(|| OptionError(format!("bad {label} value")))?;
        let duplicate = OptionError(format!("{label} given twice"));
        // The ranges above make every conversion below lossless.
        match label {
            "blksize" => {
                if out.blksize.replace(number as u16).is_some() {
                    return Err(duplicate);
                }
            }
            "timeout" => {
                if out.timeout.replace(number as u8).is_some() {
                    return Err(duplicate);
                }
            }
            _ => {
                if out.windowsize.replace(number as u16).is_some() {
                    return Err(duplicate);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rrq(bytes: &[u8]) -> Result<Packet<'_>, ParseError> {
        parse(bytes)
    }

    #[test]
    fn parses_a_request_with_options() {
        let p = rrq(b"\0\x01pxelinux.0\0OCTET\0BlkSize\x001468\0tsize\x000\0").unwrap();
        let Packet::Rrq(r) = p else { panic!() };
        assert_eq!(r.filename, b"pxelinux.0");
        assert_eq!(r.mode, Mode::Octet);
        let o = parse_options(&r.options).unwrap();
        assert_eq!(o.blksize, Some(1468));
        assert!(o.tsize);
    }

    #[test]
    fn strict_about_requests() {
        assert_eq!(rrq(b"\0"), Err(ParseError::TooShort));
        assert_eq!(rrq(b"\0\x01file"), Err(ParseError::Unterminated));
        assert_eq!(rrq(b"\0\x01file\0octet"), Err(ParseError::Unterminated));
        assert_eq!(rrq(b"\0\x01file\0mail\0"), Err(ParseError::BadMode));
        assert_eq!(
            rrq(b"\0\x01file\0octet\0blksize\0"),
            Err(ParseError::MalformedOption)
        );
        assert_eq!(
            rrq(b"\0\x01file\0octet\0blksize"),
            Err(ParseError::Unterminated)
        );
        assert_eq!(rrq(b"\0\x09x"), Err(ParseError::UnknownOpcode(9)));
        let mut long = b"\0\x01".to_vec();
        long.extend(std::iter::repeat_n(b'a', 600));
        long.extend_from_slice(b"\0octet\0");
        assert_eq!(rrq(&long), Err(ParseError::RequestTooLong));
        // NUL padding after the last option is tolerated.
        assert!(rrq(b"\0\x01file\0octet\0\0\0\0").is_ok());
        assert!(matches!(rrq(b"\0\x02file\0netascii\0"), Ok(Packet::Wrq(_))));
    }

    #[test]
    fn option_rules() {
        let o = |pairs: &[(&[u8], &[u8])]| parse_options(pairs);
        assert!(o(&[(b"blksize", b"7")]).is_err());
        assert!(o(&[(b"blksize", b"65465")]).is_err());
        assert!(o(&[(b"blksize", b"8")]).is_ok());
        assert!(o(&[(b"blksize", b"x")]).is_err());
        assert!(o(&[(b"blksize", b"")]).is_err());
        assert!(o(&[(b"blksize", b"+512")]).is_err());
        assert!(o(&[(b"timeout", b"0")]).is_err());
        assert!(o(&[(b"timeout", b"256")]).is_err());
        assert!(o(&[(b"windowsize", b"0")]).is_err());
        assert!(o(&[(b"windowsize", b"65536")]).is_err());
        assert!(o(&[(b"tsize", b"enable")]).unwrap().tsize);
        assert!(o(&[(b"tsize", b"0"), (b"TSIZE", b"0")]).is_err());
        assert!(o(&[(b"blksize", b"512"), (b"BLKSIZE", b"512")]).is_err());
        // Unknown options, even repeated or with odd values, are ignored.
        assert_eq!(
            o(&[(b"multicast", b""), (b"multicast", b"?")]),
            Ok(RequestedOptions::default())
        );
    }

    fn bytes_no_nul(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 0..max)
    }

    fn name_no_nul(max: usize) -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(1u8..=255, 1..max)
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
            if let Ok(Packet::Rrq(r) | Packet::Wrq(r)) = parse(&bytes) {
                let _ = parse_options(&r.options);
                let _ = crate::name::sanitize(r.filename);
            }
        }

        #[test]
        fn request_like_bytes_never_panic(
            op in 0u16..8,
            parts in proptest::collection::vec(bytes_no_nul(12), 0..8),
            tail in proptest::collection::vec(any::<u8>(), 0..4),
        ) {
            let mut bytes = op.to_be_bytes().to_vec();
            for part in &parts {
                bytes.extend_from_slice(part);
                bytes.push(0);
            }
            bytes.extend_from_slice(&tail);
            if let Ok(Packet::Rrq(r) | Packet::Wrq(r)) = parse(&bytes) {
                let _ = parse_options(&r.options);
            }
        }

        #[test]
        fn requests_round_trip(
            write in any::<bool>(),
            filename in bytes_no_nul(64),
            netascii in any::<bool>(),
            options in proptest::collection::vec((name_no_nul(12), bytes_no_nul(12)), 0..6),
        ) {
            let request = Request {
                filename: &filename,
                mode: if netascii { Mode::Netascii } else { Mode::Octet },
                options: options.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect(),
            };
            let packet = if write { Packet::Wrq(request) } else { Packet::Rrq(request) };
            let wire = packet.to_vec();
            prop_assert_eq!(parse(&wire), Ok(packet));
        }

        #[test]
        fn other_packets_round_trip(
            block in any::<u16>(),
            data in proptest::collection::vec(any::<u8>(), 0..1500),
            code in any::<u16>(),
            message in bytes_no_nul(80),
            options in proptest::collection::vec((name_no_nul(12), bytes_no_nul(12)), 0..6),
        ) {
            let packets = [
                Packet::Data { block, data: &data },
                Packet::Ack(block),
                Packet::Error { code, message: &message },
                Packet::Oack(options.iter().map(|(n, v)| (n.as_slice(), v.as_slice())).collect()),
            ];
            for packet in packets {
                let wire = packet.to_vec();
                prop_assert_eq!(parse(&wire), Ok(packet));
            }
        }

        #[test]
        fn numeric_options_round_trip(blksize in 8u16..=65464, windowsize in 1u16.., timeout in 1u8..) {
            let (b, w, t) = (blksize.to_string(), windowsize.to_string(), timeout.to_string());
            let o = parse_options(&[
                (b"blksize", b.as_bytes()), (b"windowsize", w.as_bytes()),
                (b"timeout", t.as_bytes()), (b"tsize", b"0"),
            ]).unwrap();
            prop_assert_eq!(o, RequestedOptions {
                blksize: Some(blksize), timeout: Some(timeout), tsize: true, windowsize: Some(windowsize),
            });
        }
    }
}
