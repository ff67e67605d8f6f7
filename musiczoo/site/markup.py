"""The HTML pieces every page is made of: the page frame, code blocks with a copy button, tables that turn
into cards on a phone, definition lists, badges and numbers. Everything put into HTML passes :func:`esc`."""

import html
import math

esc = html.escape


def page(title, body, root):
    """A whole page; ``root`` is the way back to the site's top (``""`` or ``"../"``)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><link rel='icon' href='data:,'>"
        f"<title>{esc(title)}</title><link rel='stylesheet' href='{root}style.css'>"
        f"<script src='{root}site.js'></script></head><body><main>{body}</main></body></html>"
    )


def code(text, prose=False):
    """A code block with a copy button (shown when JS runs)."""
    kind = " class='text'" if prose else ""
    return f"<div class='code'><button type='button' class='copy'>Copy</button><pre{kind}>{esc(text)}</pre></div>"


def badge(status):
    return f"<span class='badge {status.replace(' ', '-')}'>{esc(status)}</span>"


def table(header, rows, numeric=(), kind="cards"):
    """A table (a card per row on a phone); ``rows``: ``(attributes of the tr, cells as HTML)``."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        f"<tr{attributes}>"
        + "".join(
            f"<td data-label='{esc(label)}'{' class=num' * (i in numeric)}><div>{cell}</div></td>"
            for i, (label, cell) in enumerate(zip(header, cells))
        )
        + "</tr>"
        for attributes, cells in rows
    )
    return f"<div class='wrap'><table class='{kind}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def dl(pairs):
    """A definition list of ``(term, HTML)`` pairs (the term is escaped here)."""
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def select(name, values):
    options = "".join(f"<option>{esc(value)}</option>" for value in values)
    return f"<select name='{name}'><option value=''>all</option>{options}</select>"


def value(mean, ci):
    """``mean ± ci`` to three decimals; ``–`` for a missing mean."""
    if mean is None or math.isnan(mean):
        return "–"
    return f"{mean:.3f}" + ("" if ci is None or math.isnan(ci) else f" ± {ci:.3f}")


def size(n):
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"
