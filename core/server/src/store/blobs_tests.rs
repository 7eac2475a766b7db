//! Unit tests of the local-disk blob store.
use super::*;

#[test]
fn stores_by_digest_and_cleans_up_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path()).expect("open");
    let mut w = store.create(5).expect("create");
    w.write_all(b"hello").expect("write");
    let info = w
        .finish(5, Some("5d41402abc4b2a76b9719d911017c592"))
        .expect("finish");
    assert_eq!(info.md5, "5d41402abc4b2a76b9719d911017c592");
    let (mut r, size) = store.open(&info.md5, 2).expect("open");
    let mut s = String::new();
    r.read_to_string(&mut s).expect("read");
    assert_eq!((size, s.as_str()), (5, "llo"));

    let mut w = store.create(3).expect("create");
    w.write_all(b"abc").expect("write");
    assert!(matches!(
        w.finish(3, Some("00000000000000000000000000000000")),
        Err(BlobError::DigestMismatch { .. })
    ));
    let mut w = store.create(3).expect("create");
    w.write_all(b"ab").expect("write");
    drop(w);
    assert_eq!(
        fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
        0
    );
}

fn stored(store: &FsBlobStore, bytes: &[u8]) -> String {
    let mut w = store.create(bytes.len() as u64).expect("create");
    w.write_all(bytes).expect("write");
    w.finish(bytes.len() as u64, None).expect("finish").md5
}

#[test]
fn an_altered_blob_fails_before_its_last_bytes_and_goes_to_quarantine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path()).expect("open");
    let md5 = stored(&store, &[7u8; 1000]);
    for offset in [0, 500] {
        let (mut r, size) = store.open(&md5, offset).expect("open");
        let mut all = Vec::new();
        r.read_to_end(&mut all).expect("whole blob reads");
        assert_eq!((size, all.len() as u64), (1000, 1000 - offset));
    }
    let path = store.path_of(&md5).expect("key");
    fs::write(&path, [8u8; 1000]).expect("tamper");
    let (mut r, _) = store.open(&md5, 0).expect("open");
    let mut buf = [0u8; 600];
    assert_eq!(r.read(&mut buf).expect("first read"), 600);
    assert!(
        r.read(&mut buf).is_err(),
        "the read with the last byte fails"
    );
    assert!(!path.exists());
    assert!(store.quarantine_dir().join(&md5).exists());
    assert_eq!(store.size(&md5), None);
}

#[test]
fn a_resumed_read_of_an_altered_blob_fails_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path()).expect("open");
    let md5 = stored(&store, &[1u8; 100]);
    let mut bytes = [1u8; 100];
    bytes[3] = 2;
    fs::write(store.path_of(&md5).expect("key"), bytes).expect("tamper");
    let (mut r, _) = store.open(&md5, 90).expect("open");
    assert!(r.read_to_end(&mut Vec::new()).is_err());
}

#[test]
fn refuses_keys_that_are_not_digests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path()).expect("open");
    assert!(matches!(
        store.open("../../etc/passwd", 0),
        Err(BlobError::BadKey)
    ));
    assert!(!store.exists("../x"));
}

#[test]
fn refuses_uploads_larger_than_the_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path()).expect("open");
    assert!(matches!(
        store.create(u64::MAX / 2),
        Err(BlobError::NoSpace { .. })
    ));
}

/// A write longer than a write-back interval (the flusher syncs beside the writer)
/// arrives whole, under its MD5, and a cut-off one still leaves nothing behind.
#[test]
fn a_file_written_back_while_it_grows_arrives_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FsBlobStore::open(dir.path()).expect("open");
    let len = super::super::flusher::EVERY + 12_345;
    let chunk: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    let mut w = store.create(len).expect("create");
    let mut h = Md5::new();
    let mut left = len;
    while left > 0 {
        let n = (chunk.len() as u64).min(left) as usize;
        w.write_all(&chunk[..n]).expect("write");
        h.update(&chunk[..n]);
        left -= n as u64;
    }
    let md5 = hex::encode(h.finalize());
    let info = w.finish(len, Some(&md5)).expect("finish");
    assert_eq!((info.md5.as_str(), info.size), (md5.as_str(), len));
    let (mut r, size) = store.open(&md5, 0).expect("open");
    assert_eq!(size, len);
    assert_eq!(io::copy(&mut r, &mut io::sink()).expect("read"), len);

    let mut w = store.create(len).expect("create");
    for _ in 0..8 {
        w.write_all(&chunk).expect("write");
    }
    drop(w);
    assert_eq!(
        fs::read_dir(dir.path().join("tmp")).expect("tmp").count(),
        0
    );
}
