//! A local portal simulator (TRS, Hanweb, gov.cn families) with injected faults, for tests and
//! `gknb bench`.
