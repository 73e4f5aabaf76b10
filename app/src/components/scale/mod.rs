//! The Scale page: the scale suite's results.

pub mod scale_page;
