//! The journal and the store. (Stub: replaced by the real store.)
