//! Content-addressed blobs in an S3-compatible bucket (AWS S3, Ceph RGW, MinIO, Garage,
//! s3s-fs), so several servers share one store: `--blobs s3://BUCKET?endpoint=…&region=…`.
//!
//! Client choice: `rusty-s3` signs requests (SigV4) and parses S3's XML without doing any I/O,
//! and `ureq` sends them on the calling thread. Both are small, maintained and synchronous, which
//! fits a server whose transfers already own a thread each: no async runtime to own, no copy
//! of a response into memory (a GET body is read straight from the socket). `aws-sdk-s3` would
//! bring tokio and some hundred crates for the dozen requests used here; `rust-s3`'s blocking
//! mode buffers whole responses.
//!
//! Layout in the bucket: `blobs/<md5>` (stored content), `uploads/<id>` (a multipart upload in
//! progress, then its joined object until it is copied to its key), `uploads/<id>.upload` (the
//! S3 upload id of a resumable write, so any server can continue it), `quarantine/<md5>.<time>`.
//!
//! Reads from byte 0 are checked against the key as with the local store; a read from an
//! `offset` is one ranged GET and trusts the bucket for the bytes it skips (reading them back to
//! hash them would cost the whole prefix, which is what a resume avoids).

mod http;
mod reader;
mod writer;

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kino_api::{valid_key, BlobError, BlobStore, BlobWriter};
use md5::{Digest, Md5};
use rusty_s3::{Bucket, Credentials, UrlStyle};

use http::S3;
use reader::S3Reader;
use writer::S3Writer;

/// Bytes per multipart-upload part: S3's minimum is 5 MiB; 8 MiB per upload in flight is the
/// server's memory per S3 upload.
pub const PART_SIZE: usize = 8 << 20;

/// MD5 states of resumable writes at their last stored part (see `FsBlobStore`'s).
type HashCache = Arc<Mutex<HashMap<String, (u64, Md5)>>>;

/// Why `--blobs` is unusable.
#[derive(Debug, thiserror::Error)]
#[error("--blobs {url}: {why}")]
pub struct S3UrlError {
    url: String,
    why: String,
}

/// Where a bucket is: parsed from `s3://BUCKET?endpoint=http://HOST:PORT&region=R`.
#[derive(Debug, Clone)]
pub struct S3Location {
    pub bucket: String,
    pub endpoint: url::Url,
    pub region: String,
}

impl S3Location {
    /// Parses the URL; `endpoint` defaults to AWS's for the region, `region` to `us-east-1`.
    pub fn parse(raw: &str) -> Result<Self, S3UrlError> {
        let bad = |why: &str| S3UrlError {
            url: raw.into(),
            why: why.into(),
        };
        let url = url::Url::parse(raw).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "s3" {
            return Err(bad("not an s3:// URL"));
        }
        let bucket = url.host_str().unwrap_or_default().to_owned();
        if bucket.is_empty() {
            return Err(bad("no bucket name"));
        }
        let mut region = "us-east-1".to_owned();
        let mut endpoint = None;
        for (k, v) in url.query_pairs() {
            match &*k {
                "region" => region = v.into_owned(),
                "endpoint" => endpoint = Some(v.into_owned()),
                other => return Err(bad(&format!("unknown parameter `{other}`"))),
            }
        }
        let endpoint = endpoint.unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com"));
        let endpoint = url::Url::parse(&endpoint).map_err(|e| bad(&format!("endpoint: {e}")))?;
        Ok(S3Location {
            bucket,
            endpoint,
            region,
        })
    }
}

/// The S3 store.
pub struct S3BlobStore {
    s3: Arc<S3>,
    hashes: HashCache,
}

/// The object holding content `md5`.
fn blob_key(md5: &str) -> String {
    format!("blobs/{md5}")
}

fn upload_key(id: &str) -> Result<String, BlobError> {
    if !valid_key(id) {
        return Err(BlobError::BadKey);
    }
    Ok(format!("uploads/{id}"))
}

fn checked_key(md5: &str) -> Result<String, BlobError> {
    if !valid_key(md5) {
        return Err(BlobError::BadKey);
    }
    Ok(blob_key(md5))
}

impl S3BlobStore {
    /// Connects to the bucket and checks that it answers (a server must not start on a store
    /// it cannot use).
    pub fn open(at: &S3Location, key_id: &str, secret: &str) -> Result<Self, BlobError> {
        let bucket = Bucket::new(
            at.endpoint.clone(),
            UrlStyle::Path,
            at.bucket.clone(),
            at.region.clone(),
        )
        .map_err(|e| BlobError::Io(io::Error::other(format!("S3 bucket: {e}"))))?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(120))
            .build();
        let s3 = Arc::new(S3 {
            bucket,
            creds: Credentials::new(key_id, secret),
            agent,
        });
        s3.head_bucket()?;
        Ok(S3BlobStore {
            s3,
            hashes: HashCache::default(),
        })
    }

    /// Every stored blob: (md5 key, size, last modified), for `kino-server check`.
    pub fn list(&self) -> Result<Vec<(String, u64, String)>, BlobError> {
        Ok(self
            .s3
            .list("blobs/")?
            .into_iter()
            .map(|(k, size, at)| (k.trim_start_matches("blobs/").to_owned(), size, at))
            .collect())
    }

    /// The MD5 of stored content as it is read back, for `kino-server check` (moves nothing).
    pub fn digest(&self, md5: &str) -> Result<String, BlobError> {
        let mut reader = self.s3.get(&checked_key(md5)?, 0)?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(hex::encode(hasher.finalize()));
            }
            hasher.update(&buf[..n]);
        }
    }

    fn writer(
        &self,
        key: String,
        upload: String,
        etags: Vec<String>,
        written: u64,
        hasher: Option<Md5>,
        keep: Option<String>,
    ) -> Box<dyn BlobWriter> {
        Box::new(S3Writer::new(
            Arc::clone(&self.s3),
            key,
            upload,
            etags,
            PART_SIZE,
            hasher,
            written,
            keep.map(|id| (id, Arc::clone(&self.hashes))),
        ))
    }

    /// The S3 upload id of resumable write `id` and the ETags of its parts, if it exists.
    fn marker(&self, key: &str) -> Result<Option<(String, Vec<String>)>, BlobError> {
        let mut text = String::new();
        match self.s3.get(&format!("{key}.upload"), 0) {
            Ok(r) => {
                r.take(MARKER_MAX).read_to_string(&mut text)?;
                let mut lines = text.lines().map(str::to_owned);
                let upload = lines.next().unwrap_or_default();
                Ok(Some((upload, lines.collect())))
            }
            Err(BlobError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What resumable write `key` has stored: its S3 upload id, the ETags of its parts 1..n
    /// and their bytes. A part S3 holds but whose ETag was never recorded (the server died
    /// between the two) does not count: it is sent again under the same number.
    fn progress(&self, key: &str) -> Result<Option<(String, Vec<String>, u64)>, BlobError> {
        let Some((upload, recorded)) = self.marker(key)? else {
            return Ok(None);
        };
        let parts = match self.s3.list_parts(key, &upload) {
            Ok(parts) => parts,
            Err(BlobError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut etags = Vec::new();
        let mut stored = 0;
        for (i, (number, etag, size)) in parts.into_iter().enumerate() {
            let Some(etag) = etag.or_else(|| recorded.get(i).cloned()) else {
                break;
            };
            if usize::from(number) != i + 1 {
                break;
            }
            etags.push(etag);
            stored += size;
        }
        Ok(Some((upload, etags, stored)))
    }
}

/// Longest marker object read: the upload id and up to 10000 ETags.
const MARKER_MAX: u64 = 1 << 20;

/// Moves `key` aside as `quarantine/<md5>.<unix seconds>`.
fn quarantine(s3: &S3, md5: &str) -> Result<(), BlobError> {
    let key = checked_key(md5)?;
    let size = match s3.head(&key) {
        Ok(size) => size,
        Err(BlobError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let to = format!("quarantine/{md5}.{}", kino_api::clock::unix_now());
    s3.copy(&key, &to, size)?;
    s3.delete(&key)?;
    log::warn!("moved damaged blob {md5} to S3 {to}");
    Ok(())
}

impl BlobStore for S3BlobStore {
    fn create(&self, _expected_len: u64) -> Result<Box<dyn BlobWriter>, BlobError> {
        let mut name = [0u8; 16];
        getrandom::fill(&mut name).map_err(|e| BlobError::Io(io::Error::other(e.to_string())))?;
        let key = format!("uploads/{}", hex::encode(name));
        let upload = self.s3.create_multipart(&key)?;
        Ok(self.writer(key, upload, Vec::new(), 0, Some(Md5::new()), None))
    }

    fn open(&self, md5: &str, offset: u64) -> Result<(Box<dyn Read + Send>, u64), BlobError> {
        let key = checked_key(md5)?;
        let size = self.s3.head(&key).map_err(|e| match e {
            BlobError::NotFound(_) => BlobError::NotFound(md5.into()),
            other => other,
        })?;
        if offset >= size {
            return Ok((Box::new(io::empty()), size));
        }
        let body = self.s3.get(&key, offset)?;
        let reader = S3Reader::new(body, Arc::clone(&self.s3), md5, size, offset);
        Ok((Box::new(reader), size))
    }

    fn exists(&self, md5: &str) -> bool {
        self.size(md5).is_some()
    }

    fn size(&self, md5: &str) -> Option<u64> {
        self.stat(md5).ok().flatten()
    }

    fn stat(&self, md5: &str) -> Result<Option<u64>, BlobError> {
        match self.s3.head(&checked_key(md5)?) {
            Ok(size) => Ok(Some(size)),
            Err(BlobError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn quarantine(&self, md5: &str) -> Result<(), BlobError> {
        quarantine(&self.s3, md5)
    }

    fn remove(&self, md5: &str) -> Result<(), BlobError> {
        self.s3.delete(&checked_key(md5)?)
    }

    fn resume(
        &self,
        id: &str,
        _total_len: u64,
        offset: u64,
    ) -> Result<Box<dyn BlobWriter>, BlobError> {
        let key = upload_key(id)?;
        let Some((upload, etags, stored)) = self.progress(&key)? else {
            if offset != 0 {
                return Err(BlobError::Offset { stored: 0, offset });
            }
            let upload = self.s3.create_multipart(&key)?;
            self.s3.put(&format!("{key}.upload"), upload.as_bytes())?;
            return Ok(self.writer(
                key,
                upload,
                Vec::new(),
                0,
                Some(Md5::new()),
                Some(id.into()),
            ));
        };
        if offset != stored {
            return Err(BlobError::Offset { stored, offset });
        }
        let cached = self
            .hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let hasher = match cached {
            _ if stored == 0 => Some(Md5::new()),
            Some((at, h)) if at == stored => Some(h),
            _ => None,
        };
        Ok(self.writer(key, upload, etags, stored, hasher, Some(id.into())))
    }

    fn upload_stored(&self, id: &str) -> Result<Option<u64>, BlobError> {
        Ok(self.progress(&upload_key(id)?)?.map(|p| p.2))
    }

    fn abandon(&self, id: &str) -> Result<(), BlobError> {
        let key = upload_key(id)?;
        self.hashes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some((upload, _)) = self.marker(&key)? {
            self.s3.abort(&key, &upload)?;
        }
        self.s3.delete(&format!("{key}.upload"))?;
        self.s3.delete(&key)
    }
}
