//! Reads DOCX and ODT exports back with independent readers, python-docx and odfpy, through
//! `tests/python/read_export.py`, and checks that headings, lists, links, tables and the title
//! are what a reader sees, not just bytes we wrote.
//!
//! The readers live in the virtualenv `target/test-venv` that `./scripts/test` creates. Without
//! it these tests fail with a message saying so; `RELAIS_SKIP_PYTHON=1` skips them on purpose.

use std::path::{Path, PathBuf};
use std::process::Command;

use relais_crdt::model::{
    ActionItem, ActionStatus, Block, Content, Inline, ListItem, Marks, TableCell, TableRow,
};
use relais_export::{Format, Metadata, Seal};
use serde_json::{Value, json};

const SITE: &str = "https://www.collectivites-locales.gouv.fr";

fn text(text: &str) -> Inline {
    Inline::Text {
        text: text.into(),
        marks: Marks::default(),
    }
}

fn marked(text: &str, marks: Marks) -> Inline {
    Inline::Text {
        text: text.into(),
        marks,
    }
}

fn paragraph(content: Vec<Inline>) -> Block {
    Block::Paragraph { content }
}

fn item(content: &str, nested: Option<Block>) -> ListItem {
    let mut blocks = vec![paragraph(vec![text(content)])];
    blocks.extend(nested);
    ListItem {
        checked: None,
        blocks,
    }
}

fn task(content: &str, checked: bool) -> ListItem {
    ListItem {
        checked: Some(checked),
        blocks: vec![paragraph(vec![text(content)])],
    }
}

fn cell(header: bool, content: &str) -> TableCell {
    TableCell {
        header,
        colspan: 1,
        rowspan: 1,
        blocks: vec![paragraph(vec![text(content)])],
    }
}

fn minutes() -> (Content, Metadata) {
    let content = Content {
        blocks: vec![
            Block::Heading {
                level: 1,
                content: vec![text("Compte rendu du comité de pilotage")],
            },
            Block::Heading {
                level: 2,
                content: vec![text("Décisions")],
            },
            paragraph(vec![
                text("Le comité a "),
                marked(
                    "validé",
                    Marks {
                        bold: true,
                        ..Marks::default()
                    },
                ),
                text(" le budget "),
                marked(
                    "à l'unanimité",
                    Marks {
                        italic: true,
                        ..Marks::default()
                    },
                ),
                text(" ; voir le "),
                marked(
                    "site des collectivités",
                    Marks {
                        link: Some(SITE.into()),
                        ..Marks::default()
                    },
                ),
                text("."),
            ]),
            Block::BulletList {
                items: vec![
                    item("Budget", None),
                    item(
                        "Travaux",
                        Some(Block::BulletList {
                            items: vec![item("Voirie", None)],
                        }),
                    ),
                    item("Communication", None),
                ],
            },
            Block::OrderedList {
                start: 1,
                items: vec![item("Ouverture de séance", None), item("Approbation", None)],
            },
            Block::TaskList {
                items: vec![
                    task("Envoyer la convocation", true),
                    task("Publier le compte rendu", false),
                ],
            },
            Block::Table {
                rows: vec![
                    TableRow {
                        cells: vec![
                            cell(true, "Qui"),
                            cell(true, "Quoi"),
                            cell(true, "Échéance"),
                        ],
                    },
                    TableRow {
                        cells: vec![
                            cell(false, "Mairie"),
                            cell(false, "Devis voirie"),
                            cell(false, "Avril"),
                        ],
                    },
                    TableRow {
                        cells: vec![
                            cell(false, "Département"),
                            cell(false, "Subvention | aide"),
                            cell(false, "Juin"),
                        ],
                    },
                ],
            },
            Block::Action(ActionItem {
                assignee: "Direction générale des services".into(),
                due: Some("2025-04-01".into()),
                status: ActionStatus::Open,
                content: vec![text("Transmettre le compte rendu aux élus")],
            }),
        ],
    };
    let meta = Metadata {
        title: "Comité de pilotage du 14 mars 2025".into(),
        version_label: "Version 12 — « Avant comité de pilotage »".into(),
        created_at: "14 mars 2025 à 10 h 30".into(),
        authors: vec!["Anne Dupont".into(), "Bruno Martin".into()],
        seal: Some(Seal {
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            validator: "Claire Petit".into(),
            validated_at: "15 mars 2025".into(),
            comment: "Conforme aux échanges".into(),
        }),
    };
    (content, meta)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate lives in the workspace")
        .to_path_buf()
}

/// The virtualenv's interpreter, or `None` when the caller asked to skip.
fn python() -> Option<PathBuf> {
    if std::env::var("RELAIS_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("RELAIS_SKIP_PYTHON=1: the DOCX and ODT read-back is skipped");
        return None;
    }
    let python = workspace_root().join("target/test-venv/bin/python");
    let advice = "run ./scripts/test, which creates target/test-venv with python-docx and odfpy \
                  (a venv made before they were added needs: target/test-venv/bin/pip install \
                  python-docx==1.2.0 odfpy==1.4.1), or set RELAIS_SKIP_PYTHON=1 to skip this test";
    assert!(python.exists(), "{} is missing: {advice}", python.display());
    let imports = Command::new(&python)
        .args(["-c", "import docx, odf.opendocument"])
        .output()
        .expect("the venv's python runs");
    assert!(
        imports.status.success(),
        "python-docx or odfpy is missing from target/test-venv ({}): {advice}",
        String::from_utf8_lossy(&imports.stderr).trim()
    );
    Some(python)
}

/// Writes `format`'s export of the test minutes to a temporary file and reads it back.
fn read_back(python: &Path, format: Format) -> Value {
    let (content, meta) = minutes();
    let bytes = format.render(&content, &meta);
    assert_eq!(
        bytes,
        format.render(&content, &meta),
        "the same input gives the same bytes"
    );
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory
        .path()
        .join(format!("compte-rendu.{}", format.extension()));
    std::fs::write(&path, &bytes).expect("the export is written");
    let output = Command::new(python)
        .arg(workspace_root().join("tests/python/read_export.py"))
        .arg(&path)
        .output()
        .expect("read_export.py runs");
    assert!(
        output.status.success(),
        "read_export.py failed on the {format:?} export: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value =
        serde_json::from_slice(&output.stdout).expect("read_export.py prints JSON");
    eprintln!("{format:?} read back: {summary:#}");
    summary
}

fn texts(summary: &Value, key: &str) -> Vec<String> {
    summary[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is a list in {summary}"))
        .iter()
        .map(|value| {
            value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value["text"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn list_item<'a>(summary: &'a Value, text: &str) -> &'a Value {
    summary["list_items"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["text"] == text))
        .unwrap_or_else(|| panic!("no list item {text:?} in {summary}"))
}

/// What both formats must show a reader.
fn check(summary: &Value) {
    assert_eq!(summary["title"], "Comité de pilotage du 14 mars 2025");

    let headings: Vec<(u64, String)> = summary["headings"]
        .as_array()
        .expect("headings")
        .iter()
        .map(|h| {
            (
                h["level"].as_u64().expect("a level from the heading style"),
                h["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        headings,
        [
            (1, "Compte rendu du comité de pilotage".to_owned()),
            (2, "Décisions".to_owned())
        ],
        "the title is not a heading, the content's headings are"
    );

    let paragraphs = texts(summary, "paragraphs");
    for expected in [
        "Comité de pilotage du 14 mars 2025",
        "Version 12 — « Avant comité de pilotage »",
        "Le comité a validé le budget à l'unanimité ; voir le site des collectivités.",
        "Empreinte SHA-256 :\n9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "Actions",
    ] {
        assert!(
            paragraphs.iter().any(|p| p == expected),
            "no paragraph {expected:?} in {paragraphs:#?}"
        );
    }

    for (text, kind, level) in [
        ("Budget", "bullet", 0),
        ("Travaux", "bullet", 0),
        ("Voirie", "bullet", 1),
        ("Communication", "bullet", 0),
        ("Ouverture de séance", "number", 0),
        ("Approbation", "number", 0),
        ("☑ Envoyer la convocation", "none", 0),
        ("☐ Publier le compte rendu", "none", 0),
    ] {
        let item = list_item(summary, text);
        assert_eq!(item["kind"], kind, "{text}: {item}");
        assert_eq!(item["level"], level, "{text}: {item}");
    }
    assert_eq!(summary["list_items"].as_array().map(Vec::len), Some(8));

    assert_eq!(
        summary["links"],
        json!([{ "href": SITE, "text": "site des collectivités" }])
    );

    assert_eq!(
        summary["tables"][0],
        json!([
            ["Qui", "Quoi", "Échéance"],
            ["Mairie", "Devis voirie", "Avril"],
            ["Département", "Subvention | aide", "Juin"],
        ])
    );
    assert_eq!(
        summary["tables"][1],
        json!([
            ["Responsable", "Action", "Échéance", "Statut"],
            [
                "Direction générale des services",
                "Transmettre le compte rendu aux élus",
                "01/04/2025",
                "À faire"
            ],
        ])
    );
    assert_eq!(summary["tables"].as_array().map(Vec::len), Some(2));
}

#[test]
fn docx_reads_back_with_python_docx() {
    let Some(python) = python() else { return };
    let summary = read_back(&python, Format::Docx);
    check(&summary);
}

#[test]
fn odt_reads_back_with_odfpy() {
    let Some(python) = python() else { return };
    let summary = read_back(&python, Format::Odt);
    check(&summary);
    // ODT headings carry their level twice: in the style and as the outline level.
    for heading in summary["headings"].as_array().expect("headings") {
        assert_eq!(heading["level"], heading["outline_level"], "{heading}");
    }
}
