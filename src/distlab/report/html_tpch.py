"""The report's TPC-H section (from `distlab bench tpch --out DIR` beside the results):
per scale factor a query per row and an engine per column, then each engine's largest
scale completed and what stopped it (figures: report.dataframe_tables)."""

from __future__ import annotations

from typing import Any

from distlab.report.choose import bench_rows
from distlab.report.dataframe_tables import MARKS, engines_of, largest_completed
from distlab.report.html_tables import e


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "<td></td>"
    if row["status"] != "ok":
        css = "" if row["status"] in ("unsupported", "not tried") else ' class="failed"'
        return f'<td{css} title="{e(row.get("reason", ""))}">{e(MARKS.get(row["status"], row["status"]))}</td>'
    warm = row.get("warm") or {
        "median": row["first_s"],
        "min": row["first_s"],
        "max": row["first_s"],
    }
    return (
        f'<td class="num">{warm["median"]:.3f} s [{warm["min"]:.3f}–{warm["max"]:.3f}]'
        f"<br><small>first {row['first_s']:.3f} s · {row['peak_mem_mb'] / 1024:.1f} GiB · "
        f"{e(row.get('checked_by', ''))}</small></td>"
    )


def tpch_html(doc: Any) -> str:
    rows = bench_rows(doc, "tpch")
    if not rows:
        return ""
    engines = engines_of(rows)
    head = "".join(f"<th>{e(x)}</th>" for x in ["query", *engines])
    parts = ["<h3>TPC-H (distlab bench tpch)</h3>",
             "<p>Warm median [min–max], the first run apart, peak memory of the engine's "
             "processes, and how each answer was checked.</p>"]  # fmt: skip
    for sf in sorted({r["sf"] for r in rows if r.get("event") == "query"}):
        here = [r for r in rows if r.get("sf") == sf and r.get("event") == "query"]
        body = ""
        for query in dict.fromkeys(r["query"] for r in here if r.get("query")):
            cells = {r["engine"]: r for r in here if r.get("query") == query}
            body += (
                f"<tr><td>{e(query)}</td>" + "".join(_cell(cells.get(x)) for x in engines) + "</tr>"
            )
        parts.append(f"<h4>SF {sf:g}</h4><div class='scroll'><table><thead><tr>{head}</tr>"
                     f"</thead><tbody>{body}</tbody></table></div>")  # fmt: skip
    items = []
    for engine in engines:
        best, failure = largest_completed(rows, engine)
        items.append(f"<li>{e(engine)}: largest SF completed "
                     f"{'none' if best is None else f'{best:g}'}; {e(failure or 'nothing stopped it')}</li>")  # fmt: skip
    parts.append(f"<ul>{''.join(items)}</ul>")
    return "".join(parts)
