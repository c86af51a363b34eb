//! Defaults and limits in one place.
