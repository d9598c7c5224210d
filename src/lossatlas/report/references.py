"""The works the report cites: a BibTeX file read, cited in the text, listed at the end.

``report/references.bib`` holds one entry per work. A document cites with :meth:`Citations.cite`
(``(Holm 1979)``) or :meth:`Citations.cite_text` (``Holm (1979)``), each a link to the entry; its
references section lists exactly the entries it cited, in the order it first cited them
(:meth:`Citations.listed`), so every work cited is listed and every work listed is cited. An
unknown key is a ValueError naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import markupsafe

#: The report's bibliography, next to its templates.
BIBLIOGRAPHY = "references.bib"

_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,(.*?)\n\}", re.S)
_FIELD = re.compile(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", re.S)


def read_bibliography(path: str | os.PathLike) -> dict[str, dict]:
    """The entries of the BibTeX file ``path``: key -> ``{"type", "key", "bibtex", <field>: text}``
    (braces that protect capitals removed, ``--`` as an en dash). ValueError for a repeated key or
    an entry without a title or year."""
    text = Path(path).read_text(encoding="utf-8")
    entries: dict[str, dict] = {}
    for match in _ENTRY.finditer(text):
        kind, key, body = match.group(1).lower(), match.group(2), match.group(3)
        if key in entries:
            raise ValueError(f"{path}: entry {key!r} appears twice")
        fields = {name.lower(): " ".join(value.replace("{", "").replace("}", "").replace("--", "–").split())
                  for name, value in _FIELD.findall(body)}
        missing = [name for name in ("title", "year") if name not in fields]
        if missing:
            raise ValueError(f"{path}: entry {key!r} lacks {', '.join(missing)}")
        entries[key] = {"type": kind, "key": key, "bibtex": match.group(0).strip(), **fields}
    return entries


def surnames(entry: dict) -> list[str]:
    """The authors' surnames of ``entry`` (``"Kaplan, Edward L. and Meier, Paul"`` -> Kaplan, Meier;
    ``others`` kept as the marker of a longer list)."""
    names = [name.strip() for name in entry.get("author", "").split(" and ") if name.strip()]
    return [name.split(",")[0].strip() if "," in name else name.split()[-1] for name in names]


def short_name(entry: dict) -> str:
    """How the text names a work: ``Holm``, ``Kaplan and Meier``, ``Efron et al.``; a work without
    authors by the start of its title."""
    names = surnames(entry)
    if not names:
        words = entry["title"].split()
        return "“" + " ".join(words[:4]) + ("…" if len(words) > 4 else "") + "”"
    if len(names) == 1:
        return names[0]
    if len(names) == 2 and names[1] != "others":
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def reference_text(entry: dict) -> str:
    """The entry as the references list writes it: authors (year). Title. Venue, volume(number), pages."""
    names = surnames(entry)
    listed = [name for name in names if name != "others"]
    authors = ", ".join(listed[:-1]) + f" and {listed[-1]}" if len(listed) > 1 and "others" not in names else ", ".join(listed)
    authors += " et al." if "others" in names else ""
    title = entry["title"] if entry["title"][-1] in ".?!" else entry["title"] + "."
    venue = entry.get("journal") or entry.get("booktitle") or entry.get("howpublished") or ""
    details = venue
    if entry.get("volume"):
        details += f", {entry['volume']}" + (f"({entry['number']})" if entry.get("number") else "")
    if entry.get("pages"):
        details += f", {entry['pages']}"
    parts = [f"{authors} ({entry['year']}).", title] if authors else [title, f"({entry['year']})."]
    if details:
        parts.append(f"{details}.")
    if entry.get("note"):
        parts.append(f"{entry['note']}.")
    return " ".join(parts)


class Citations:
    """The citations of one document: what it cited, in order.

    Args:
        entries: the bibliography (:func:`read_bibliography`).
    """

    def __init__(self, entries: dict[str, dict]):
        self.entries = entries
        self.cited: list[str] = []

    def _entry(self, key: str) -> dict:
        if key not in self.entries:
            raise ValueError(f"cited work {key!r} is not in the bibliography; it has {', '.join(sorted(self.entries))}")
        if key not in self.cited:
            self.cited.append(key)
        return self.entries[key]

    def _link(self, key: str, text: str) -> str:
        return f'<a class="cite" href="#ref-{markupsafe.escape(key)}">{markupsafe.escape(text)}</a>'

    def cite(self, *keys: str) -> markupsafe.Markup:
        """``(Holm 1979; Wilcoxon 1945)``: a parenthetical citation of ``keys``, each linked."""
        links = [self._link(key, f"{short_name(entry)} {entry['year']}") for key, entry in ((k, self._entry(k)) for k in keys)]
        return markupsafe.Markup("(" + "; ".join(links) + ")")

    def cite_text(self, key: str) -> markupsafe.Markup:
        """``Holm (1979)``: a citation that is part of the sentence."""
        entry = self._entry(key)
        return markupsafe.Markup(f"{markupsafe.escape(short_name(entry))} ({self._link(key, entry['year'])})")

    def listed(self) -> list[dict]:
        """The cited entries in the order first cited: ``{"key", "text", "bibtex"}``."""
        return [{"key": key, "text": reference_text(self.entries[key]), "bibtex": self.entries[key]["bibtex"]} for key in self.cited]
