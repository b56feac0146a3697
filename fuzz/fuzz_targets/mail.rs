#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::fuzz_targets::mail_message(data));
