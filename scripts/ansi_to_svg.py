"""Renders a captured terminal screen (text with ANSI colours) to an SVG, for screenshots.sh."""

import io
import sys

from rich.console import Console
from rich.text import Text


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
    console.save_svg(target, title=title)


if __name__ == "__main__":
    main()
