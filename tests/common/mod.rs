pub mod pcsc_harness;
