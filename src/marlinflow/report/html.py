"""A static HTML page made of sections: no scripts, no network resources, figures as files beside it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import pandas as pd

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .8em 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
p.banner { color: #7a1010; background: #fde8e8; border: 2px solid #c62828; padding: .6em 1em;
           font-weight: 600; }
p.note { color: #8a5a00; background: #fff6e0; border-left: 4px solid #e0a800; padding: .4em .8em; }
p.source, figcaption { color: #555; font-size: 13px; }
figure { margin: 1em 0; }
img { max-width: 100%; border: 1px solid #ddd; }
img.zoom { width: 100%; image-rendering: pixelated; }
.row { display: flex; flex-wrap: wrap; gap: 1em; }
.row figure { flex: 1 1 45%; margin: 0; }
.sheets img { max-width: 48%; margin: 0 1% 1% 0; }
"""


@dataclass
class Section:
    """One part of the page; ``note`` replaces the body when its inputs are missing."""

    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)  # HTML fragments
    note: str = ""


def paragraph(text: str, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<p{attribute}>{escape(text)}</p>"


def _cell(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (float, np.floating)):
        text = "" if math.isnan(value) else f"{value:.4g}"
        return f'<td class="number">{text}</td>'
    if isinstance(value, (int, np.integer)):
        return f'<td class="number">{value}</td>'
    return f"<td>{escape(str(value))}</td>"


def table(frame: pd.DataFrame, max_rows: int = 500) -> str:
    """An HTML table of the frame (floats to 4 significant digits); extra rows are counted."""
    head = "".join(f"<th>{escape(str(column))}</th>" for column in frame.columns)
    body = "".join(
        "<tr>" + "".join(_cell(value) for value in row) + "</tr>"
        for row in frame.head(max_rows).itertuples(index=False)
    )
    more = paragraph(f"... and {len(frame) - max_rows} more rows") if len(frame) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def image(src: str, caption: str = "", zoom: bool = False) -> str:
    """A figure with a relative ``src`` (a file beside the page); ``zoom`` blows a small image up
    to the page's width with square pixels."""
    caption_html = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    css = ' class="zoom"' if zoom else ""
    return f'<figure><img src="{escape(src)}"{css} alt="{escape(caption)}">{caption_html}</figure>'


def render_section(section: Section) -> str:
    body = paragraph(section.note, "note") if section.note else "\n".join(section.parts)
    return f'<section id="{escape(section.anchor)}">\n<h2>{escape(section.title)}</h2>\n{body}\n</section>'


def heading(text: str, level: int = 3) -> str:
    return f"<h{level}>{escape(text)}</h{level}>"


def page(title: str, intro: str, sections: list[Section], banner: str = "") -> str:
    """The whole document, with a navigation line to every section; ``banner`` is a warning
    shown above everything else (a smoke-test run must not be read as evidence)."""
    links = " ".join(f'<a href="#{escape(s.anchor)}">{escape(s.title)}</a>' for s in sections)
    body = "\n".join(render_section(section) for section in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{paragraph(banner, 'banner') if banner else ''}\n"
        f"<h1>{escape(title)}</h1>\n{paragraph(intro)}\n<nav>{links}</nav>\n{body}\n"
        "</body>\n</html>\n"
    )


def row(parts: list[str]) -> str:
    """Figures side by side, wrapping on a narrow window."""
    return f'<div class="row">{"".join(parts)}</div>'
