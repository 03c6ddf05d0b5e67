//! See the crate documentation in main.rs.
