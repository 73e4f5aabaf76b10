//! The pages, one folder each (`lab`, `lessons`, `replay`, `present`, `scale`), with what several pages draw in
//! `diagram` (a lane's sequence diagram), `export` and `common`. What parts share through Leptos context is
//! defined once in `context`, so sharing it never makes two components import each other.

pub mod common;
pub mod context;
pub mod diagram;
pub mod export;
pub mod lab;
pub mod lessons;
pub mod present;
pub mod replay;
mod routes;
pub mod scale;

pub use routes::{load_rendered_chunks, App, Page};
