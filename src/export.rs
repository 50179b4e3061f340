//! CSV export of the archive (long and wide), with an Excel-friendly variant.
