//! The downloader: polite HTTP with per-host rate limits, robots.txt, retries and conditional GET.
