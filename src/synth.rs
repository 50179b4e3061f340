//! Synthetic report pages: realistic HTML for both template formats from a set of numbers, for
//! tests, benchmarks and the portal simulator.
