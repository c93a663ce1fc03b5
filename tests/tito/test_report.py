"""The class report: one self-contained HTML page, escaped, and seen in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tito.course.grading import Answer, GradedTest, GradeReport
from tito.course.report import render_html, write_html

EVIL = '<script>alert("x")</script>'


def class_reports() -> list[GradeReport]:
    """Twelve students on two modules, scores spread out, one with a hostile name."""
    reports = []
    for i in range(12):
        name = EVIL if i == 0 else f"student{i:02d}"
        right = i % 4 != 1
        tests = [
            GradedTest("test_creation", "test-creation", 10.0, 10.0, "passed"),
            GradedTest(
                "test_matmul",
                "test-matmul",
                15.0 if right else 0.0,
                15.0,
                "passed" if right else "failed",
                "" if right else f"matmul of (2, 3) @ (3, 4) should be (2, 4), got <{i}>",
            ),
            GradedTest(
                "test_grad",
                "test-grad",
                20.0 if i % 3 == 0 else 0.0,
                20.0,
                "passed" if i % 3 == 0 else "failed",
                "" if i % 3 == 0 else "a hidden test failed",
                hidden=True,
            ),
        ]
        answers = [
            Answer(
                "reflect-memory",
                "**Q1 (memory).** How much memory does matmul need?",
                f"About 4·m·n bytes <b>for</b> the output ({i})." if i % 2 else "",
            ),
        ]
        reports.append(GradeReport(name, "01_tensor", tests, "failed", answers=answers))
        reports.append(
            GradeReport(
                name,
                "02_activations",
                [
                    GradedTest(
                        "test_relu",
                        "test-relu",
                        10.0 * (i % 2),
                        10.0,
                        "passed" if i % 2 else "error",
                        "" if i % 2 else "ValueError: x",
                    )
                ],
                "failed",
            )
        )
    return reports


def test_page_is_self_contained_and_escaped():
    page = render_html(class_reports(), title="CS 329 <spring>")
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    assert "&lt;b&gt;for&lt;/b&gt;" in page and "<b>" not in page
    assert "CS 329 &lt;spring&gt;" in page
    # nothing fetched from anywhere: the only URL is the SVG namespace
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}, urls
    assert "<link" not in page and "@import" not in page and "src=" not in page
    assert page.count("<svg") == 3  # two histograms and the pass-rate chart
    assert "01_tensor · test_grad (h)" in page and "no answer written" in page


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_report_renders_in_headless_chromium(tmp_path):
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    page = write_html(class_reports(), tmp_path / "report.html", title="Class report")
    shot = tmp_path / "report.png"
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1100,1600",
        f"--screenshot={shot}",
        page.as_uri(),
    ]
    subprocess.run(command, capture_output=True, timeout=120)
    assert shot.is_file(), "Chromium wrote no screenshot"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
