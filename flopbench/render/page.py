"""What every HTML page shares: the page shell with its inline style and sorting script, cards,
sortable tables, the warnings and environment sections, and escaping.

Everything is inline — styles, the SVG charts (render/charts.py) and a few lines of script that
sort the tables — and nothing is fetched: a page reads the same offline, from a file, or as an
e-mail attachment. Each page lives with its result kind (report.py, compare.py, study.py)."""
from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 and C1 controls but tab and line feed


def escape(value: Any) -> str:
    """Text for a page: HTML escaped, and a control character (an escape sequence, a carriage return
    in a name read from a model) shown as its escape, \\x1b, never carried raw into the page."""
    text = _CONTROLS.sub(lambda match: f"\\x{ord(match.group()):02x}", str(value))
    return html.escape(text, quote=True)


def card(label: str, value: str, detail: str = "", wide: bool = False) -> str:
    sub = f'<div class="detail">{escape(detail)}</div>' if detail else ""
    cls = "card wide" if wide else "card"
    return f'<div class="{cls}"><div class="label">{escape(label)}</div><div class="value">{escape(value)}</div>{sub}</div>'


def sortable_cells(cells: Sequence[tuple[str, Any]]) -> str:
    """Table cells of (text, sort key): a number sorts by its key (data-v), not by its text."""
    out = []
    for text, key in cells:
        value = f' data-v="{key}"' if key is not None else ""
        out.append(f"<td{value}>{escape(text)}</td>")
    return "".join(out)


def sortable_heads(heads: Sequence[tuple[str, str]]) -> str:
    """Header cells of (name, "number" or "text") that the page's script sorts by on a click."""
    return "".join(f'<th data-type="{kind}" tabindex="0" title="sort by {escape(name)}">{escape(name)}</th>' for name, kind in heads)


def warnings_list(found: Sequence[str]) -> str:
    body = ("<ul>" + "".join(f"<li>{escape(w)}</li>" for w in found) + "</ul>") if found else "<p>None.</p>"
    return f'<section id="warnings"><h2>Warnings ({len(found)})</h2>{body}</section>'


def flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows.extend(flatten(f"{prefix}.{key}" if prefix else str(key), inner))
        return rows
    if isinstance(value, (list, tuple)):
        return [(prefix, " ".join(str(v) for v in value))]
    return [(prefix, "" if value is None else str(value))]


def environment_section(rows: Sequence[tuple[str, str]], command: str, sources: Sequence[str]) -> str:
    table = ('<table class="plain env"><tbody>' + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
             + "</tbody></table>") if rows else "<p>Not recorded.</p>"
    command_html = f"<pre><code>{escape(command)}</code></pre>" if command else ""
    sources_html = ("<p>Rendered from: " + ", ".join(f"<code>{escape(s)}</code>" for s in sources) + "</p>"
                    if sources else "")
    return f'<section id="environment"><h2>Environment and command</h2>{command_html}{sources_html}{table}</section>'


STYLE = """
:root{--ink:#1d2433;--muted:#5b6475;--line:#e3e6ec;--card:#f6f7f9;--accent:#4c72b0}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:24px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.sub,.note{color:var(--muted)}.note{font-size:12.5px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:var(--card);border-radius:8px;padding:10px 12px}.card.wide{grid-column:span 2}
h3{font-size:14px;margin:14px 0 6px}
.card .label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:20px;font-weight:600;margin:2px 0;overflow-wrap:anywhere}
.card .detail{font-size:12px;color:var(--muted);overflow-wrap:anywhere}
svg.chart text{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif}
svg.chart{display:block;max-width:100%;height:auto;margin:8px 0}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{padding:3px 6px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{background:var(--card);position:sticky;top:0}
td:nth-child(2),td:nth-child(3),th:nth-child(2),th:nth-child(3){text-align:left}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th:hover{color:var(--accent)}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
tr.part td{color:var(--muted)}tr.uncounted td{background:#fff6dd}
tfoot td{font-weight:600;border-top:2px solid var(--ink)}
table.plain td:first-child,table.plain td:nth-child(2){text-align:left}
table.env th,table.env td{text-align:left;white-space:normal;background:none;position:static}
pre{background:var(--card);padding:10px;border-radius:6px;overflow-x:auto}
li{margin:3px 0}
"""


# sorts the tbody groups (a layer and its parts) by the clicked column of the layer's row
SCRIPT = """
(function(){
document.querySelectorAll("table.sortable").forEach(function(table){
  var heads=table.tHead.rows[0].cells;
  function key(body,col,numeric){
    var cell=body.rows[0].cells[col];
    var raw=cell.hasAttribute("data-v")?cell.getAttribute("data-v"):cell.textContent;
    if(!numeric)return raw.toLowerCase();
    var v=parseFloat(raw);return isNaN(v)?-Infinity:v;
  }
  function sort(col){
    var th=heads[col],numeric=th.getAttribute("data-type")==="number";
    var ascending=th.getAttribute("aria-sort")!=="ascending";
    for(var i=0;i<heads.length;i++)heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort",ascending?"ascending":"descending");
    var bodies=Array.prototype.slice.call(table.tBodies);
    bodies.sort(function(a,b){
      var x=key(a,col,numeric),y=key(b,col,numeric);
      var order=x<y?-1:x>y?1:0;return ascending?order:-order;
    });
    var foot=table.tFoot;
    bodies.forEach(function(b){table.insertBefore(b,foot);});
  }
  Array.prototype.forEach.call(heads,function(th,col){
    th.addEventListener("click",function(){sort(col);});
    th.addEventListener("keydown",function(ev){if(ev.key==="Enter"||ev.key===" "){ev.preventDefault();sort(col);}});
  });
});
})();
"""


def whole_page(title: str, subtitle: str, parts: Sequence[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · flopbench report</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><div class="sub">{escape(subtitle)}</div></header>'
        + "".join(parts)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )


def roofline_card(engine: str, bandwidth_gb_per_s: float, peaks: dict[str, float], quick: bool, measured_at: str) -> str:
    peak_text = " · ".join(f"{name} {gflops:,.0f}" for name, gflops in peaks.items())
    kind = "quick measurement" if quick else "measured"
    return card(f"Roofline ({engine})", f"{bandwidth_gb_per_s:,.1f} GB/s",
                 f"peak GFLOP/s {peak_text}; {kind} {measured_at[:16].replace('T', ' ')} UTC", wide=True)


def machine_cards(metadata: dict[str, Any]) -> list[str]:
    if not metadata.get("cpu"):
        return []
    return [card("Machine", str(metadata.get("cpu")),
                  f"{metadata.get('cpu_count')} logical CPUs, {metadata.get('cpu_affinity')} usable")]
