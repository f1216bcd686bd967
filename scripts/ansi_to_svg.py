"""Renders a captured terminal screen (text with ANSI colours) to an SVG, for screenshots.sh.

rich draws each run of same-styled text as one <text> stretched to its cells with textLength,
which not every SVG renderer honours (nor per-glyph x lists); glyphs from fallback fonts (●, ›,
CJK) then push the rest of the run out of its cells. So every character becomes its own <text>
on the cell grid.
"""

import html
import io
import re
import sys

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

TEXT = re.compile(r'<text([^>]*?) x="([0-9.]+)"([^>]*?) textLength="([0-9.]+)"([^>]*)>([^<]*)</text>')


def on_grid(match: re.Match) -> str:
    before, x, middle, length, after, content = match.groups()
    chars = html.unescape(content)
    cells = cell_len(chars)
    if not chars or cells == 0:
        return match.group(0)
    width = float(length) / cells
    glyphs, at = [], float(x)
    for ch in chars:
        if not ch.isspace():
            glyphs.append(f'<text{before} x="{at:.1f}"{middle}{after}>{html.escape(ch)}</text>')
        at += width * cell_len(ch)
    return "".join(glyphs)


def main() -> None:
    source, target, title = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(source, encoding="utf-8") as f:
        screen = f.read().rstrip("\n")
    console = Console(
        record=True,
        width=120,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
    )
    console.print(Text.from_ansi(screen), end="", soft_wrap=True)
    svg = TEXT.sub(on_grid, console.export_svg(title=title))
    svg = svg.replace("font-family: Fira Code, monospace", "font-family: DejaVu Sans Mono, monospace")
    with open(target, "w", encoding="utf-8") as f:
        f.write(svg)


if __name__ == "__main__":
    main()
