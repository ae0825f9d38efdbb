#!/usr/bin/env python3
"""Reads a DOCX or ODT export back with an independent library and prints a JSON summary.

Used by export/tests/readback.rs to check that what relais-export writes is what real readers
see: python-docx for .docx, odfpy for .odt (pinned in scripts/test, installed into
target/test-venv).

Usage: read_export.py FILE.docx|FILE.odt

The summary, in document order:
  title       the title in the file's properties (core.xml / meta.xml)
  headings    [{"level": N, "text": ...}]: paragraphs whose style is a heading style
  paragraphs  [text]: other paragraphs outside tables and lists
  list_items  [{"text": ..., "kind": "bullet"|"number"|"none", "level": N}] (level from 0)
  links       [{"href": ..., "text": ...}], anywhere in the body
  tables      [[[cell text, ...], ...], ...]: rows of cell texts, header rows first

Exit status 2 on usage errors, 3 when a reader library is missing.
"""

import json
import re
import sys


def missing(module):
    print(
        f"read_export.py: the Python module {module!r} is missing; run ./scripts/test, "
        "which creates target/test-venv with python-docx and odfpy",
        file=sys.stderr,
    )
    sys.exit(3)


def read_docx(path):
    try:
        import docx
        from docx.oxml.ns import qn
        from docx.table import Table
        from docx.text.paragraph import Paragraph
    except ImportError:
        missing("docx (python-docx)")

    document = docx.Document(path)
    summary = {
        "title": document.core_properties.title,
        "headings": [],
        "paragraphs": [],
        "list_items": [],
        "links": [],
        "tables": [],
    }

    # Numbering id -> list level -> number format, from numbering.xml.
    formats = {}
    try:
        numbering = document.part.numbering_part.element
    except (KeyError, NotImplementedError):
        numbering = None
    if numbering is not None:
        abstract = {}
        for definition in numbering.findall(qn("w:abstractNum")):
            levels = {}
            for level in definition.findall(qn("w:lvl")):
                number_format = level.find(qn("w:numFmt"))
                levels[int(level.get(qn("w:ilvl")))] = (
                    number_format.get(qn("w:val")) if number_format is not None else None
                )
            abstract[definition.get(qn("w:abstractNumId"))] = levels
        for instance in numbering.findall(qn("w:num")):
            abstract_id = instance.find(qn("w:abstractNumId")).get(qn("w:val"))
            formats[instance.get(qn("w:numId"))] = abstract.get(abstract_id, {})

    def kind(number_format):
        if number_format == "bullet":
            return "bullet"
        if number_format in (None, "none"):
            return "none"
        return "number"

    for child in document.element.body.iterchildren():
        if child.tag == qn("w:p"):
            paragraph = Paragraph(child, document)
            text = paragraph.text
            style = paragraph.style.name if paragraph.style is not None else ""
            heading = re.fullmatch(r"Heading (\d)", style)
            properties = child.pPr
            numbering_properties = properties.numPr if properties is not None else None
            if heading:
                summary["headings"].append({"level": int(heading.group(1)), "text": text})
            elif numbering_properties is not None and numbering_properties.numId is not None:
                level = (
                    numbering_properties.ilvl.val if numbering_properties.ilvl is not None else 0
                )
                num_id = str(numbering_properties.numId.val)
                summary["list_items"].append(
                    {"text": text, "kind": kind(formats.get(num_id, {}).get(level)), "level": level}
                )
            elif text:
                summary["paragraphs"].append(text)
        elif child.tag == qn("w:tbl"):
            table = Table(child, document)
            summary["tables"].append([[cell.text for cell in row.cells] for row in table.rows])

    for element in document.element.body.iter(qn("w:hyperlink")):
        relationship = element.get(qn("r:id"))
        href = document.part.rels[relationship].target_ref if relationship else None
        text = "".join(node.text or "" for node in element.iter(qn("w:t")))
        summary["links"].append({"href": href, "text": text})
    return summary


def read_odt(path):
    try:
        from odf import teletype
        from odf.namespaces import STYLENS, TABLENS, TEXTNS, XLINKNS
        from odf.opendocument import load
        from odf.table import TableRow
        from odf.text import A, ListStyle
    except ImportError:
        missing("odf (odfpy)")

    document = load(path)
    summary = {
        "title": None,
        "headings": [],
        "paragraphs": [],
        "list_items": [],
        "links": [],
        "tables": [],
    }
    for element in document.meta.childNodes:
        if element.qname == ("http://purl.org/dc/elements/1.1/", "title"):
            summary["title"] = teletype.extractText(element)

    # List style name -> level (from 1) -> "bullet" | "number" | "none".
    list_kinds = {}
    for container in (document.styles, document.automaticstyles):
        for style in container.getElementsByType(ListStyle):
            levels = {}
            for level_style in style.childNodes:
                level = int(level_style.getAttrNS(TEXTNS, "level"))
                if level_style.qname == (TEXTNS, "list-level-style-bullet"):
                    levels[level] = "bullet"
                else:
                    number_format = level_style.getAttrNS(STYLENS, "num-format")
                    levels[level] = "number" if number_format else "none"
            list_kinds[style.getAttrNS(STYLENS, "name")] = levels

    def walk(nodes, list_style, level):
        """Visits block content in document order; level is -1 outside lists."""
        for child in nodes:
            qname = getattr(child, "qname", None)
            if qname == (TEXTNS, "h"):
                style = child.getAttrNS(TEXTNS, "style-name") or ""
                match = re.fullmatch(r"Heading_20_(\d)", style)
                summary["headings"].append(
                    {
                        "level": int(match.group(1)) if match else None,
                        "outline_level": int(child.getAttrNS(TEXTNS, "outline-level") or 0),
                        "text": teletype.extractText(child),
                    }
                )
            elif qname == (TEXTNS, "p"):
                text = teletype.extractText(child)
                if text:
                    summary["paragraphs"].append(text)
            elif qname == (TEXTNS, "list"):
                style = child.getAttrNS(TEXTNS, "style-name") or list_style
                kind = list_kinds.get(style, {}).get(level + 2, "none")
                for item in child.childNodes:
                    if getattr(item, "qname", None) != (TEXTNS, "list-item"):
                        continue
                    # The item's first paragraph carries its number or bullet.
                    blocks = list(item.childNodes)
                    if blocks and blocks[0].qname == (TEXTNS, "p"):
                        text = teletype.extractText(blocks[0])
                        summary["list_items"].append({"text": text, "kind": kind, "level": level + 1})
                        blocks = blocks[1:]
                    walk(blocks, style, level + 1)
            elif qname == (TABLENS, "table"):
                rows = []
                for row in child.getElementsByType(TableRow):
                    cells = []
                    for cell in row.childNodes:
                        if cell.qname == (TABLENS, "table-cell"):
                            cells.append("\n".join(teletype.extractText(p) for p in cell.childNodes))
                        elif cell.qname == (TABLENS, "covered-table-cell"):
                            cells.append("")
                    rows.append(cells)
                summary["tables"].append(rows)
            elif qname == (TEXTNS, "section"):
                walk(child.childNodes, list_style, level)

    walk(document.text.childNodes, None, -1)

    for link in document.text.getElementsByType(A):
        summary["links"].append(
            {"href": link.getAttrNS(XLINKNS, "href"), "text": teletype.extractText(link)}
        )
    return summary


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path = sys.argv[1]
    if path.endswith(".docx"):
        summary = read_docx(path)
    elif path.endswith(".odt"):
        summary = read_odt(path)
    else:
        print(f"read_export.py: {path}: expected a .docx or .odt file", file=sys.stderr)
        sys.exit(2)
    json.dump(summary, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
