#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::fuzz_targets::directory_exports(data));
