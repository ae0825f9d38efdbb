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
const SQLITE: &[Embedded] = &[
    (
        1,
        "documents",
        include_str!("../migrations/sqlite/0001_documents.sql"),
    ),
    (
        2,
        "directory",
        include_str!("../migrations/sqlite/0002_directory.sql"),
    ),
    (
        3,
        "chat",
        include_str!("../migrations/sqlite/0003_chat.sql"),
    ),
    (
        4,
        "versions",
        include_str!("../migrations/sqlite/0004_versions.sql"),
    ),
];

const POSTGRES: &[Embedded] = &[
    (
        1,
        "documents",
        include_str!("../migrations/postgres/0001_documents.sql"),
    ),
    (
        2,
        "directory",
        include_str!("../migrations/postgres/0002_directory.sql"),
    ),
    (
        3,
        "chat",
        include_str!("../migrations/postgres/0003_chat.sql"),
    ),
    (
        4,
        "versions",
        include_str!("../migrations/postgres/0004_versions.sql"),
    ),
];

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

/// The latest migration version of this build (the same on both backends).
pub(crate) fn latest_version() -> i64 {
    SQLITE.iter().map(|m| m.0).max().unwrap_or(0)
}

/// Where a database's schema stands relative to the migrations built into this binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Every migration of this build is applied, and nothing else.
    Current {
        /// The latest migration's version.
        version: i64,
    },
    /// Some migrations of this build are not applied yet; opening the store with
    /// [`crate::connect`] (as the server does at startup) applies them.
    Behind {
        /// The highest applied version (0 when none is).
        applied: i64,
        /// The latest version of this build.
        latest: i64,
        /// How many migrations are missing.
        pending: usize,
    },
    /// The schema cannot be used by this build: a migration failed halfway, was changed after
    /// being applied, or comes from a newer build. Nothing here repairs it.
    Incompatible(String),
}

impl SchemaStatus {
    /// True when the schema is exactly the one this build expects.
    pub fn is_current(&self) -> bool {
        matches!(self, Self::Current { .. })
    }
}

impl std::fmt::Display for SchemaStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Current { version } => write!(f, "schema at version {version}, up to date"),
            Self::Behind {
                applied,
                latest,
                pending,
            } => write!(
                f,
                "schema at version {applied}, this build expects {latest} ({pending} {} pending)",
                if *pending == 1 {
                    "migration"
                } else {
                    "migrations"
                }
            ),
            Self::Incompatible(reason) => f.write_str(reason),
        }
    }
}

/// One row of sqlx's `_sqlx_migrations` table.
pub(crate) struct AppliedRow {
    pub version: i64,
    pub success: bool,
    pub checksum: Vec<u8>,
}

/// Compares what a database applied with what this build embeds. `applied` is `None` when the
/// migrations table does not exist (a database never migrated).
pub(crate) fn status(migrator: &Migrator, applied: Option<Vec<AppliedRow>>) -> SchemaStatus {
    let latest = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let applied = applied.unwrap_or_default();
    if let Some(row) = applied.iter().find(|row| !row.success) {
        return SchemaStatus::Incompatible(format!(
            "migration {} failed halfway and must be repaired by hand",
            row.version
        ));
    }
    for row in &applied {
        match migrator.iter().find(|m| m.version == row.version) {
            None => {
                return SchemaStatus::Incompatible(format!(
                    "the database has migration {}, unknown to this build (made by a newer relais?)",
                    row.version
                ));
            }
            Some(embedded) if *embedded.checksum != *row.checksum => {
                return SchemaStatus::Incompatible(format!(
                    "migration {} in the database differs from this build's copy",
                    row.version
                ));
            }
            Some(_) => {}
        }
    }
    let pending = migrator
        .iter()
        .filter(|m| !applied.iter().any(|row| row.version == m.version))
        .count();
    if pending == 0 {
        SchemaStatus::Current { version: latest }
    } else {
        SchemaStatus::Behind {
            applied: applied.iter().map(|row| row.version).max().unwrap_or(0),
            latest,
            pending,
        }
    }
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

    fn applied(migrator: &Migrator) -> Vec<AppliedRow> {
        migrator
            .iter()
            .map(|m| AppliedRow {
                version: m.version,
                success: true,
                checksum: m.checksum.to_vec(),
            })
            .collect()
    }

    #[test]
    fn status_compares_applied_with_embedded() {
        let migrator = sqlite();
        let latest = SQLITE.len() as i64;
        assert_eq!(
            status(&migrator, Some(applied(&migrator))),
            SchemaStatus::Current { version: latest }
        );
        assert_eq!(
            status(&migrator, None),
            SchemaStatus::Behind {
                applied: 0,
                latest,
                pending: SQLITE.len()
            }
        );

        let mut failed = applied(&migrator);
        failed[0].success = false;
        assert!(matches!(
            status(&migrator, Some(failed)),
            SchemaStatus::Incompatible(reason) if reason.contains("failed halfway")
        ));

        let mut changed = applied(&migrator);
        changed[0].checksum = vec![0; 48];
        assert!(matches!(
            status(&migrator, Some(changed)),
            SchemaStatus::Incompatible(reason) if reason.contains("differs")
        ));

        let mut newer = applied(&migrator);
        newer.push(AppliedRow {
            version: 9999,
            success: true,
            checksum: vec![],
        });
        let newer = status(&migrator, Some(newer));
        assert!(!newer.is_current());
        assert!(newer.to_string().contains("9999"), "{newer}");
    }

    #[test]
    fn both_backends_have_the_same_versions() {
        let versions = |list: &[Embedded]| list.iter().map(|m| (m.0, m.1)).collect::<Vec<_>>();
        assert_eq!(versions(SQLITE), versions(POSTGRES));
        assert_eq!(sqlite().iter().count(), SQLITE.len());
        assert_eq!(postgres().iter().count(), POSTGRES.len());
    }
}
