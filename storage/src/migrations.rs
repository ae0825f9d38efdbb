//! Schema migrations, embedded in the binary.
//!
//! The SQL lives in `storage/migrations/{sqlite,postgres}/NNNN_description.sql`, one folder per
//! backend. The files are compiled in with `include_str!` (the `sqlx::migrate!` macro needs the
//! `macros` feature, which is off to keep builds short), so the binary carries its schema and
//! runs from any working directory. Versions and checksums (sha384 of the file) are the ones
//! `sqlx-cli` would compute from the same folder. Never edit a released file: add a new one.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One embedded migration: version, description, SQL.
type Embedded = (i64, &'static str, &'static str);

/// Register each new file here too; a test checks this list against the folder.
const SQLITE: &[Embedded] = &[(
    1,
    "documents",
    include_str!("../migrations/sqlite/0001_documents.sql"),
)];

const POSTGRES: &[Embedded] = &[(
    1,
    "documents",
    include_str!("../migrations/postgres/0001_documents.sql"),
)];

fn migrator(embedded: &[Embedded]) -> Migrator {
    Migrator::with_migrations(
        embedded
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The SQLite schema's migrations.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The Postgres schema's migrations.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files in a migrations folder, as (version, description, contents).
    fn folder(backend: &str) -> Vec<(i64, String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_str().unwrap().to_owned();
                let stem = name.strip_suffix(".sql").unwrap_or_else(|| {
                    panic!("{name}: only .sql files belong in migrations/{backend}")
                });
                let (version, description) = stem.split_once('_').unwrap();
                (
                    version.parse().unwrap(),
                    description.replace('_', " "),
                    std::fs::read_to_string(&path).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    fn embedded(list: &[Embedded]) -> Vec<(i64, String, String)> {
        list.iter()
            .map(|&(version, description, sql)| (version, description.to_owned(), sql.to_owned()))
            .collect()
    }

    #[test]
    fn every_sqlite_file_is_embedded() {
        assert_eq!(folder("sqlite"), embedded(SQLITE));
    }

    #[test]
    fn every_postgres_file_is_embedded() {
        assert_eq!(folder("postgres"), embedded(POSTGRES));
    }

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |list: &[Embedded]| list.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert_eq!(sqlite().iter().count(), SQLITE.len());
        assert_eq!(postgres().iter().count(), POSTGRES.len());
    }
}
