//! The SQLite archive: documents (raw bytes), reports, facts, checks, metrics.
