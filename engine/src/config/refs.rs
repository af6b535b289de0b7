//! Extracting references from expressions. (Stub: replaced by the real extractor.)
