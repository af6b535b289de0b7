//! Malformed templates and values: errors, never panics.
