"""How to cite Loss Atlas: its CITATION.cff read with PyYAML, and a BibTeX entry made from it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml


def find_cff(*directories: str | os.PathLike) -> Path | None:
    """The first ``CITATION.cff`` in ``directories``, then in the checkout lossatlas is installed from; None if none."""
    candidates = [Path(d) / "CITATION.cff" for d in directories]
    candidates.append(Path(__file__).resolve().parents[3] / "CITATION.cff")  # src/lossatlas/report/ -> the checkout
    return next((path for path in candidates if path.is_file()), None)


def read_cff(path: str | os.PathLike) -> dict:
    """The CITATION.cff at ``path`` as a mapping; raises ValueError when it is not one or has no title."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not document.get("title"):
        raise ValueError(f"{path}: not a CITATION.cff (a mapping with a title)")
    return document


def author_names(cff: dict) -> list[str]:
    """Each author as written: ``name`` (an entity) or ``given-names family-names`` (a person)."""
    names = []
    for author in cff.get("authors") or []:
        if author.get("name"):
            names.append(str(author["name"]))
        else:
            names.append(" ".join(str(author[k]) for k in ("given-names", "name-particle", "family-names", "name-suffix") if author.get(k)))
    return [name for name in names if name]


def bibtex_escape(text: str) -> str:
    """``text`` safe inside a braced BibTeX field: LaTeX specials escaped."""
    replacements = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(replacements.get(char, char) for char in str(text))


def bibtex_author(cff_author: dict) -> str:
    """One BibTeX author: an entity in double braces (so BibTeX does not split it), a person as ``family, given``."""
    if cff_author.get("name"):
        return "{" + bibtex_escape(cff_author["name"]) + "}"
    family = " ".join(str(cff_author[k]) for k in ("name-particle", "family-names") if cff_author.get(k))
    given = cff_author.get("given-names")
    return bibtex_escape(f"{family}, {given}" if given else family)


def bibtex_key(cff: dict) -> str:
    """A citation key from the title's first word and the release year: ``lossatlas2026``."""
    word = re.sub(r"[^a-z0-9]", "", str(cff["title"]).split(":")[0].lower()) or "software"
    return f"{word}{release_year(cff) or ''}"


def release_year(cff: dict) -> str | None:
    date = cff.get("date-released")
    return str(date)[:4] if date else None


def bibtex(cff: dict, commit: str | None = None) -> str:
    """A ``@software`` BibTeX entry: title, author, version, year (of ``date-released``), license,
    url (``repository-code`` or ``url``, when given) and the commit as ``note``."""
    fields = [("title", "{" + bibtex_escape(cff["title"]) + "}")]
    authors = cff.get("authors") or []
    if authors:
        fields.append(("author", " and ".join(bibtex_author(a) for a in authors)))
    for key, field in (("version", "version"), ("license", "license")):
        if cff.get(key):
            fields.append((field, bibtex_escape(cff[key])))
    if release_year(cff):
        fields.append(("year", release_year(cff)))
    if cff.get("date-released"):
        fields.append(("date", str(cff["date-released"])))
    url = cff.get("repository-code") or cff.get("url")
    if url:
        fields.append(("url", str(url)))
    if commit:
        fields.append(("note", f"commit {bibtex_escape(commit)}"))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@software{{{bibtex_key(cff)},\n{body}\n}}\n"
