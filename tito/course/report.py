"""A class at a glance: one self-contained HTML page from a class's grade reports.

Inline CSS and SVG only: no script, font or stylesheet is fetched from anywhere, so the file
can be mailed, archived, or opened offline. Everything that comes from a submission (student
names, messages, written answers) is HTML-escaped.

Sections: per-module means with a histogram of scores; the pass rate of every test as a bar
chart (what the class struggles with); one feedback section per student with their failing
tests and messages and their written Reflect answers.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from tito.course.files import write_atomic
from tito.course.grading import GradeReport

BINS = 10  # histogram bins over 0-100 %
BAR_WIDTH = 360  # px of a 100 % bar
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
main{max-width:1060px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;border-bottom:1px solid
#d8dce3;padding-bottom:4px}h3{font-size:16px;margin:0 0 6px}
.meta{color:#5b6475}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e8ec;vertical-align:top}
th{background:#eef0f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}
.student{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px;
margin:12px 0}
.student h3{margin-top:14px}
.ok{color:#1b7f3b}.bad{color:#b42318}.warn{color:#9a6700}
.answer{white-space:pre-wrap;background:#f3f5f8;border-left:3px solid #8aa1c1;margin:4px 0 10px;
padding:6px 10px}
.q{white-space:pre-wrap;color:#3b4355}
.blank{color:#9aa2b1;font-style:italic}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
"""


def render_html(reports: list[GradeReport], title: str = "Class report") -> str:
    """The page, as one string."""
    modules = _module_order(reports)
    students = sorted({r.student for r in reports})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{len(students)} students, {len(modules)} modules, '
        f"generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by tito grade.</p>",
        _modules_section(reports, modules),
        _tests_section(reports, modules),
        '<h2 id="students">Students</h2>',
        *(_student_section(s, [r for r in reports if r.student == s], modules) for s in students),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html(reports: list[GradeReport], path: Path, title: str = "Class report") -> Path:
    """Write the page (atomically) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render_html(reports, title))
    return path


def _module_order(reports: Iterable[GradeReport]) -> list[str]:
    return sorted({r.module_id for r in reports})


def _percent(report: GradeReport) -> float:
    return 100.0 * report.points / report.max_points if report.max_points else 0.0


# ── per module ──


def _modules_section(reports: list[GradeReport], modules: list[str]) -> str:
    rows, cards = [], []
    for module in modules:
        graded = [r for r in reports if r.module_id == module]
        scores = [r.points for r in graded]
        top = max((r.max_points for r in graded), default=0.0)
        mean = statistics.fmean(scores) if scores else 0.0
        full = sum(1 for r in graded if r.max_points and r.points >= r.max_points)
        rows.append(
            f"<tr><td>{escape(module)}</td><td class=num>{len(graded)}</td>"
            f"<td class=num>{_n(mean)} / {_n(top)}</td>"
            f"<td class=num>{_n(100 * mean / top if top else 0)} %</td>"
            f"<td class=num>{_n(statistics.median(scores) if scores else 0)}</td>"
            f"<td class=num>{full}</td></tr>"
        )
        cards.append(
            f'<div class="card"><h3>{escape(module)}</h3>'
            f"{_histogram([_percent(r) for r in graded], module)}</div>"
        )
    head = (
        "<tr><th>module</th><th class=num>students</th><th class=num>mean points</th>"
        "<th class=num>mean</th><th class=num>median</th><th class=num>full marks</th></tr>"
    )
    return (
        '<h2 id="modules">Modules</h2>'
        f"<table>{head}{''.join(rows)}</table>"
        '<p class="meta">Score histograms (students per 10 % band):</p>'
        f'<div class="cards">{"".join(cards)}</div>'
    )


def _histogram(percents: list[float], label: str) -> str:
    """An inline SVG bar chart: how many students scored in each 10 % band."""
    counts = [0] * BINS
    for value in percents:
        counts[min(BINS - 1, int(value // (100 / BINS)))] += 1
    width, height, pad = 300, 130, 22
    bar = (width - 2 * pad) / BINS
    top = max(counts) or 1
    bars = []
    for index, count in enumerate(counts):
        h = (height - 2 * pad) * count / top
        x, y = pad + index * bar, height - pad - h
        colour = "#b42318" if index < 5 else ("#d69e2e" if index < 8 else "#1b7f3b")
        bars.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
            f'fill="{colour}"><title>{index * 10}-{index * 10 + 10} %: {count}</title></rect>'
        )
        if count:
            bars.append(
                f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{count}</text>'
            )
    axis = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#5b6475"/>'
        f'<text x="{pad}" y="{height - 6}" font-size="10">0 %</text>'
        f'<text x="{width - pad}" y="{height - 6}" font-size="10" text-anchor="end">100 %</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="score histogram of {escape(label)}">{"".join(bars)}{axis}</svg>'
    )


# ── per test ──


def _tests_section(reports: list[GradeReport], modules: list[str]) -> str:
    rates: dict[tuple[str, str, str], list[bool]] = defaultdict(list)
    hidden: set[tuple[str, str, str]] = set()
    for report in reports:
        for test in report.tests:
            key = (report.module_id, test.grade_id, test.name)
            rates[key].append(test.outcome == "passed")
            if test.hidden:
                hidden.add(key)
    ordered = sorted(rates, key=lambda k: (modules.index(k[0]), list(rates).index(k)))
    return (
        '<h2 id="tests">Pass rate of every test</h2>'
        '<p class="meta">Share of students whose submission passed each test; the short bars '
        "are what the class struggles with. (h) marks a test with hidden checks.</p>"
        + _bar_chart([(k, rates[k], k in hidden) for k in ordered])
    )


def _bar_chart(rows: list[tuple[tuple[str, str, str], list[bool], bool]]) -> str:
    label_width, row_height = 330, 20
    width = label_width + BAR_WIDTH + 70
    height = row_height * len(rows) + 10
    items = []
    for index, ((module, _gid, name), passed, hidden) in enumerate(rows):
        rate = sum(passed) / len(passed) if passed else 0.0
        y = 5 + index * row_height
        colour = "#b42318" if rate < 0.5 else ("#d69e2e" if rate < 0.8 else "#1b7f3b")
        label = f"{module} · {name}" + (" (h)" if hidden else "")
        items.append(
            f'<text x="{label_width - 8}" y="{y + 14}" font-size="12" text-anchor="end">'
            f"{escape(_short(label, 48))}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{BAR_WIDTH}" height="{row_height - 6}" '
            'fill="#e6e8ec"/>'
            f'<rect x="{label_width}" y="{y + 3}" width="{BAR_WIDTH * rate:.1f}" '
            f'height="{row_height - 6}" fill="{colour}"><title>{escape(label)}: '
            f"{sum(passed)} of {len(passed)} passed</title></rect>"
            f'<text x="{label_width + BAR_WIDTH + 6}" y="{y + 14}" font-size="12">'
            f"{round(100 * rate)} %</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="pass rate per test">{"".join(items)}</svg>'
    )


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ── per student ──


def _student_section(student: str, reports: list[GradeReport], modules: list[str]) -> str:
    reports = sorted(reports, key=lambda r: modules.index(r.module_id))
    total = sum(r.points for r in reports)
    top = sum(r.max_points for r in reports)
    summary = ", ".join(f"{escape(r.module_id)} {_n(r.points)}/{_n(r.max_points)}" for r in reports)
    parts = [
        f'<section class="student" id="student-{escape(student, quote=True)}">',
        f"<h3>{escape(student)} — {_n(total)} / {_n(top)} points</h3>",
        f'<p class="meta">{summary}</p>',
    ]
    for report in reports:
        parts += _module_feedback(report)
    parts.append("</section>")
    return "".join(parts)


def _module_feedback(report: GradeReport) -> list[str]:
    parts = []
    for warning in report.warnings:
        parts.append(f'<p class="warn">{escape(report.module_id)}: {escape(warning)}</p>')
    failing = [t for t in report.tests if t.outcome != "passed"]
    if report.status not in ("passed", "failed") and report.message:
        parts.append(f'<p class="bad">{escape(report.module_id)}: {escape(report.message)}</p>')
    if failing:
        rows = "".join(
            f"<tr><td><code>{escape(t.name)}</code></td><td class=bad>{escape(t.outcome)}</td>"
            f"<td class=num>{_n(t.points)}/{_n(t.max_points)}</td>"
            f"<td>{escape(t.message)}</td></tr>"
            for t in failing
        )
        parts.append(
            f"<table><tr><th>{escape(report.module_id)}: failing test</th><th>result</th>"
            f"<th class=num>points</th><th>message</th></tr>{rows}</table>"
        )
    elif report.tests:
        parts.append(f'<p class="ok">{escape(report.module_id)}: every test passed.</p>')
    if report.answers:
        parts.append(f"<h3>{escape(report.module_id)}: Reflect answers</h3>")
        for answer in report.answers:
            question = answer.question or answer.grade_id
            text = (
                f'<div class="answer">{escape(answer.answer)}</div>'
                if answer.answer
                else '<div class="answer blank">no answer written</div>'
            )
            parts.append(f'<div class="q">{escape(question)}</div>{text}')
    return parts


def _n(value: float) -> str:
    return f"{round(value, 2):g}"
