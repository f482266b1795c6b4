//! Benchmarks for rjobs that print figures rather than assert them: they run the real store and
//! router in-process, so the numbers include JSON parsing, validation and the SQL path a client
//! pays for. See `src/bin/bulk_devices.rs`.
