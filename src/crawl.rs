//! The crawl scheduler: frontier in the archive, resumable, incremental.
