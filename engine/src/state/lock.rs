//! The lock. (Stub: replaced by the real lock.)
