//! The few S3 requests the store makes, signed by `rusty-s3` and sent by `ureq`, with S3's
//! answers turned into [`BlobError`]s.

use std::io::{self, Read};
use std::time::Duration;

use kino_api::BlobError;
use rusty_s3::actions::{
    AbortMultipartUpload, CompleteMultipartUpload, CreateMultipartUpload, DeleteObject, GetObject,
    HeadObject, ListObjectsV2, ListParts, PutObject, S3Action, UploadPart,
};
use rusty_s3::{Bucket, Credentials};

/// How long a signed request stays valid: only as long as it takes to send it.
const SIGNED_FOR: Duration = Duration::from_secs(600);

/// Largest object one CopyObject request may copy.
const SINGLE_COPY_MAX: u64 = 5 << 30;

/// Bytes per part of a multipart copy.
const COPY_PART: u64 = 1 << 30;

/// Longest error body kept in a message.
const ERROR_BODY: u64 = 512;

/// Where the bucket is and who we are to it.
pub struct S3 {
    pub bucket: Bucket,
    pub creds: Credentials,
    pub agent: ureq::Agent,
}

/// A failed request as an I/O error whose kind says whether trying again may help.
fn failure(what: &str, e: ureq::Error) -> BlobError {
    match e {
        ureq::Error::Status(404, _) => BlobError::NotFound(what.to_owned()),
        ureq::Error::Status(code, resp) => {
            let mut body = String::new();
            let _ = resp
                .into_reader()
                .take(ERROR_BODY)
                .read_to_string(&mut body);
            BlobError::Io(io::Error::other(format!(
                "S3 {what}: HTTP {code}: {}",
                body.trim()
            )))
        }
        ureq::Error::Transport(t) => BlobError::Io(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("S3 {what}: {t}"),
        )),
    }
}

/// The text of the first `<name>` element in `xml` (keys here are hex: nothing to unescape).
fn xml_field<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..start + len])
}

fn body_text(what: &str, resp: ureq::Response) -> Result<String, BlobError> {
    resp.into_string().map_err(|e| {
        BlobError::Io(io::Error::other(format!(
            "S3 {what}: reading the answer: {e}"
        )))
    })
}

fn bad_xml(what: &str, e: impl std::fmt::Display) -> BlobError {
    BlobError::Io(io::Error::other(format!(
        "S3 {what}: unreadable answer: {e}"
    )))
}

impl S3 {
    fn call(
        &self,
        what: &str,
        method: &str,
        url: url::Url,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<ureq::Response, BlobError> {
        let mut req = self.agent.request_url(method, &url);
        for (k, v) in headers {
            req = req.set(k, v);
        }
        match body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        }
        .map_err(|e| failure(what, e))
    }

    /// The object's size, or `NotFound`.
    pub fn head(&self, key: &str) -> Result<u64, BlobError> {
        let url = HeadObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED_FOR);
        let resp = self.call(key, "HEAD", url, &[], None)?;
        resp.header("Content-Length")
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad_xml(key, "no Content-Length"))
    }

    /// A streaming reader of the object from byte `offset` (a ranged GET).
    pub fn get(&self, key: &str, offset: u64) -> Result<Box<dyn Read + Send>, BlobError> {
        let url = GetObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED_FOR);
        let range = format!("bytes={offset}-");
        let headers: &[(&str, &str)] = if offset > 0 {
            &[("Range", &range)]
        } else {
            &[]
        };
        Ok(self.call(key, "GET", url, headers, None)?.into_reader())
    }

    /// Writes a small object whole.
    pub fn put(&self, key: &str, body: &[u8]) -> Result<(), BlobError> {
        let url = PutObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED_FOR);
        self.call(key, "PUT", url, &[], Some(body)).map(drop)
    }

    /// Server-side copy: one request up to 5 GiB (S3's limit for it), else a multipart upload
    /// of copied 1 GiB ranges.
    pub fn copy(&self, from: &str, to: &str, size: u64) -> Result<(), BlobError> {
        let source = format!("/{}/{from}", self.bucket.name());
        if size <= SINGLE_COPY_MAX {
            let mut action = PutObject::new(&self.bucket, Some(&self.creds), to);
            action
                .headers_mut()
                .insert("x-amz-copy-source", source.clone());
            let url = action.sign(SIGNED_FOR);
            let resp = self.call(to, "PUT", url, &[("x-amz-copy-source", &source)], Some(&[]))?;
            let text = body_text(to, resp)?;
            if text.contains("<Error>") {
                return Err(BlobError::Io(io::Error::other(format!(
                    "S3 {to}: the copy failed: {text}"
                ))));
            }
            return Ok(());
        }
        let upload = self.create_multipart(to)?;
        let result = (|| {
            let mut etags = Vec::new();
            let mut start = 0;
            while start < size {
                let end = (start + COPY_PART).min(size) - 1;
                let number = u16::try_from(etags.len() + 1).unwrap_or(u16::MAX);
                let range = format!("bytes={start}-{end}");
                let mut action =
                    UploadPart::new(&self.bucket, Some(&self.creds), to, number, &upload);
                action
                    .headers_mut()
                    .insert("x-amz-copy-source", source.clone());
                action
                    .headers_mut()
                    .insert("x-amz-copy-source-range", range.clone());
                let url = action.sign(SIGNED_FOR);
                let headers = [
                    ("x-amz-copy-source", source.as_str()),
                    ("x-amz-copy-source-range", range.as_str()),
                ];
                let text = body_text(to, self.call(to, "PUT", url, &headers, Some(&[]))?)?;
                let etag = text
                    .split("<ETag>")
                    .nth(1)
                    .and_then(|t| t.split("</ETag>").next())
                    .ok_or_else(|| bad_xml(to, "a copied part without an ETag"))?;
                etags.push(etag.replace("&quot;", "\""));
                start = end + 1;
            }
            self.complete(to, &upload, &etags)
        })();
        if result.is_err() {
            let _ = self.abort(to, &upload);
        }
        result
    }

    /// Deletes an object (a missing one is not an error).
    pub fn delete(&self, key: &str) -> Result<(), BlobError> {
        let url = DeleteObject::new(&self.bucket, Some(&self.creds), key).sign(SIGNED_FOR);
        match self.call(key, "DELETE", url, &[], None) {
            Ok(_) | Err(BlobError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every object under `prefix`: (key, size, last-modified as S3 wrote it).
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64, String)>, BlobError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, Some(&self.creds));
            action.with_prefix(prefix);
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let resp = self.call(prefix, "GET", action.sign(SIGNED_FOR), &[], None)?;
            let text = body_text(prefix, resp)?;
            // Read by hand: some servers (s3s-fs) leave out fields rusty-s3's parser requires.
            for item in text.split("<Contents>").skip(1) {
                let key = xml_field(item, "Key").ok_or_else(|| bad_xml(prefix, "no Key"))?;
                let size = xml_field(item, "Size")
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad_xml(prefix, "no Size"))?;
                let modified = xml_field(item, "LastModified").unwrap_or_default();
                out.push((key.to_owned(), size, modified.to_owned()));
            }
            match xml_field(&text, "NextContinuationToken") {
                Some(t) if xml_field(&text, "IsTruncated") == Some("true") => {
                    token = Some(t.to_owned())
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Whether the bucket answers with these credentials.
    pub fn head_bucket(&self) -> Result<(), BlobError> {
        let url = self.bucket.head_bucket(Some(&self.creds)).sign(SIGNED_FOR);
        self.call(self.bucket.name(), "HEAD", url, &[], None)
            .map(drop)
    }

    /// Starts a multipart upload to `key`; returns its S3 upload id.
    pub fn create_multipart(&self, key: &str) -> Result<String, BlobError> {
        let action = CreateMultipartUpload::new(&self.bucket, Some(&self.creds), key);
        let resp = self.call(key, "POST", action.sign(SIGNED_FOR), &[], Some(&[]))?;
        let text = body_text(key, resp)?;
        let parsed = CreateMultipartUpload::parse_response(&text).map_err(|e| bad_xml(key, e))?;
        Ok(parsed.upload_id().to_owned())
    }

    /// Sends part `number` (from 1); returns its ETag.
    pub fn upload_part(
        &self,
        key: &str,
        upload: &str,
        number: u16,
        body: &[u8],
    ) -> Result<String, BlobError> {
        let action = UploadPart::new(&self.bucket, Some(&self.creds), key, number, upload);
        let resp = self.call(key, "PUT", action.sign(SIGNED_FOR), &[], Some(body))?;
        resp.header("ETag")
            .map(str::to_owned)
            .ok_or_else(|| bad_xml(key, "a part without an ETag"))
    }

    /// The parts stored so far, in order: (number, ETag if the server tells it, size).
    pub fn list_parts(
        &self,
        key: &str,
        upload: &str,
    ) -> Result<Vec<(u16, Option<String>, u64)>, BlobError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let mut action = ListParts::new(&self.bucket, Some(&self.creds), key, upload);
            if let Some(m) = marker {
                action.set_part_number_marker(m);
            }
            let resp = self.call(key, "GET", action.sign(SIGNED_FOR), &[], None)?;
            let text = body_text(key, resp)?;
            // By hand, as `list`: servers differ in the optional fields they send.
            for item in text.split("<Part>").skip(1) {
                let number = xml_field(item, "PartNumber").and_then(|n| n.parse().ok());
                let size = xml_field(item, "Size").and_then(|n| n.parse().ok());
                let etag = xml_field(item, "ETag").map(|e| e.replace("&quot;", "\""));
                match (number, size) {
                    (Some(n), Some(s)) => out.push((n, etag, s)),
                    _ => return Err(bad_xml(key, "a part without number or size")),
                }
            }
            match xml_field(&text, "NextPartNumberMarker").and_then(|m| m.parse().ok()) {
                Some(m) if xml_field(&text, "IsTruncated") == Some("true") => marker = Some(m),
                _ => break,
            }
        }
        out.sort_by_key(|p| p.0);
        Ok(out)
    }

    /// Joins the parts into the object.
    pub fn complete(&self, key: &str, upload: &str, etags: &[String]) -> Result<(), BlobError> {
        let action = CompleteMultipartUpload::new(
            &self.bucket,
            Some(&self.creds),
            key,
            upload,
            etags.iter().map(String::as_str),
        );
        let url = action.sign(SIGNED_FOR);
        let body = action.body();
        let resp = self.call(key, "POST", url, &[], Some(body.as_bytes()))?;
        // S3 may answer 200 with an error document when the join fails late.
        let text = body_text(key, resp)?;
        if text.contains("<Error>") {
            return Err(BlobError::Io(io::Error::other(format!(
                "S3 {key}: completing the upload failed: {text}"
            ))));
        }
        Ok(())
    }

    /// Drops a multipart upload and its parts (a missing one is not an error).
    pub fn abort(&self, key: &str, upload: &str) -> Result<(), BlobError> {
        let url = AbortMultipartUpload::new(&self.bucket, Some(&self.creds), key, upload)
            .sign(SIGNED_FOR);
        match self.call(key, "DELETE", url, &[], None) {
            Ok(_) | Err(BlobError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
