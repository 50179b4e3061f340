//! Finding report links and the next listing pages in a portal's listing page.
