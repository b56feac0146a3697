#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::radius::fuzz_one(data));
