use super::*;

#[test]
fn row_encoding_vector() {
    let encoded = encode_row(
        "tokens",
        [
            ("serial", ValueRef::Text(b"VT-1")),
            ("holder", ValueRef::Null),
            ("state_since", ValueRef::Integer(258)),
            ("pin", ValueRef::Blob(&[0xff])),
        ]
        .into_iter(),
    );
    let expected = concat!(
        "6b65797761726420726f77207631",
        "00", // "keyward row v1\0"
        "0000000000000006",
        "746f6b656e73",     // table
        "0000000000000004", // four columns
        "0000000000000006",
        "73657269616c",
        "03",
        "0000000000000004",
        "56542d31",
        "0000000000000006",
        "686f6c646572",
        "00",
        "000000000000000b",
        "73746174655f73696e6365",
        "01",
        "0000000000000102",
        "0000000000000003",
        "70696e",
        "04",
        "0000000000000001",
        "ff",
    );
    assert_eq!(data_encoding::HEXLOWER.encode(&encoded), expected);
}

#[test]
fn encoding_separates_names_values_and_types() {
    let one = |name, value| encode_row("t", [(name, value)].into_iter());
    let base = one("a", ValueRef::Text(b"1"));
    assert_ne!(base, one("a", ValueRef::Integer(1)));
    assert_ne!(base, one("a", ValueRef::Blob(b"1")));
    assert_ne!(base, one("b", ValueRef::Text(b"1")));
    assert_ne!(one("a", ValueRef::Null), one("a", ValueRef::Text(b"")));
    assert_ne!(
        base,
        encode_row("u", [("a", ValueRef::Text(b"1"))].into_iter())
    );
    // Moving bytes between adjacent fields changes the encoding.
    assert_ne!(
        encode_row(
            "t",
            [("a", ValueRef::Text(b"xy")), ("b", ValueRef::Text(b""))].into_iter()
        ),
        encode_row(
            "t",
            [("a", ValueRef::Text(b"x")), ("b", ValueRef::Text(b"y"))].into_iter()
        ),
    );
}

#[test]
fn layout_text_round_trip() {
    let layout = Layout(vec![
        TableLayout {
            name: "people".into(),
            columns: vec!["id".into(), "full_name".into(), "mail".into()],
        },
        TableLayout {
            name: "tokens".into(),
            columns: vec!["serial".into(), "state".into()],
        },
    ]);
    let text = layout.to_text();
    assert_eq!(text, "people(id,full_name,mail);tokens(serial,state)");
    assert_eq!(Layout::parse(&text), Some(layout));
    assert_eq!(Layout::parse("people"), None);
}
