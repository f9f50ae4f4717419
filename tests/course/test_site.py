"""make site: the executed chapters as a static web site, opened in headless Chromium.

The site is built from smoke-executed notebooks (``make course``'s full runs
take minutes each): by default the solutions are executed here with
papermill; ``TEXTRNN_LAB_SITE_NOTEBOOKS=runs/smoke`` (after ``make smoke``)
reuses executed notebooks instead. Every chapter gets a page, listed in the
table of contents, showing its printed results and all of its figures.
"""
from __future__ import annotations

import base64
import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from conftest import selected_chapters

from textrnn_lab.course import site
from textrnn_lab.errors import CourseError

ROOT = Path(__file__).resolve().parents[2]




SOLUTIONS = selected_chapters(sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")))
# Building the site executes each notebook once more, one after the other: by default three chapters
# (text output, the sample table, a Keras chapter with image grids); the builder is the same for all.
SITE_CHAPTERS = selected_chapters(SOLUTIONS, default=("00", "01", "03"))
SHOTS = ROOT / "runs" / "browser"
CHROMIUM = os.environ.get("TEXTRNN_LAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _need_browser():
    """Playwright and Chromium, or a skip naming what is missing (a failure under CI), as in test_browser.py."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (Debian/Ubuntu: apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the site test cannot open the site in CI: {reason}")
        pytest.skip(reason)


def test_a_folder_without_executed_notebooks_is_one_clear_error(tmp_path):
    with pytest.raises(CourseError, match="make course"):
        site.build_site(tmp_path / "nothing", tmp_path / "site")
    (tmp_path / "runs").mkdir()
    shutil.copy(SOLUTIONS[0], tmp_path / "runs" / SOLUTIONS[0].name)
    nb = nbformat.read(tmp_path / "runs" / SOLUTIONS[0].name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    nbformat.write(nb, tmp_path / "runs" / SOLUTIONS[0].name)
    with pytest.raises(CourseError, match="no outputs"):
        site.build_site(tmp_path / "runs", tmp_path / "site")


def test_the_table_of_contents_lists_every_chapter_by_title(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 07 · Attention\n\ntext"),
                                         nbformat.v4.new_code_cell("1", outputs=[])])
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    (tmp_path / "runs").mkdir()
    nbformat.write(nb, tmp_path / "runs" / "07_attention.ipynb")
    staged = site.stage(tmp_path / "runs", tmp_path / "src")
    assert [p.name for p in staged] == ["07_attention.ipynb"]
    index = (tmp_path / "src" / "index.md").read_text()
    assert "```{toctree}" in index and "\n07_attention\n" in index
    assert site.chapter_title(nb, "x") == "07 · Attention"
    assert 'nb_execution_mode = "off"' in (tmp_path / "src" / "conf.py").read_text()


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    given = os.environ.get("TEXTRNN_LAB_SITE_NOTEBOOKS")
    if given:
        return Path(given)
    from textrnn_lab.course.execute import execute_notebook

    out = tmp_path_factory.mktemp("smoke")
    old = {k: os.environ.get(k) for k in ("TEXTRNN_LAB_RUN_DIR", "MPLBACKEND")}
    os.environ.update(TEXTRNN_LAB_RUN_DIR=str(out / "runs"), MPLBACKEND="Agg")
    try:
        for path in SITE_CHAPTERS:
            result = execute_notebook(path, out / path.name, {"SMOKE": True, "DEVICE": "cpu", "SEED": 0},
                                      timeout=600)
            assert result.ok, f"{path.name} did not run in smoke mode"
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return out


@pytest.mark.notebooks
def test_make_site_renders_every_chapter_with_its_figures(executed, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    index = site.build_site(executed, tmp_path / "site")
    build_s = time.perf_counter() - started
    print(f"site built from {len(SITE_CHAPTERS)} executed notebooks in {build_s:.1f} s")

    wanted = {p.stem for p in SITE_CHAPTERS}
    chapters = sorted(p for p in Path(executed).glob("[0-9][0-9]_*.ipynb") if p.stem in wanted)
    assert chapters, f"none of {sorted(wanted)} was executed in {executed}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("http*://**", lambda route: route.abort())  # offline, as a laptop on a train
            page.goto(index.as_uri())
            toc = page.locator("nav.bd-docs-nav a.reference.internal, .toctree-wrapper a.reference.internal")
            linked = {a.split("/")[-1] for a in toc.evaluate_all("links => links.map(a => a.getAttribute('href'))")}
            for path in chapters:
                nb = nbformat.read(path, as_version=4)
                assert f"{path.stem}.html" in linked, f"the table of contents does not list {path.stem}"
                title = site.chapter_title(nb, path.stem)
                page.goto((index.parent / f"{path.stem}.html").as_uri())
                assert title in page.locator("main h1").first.text_content()
                figures = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                              if "image/png" in o.get("data", {}))
                assert figures >= 1, f"{path.name} was executed without figures"
                images = page.locator("main img")
                rendered = images.evaluate_all("imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")
                assert rendered >= figures, f"{path.stem}: {rendered} of {figures} figures rendered"
                # the figures are the notebook's own images, not placeholders
                first_png = next(o["data"]["image/png"] for c in nb.cells if c.cell_type == "code"
                                 for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
                assert len(base64.b64decode(first_png)) > 1000
                printed = page.locator("main .cell_output").count()
                assert printed >= figures, f"{path.stem}: outputs missing"
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"site_{path.stem}.png"))
                images.first.scroll_into_view_if_needed()
                images.first.screenshot(path=str(SHOTS / f"site_{path.stem}_figure0.png"))
                samples = page.locator("main table.textrnn-columns")
                if samples.count():
                    align = samples.first.locator("td").first.evaluate("td => getComputedStyle(td).textAlign")
                    assert align in ("left", "start"), f"{path.stem}: the samples are {align}-aligned on the site"
                    samples.first.scroll_into_view_if_needed()
                    samples.first.screenshot(path=str(SHOTS / f"site_{path.stem}_samples.png"))
        finally:
            browser.close()
