//! Kernels: free functions from pixels/arrays to pixels/arrays, with no hidden state.
//!
//! Randomness never happens here: kernels take the parameters a scheme sampled, so the
//! same parameters (as recorded in lineage columns) always give the same output.

pub mod image;
pub mod text;
pub mod tokens;
