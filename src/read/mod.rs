//! Reading: find input files and stream their rows as Arrow record batches.
//!
//! - [`discover`]: expands `--input` paths (files, folders with hive partitions, globs).
//! - [`input`]: opens one file, checks its schema against the columns lakeaug needs
//!   (from the footer alone), and streams batches.
//! - [`mapped`]: the file access under it: large compressed pages are memory-mapped, not
//!   copied.
//! - [`remote`]: the object access under it for `s3://` inputs: the footer and the row
//!   groups read are fetched by byte ranges, never the whole object.
//! - [`columns`]: views over the image and caption columns in every layout we accept.

pub mod columns;
pub mod discover;
pub mod input;
pub mod mapped;
pub mod remote;

pub use columns::{CaptionColumn, ImageColumn, ImageLayout};
pub use discover::{discover_inputs, DiscoverError, InputFile};
pub use input::{even_batch_size, InputError, OpenedInput};
pub use remote::{BytesFetched, FetchError};
