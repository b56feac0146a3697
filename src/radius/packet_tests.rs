use super::*;

fn hex(text: &str) -> Vec<u8> {
    let clean: String = text.split_whitespace().collect();
    data_encoding::HEXLOWER.decode(clean.as_bytes()).unwrap()
}

/// RFC 2865 §7.1: user "nemo", password "arctangent", secret "xyzzy5461".
const RFC_REQUEST: &str = "01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a
    01 06 6e 65 6d 6f 02 12 0d be 70 8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee
    04 06 c0 a8 01 10 05 06 00 00 00 03";
/// Its Access-Accept.
const RFC_ACCEPT: &str = "02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2
    06 06 00 00 00 01 0f 06 00 00 00 00 0e 06 c0 a8 01 03";
const RFC_SECRET: &[u8] = b"xyzzy5461";

#[test]
fn rfc2865_request_reveals_its_password() {
    let bytes = hex(RFC_REQUEST);
    let packet = Packet::parse(&bytes).unwrap();
    assert_eq!(packet.code, Code::AccessRequest);
    assert_eq!(packet.find(attr::USER_NAME), Some(&b"nemo"[..]));
    let password = packet.password(RFC_SECRET).unwrap().unwrap();
    assert_eq!(&password[..], b"arctangent");
    // The wrong secret reveals something else.
    let wrong = packet.password(b"xyzzy5462").unwrap().unwrap();
    assert_ne!(&wrong[..], b"arctangent");
    // And hiding it again gives the same bytes.
    let hidden = hide_password(b"arctangent", RFC_SECRET, &packet.authenticator).unwrap();
    assert_eq!(Some(&hidden[..]), packet.find(attr::USER_PASSWORD));
}

#[test]
fn rfc2865_accept_has_the_right_response_authenticator() {
    let request = Packet::parse(&hex(RFC_REQUEST)).unwrap().authenticator;
    let bytes = hex(RFC_ACCEPT);
    let reply = Packet::parse(&bytes).unwrap();
    assert_eq!(reply.code, Code::AccessAccept);
    assert!(reply.reply_authenticated(&request, RFC_SECRET, false));
    // No Message-Authenticator in this 2000-era reply: refused when required.
    assert!(!reply.reply_authenticated(&request, RFC_SECRET, true));
    assert!(!reply.reply_authenticated(&request, b"xyzzy5462", false));
    let mut tampered = bytes.clone();
    tampered[25] ^= 1;
    let tampered = Packet::parse(&tampered).unwrap();
    assert!(!tampered.reply_authenticated(&request, RFC_SECRET, false));
}

#[test]
fn long_passwords_round_trip_up_to_128_bytes() {
    let auth = [7u8; 16];
    for len in [0usize, 1, 15, 16, 17, 31, 32, 100, 127, 128] {
        let clear: Vec<u8> = (0..len).map(|i| b'0' + (i % 10) as u8).collect();
        let hidden = hide_password(&clear, b"s3cret", &auth).unwrap();
        assert_eq!(hidden.len(), len.div_ceil(16).max(1) * 16);
        let back = reveal_password(&hidden, b"s3cret", &auth).unwrap();
        assert_eq!(&back[..], &clear[..], "length {len}");
    }
    assert_eq!(
        hide_password(&[b'1'; 129], b"s", &auth),
        Err(PacketError::BadPassword)
    );
    for bad in [0usize, 15, 17, 144] {
        assert_eq!(
            reveal_password(&vec![0; bad], b"s", &auth),
            Err(PacketError::BadPassword),
            "{bad}"
        );
    }
}

#[test]
fn built_requests_carry_a_checked_message_authenticator_first() {
    let auth = [0x42u8; 16];
    let mut builder = Builder::new(Code::AccessRequest, 9);
    builder.push(attr::USER_NAME, b"adurand").unwrap();
    let hidden = hide_password(b"482915287082", b"secret", &auth).unwrap();
    builder.push(attr::USER_PASSWORD, &hidden).unwrap();
    let bytes = builder.request(&auth, b"secret");
    let packet = Packet::parse(&bytes).unwrap();
    assert_eq!(
        packet.attributes().next().map(|a| a.kind),
        Some(attr::MESSAGE_AUTHENTICATOR)
    );
    assert!(packet.request_authenticated(b"secret"));
    assert!(!packet.request_authenticated(b"secreT"));
    // Any flipped bit anywhere breaks it.
    for i in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        if let Ok(p) = Packet::parse(&tampered) {
            assert!(!p.request_authenticated(b"secret"), "byte {i}");
        }
    }
    // A request without one is not authenticated.
    let rfc = hex(RFC_REQUEST);
    let plain = Packet::parse(&rfc).unwrap();
    assert!(!plain.request_authenticated(RFC_SECRET));
}

#[test]
fn built_replies_check_on_the_client_side() {
    let request = [3u8; 16];
    let mut builder = Builder::new(Code::AccessReject, 200);
    builder.push(attr::REPLY_MESSAGE, b"non").unwrap();
    let bytes = builder.reply(&request, b"k");
    let reply = Packet::parse(&bytes).unwrap();
    assert!(reply.reply_authenticated(&request, b"k", true));
    assert!(!reply.reply_authenticated(&[4u8; 16], b"k", true));
    assert!(!reply.reply_authenticated(&request, b"K", true));
}

/// A Message-Authenticator computed by FreeRADIUS's radclient 3.2.1
/// (`Message-Authenticator = 0x00` in its input), captured on the wire.
#[test]
fn radclient_message_authenticator_vector() {
    let bytes = hex(RADCLIENT_REQUEST);
    let packet = Packet::parse(&bytes).unwrap();
    assert!(packet.request_authenticated(b"testing123"));
    assert!(!packet.request_authenticated(b"testing124"));
    let password = packet.password(b"testing123").unwrap().unwrap();
    assert_eq!(&password[..], b"482915287082");
}

const RADCLIENT_REQUEST: &str = include_str!("../../tests/data/radius/radclient-request.hex");

#[test]
fn malformed_packets_are_typed_errors() {
    let good = hex(RFC_REQUEST);
    assert_eq!(Packet::parse(&good[..19]), Err(PacketError::TooShort(19)));
    let mut long = good.clone();
    long[2] = 0x10;
    long[3] = 0x01;
    assert_eq!(Packet::parse(&long), Err(PacketError::BadLength(4097)));
    let mut short = good.clone();
    short[3] = 19;
    assert_eq!(Packet::parse(&short), Err(PacketError::BadLength(19)));
    assert_eq!(
        Packet::parse(&good[..40]),
        Err(PacketError::Truncated {
            declared: 56,
            received: 40
        })
    );
    let mut code = good.clone();
    code[0] = 4;
    assert_eq!(Packet::parse(&code), Err(PacketError::UnknownCode(4)));
    let mut zero = good.clone();
    zero[21] = 0;
    assert_eq!(Packet::parse(&zero), Err(PacketError::BadAttribute(20)));
    let mut over = good.clone();
    over[21] = 200;
    assert_eq!(Packet::parse(&over), Err(PacketError::BadAttribute(20)));
    // Two User-Names.
    let mut twice = good[..26].to_vec();
    twice.extend_from_slice(&good[20..26]);
    twice[3] = 32;
    assert_eq!(
        Packet::parse(&twice),
        Err(PacketError::Repeated(attr::USER_NAME))
    );
    // A Message-Authenticator of the wrong size.
    let mut bad_ma = good[..20].to_vec();
    bad_ma.extend_from_slice(&[80, 4, 0, 0]);
    bad_ma[3] = 24;
    assert_eq!(
        Packet::parse(&bad_ma),
        Err(PacketError::BadMessageAuthenticator)
    );
    // Padding past the declared length is ignored.
    let mut padded = good.clone();
    padded.extend_from_slice(&[0; 10]);
    assert_eq!(Packet::parse(&padded).unwrap().as_bytes(), &good[..]);
}

#[test]
fn builder_refuses_what_does_not_fit() {
    let mut builder = Builder::new(Code::AccessAccept, 1);
    assert_eq!(
        builder.push(attr::CLASS, &[0; 254]).err(),
        Some(PacketError::ValueTooLong(254))
    );
    let mut pushed = 0;
    while builder.push(attr::CLASS, &[0; 253]).is_ok() {
        pushed += 1;
    }
    assert_eq!(pushed, (MAX_PACKET - HEADER - 18) / 255);
    assert!(builder.reply(&[0; 16], b"s").len() <= MAX_PACKET);
}

/// The seed corpus the fuzz target starts from, run here as a plain test,
/// with every truncation and single-bit flip of each seed.
#[test]
fn fuzz_entry_survives_the_seed_corpus() {
    let mut seeds = vec![hex(RFC_REQUEST), hex(RFC_ACCEPT), hex(RADCLIENT_REQUEST)];
    let mut built = Builder::new(Code::StatusServer, 1);
    built.push(attr::NAS_IDENTIFIER, b"portal").unwrap();
    seeds.push(built.request(&[1; 16], b"fuzz"));
    seeds.push(vec![0xff; MAX_PACKET + 10]);
    for seed in &seeds {
        for end in 0..=seed.len().min(200) {
            fuzz_one(&seed[..end]);
        }
        for i in 0..seed.len().min(200) {
            for bit in 0..8 {
                let mut mutated = seed.clone();
                mutated[i] ^= 1 << bit;
                fuzz_one(&mutated);
            }
        }
    }
}
