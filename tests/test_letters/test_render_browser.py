"""The HTML letter in a real browser, and the PDF letter as an image.

* HTML: Debian's ``chromium`` in headless mode takes a screenshot; skipped with the
  reason when Chromium is absent (``apt-get install chromium``; ``.ci/run`` tries).
* PDF: WeasyPrint writes it (extra ``pdf``), poppler's ``pdftoppm`` turns page 1 into a
  PNG and ``pdftotext`` gives its text (``apt-get install poppler-utils``). Chromium's
  PDF viewer draws nothing in headless screenshots (measured: a uniform grey image), so
  the PDF is rasterised by poppler instead.

Each image must be non-blank: mostly white paper with dark text on it, and the letter's
accent colour present (the HTML's heading rule / the decision box).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from letter_cases import case, golden_trace
from recourse.letters import render_letter, write_letter

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "") if p and Path(p).exists()),
                None)
PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")


def _weasyprint_ok() -> str | None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"WeasyPrint unusable here ({type(exc).__name__}: {exc})"
    return None


def _check_not_blank(png: Path) -> None:
    Image = pytest.importorskip("PIL.Image", reason="Pillow is needed to read the image")
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    grey = img.mean(axis=2)
    assert grey.std() > 10, f"{png.name}: nearly uniform image (std {grey.std():.1f})"
    white = (grey > 240).mean()
    dark = (grey < 100).mean()
    assert white > 0.5, f"{png.name}: only {white:.0%} white paper"
    assert 0.002 < dark < 0.3, f"{png.name}: {dark:.2%} dark (text) pixels"
    # the accent colour #1f4e79 of the headings, or the red edge of the decision box
    blue = (np.abs(img - np.array([31, 78, 121])).sum(axis=2) < 60).mean()
    red = (np.abs(img - np.array([176, 58, 46])).sum(axis=2) < 60).mean()
    assert blue + red > 0.0005, f"{png.name}: the letter's colours are missing"


def _letter():
    opts, schema, _, kw = case("german_tree_491")
    return opts, schema, golden_trace(opts, schema, kw["applicant_id"])


@pytest.mark.skipif(PDFTOPPM is None or PDFTOTEXT is None,
                    reason="poppler-utils (pdftoppm, pdftotext) not installed")
@pytest.mark.parametrize("purpose", ["plain", "adverse-action", "explanation"])
def test_pdf_of_each_template_has_page_numbers_and_a_full_last_page(tmp_path, purpose):
    why = _weasyprint_ok()
    if why:
        pytest.skip(why)
    opts, schema, trace = _letter()
    pdf = write_letter(opts, tmp_path / "l.pdf", schema, trace=trace, purpose=purpose,
                       phrasebook="german")
    pages = []
    for n in range(1, 10):
        run = subprocess.run([PDFTOTEXT, "-f", str(n), "-l", str(n), str(pdf), "-"],
                             capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            break
        pages.append(" ".join(run.stdout.split()))
    assert len(pages) >= 2
    for i, text in enumerate(pages, 1):
        assert f"Page {i} of {len(pages)}" in text
    # no near-empty last page: it carries at least a fifth of the fullest page's text
    assert len(pages[-1]) > 0.2 * max(len(p) for p in pages), [len(p) for p in pages]
    subprocess.run([PDFTOPPM, "-png", "-r", "50", str(pdf), str(tmp_path / "p")], check=True,
                   timeout=120)
    for png in sorted(tmp_path.glob("p*.png")):
        _check_not_blank(png)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get "
                    "install chromium); the browser screenshot test needs it")
def test_html_letter_screenshot_in_headless_chromium(tmp_path):
    opts, schema, trace = _letter()
    page = tmp_path / "letter.html"
    page.write_text(render_letter(opts, schema, format="html", trace=trace), encoding="utf-8")
    shot = tmp_path / "letter.png"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
           "--window-size=1000,1800", "--hide-scrollbars", f"--screenshot={shot}",
           page.as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), f"no screenshot; chromium said: {run.stderr[-800:]}"
    _check_not_blank(shot)


@pytest.mark.skipif(PDFTOPPM is None or PDFTOTEXT is None,
                    reason="poppler-utils (pdftoppm, pdftotext) not installed (Debian: "
                    "apt-get install poppler-utils)")
def test_pdf_letter_as_image(tmp_path):
    why = _weasyprint_ok()
    if why:
        pytest.skip(why)
    opts, schema, trace = _letter()
    pdf = write_letter(opts, tmp_path / "letter.pdf", schema, trace=trace)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run([PDFTOPPM, "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf),
                    str(tmp_path / "page")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages, "pdftoppm wrote no page"
    _check_not_blank(pages[0])
    text = subprocess.run([PDFTOTEXT, "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=120).stdout
    flat = " ".join(text.split())
    assert "Your application was declined" in flat
    assert "Reduce credit amount from 8,318 DM to 7,811 DM" in flat
    assert "Appendix for the bank's file: how this letter was produced" in flat
