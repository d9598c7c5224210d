"""Matplotlib's SVG made compact, so that a report that inlines dozens of figures stays small.

:func:`compact_svg` rewrites the SVG text Matplotlib writes (``svg.fonttype: none``: text as text)
without changing what it shows:

* path data rounded to a tenth of a point (a hundredth for small shapes such as markers), in
  relative coordinates, and polylines simplified where a point lies within :data:`TOLERANCE` of
  the line through its neighbours (invisible at any zoom a reader uses);
* positions of texts and markers rounded to a tenth of a point, null rotations dropped;
* each text's font named once, on the root (the style sheet's ``*`` rule), and no whitespace
  between the spans of a text (it would read as spaces);
* each distinct ``style`` written once, as a class of the SVG's own style sheet (and not on a
  marker's instance that repeats its shape's);
* ids short, groups without attributes dropped, runs of markers and of shapes sharing a class or a
  clip path grouped, comments and indentation dropped, ``href`` for ``xlink:href``.

The result is deterministic: the same SVG gives the same bytes.
"""

from __future__ import annotations

import re

#: Points of a polyline closer than this (in points, 1/72 inch) to the line through their
#: neighbours are dropped (Ramer-Douglas-Peucker).
TOLERANCE = 0.1
#: Coordinates are written to this many decimals; shapes smaller than :data:`SMALL` points in every
#: coordinate (markers, ticks) to one more.
DECIMALS = 1
SMALL = 10

_TOKEN = re.compile(r"[A-Za-z]|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARGUMENTS = {"M": 2, "L": 2, "Q": 4, "C": 6}


def number_text(units: int, scale: int) -> str:
    """``units / scale`` in the fewest characters: ``12.3``, ``.5``, ``-.5``, ``3``."""
    whole, fraction = divmod(abs(units), scale)
    text = str(whole) if whole else ""
    if fraction:
        text += "." + str(fraction).rjust(len(str(scale)) - 1, "0").rstrip("0")
    text = text or "0"
    return "-" + text if units < 0 and text != "0" else text


def _join(numbers: list[str]) -> str:
    """Numbers of a path: separated by a space, or by nothing before a minus sign."""
    return "".join(n if i == 0 or n.startswith("-") else " " + n for i, n in enumerate(numbers))


def simplify(points: list[tuple[int, int]], tolerance: float) -> list[tuple[int, int]]:
    """``points`` without those within ``tolerance`` of the segment between the points kept around
    them (Ramer-Douglas-Peucker, iterative); the first and the last are kept."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        length = (dx * dx + dy * dy) ** 0.5
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            x, y = points[i]
            distance = abs(dy * (x - x1) - dx * (y - y1)) / length if length else ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
            if distance > worst:
                worst, index = distance, i
        if index > 0 and worst > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [point for point, kept in zip(points, keep) if kept]


def path_data(d: str, tolerance: float = TOLERANCE) -> str:
    """A path's ``d`` (Matplotlib's: absolute ``M``, ``L``, ``Q``, ``C`` and ``z``) rounded and in
    relative coordinates; polylines simplified (:func:`simplify`). Other commands: only rounded."""
    tokens = _TOKEN.findall(d)
    numbers = [float(t) for t in tokens if not t.isalpha()]
    letters = {t for t in tokens if t.isalpha()}
    decimals = DECIMALS + (bool(numbers) and max(abs(v) for v in numbers) < SMALL)
    scale = 10**decimals
    if not letters <= {"M", "L", "Q", "C", "Z", "z"}:
        return _NUMBER.sub(lambda m: number_text(round(float(m.group(0)) * scale), scale), d)
    # Segments: (command, points) with integer coordinates: "M" (a moveto and the linetos after it),
    # "L", "C", "Q" (their points), "z".
    segments: list[tuple[str, list[tuple[int, int]]]] = []
    command, index = None, 0
    while index < len(tokens):
        token = tokens[index]
        if token.isalpha():
            command, index = token, index + 1
            if command in "Zz":
                segments.append(("z", []))
            continue
        count = _ARGUMENTS[command]
        values = [round(float(v) * scale) for v in tokens[index:index + count]]
        index += count
        points = list(zip(values[::2], values[1::2]))
        if command == "L" and segments and segments[-1][0] in ("M", "L"):
            segments[-1][1].extend(points)
        else:
            segments.append((command, points))
        if command == "M":
            command = "L"  # pairs after a moveto are linetos
    out: list[str] = []
    current = start = (0, 0)
    for kind, points in segments:
        if kind == "z":
            out.append("z")
            current = start
            continue
        deltas = []
        if kind in ("M", "L"):
            if tolerance > 0:
                line = points if kind == "M" else [current, *points]
                line = simplify(line, tolerance * scale) if len(line) > 2 else line
                points = line if kind == "M" else line[1:]
            for point in points:  # each point relative to the one before
                deltas += [number_text(point[0] - current[0], scale), number_text(point[1] - current[1], scale)]
                current = point
        else:  # curves: every control point relative to the segment's start
            for point in points:
                deltas += [number_text(point[0] - current[0], scale), number_text(point[1] - current[1], scale)]
            current = points[-1]
        if kind == "M":
            start = points[0]
            if not out:  # the first moveto is absolute; the linetos after it relative
                head = "M" + _join([number_text(start[0], scale), number_text(start[1], scale)])
                out.append(head + ("l" + _join(deltas[2:]) if len(deltas) > 2 else ""))
            else:  # a relative moveto: the pairs after it are relative linetos
                out.append("m" + _join(deltas))
        else:
            out.append(kind.lower() + _join(deltas))
    return "".join(out)


def _rounded(text: str, decimals: int = DECIMALS) -> str:
    scale = 10**decimals
    return _NUMBER.sub(lambda m: number_text(round(float(m.group(0)) * scale), scale), text)


def class_name(index: int) -> str:
    """The ``index``-th class name: ``a`` ... ``z``, ``ba`` ... ``zz``, ``baa`` ... (lowercase
    letters: valid, and the same in any document mode)."""
    name = ""
    while True:
        index, letter = divmod(index, 26)
        name = chr(ord("a") + letter) + name
        if not index:
            return name


def _tight(declarations: str) -> str:
    """CSS declarations without the spaces around ``:`` and ``;``."""
    return re.sub(r"\s*([:;])\s*", r"\1", declarations.strip())


def _drop_bare_groups(svg: str) -> str:
    """``svg`` without the ``<g>`` elements that have no attributes (their children kept)."""
    out, bare, position = [], [], 0
    for match in re.finditer(r"<g>|<g\s[^>]*[^/]>|</g>", svg):
        out.append(svg[position:match.start()])
        token = match.group(0)
        if token == "</g>":
            if not bare.pop():
                out.append(token)
        else:
            bare.append(token == "<g>")
            if token != "<g>":
                out.append(token)
        position = match.end()
    out.append(svg[position:])
    return re.sub(r"\n{2,}", "\n", "".join(out))


def _group_runs(svg: str, tag: str, attribute: str) -> str:
    """Runs of two or more consecutive one-line ``<tag .../>`` elements with the same ``attribute``
    value, wrapped in a ``<g>`` that carries it instead."""
    line = rf'<{tag} [^>\n]*{attribute}="[^"]*"[^>\n]*/>'

    def regroup(match: re.Match) -> str:
        out, run, key = [], [], None

        def flush():
            if len(run) > 1:
                out.extend([f'<g {attribute}="{key}">', *(item.replace(f' {attribute}="{key}"', "") for item in run), "</g>"])
            else:
                out.extend(run)

        for item in match.group(0).strip("\n").split("\n"):
            value = re.search(rf' {attribute}="([^"]*)"', item).group(1)
            if value != key:
                flush()
                run, key = [], value
            run.append(item)
        flush()
        return "\n" + "\n".join(out) + "\n"

    return re.sub(rf"(?:\n{line}){{2,}}\n", regroup, svg)


def _short_ids(svg: str) -> str:
    """Every id renamed in order of appearance (``c0``, ``c1``, ... for clip paths, ``m..`` for the
    rest), with the references to it."""
    names: dict[str, str] = {}
    for name in re.findall(r'\sid="([^"]+)"', svg):
        names.setdefault(name, ("c" if name.startswith("p") else "m") + format(len(names), "x"))
    svg = re.sub(r'(\sid=")([^"]+)(")', lambda m: m.group(1) + names[m.group(2)] + m.group(3), svg)
    svg = re.sub(r'((?:xlink:)?href="#)([^"]+)(")', lambda m: m.group(1) + names.get(m.group(2), m.group(2)) + m.group(3), svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{names.get(m.group(1), m.group(1))})", svg)


def compact_svg(svg: str, font: str = "DejaVu Sans") -> str:
    """Matplotlib's SVG text (text as text in ``font``) made compact without changing what it shows
    (see the module's doc)."""
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r">\n[ \t]+<", ">\n<", svg)
    # The font, once, on the root; no whitespace between the spans of a text.
    family = f"font-family: '{font}'"
    svg = re.sub(r"; " + re.escape(family) + r"(?=[;\"])|" + re.escape(family) + r"; ", "", svg)
    svg = svg.replace(f' style="{family}"', "")
    svg = svg.replace("*{stroke-linejoin: round; stroke-linecap: butt}",
                      f"*{{stroke-linejoin: round; stroke-linecap: butt; {family}}}", 1)
    svg = re.sub(r"<text([^>]*)>\s+<tspan", r"<text\1><tspan", svg)
    svg = re.sub(r"</tspan>\s+(?=<(?:tspan|/text))", "</tspan>", svg)
    # Numbers.
    svg = re.sub(r'(<path\b[^>]*\sd=")([^"]*)(")', lambda m: m.group(1) + path_data(m.group(2)) + m.group(3), svg)
    svg = re.sub(r'(\s(?:x|y|transform)=")([^"]*)(")', lambda m: m.group(1) + _rounded(m.group(2)) + m.group(3), svg)
    svg = re.sub(r' transform="rotate\(-?0 [^")]*\)"', "", svg)
    # Structure.
    svg = re.sub(r'<g id="[^"]*"', "<g", svg)
    svg = re.sub(r"<g/>\n?", "", svg)
    svg = _drop_bare_groups(svg)
    # Each distinct style once, as a class of the style sheet.
    classes: dict[str, str] = {}

    def to_class(match: re.Match) -> str:
        return f' class="{classes.setdefault(match.group(1), class_name(len(classes)))}"'

    svg = re.sub(r' style="([^"]*)"', to_class, svg)
    rules = "".join(f".{name}{{{_tight(style)}}}" for style, name in classes.items())
    svg = re.sub(r"(<style[^>]*>[^<]*?)(</style>)", lambda m: m.group(1) + rules + m.group(2), svg, count=1)
    # A marker's instance repeats its shape's class (ticks): once, on the shape, is enough.
    shapes = dict(re.findall(r'<path id="([^"]+)" d="[^"]*" class="([^"]+)"/>', svg))
    svg = re.sub(r'(<use xlink:href="#([^"]+)"[^>]*?) class="([^"]+)"/>',
                 lambda m: m.group(1) + "/>" if shapes.get(m.group(2)) == m.group(3) else m.group(0), svg)
    svg = _group_runs(svg, "use", "class")
    svg = _group_runs(svg, "path", "clip-path")
    svg = _short_ids(svg)
    return svg.replace(' xlink:href="', ' href="')
