//! The standard function library. (Stub: replaced by the real library.)
