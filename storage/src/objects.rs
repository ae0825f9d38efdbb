//! Object storage: opening a store from a URL, snapshot keys, write-once puts, checked reads.

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::id::{DocumentId, Seq};

/// Opens an object store from a URL.
///
/// - `file:///abs/path` or `file://relative/path`: a directory on this machine, created if
///   missing; writes are fsynced (a recorded snapshot must survive power loss).
/// - `memory://`: in memory, for tests; lost at exit.
/// - `s3://bucket/optional/prefix`: S3 or a compatible server, configured from the usual
///   `AWS_*` environment variables (`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, `AWS_REGION`,
///   credentials...). Installs ring as the process's rustls crypto provider if none is.
///
/// Anything else is [`StoreError::Config`] naming the scheme (never the whole URL, which may
/// hold credentials).
pub fn open_object_store(url: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
    if let Some(path) = url.strip_prefix("file://") {
        return open_local(path);
    }
    if url == "memory://" || url == "memory:" {
        return Ok(Arc::new(InMemory::new()));
    }
    if url.starts_with("s3://") {
        return open_s3(url);
    }
    let scheme = url.split_once(':').map_or("(none)", |(scheme, _)| scheme);
    Err(StoreError::Config(format!(
        "unsupported object store URL scheme {scheme:?}: use file://, memory:// or s3://"
    )))
}

fn open_local(path: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
    // Taken as a plain path rather than parsed as a URL, so that `file://data/objects` means
    // the relative directory `data/objects` and not a host named `data`.
    if path.is_empty() {
        return Err(StoreError::Config(
            "file:// object store URL has no directory".into(),
        ));
    }
    std::fs::create_dir_all(path).map_err(|error| {
        StoreError::Config(format!("cannot create object directory {path:?}: {error}"))
    })?;
    let store = LocalFileSystem::new_with_prefix(path)
        .map_err(|error| {
            StoreError::Config(format!("cannot open object directory {path:?}: {error}"))
        })?
        .with_fsync(true);
    Ok(Arc::new(store))
}

fn open_s3(url: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let parsed = url::Url::parse(url)
        .map_err(|error| StoreError::Config(format!("invalid s3:// object store URL: {error}")))?;
    let bucket = parsed
        .host_str()
        .filter(|bucket| !bucket.is_empty())
        .ok_or_else(|| StoreError::Config("s3:// object store URL has no bucket".into()))?;
    let builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    // reqwest is built with rustls and no bundled crypto provider (to avoid compiling
    // aws-lc); install ring as the process default. An error means one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let built = builder.build();
    let s3 = built.map_err(|error| StoreError::Config(format!("cannot configure S3: {error}")))?;
    let prefix = parsed.path().trim_matches('/');
    if prefix.is_empty() {
        return Ok(Arc::new(s3));
    }
    let prefix = Path::parse(prefix).map_err(|error| {
        StoreError::Config(format!("invalid prefix in s3:// object store URL: {error}"))
    })?;
    Ok(Arc::new(PrefixStore::new(s3, prefix)))
}

/// A fresh, never-used key for a snapshot blob:
/// `documents/{document}/snapshots/{upto_seq:020}-{uuid-v4}.ydoc`.
///
/// The zero-padded seq makes keys sort by log position; the uuid makes every write its own
/// object, so two nodes snapshotting the same point never fight over one key. The document
/// name is one path segment, percent-encoded where object stores dislike a character (`~`).
pub(crate) fn snapshot_path(document: &DocumentId, upto_seq: Seq) -> Path {
    let file_name = format!("{:020}-{}.ydoc", upto_seq.0, uuid::Uuid::new_v4());
    Path::from_iter([
        "documents",
        document.as_str(),
        "snapshots",
        file_name.as_str(),
    ])
}

/// Writes a blob that must not already exist.
pub(crate) async fn put_new(
    objects: &dyn ObjectStore,
    path: &Path,
    bytes: Bytes,
) -> Result<(), StoreError> {
    objects
        .put_opts(path, PutPayload::from(bytes), PutMode::Create.into())
        .await
        .map_err(StoreError::ObjectStore)?;
    Ok(())
}

/// The recorded identity of a blob, as kept in the database.
pub(crate) struct BlobRecord<'a> {
    pub key: &'a str,
    pub sha256_hex: &'a str,
    pub len: u64,
}

/// Reads a blob and checks it against its record: a missing blob or a length or sha256
/// mismatch is [`StoreError::Corrupt`].
pub(crate) async fn fetch_checked(
    objects: &dyn ObjectStore,
    record: &BlobRecord<'_>,
) -> Result<Bytes, StoreError> {
    let path = Path::parse(record.key).map_err(|error| {
        StoreError::corrupt(format!(
            "recorded object key {:?} is invalid: {error}",
            record.key
        ))
    })?;
    let fetched = match objects.get(&path).await {
        Ok(result) => result.bytes().await,
        Err(error) => Err(error),
    };
    let bytes = match fetched {
        Ok(bytes) => bytes,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(StoreError::corrupt(format!(
                "blob {} is recorded but missing",
                record.key
            )));
        }
        Err(error) => return Err(StoreError::ObjectStore(error)),
    };
    if bytes.len() as u64 != record.len {
        return Err(StoreError::corrupt(format!(
            "blob {} is {} bytes, {} recorded",
            record.key,
            bytes.len(),
            record.len
        )));
    }
    let actual = sha256_hex(&bytes);
    if !actual.eq_ignore_ascii_case(record.sha256_hex) {
        return Err(StoreError::corrupt(format!(
            "blob {} has sha256 {actual}, {} recorded",
            record.key, record.sha256_hex
        )));
    }
    Ok(bytes)
}

/// Succeeds on an empty store too: listing the root needs no object to exist.
pub(crate) async fn check_reachable(objects: &dyn ObjectStore) -> Result<(), StoreError> {
    objects
        .list_with_delimiter(None)
        .await
        .map_err(StoreError::ObjectStore)?;
    Ok(())
}

/// The first object found anywhere in the store, if any: a store is empty when this is `None`.
pub(crate) async fn first_object(
    objects: &dyn ObjectStore,
) -> Result<Option<String>, object_store::Error> {
    use futures_util::StreamExt as _;
    match objects.list(None).next().await {
        None => Ok(None),
        Some(Ok(meta)) => Ok(Some(meta.location.to_string())),
        Some(Err(error)) => Err(error),
    }
}

/// Proves the store is writable the way snapshots need it: writes a fresh probe object under
/// `doctor/` with a create-only put, reads it back, and deletes it.
pub(crate) async fn probe(objects: &dyn ObjectStore) -> Result<(), StoreError> {
    let path = Path::from_iter(["doctor", &format!("probe-{}", uuid::Uuid::new_v4())]);
    let payload = Bytes::from(format!("relais doctor probe {path}"));
    put_new(objects, &path, payload.clone()).await?;
    let read_back = match objects.get(&path).await {
        Ok(result) => result.bytes().await.map_err(StoreError::ObjectStore)?,
        Err(error) => return Err(StoreError::ObjectStore(error)),
    };
    if read_back != payload {
        return Err(StoreError::corrupt(format!(
            "probe object {path} read back different bytes"
        )));
    }
    objects.delete(&path).await.map_err(StoreError::ObjectStore)
}

/// Lowercase hex sha256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn snapshot_key_layout() {
        let document = DocumentId::parse("notes:2026").unwrap();
        let path = snapshot_path(&document, Seq(42));
        let key = path.as_ref();
        let rest = key
            .strip_prefix("documents/notes:2026/snapshots/00000000000000000042-")
            .unwrap_or_else(|| panic!("unexpected key {key}"));
        let uuid = rest.strip_suffix(".ydoc").unwrap();
        assert!(uuid::Uuid::parse_str(uuid).is_ok());
        assert_ne!(
            path,
            snapshot_path(&document, Seq(42)),
            "keys must be unique"
        );
    }

    #[test]
    fn odd_names_stay_one_segment_and_round_trip() {
        let document = DocumentId::parse("a~b..c").unwrap();
        let path = snapshot_path(&document, Seq(1));
        assert_eq!(path.parts().count(), 4);
        assert_eq!(Path::parse(path.as_ref()).unwrap(), path);
    }

    #[test]
    fn refuses_unknown_schemes_naming_only_the_scheme() {
        for url in [
            "gs://bucket",
            "https://user:secret@example.com/x",
            "objects",
            "",
        ] {
            let error = open_object_store(url)
                .err()
                .unwrap_or_else(|| panic!("{url} accepted"));
            assert!(matches!(error, StoreError::Config(_)), "{url}: {error:?}");
            assert!(!error.to_string().contains("secret"));
        }
    }

    #[tokio::test]
    async fn memory_store_is_ready() {
        let store = open_object_store("memory://").unwrap();
        check_reachable(store.as_ref()).await.unwrap();
    }

    #[tokio::test]
    async fn file_urls_create_the_directory() {
        let temp = tempfile::tempdir().unwrap();
        let absolute = temp.path().join("nested/objects");
        let store = open_object_store(&format!("file://{}", absolute.display())).unwrap();
        assert!(absolute.is_dir());
        check_reachable(store.as_ref()).await.unwrap();
        put_new(store.as_ref(), &Path::from("x"), Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(absolute.join("x").is_file());
    }

    #[tokio::test]
    async fn relative_file_urls_are_relative_paths() {
        // Tests run in the crate directory; the temporary directory is removed on drop.
        let temp = tempfile::tempdir_in(".").unwrap();
        let name = temp.path().file_name().unwrap().to_str().unwrap();
        let store = open_object_store(&format!("file://{name}/objects")).unwrap();
        assert!(temp.path().join("objects").is_dir());
        put_new(store.as_ref(), &Path::from("x"), Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert!(temp.path().join("objects/x").is_file());
    }

    #[tokio::test]
    async fn put_new_refuses_to_overwrite() {
        let store = open_object_store("memory://").unwrap();
        let path = Path::from("once");
        put_new(store.as_ref(), &path, Bytes::from_static(b"1"))
            .await
            .unwrap();
        let error = put_new(store.as_ref(), &path, Bytes::from_static(b"2"))
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            StoreError::ObjectStore(object_store::Error::AlreadyExists { .. })
        ));
    }

    #[tokio::test]
    async fn fetch_checked_detects_missing_and_altered_blobs() {
        let store = open_object_store("memory://").unwrap();
        let path = Path::from("blob");
        put_new(store.as_ref(), &path, Bytes::from_static(b"state"))
            .await
            .unwrap();
        let good = sha256_hex(b"state");
        let record = BlobRecord {
            key: "blob",
            sha256_hex: &good,
            len: 5,
        };
        assert_eq!(
            fetch_checked(store.as_ref(), &record).await.unwrap(),
            "state"
        );

        let wrong_sha = sha256_hex(b"other");
        let record = BlobRecord {
            key: "blob",
            sha256_hex: &wrong_sha,
            len: 5,
        };
        assert!(matches!(
            fetch_checked(store.as_ref(), &record).await,
            Err(StoreError::Corrupt(_))
        ));
        let record = BlobRecord {
            key: "blob",
            sha256_hex: &good,
            len: 6,
        };
        assert!(matches!(
            fetch_checked(store.as_ref(), &record).await,
            Err(StoreError::Corrupt(_))
        ));
        let record = BlobRecord {
            key: "missing",
            sha256_hex: &good,
            len: 5,
        };
        assert!(matches!(
            fetch_checked(store.as_ref(), &record).await,
            Err(StoreError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn probe_leaves_nothing_behind() {
        let temp = tempfile::tempdir().unwrap();
        let store = open_object_store(&format!("file://{}", temp.path().display())).unwrap();
        assert_eq!(first_object(store.as_ref()).await.unwrap(), None);
        probe(store.as_ref()).await.unwrap();
        assert_eq!(first_object(store.as_ref()).await.unwrap(), None);
        put_new(store.as_ref(), &Path::from("a/b"), Bytes::from_static(b"1"))
            .await
            .unwrap();
        assert_eq!(
            first_object(store.as_ref()).await.unwrap().as_deref(),
            Some("a/b")
        );
    }

    #[test]
    fn s3_urls_open_without_network_and_need_a_bucket() {
        // Building the client touches no network; it must not need a provider installed by
        // the caller either.
        open_object_store("s3://relais-test-bucket/some/prefix").unwrap();
        assert!(matches!(
            open_object_store("s3:///no-bucket"),
            Err(StoreError::Config(_))
        ));
    }
}
