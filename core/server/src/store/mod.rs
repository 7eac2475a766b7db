//! Persistent state behind small interfaces: the SQL database ([`sqlite`], or [`pg`] when
//! `--database` names PostgreSQL; [`backend`] picks), its per-plugin migrations ([`migrate`]),
//! the content-addressed blob store on the local disk ([`blobs`]) or in an S3 bucket ([`s3`]),
//! reading blobs checked against their keys ([`verify`]), start-up checks of the database
//! ([`preflight`]) and the operator's fsck ([`check`]), and which plugin may touch which table
//! ([`guard`]).

pub mod backend;
pub mod blobs;
pub mod check;
mod flusher;
pub mod guard;
mod hasher;
pub mod lock;
pub mod migrate;
pub mod pg;
pub mod preflight;
pub mod s3;
pub mod sqlite;
mod tally;
pub mod verified;
pub mod verify;

pub use backend::{AnyDb, DbUrl};

use std::path::{Path, PathBuf};

pub use blobs::FsBlobStore;
pub use s3::S3BlobStore;
pub use sqlite::SqliteDb;

use crate::config::Config;

/// Where blobs live, from `--blobs`.
#[derive(Debug, Clone)]
pub enum BlobsAt {
    /// A folder; temporary and quarantined files go beside it in `tmp/` and `quarantine/` (the
    /// same file system, so a finished upload is renamed into place).
    Dir(PathBuf),
    /// A bucket, with the access key id and secret.
    S3(s3::S3Location, String, String),
}

impl BlobsAt {
    /// Reads `--blobs` (default `file:<data>/blobs`) and, for S3, the credentials from the
    /// environment or the config file.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let Some(raw) = config.blobs.as_deref() else {
            return Ok(BlobsAt::Dir(config.data.join("blobs")));
        };
        if let Some(path) = raw.strip_prefix("file:") {
            if path.is_empty() {
                return Err("--blobs file: needs a folder".into());
            }
            return Ok(BlobsAt::Dir(PathBuf::from(path)));
        }
        if raw.starts_with("s3://") {
            let at = s3::S3Location::parse(raw).map_err(|e| e.to_string())?;
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let (file_id, file_secret) = &config.s3_credentials;
            let id = env("AWS_ACCESS_KEY_ID").or_else(|| file_id.clone());
            let secret = env("AWS_SECRET_ACCESS_KEY").or_else(|| file_secret.clone());
            let (Some(id), Some(secret)) = (id, secret) else {
                return Err(format!(
                    "--blobs {raw}: no credentials: set AWS_ACCESS_KEY_ID and \
                     AWS_SECRET_ACCESS_KEY, or aws-access-key-id and aws-secret-access-key in \
                     the config file"
                ));
            };
            return Ok(BlobsAt::S3(at, id, secret));
        }
        Err(format!(
            "--blobs {raw}: expected file:PATH or s3://BUCKET?endpoint=…&region=…"
        ))
    }

    /// The folder holding `tmp/` and `quarantine/` beside a local blob folder.
    pub fn root_of(dir: &Path) -> PathBuf {
        dir.parent()
            .map_or_else(|| dir.to_path_buf(), Path::to_path_buf)
    }

    /// Opens the store for serving (a local one cleans its interrupted uploads and remembers
    /// at most `verified_max` blobs as verified, `--verified-blobs-max`).
    pub fn open(
        &self,
        verified_max: usize,
    ) -> Result<Box<dyn kino_api::BlobStore>, kino_api::BlobError> {
        Ok(match self {
            BlobsAt::Dir(dir) => Box::new(
                FsBlobStore::open_at(dir, &Self::root_of(dir))?.with_verified_max(verified_max),
            ),
            BlobsAt::S3(at, id, secret) => Box::new(S3BlobStore::open(at, id, secret)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(blobs: &str) -> Result<BlobsAt, String> {
        let mut config = Config::new("/srv/kino");
        config.blobs = Some(blobs.into());
        config.s3_credentials = (Some("id".into()), Some("secret".into()));
        BlobsAt::from_config(&config)
    }

    #[test]
    fn blob_urls_are_parsed_and_nonsense_refused() {
        assert!(matches!(
            BlobsAt::from_config(&Config::new("/srv/kino")),
            Ok(BlobsAt::Dir(d)) if d == Path::new("/srv/kino/blobs")
        ));
        assert!(matches!(at("file:/mnt/b"), Ok(BlobsAt::Dir(d)) if d == Path::new("/mnt/b")));
        match at("s3://films?endpoint=http://127.0.0.1:9000&region=eu-west-1") {
            Ok(BlobsAt::S3(loc, _, _)) => {
                assert_eq!(loc.bucket, "films");
                assert_eq!(loc.region, "eu-west-1");
                assert_eq!(loc.endpoint.as_str(), "http://127.0.0.1:9000/");
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "/plain/path",
            "file:",
            "s3://",
            "s3://b?secret=x",
            "ftp://x",
        ] {
            assert!(at(bad).is_err(), "{bad} accepted");
        }
    }
}
