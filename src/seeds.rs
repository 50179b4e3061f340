//! Seed files: the portals' annual-report listing pages, as `[[portal]]` tables.
