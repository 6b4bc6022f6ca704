"""The report as a small document model, rendered to Markdown and to one self-contained HTML file.

Blocks: :class:`Text`, :class:`Table` (cells are text, numbers already formatted, or
:class:`RunRef`), :class:`Figure` (PNG bytes) and :class:`Gallery` (figures side by side).
Markdown links the figures from ``images/`` beside it; the HTML embeds them as base64 data URIs
and carries its own CSS, so it opens from disk with no server and no network.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union


@dataclass
class RunRef:
    """A table cell naming a run folder and its config file (every number is traceable to them)."""

    path: Path
    config: Path | None = None
    label: str | None = None  # shown above the path (run name); default: the folder name


@dataclass
class Text:
    text: str
    style: str = "p"  # p | note | warn | code


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Union[str, RunRef]]]
    caption: str = ""
    css_class: str = ""


@dataclass
class Figure:
    name: str  # file stem under images/ (unique in the report)
    png: bytes
    caption: str = ""
    width: int | None = None  # display width in CSS pixels (None: natural size, at most the page)


@dataclass
class Gallery:
    figures: list[Figure]
    caption: str = ""
    width: int = 260  # display width of each figure in CSS pixels


Block = Union[Text, Table, Figure, Gallery]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    anchor: str = ""

    def __post_init__(self) -> None:
        if not self.anchor:
            self.anchor = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


def run_section(title: str, found: bool, missing: str, intro: str = "") -> Section:
    """A run family's section, opened: the note ``missing`` when no run was ``found``, else its ``intro``."""
    section = Section(title)
    if not found:
        section.blocks.append(Text(missing, "note"))
    elif intro:
        section.blocks.append(Text(intro))
    return section


# ---------------------------------------------------------------- markdown
def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _rel(path: Path, out_dir: Path) -> str:
    try:
        return Path(os.path.relpath(path, out_dir)).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()


def _md_cell(cell: Union[str, RunRef], out_dir: Path) -> str:
    if isinstance(cell, RunRef):
        text = f"**{_md_escape(cell.label or cell.path.name)}** `{_md_escape(str(cell.path))}`"
        if cell.config is not None:
            text += f" ([{cell.config.name}]({_rel(cell.config, out_dir)}))"
        return text
    return _md_escape(cell)


def to_markdown(title: str, subtitle: str, sections: list[Section], out_dir: Path) -> tuple[str, dict[str, bytes]]:
    """Markdown text and the images it links ({relative path: PNG bytes})."""
    images: dict[str, bytes] = {}
    lines = [f"# {title}", "", subtitle, ""]

    def figure(fig: Figure) -> str:
        rel = f"images/{fig.name}.png"
        images[rel] = fig.png
        return f"![{_md_escape(fig.caption or fig.name)}]({rel})"

    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Text):
                prefix = {"note": "> ", "warn": "> **Warning:** "}.get(block.style, "")
                lines += [f"```\n{block.text}\n```" if block.style == "code" else prefix + block.text, ""]
            elif isinstance(block, Table):
                if block.caption:
                    lines += [f"**{block.caption}**", ""]
                lines.append("| " + " | ".join(_md_escape(c) for c in block.columns) + " |")
                lines.append("|" + "---|" * len(block.columns))
                lines += ["| " + " | ".join(_md_cell(c, out_dir) for c in row) + " |" for row in block.rows]
                lines.append("")
            elif isinstance(block, Figure):
                lines += [figure(block), "", f"*{block.caption}*" if block.caption else "", ""]
            elif isinstance(block, Gallery):
                if block.caption:
                    lines += [f"*{block.caption}*", ""]
                lines += [" ".join(figure(f) for f in block.figures), ""]
    return "\n".join(lines).rstrip() + "\n", images


# ---------------------------------------------------------------- html
CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: #1d232a;
       background: #fff; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 16px 16px 60px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #d0d7de; }
p.subtitle { color: #57606a; margin: 0 0 12px; }
nav { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 14px; margin: 12px 0; }
nav a { margin-right: 16px; color: #0969da; text-decoration: none; }
.tablewrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #c7ced6; padding: 4px 7px; vertical-align: top; }
th { background: #eef1f4; text-align: left; font-weight: 600; }
tbody tr:nth-child(even) td { background: #f8fafb; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.run { min-width: 150px; max-width: 230px; }
td.run code { font-size: 10.5px; color: #57606a; word-break: break-all; }
td.run a { font-size: 12px; }
p.note { background: #f6f8fa; border-left: 4px solid #8c959f; padding: 6px 10px; }
p.warn { background: #fff8c5; border-left: 4px solid #d4a72c; padding: 6px 10px; }
pre { background: #f6f8fa; padding: 8px 10px; overflow-x: auto; font-size: 12px; }
figure { margin: 8px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { font-size: 13px; color: #57606a; margin-top: 3px; }
.gallery { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.gallery figure { margin: 0; }
.gallery img { width: 100%; image-rendering: auto; }
"""


def _html_cell(cell: Union[str, RunRef], out_dir: Path) -> str:
    if isinstance(cell, RunRef):
        head = f"<b>{html.escape(cell.label or cell.path.name)}</b>"
        if cell.config is not None:
            head += f' <a href="{html.escape(_rel(cell.config, out_dir))}">{html.escape(cell.config.name)}</a>'
        return f'<td class="run">{head}<br><code>{html.escape(str(cell.path))}</code></td>'
    text = str(cell)
    numeric = bool(re.fullmatch(r"[-+]?[\d.,]+\s*(%|s|min|h)?( \(.*\))?|[-–]|n/a", text.strip()))
    return f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>"


def _img(fig: Figure, box_width: int | None = None) -> str:
    data = base64.b64encode(fig.png).decode("ascii")
    width = f' width="{fig.width}"' if fig.width else ""
    style = f' style="width: {box_width}px"' if box_width else ""
    alt = html.escape(fig.caption or fig.name)
    cap = f"<figcaption>{html.escape(fig.caption)}</figcaption>" if fig.caption else ""
    return f'<figure{style}><img src="data:image/png;base64,{data}" alt="{alt}"{width}>{cap}</figure>'


def to_html(title: str, subtitle: str, sections: list[Section], out_dir: Path) -> str:
    """One HTML page: inline CSS, images as data URIs, no scripts, no external resources."""
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="subtitle">{html.escape(subtitle)}</p>',
        "<nav>" + "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections) + "</nav>",
    ]
    for section in sections:
        body.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, Text):
                if block.style == "code":
                    body.append(f"<pre>{html.escape(block.text)}</pre>")
                else:
                    body.append(f'<p class="{block.style}">{html.escape(block.text)}</p>')
            elif isinstance(block, Table):
                head = "".join(f"<th>{html.escape(c)}</th>" for c in block.columns)
                rows = "".join("<tr>" + "".join(_html_cell(c, out_dir) for c in row) + "</tr>" for row in block.rows)
                cap = f"<caption>{html.escape(block.caption)}</caption>" if block.caption else ""
                cls = f' class="{block.css_class}"' if block.css_class else ""
                body.append(
                    f'<div class="tablewrap"><table{cls}>{cap}<thead><tr>{head}</tr></thead>'
                    f"<tbody>{rows}</tbody></table></div>"
                )
            elif isinstance(block, Figure):
                body.append(_img(block))
            elif isinstance(block, Gallery):
                if block.caption:
                    body.append(f'<p class="note">{html.escape(block.caption)}</p>')
                body.append('<div class="gallery">' + "".join(_img(f, block.width) for f in block.figures) + "</div>")
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )


def write_report(
    title: str, subtitle: str, sections: list[Section], out_dir: Path, into: Path | None = None
) -> tuple[Path, Path]:
    """Write ``report.md`` (+ ``images/``) and ``report.html`` for ``out_dir``; returns both paths.

    Links are relative to ``out_dir``; the files go to ``into`` (default ``out_dir``), a fresh
    folder that is swapped into place at ``out_dir`` afterwards (wood.outdir).
    """
    folder = out_dir if into is None else into
    folder.mkdir(parents=True, exist_ok=True)
    markdown, images = to_markdown(title, subtitle, sections, out_dir)
    (folder / "images").mkdir(exist_ok=True)
    for rel, png in images.items():
        (folder / rel).write_bytes(png)
    md_path, html_path = folder / "report.md", folder / "report.html"
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(to_html(title, subtitle, sections, out_dir), encoding="utf-8")
    return out_dir / "report.md", out_dir / "report.html"
