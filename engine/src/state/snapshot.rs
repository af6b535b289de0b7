//! The snapshot. (Stub: replaced by the real snapshot.)
