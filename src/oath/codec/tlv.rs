//! BER-ish TLVs as YKOATH uses them: one-byte tags, lengths `L`, `81 L` or
//! `82 Lhi Llo`. Tag 78 (property) in PUT is a bare tag followed by one raw byte.
//!
//! Hand-written on purpose, not a BER crate: a general BER/DER parser refuses
//! YKOATH's length-less tag 78, and this one borrows its values from the
//! input. The property test `oath::codec::tests::parsers_never_panic` pins that no
//! input makes it panic.

/// One TLV borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
}

/// Why a TLV string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvError;

/// Tag 78 has no length byte in YKOATH PUT (ykman sends `78 02`).
pub const RAW_BYTE_TAG: u8 = 0x78;

/// Splits `data` into TLVs. `raw_byte_tags` lists tags whose value is exactly
/// one byte with no length field.
pub fn parse<'a>(mut data: &'a [u8], raw_byte_tags: &[u8]) -> Result<Vec<Tlv<'a>>, TlvError> {
    let mut out = Vec::new();
    while let Some((&tag, rest)) = data.split_first() {
        if raw_byte_tags.contains(&tag) {
            let (value, rest) = rest.split_at_checked(1).ok_or(TlvError)?;
            out.push(Tlv { tag, value });
            data = rest;
            continue;
        }
        let (&first, rest) = rest.split_first().ok_or(TlvError)?;
        let (len, rest) = match first {
            0x00..=0x7F => (usize::from(first), rest),
            0x81 => {
                let (&l, rest) = rest.split_first().ok_or(TlvError)?;
                (usize::from(l), rest)
            }
            0x82 => {
                let (l, rest) = rest.split_first_chunk::<2>().ok_or(TlvError)?;
                (usize::from(u16::from_be_bytes(*l)), rest)
            }
            _ => return Err(TlvError),
        };
        let (value, rest) = rest.split_at_checked(len).ok_or(TlvError)?;
        out.push(Tlv { tag, value });
        data = rest;
    }
    Ok(out)
}

/// Appends one TLV with the shortest length form. Values over 65535 bytes cannot
/// occur in short APDUs; they are clamped to keep this infallible.
pub fn push(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    let value = &value[..value.len().min(0xFFFF)];
    out.push(tag);
    match value.len() {
        len @ 0..=0x7F => out.push(len as u8),
        len @ 0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        len => {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(value);
}

/// Header length of a TLV whose value is `len` bytes (for masking offsets).
pub fn header_len(len: usize) -> usize {
    match len {
        0..=0x7F => 2,
        0x80..=0xFF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let mut v = Vec::new();
        push(&mut v, 0x71, &[1; 3]);
        push(&mut v, 0x73, &[2; 0x90]);
        push(&mut v, 0x74, &[3; 0x120]);
        let tlvs = parse(&v, &[]).unwrap();
        assert_eq!(tlvs.len(), 3);
        assert_eq!(tlvs[1].value.len(), 0x90);
        assert_eq!(tlvs[2].value.len(), 0x120);
        assert_eq!(&v[5..7], &[0x73, 0x81]);
    }

    #[test]
    fn raw_byte_tag_and_errors() {
        let tlvs = parse(&[0x71, 1, 0x41, 0x78, 0x02], &[RAW_BYTE_TAG]).unwrap();
        assert_eq!(
            tlvs[1],
            Tlv {
                tag: 0x78,
                value: &[2]
            }
        );
        assert_eq!(parse(&[0x78], &[RAW_BYTE_TAG]), Err(TlvError));
        assert_eq!(parse(&[0x71, 5, 1], &[]), Err(TlvError));
        assert_eq!(parse(&[0x71], &[]), Err(TlvError));
        assert_eq!(parse(&[0x71, 0x83, 0, 0, 0], &[]), Err(TlvError));
        assert_eq!(parse(&[0x71, 0x82, 0], &[]), Err(TlvError));
    }
}
