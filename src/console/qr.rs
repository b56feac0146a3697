//! A QR code as inline SVG (pure): the printed slip carries the signed
//! receipt this way, so it can be checked offline with
//! `keyward receipts verify`.

use qrcodegen::{QrCode, QrCodeEcc};

/// `text` as an SVG QR code (error correction M, 4-module quiet zone), or
/// `None` when it is too long for any QR version.
pub fn svg(text: &str, label: &str) -> Option<String> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = qr.size();
    let border = 4;
    let full = size + 2 * border;
    let mut path = String::with_capacity(usize::try_from(size * size).unwrap_or(0) * 4);
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let label = label
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;");
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" \
         class=\"qr\" role=\"img\" aria-label=\"{label}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{full}\" height=\"{full}\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_sized_text_fits_and_labels_are_escaped() {
        let text = "x".repeat(900);
        let image = svg(&text, "a <b> \"c\"").unwrap_or_default();
        assert!(image.starts_with("<svg"));
        assert!(image.contains("a &lt;b> &quot;c&quot;"));
        assert!(svg(&"y".repeat(5000), "l").is_none());
    }
}
