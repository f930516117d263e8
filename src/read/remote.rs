//! Remote inputs (`s3://…`) read by byte ranges, never downloaded whole.
//!
//! Opening a remote input reads its footer with parquet's own metadata reader and a
//! footer-size hint: one ranged GET of the object's last [`FOOTER_HINT`] bytes, a second
//! one only when the footer is larger. Reading rows goes through parquet's synchronous
//! reader (the one local files use, so batches still fill across row groups and start at
//! even rows, and [`super::input`]'s row-count checks stay as they are) over a
//! [`RemoteReader`]: a [`ChunkReader`] that, the first time the reader touches a column
//! chunk of a row group it reads, fetches all column chunks of that row group at once
//! (object_store's `coalesce_ranges`: neighbouring chunks in one GET, up to ten GETs in
//! flight) and serves the page reads from memory. Row groups the reader skips (a chunk
//! task's rows, a resumed file) are never fetched. A column chunk is dropped from memory
//! once its last page has been handed out.
//!
//! Every GET goes through the store's client, so object_store's retries with backoff apply
//! (as for every other request to the store), carries `If-Match` with the ETag the object
//! was listed with (a file replaced while it is read fails instead of mixing two
//! versions), and is counted in [`BytesFetched`] for the run's `input_bytes_fetched`.
//!
//! The calls block on a process-wide I/O runtime ([`crate::store::io_runtime`]): they run
//! on the reader thread, the main thread or a cluster task's blocking thread, never on a
//! tokio worker thread (blocking there would panic).

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use futures::future::BoxFuture;
use futures::FutureExt;
use object_store::{GetOptions, GetRange, ObjectStore};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::MetadataFetch;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};

use super::discover::InputFile;

/// Bytes fetched from the end of an object to read its footer in one GET. The footers of
/// image-text files (a handful of columns, tens of row groups) are a few KB; a larger one
/// takes a second GET for the rest.
pub const FOOTER_HINT: usize = 8 * 1024;

/// Bytes fetched from remote inputs, shared by everything one run (or one cluster task)
/// opens and reads.
#[derive(Debug, Clone, Default)]
pub struct BytesFetched(Arc<AtomicU64>);

impl BytesFetched {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// A ranged GET of a remote input that failed (after the store's retries).
#[derive(Debug, thiserror::Error)]
#[error("{url}: cannot read bytes {}..{} of the object: {source}; {}", range.start, range.end, self.advice())]
pub struct FetchError {
    pub url: String,
    pub range: Range<u64>,
    #[source]
    pub source: object_store::Error,
}

impl FetchError {
    /// Whether trying again may succeed: not when the object is gone or was replaced
    /// since it was listed (the next run plans it anew).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self.source,
            object_store::Error::NotFound { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::NotModified { .. }
        )
    }

    fn advice(&self) -> &'static str {
        match self.source {
            object_store::Error::NotFound { .. } => {
                "the object was deleted since it was listed; rerun to plan without it"
            }
            object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
                "the object was replaced since it was listed (its ETag changed); rerun to process its new content"
            }
            _ => "the store's retries are used up; check the network, endpoint and credentials, then rerun (files committed so far stay)",
        }
    }
}

/// One remote Parquet object: where it is, its size and ETag as listed, and the client to
/// read it with.
pub struct RemoteObject {
    url: String,
    store: Arc<dyn ObjectStore>,
    location: object_store::path::Path,
    size: u64,
    e_tag: Option<String>,
    fetched: BytesFetched,
}

impl std::fmt::Debug for RemoteObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteObject")
            .field("url", &self.url)
            .field("size", &self.size)
            .field("e_tag", &self.e_tag)
            .finish()
    }
}

impl RemoteObject {
    /// The remote input `file` (its `remote` URL), read with the store's client for its
    /// bucket, counting into `fetched`. `None` for a local file.
    pub fn of(
        file: &InputFile,
        fetched: &BytesFetched,
    ) -> Option<Result<RemoteObject, crate::store::StoreError>> {
        let url = file.remote.as_ref()?;
        let (_, key) = crate::store::split_url(url);
        Some(crate::store::input_client(url).map(|store| {
            RemoteObject::new(
                store,
                url,
                object_store::path::Path::from(key.as_str()),
                file.size,
                file.etag.clone(),
                fetched.clone(),
            )
        }))
    }

    /// An object of `size` bytes at `location` in `store` (named `url` in errors); reads
    /// require `e_tag` when given.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        url: &str,
        location: object_store::path::Path,
        size: u64,
        e_tag: Option<String>,
        fetched: BytesFetched,
    ) -> RemoteObject {
        RemoteObject {
            url: url.to_string(),
            store,
            location,
            size,
            e_tag,
            fetched,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes fetched by everything sharing this object's counter.
    pub fn fetched(&self) -> u64 {
        self.fetched.get()
    }

    /// One ranged GET (with `If-Match`), checked to return the whole range.
    async fn get(&self, range: Range<u64>) -> Result<Bytes, FetchError> {
        let fail = |source| FetchError {
            url: self.url.clone(),
            range: range.clone(),
            source,
        };
        let options = GetOptions {
            if_match: self.e_tag.clone(),
            range: Some(GetRange::Bounded(range.clone())),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&self.location, options)
            .await
            .map_err(fail)?;
        let bytes = result.bytes().await.map_err(fail)?;
        self.fetched.add(bytes.len() as u64);
        if bytes.len() as u64 != range.end - range.start {
            return Err(fail(object_store::Error::Generic {
                store: "S3",
                source: format!(
                    "the server returned {} bytes for a range of {} (the object is shorter than listed)",
                    bytes.len(),
                    range.end - range.start
                )
                .into(),
            }));
        }
        Ok(bytes)
    }

    /// The process's I/O runtime, or why it could not start, as the fetch of `range` failing.
    fn io_runtime(
        &self,
        range: Range<u64>,
    ) -> Result<&'static tokio::runtime::Runtime, FetchError> {
        crate::store::io_runtime().map_err(|e| FetchError {
            url: self.url.clone(),
            range,
            source: object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            },
        })
    }

    /// The bytes of `ranges`, in one blocking call: ranges less than object_store's
    /// coalescing gap apart are fetched with one GET, several GETs run at once.
    pub fn fetch(&self, ranges: &[Range<u64>]) -> Result<Vec<Bytes>, FetchError> {
        if ranges.is_empty() {
            return Ok(Vec::new());
        }
        let runtime = self.io_runtime(ranges[0].start..ranges[ranges.len() - 1].end)?;
        runtime.block_on(object_store::coalesce_ranges(
            ranges,
            |r| self.get(r),
            object_store::OBJECT_STORE_COALESCE_DEFAULT,
        ))
    }

    /// The footer, read with parquet's metadata reader: one GET of the last
    /// [`FOOTER_HINT`] bytes, a second for the rest of a larger footer. A failed GET is a
    /// `ParquetError::External` holding the [`FetchError`] (see [`fetch_error_of`]).
    pub fn load_metadata(
        &self,
        options: ArrowReaderOptions,
    ) -> Result<ArrowReaderMetadata, ParquetError> {
        let reader = ParquetMetaDataReader::new()
            .with_column_index_policy(options.column_index_policy())
            .with_offset_index_policy(options.offset_index_policy())
            .with_metadata_options(Some(options.metadata_options().clone()))
            .with_prefetch_hint(Some(FOOTER_HINT));
        let metadata: ParquetMetaData = self
            .io_runtime(self.size.saturating_sub(FOOTER_HINT as u64)..self.size)
            .map_err(|e| ParquetError::External(Box::new(e)))?
            .block_on(reader.load_and_finish(Footer(self), self.size))?;
        ArrowReaderMetadata::try_new(Arc::new(metadata), options)
    }
}

/// The [`FetchError`] inside a parquet error, if a GET is what failed.
pub fn fetch_error_of(e: ParquetError) -> Result<FetchError, ParquetError> {
    match e {
        ParquetError::External(inner) => match inner.downcast::<FetchError>() {
            Ok(fetch) => Ok(*fetch),
            Err(other) => Err(ParquetError::External(other)),
        },
        other => Err(other),
    }
}

/// parquet's footer reader fetching through a [`RemoteObject`].
struct Footer<'a>(&'a RemoteObject);

impl MetadataFetch for Footer<'_> {
    fn fetch(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.0
                .get(range)
                .await
                .map_err(|e| ParquetError::External(Box::new(e)))
        }
        .boxed()
    }
}

/// Where one column chunk's bytes stand.
enum Chunk {
    NotFetched,
    /// Fetched, not yet read to its end.
    Held(Bytes),
    /// Its last page was handed out: dropped from memory (read again if asked again).
    Done,
}

/// The column chunks of the row groups a reader reads, and what is held of them.
struct Chunks {
    /// Per row group to read: its column chunks' byte ranges.
    groups: Vec<Vec<Range<u64>>>,
    /// The same shape as `groups`.
    state: Vec<Vec<Chunk>>,
    /// The first failed GET, for [`RemoteReader::take_fetch_error`].
    failure: Option<FetchError>,
}

/// A [`ChunkReader`] over a [`RemoteObject`] for parquet's synchronous reader: the column
/// chunks of a row group are fetched together the first time one of them is read. Clones
/// share what is held (and the failure a read hit).
#[derive(Clone)]
pub struct RemoteReader {
    object: Arc<RemoteObject>,
    chunks: Arc<Mutex<Chunks>>,
}

impl RemoteReader {
    /// A reader of the row groups `row_groups` of `metadata` (the object's footer).
    pub fn new(
        object: Arc<RemoteObject>,
        metadata: &ParquetMetaData,
        row_groups: impl IntoIterator<Item = usize>,
    ) -> RemoteReader {
        let groups: Vec<Vec<Range<u64>>> = row_groups
            .into_iter()
            .filter_map(|i| metadata.row_groups().get(i))
            .map(|rg| {
                rg.columns()
                    .iter()
                    .map(|c| {
                        let (start, len) = c.byte_range();
                        start..start.saturating_add(len)
                    })
                    .collect()
            })
            .collect();
        let state = groups
            .iter()
            .map(|g| g.iter().map(|_| Chunk::NotFetched).collect())
            .collect();
        RemoteReader {
            object,
            chunks: Arc::new(Mutex::new(Chunks {
                groups,
                state,
                failure: None,
            })),
        }
    }

    /// The GET that made a read fail, once (parquet's errors only keep its text).
    pub fn take_fetch_error(&self) -> Option<FetchError> {
        self.lock().failure.take()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Chunks> {
        // A panic while holding it leaves consistent state: every step is one assignment.
        self.chunks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failed(&self, chunks: &mut Chunks, e: FetchError) -> ParquetError {
        let message = e.to_string();
        chunks.failure.get_or_insert(e);
        ParquetError::General(message)
    }

    /// `start..end` (within one column chunk of a row group read, or anywhere else),
    /// fetching the chunk's row group when needed. With `consume`, a range that reaches
    /// its chunk's end drops the chunk (its last page was handed out).
    fn range(&self, start: u64, end: u64, consume: bool) -> parquet::errors::Result<Bytes> {
        if start == end {
            return Ok(Bytes::new());
        }
        if end > self.object.size {
            return Err(ParquetError::EOF(format!(
                "{}: bytes {start}..{end} are past the end of the object ({} bytes)",
                self.object.url, self.object.size
            )));
        }
        let mut chunks = self.lock();
        let found = chunks.groups.iter().enumerate().find_map(|(g, ranges)| {
            ranges
                .iter()
                .position(|r| r.start <= start && end <= r.end && start < r.end)
                .map(|c| (g, c))
        });
        let Some((g, c)) = found else {
            // Not inside a column chunk being read (none of parquet's reads so far): one GET.
            return match self.object.fetch(&[start..end]) {
                Ok(mut b) => Ok(b.pop().unwrap_or_default()),
                Err(e) => Err(self.failed(&mut chunks, e)),
            };
        };
        let bytes = if let Chunk::Held(bytes) = &chunks.state[g][c] {
            bytes.clone()
        } else {
            // This chunk again after its end (not done by parquet), or its row group for
            // the first time: every chunk of the group not yet held.
            let wanted: Vec<usize> = (0..chunks.groups[g].len())
                .filter(|&i| i == c || matches!(chunks.state[g][i], Chunk::NotFetched))
                .collect();
            let ranges: Vec<Range<u64>> = wanted
                .iter()
                .map(|&i| chunks.groups[g][i].clone())
                .collect();
            let fetched = match self.object.fetch(&ranges) {
                Ok(fetched) => fetched,
                Err(e) => return Err(self.failed(&mut chunks, e)),
            };
            let mut this = None;
            for (i, b) in wanted.into_iter().zip(fetched) {
                if i == c {
                    this = Some(b.clone());
                }
                chunks.state[g][i] = Chunk::Held(b);
            }
            this.ok_or_else(|| {
                ParquetError::General(format!(
                    "{}: the store returned fewer byte ranges than asked for",
                    self.object.url
                ))
            })?
        };
        let chunk = chunks.groups[g][c].clone();
        let out = bytes.slice((start - chunk.start) as usize..(end - chunk.start) as usize);
        if consume && end == chunk.end {
            chunks.state[g][c] = Chunk::Done;
        }
        Ok(out)
    }
}

impl Length for RemoteReader {
    fn len(&self) -> u64 {
        self.object.size
    }
}

impl ChunkReader for RemoteReader {
    type T = bytes::buf::Reader<Bytes>;

    /// From `start` to the end of its column chunk (page headers are read this way; the
    /// page body that follows is read with `get_bytes`, so this keeps the chunk held).
    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let end = {
            let chunks = self.lock();
            chunks
                .groups
                .iter()
                .flatten()
                .find(|r| r.start <= start && start < r.end)
                .map(|r| r.end)
        };
        // Outside the chunks being read (no parquet read does this): at most 64 KiB.
        let end = end.unwrap_or_else(|| start.saturating_add(64 * 1024).min(self.object.size));
        Ok(self.range(start, end, false)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.range(start, start.saturating_add(length as u64), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch};
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    /// An object in an in-memory store, with its ETag, and a counter.
    fn object(data: &[u8]) -> (Arc<InMemory>, RemoteObject) {
        let store = Arc::new(InMemory::new());
        let location = object_store::path::Path::from("lake/t.parquet");
        let put = crate::store::io_runtime()
            .unwrap()
            .block_on(store.put(&location, PutPayload::from(data.to_vec())))
            .unwrap();
        let object = RemoteObject::new(
            store.clone(),
            "s3://lake/t.parquet",
            location,
            data.len() as u64,
            put.e_tag,
            BytesFetched::default(),
        );
        (store, object)
    }

    #[test]
    fn ranges_at_the_end_across_and_empty() {
        let data = pattern(10_000);
        let (_store, object) = object(&data);
        let object = Arc::new(object);
        let metadata_free = RemoteReader {
            object: object.clone(),
            chunks: Arc::new(Mutex::new(Chunks {
                groups: vec![vec![1000..4000, 4000..9000]],
                state: vec![vec![Chunk::NotFetched, Chunk::NotFetched]],
                failure: None,
            })),
        };
        // The last byte, outside any chunk: one GET of one byte.
        assert_eq!(
            &metadata_free.get_bytes(9_999, 1).unwrap()[..],
            &data[9_999..]
        );
        assert_eq!(object.fetched(), 1);
        // Empty: nothing fetched.
        assert!(metadata_free.get_bytes(5_000, 0).unwrap().is_empty());
        assert_eq!(object.fetched(), 1);
        // Inside the first chunk: both chunks of the group fetched (8,000 bytes), once.
        assert_eq!(
            &metadata_free.get_bytes(1_500, 100).unwrap()[..],
            &data[1_500..1_600]
        );
        assert_eq!(object.fetched(), 1 + 8_000);
        let mut head = Vec::new();
        metadata_free
            .get_read(4_000)
            .unwrap()
            .read_to_end(&mut head)
            .unwrap();
        assert_eq!(
            head,
            &data[4_000..9_000],
            "get_read runs to the chunk's end"
        );
        assert_eq!(
            &metadata_free.get_bytes(8_000, 1_000).unwrap()[..],
            &data[8_000..9_000]
        );
        assert_eq!(object.fetched(), 1 + 8_000, "served from what was fetched");
        // The second chunk was read to its end: dropped, so asking again fetches it anew.
        assert_eq!(
            &metadata_free.get_bytes(8_999, 1).unwrap()[..],
            &data[8_999..9_000]
        );
        assert_eq!(object.fetched(), 1 + 8_000 + 5_000);
        // Across the two chunks (no parquet read does this): one GET of just that range.
        assert_eq!(
            &metadata_free.get_bytes(3_990, 20).unwrap()[..],
            &data[3_990..4_010]
        );
        assert_eq!(object.fetched(), 1 + 8_000 + 5_000 + 20);
        // Past the end: an error, nothing fetched.
        let err = metadata_free.get_bytes(9_990, 20).unwrap_err().to_string();
        assert!(err.contains("past the end of the object"), "{err}");
        assert_eq!(object.fetched(), 1 + 8_000 + 5_000 + 20);
    }

    fn schema_descr() -> Arc<parquet::schema::types::SchemaDescriptor> {
        let root = parquet::schema::types::Type::group_type_builder("schema")
            .build()
            .unwrap();
        Arc::new(parquet::schema::types::SchemaDescriptor::new(Arc::new(
            root,
        )))
    }

    #[test]
    fn a_replaced_object_fails_naming_the_url_range_and_what_to_do() {
        let data = pattern(1_000);
        let (store, object) = object(&data);
        crate::store::io_runtime()
            .unwrap()
            .block_on(store.put(
                &object_store::path::Path::from("lake/t.parquet"),
                PutPayload::from(pattern(1_000)),
            ))
            .unwrap();
        let err = object.fetch(&[10..20]).unwrap_err();
        assert!(!err.is_transient());
        let text = err.to_string();
        assert!(
            text.starts_with("s3://lake/t.parquet: cannot read bytes 10..20 of the object")
                && text.contains("rerun to process its new content"),
            "{text}"
        );
        let reader = RemoteReader::new(
            Arc::new(object),
            &ParquetMetaData::new(
                parquet::file::metadata::FileMetaData::new(1, 0, None, None, schema_descr(), None),
                Vec::new(),
            ),
            [],
        );
        assert!(reader.get_bytes(0, 5).is_err());
        assert!(reader.take_fetch_error().is_some_and(|e| e.range == (0..5)));
        assert!(reader.take_fetch_error().is_none(), "taken once");
    }

    #[test]
    fn a_parquet_file_reads_the_same_by_ranges_fetching_only_its_footer_to_open() {
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;

        let images: Vec<Vec<u8>> = (0..60).map(|i| pattern(2_000 + i * 37)).collect();
        let image: ArrayRef = Arc::new(BinaryArray::from_iter_values(images.iter()));
        let id: ArrayRef = Arc::new(Int64Array::from_iter_values(0..60));
        let batch = RecordBatch::try_from_iter([("id", id), ("image", image)]).unwrap();
        let mut file = Vec::new();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(15))
            .build();
        let mut w = ArrowWriter::try_new(&mut file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let (_store, object) = object(&file);
        let object = Arc::new(object);
        let metadata = object.load_metadata(ArrowReaderOptions::new()).unwrap();
        let opened = object.fetched();
        assert!(
            opened <= FOOTER_HINT as u64 && opened * 10 < file.len() as u64,
            "opening fetched {opened} of {} bytes",
            file.len()
        );
        assert_eq!(metadata.metadata().num_row_groups(), 4);

        // Row groups 2 and 3 only: the first two are never fetched.
        let reader = RemoteReader::new(object.clone(), metadata.metadata(), [2, 3]);
        let got: Vec<RecordBatch> =
            ParquetRecordBatchReaderBuilder::new_with_metadata(reader, metadata.clone())
                .with_row_groups(vec![2, 3])
                .with_batch_size(8)
                .build()
                .unwrap()
                .map(|b| b.unwrap())
                .collect();
        let got = arrow::compute::concat_batches(&batch.schema(), &got).unwrap();
        assert_eq!(got, batch.slice(30, 30));
        let groups: u64 = [2, 3]
            .iter()
            .map(|&g| metadata.metadata().row_group(g).compressed_size() as u64)
            .sum();
        assert_eq!(
            object.fetched() - opened,
            groups,
            "exactly the two row groups"
        );
    }
}
