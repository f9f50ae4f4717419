"""The student's path in a real browser: JupyterLab as ``make lab`` starts it, driven by headless Chromium.

For the student copy of every chapter: switch the parameters cell to
``SMOKE = True`` as chapter 00 teaches, Run All, wait until every cell has
run, then check what a person would see: no stderr output, a TODO verdict for
every exercise, figures that rendered with readable text (every figure at most
10 in wide, no text under 10 pt), generated text left-aligned and wrapped
between words, no pop-up over the notebook, the kernel name unchanged by a
save. Then a correct answer typed into the first exercise gives a green PASS
and a wrong one in the last exercise a red FAIL whose hint holds no line of
the solution. Screenshots go to ``runs/browser/``.

Chromium comes from the system (``apt-get install chromium``; Playwright's own
browser download is not used). Without it the test is skipped with the
reason, except under CI (``CI=true``), where a skip would hide a broken path
and so fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import selected_chapters

from textrnn_lab.course import lab
from textrnn_lab.course.release import BEGIN_SOLUTION, END_SOLUTION

ROOT = Path(__file__).resolve().parents[2]




CHAPTERS = selected_chapters(sorted(p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")))
SHOTS = ROOT / "runs" / "browser"
CHROMIUM = os.environ.get("TEXTRNN_LAB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: seconds a smoke-mode Run All may take in the browser (the notebooks' own limit is 20 s on 2 free cores)
RUN_ALL_TIMEOUT = float(os.environ.get("TEXTRNN_LAB_BROWSER_TIMEOUT", "300"))
MIN_FONT_PT = 10.0
MAX_FIGURE_WIDTH_IN = 10.0

pytestmark = pytest.mark.notebooks

# Loaded by every kernel the lab starts (IPYTHONDIR points at it): records, for each figure drawn inline, its
# width and its smallest visible text, which is what decides whether the labels can be read on screen.
FIGURE_AUDIT = r'''
import json as _json, os as _os
import matplotlib.text as _mtext
from matplotlib.backend_bases import FigureCanvasBase as _Canvas

_print_figure = _Canvas.print_figure


def _audited_print_figure(self, *args, **kwargs):
    fig = self.figure
    texts = [t for t in fig.findobj(_mtext.Text) if t.get_visible() and t.get_text().strip()]
    smallest = min(texts, key=lambda t: t.get_fontsize(), default=None)
    record = {"width_in": float(fig.get_figwidth()), "height_in": float(fig.get_figheight()),
              "min_pt": float(smallest.get_fontsize()) if smallest is not None else None,
              "smallest_text": smallest.get_text()[:40] if smallest is not None else None}
    with open(_os.environ["TEXTRNN_LAB_FIGURE_AUDIT"], "a", encoding="utf-8") as out:
        out.write(_json.dumps(record) + "\n")
    return _print_figure(self, *args, **kwargs)


_Canvas.print_figure = _audited_print_figure
'''


def _need_browser():
    """Playwright and Chromium, or a skip naming what is missing (a failure under CI)."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        reason = "Playwright is not installed (pip install -e '.[dev]')"
    if reason is None and not Path(CHROMIUM).exists():
        reason = (f"Chromium not found at {CHROMIUM} (Debian/Ubuntu: apt-get install chromium; "
                  "or set TEXTRNN_LAB_CHROMIUM to its path)")
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser test cannot run in CI: {reason}")
        pytest.skip(reason)


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind((lab.HOST, port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """JupyterLab on a copy of chapters/ (so saving changes nothing in the repository), as make lab starts it."""
    _need_browser()
    work = tmp_path_factory.mktemp("lab")
    notebooks = work / "chapters"
    notebooks.mkdir()
    for name in CHAPTERS:
        shutil.copy(ROOT / "chapters" / name, notebooks / name)
    ipython_dir = work / "ipython"
    (ipython_dir / "profile_default" / "startup").mkdir(parents=True)
    (ipython_dir / "profile_default" / "startup" / "00-figure-audit.py").write_text(FIGURE_AUDIT)
    audit = work / "figures.jsonl"
    lab.prepare()  # what make lab does first: settings overrides, lab configuration, kernel name
    lab.trust(notebooks, data_dir=work / ".local" / "share" / "jupyter")  # the server's data folder (HOME=work)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1" ... under make test: a port each
    port = _free_port(lab.PORT + (int(worker[2:]) + 1 if worker[2:].isdigit() else 0))
    env = lab.lab_env()
    env.update(IPYTHONDIR=str(ipython_dir), TEXTRNN_LAB_FIGURE_AUDIT=str(audit), HOME=str(work),
               TEXTRNN_LAB_RUN_DIR=str(work / "runs"), JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    log = (work / "server.log").open("w")
    server = subprocess.Popen(lab.lab_command(notebooks, port=port, open_browser=False), env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(lab.lab_url(port, path="api/status"), timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (work / "server.log").read_text()) from None
                time.sleep(0.5)
        yield {"port": port, "dir": notebooks, "audit": audit, "log": work / "server.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


# --------------------------------------------------------------------------- driving the notebook


def _cells(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def _set_source(page, cell, text: str) -> None:
    """Replace a code cell's text the way a person does: click into it, select all, type."""
    editor = cell.locator(".jp-InputArea-editor .cm-content")
    editor.scroll_into_view_if_needed()
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)  # no auto-indent or auto-closed brackets, as pasting would
    page.keyboard.press("Escape")


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).first.click()


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell .jp-InputArea-prompt",
        "els => els.map(e => e.textContent.trim())")


def _wait_all_run(page, timeout: float) -> None:
    """Every code cell has an execution count and none is queued or running ('[*]')."""
    deadline = time.monotonic() + timeout
    while True:
        prompts = _prompts(page)
        if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"Run All did not finish in {timeout:.0f} s; prompts: {prompts}")
        page.wait_for_timeout(500)


def _run_cell(page, cell, timeout: float = 120) -> str:
    """Run one cell (click it, Shift+Enter) and return its outputs' text once it has a new execution count."""
    before = cell.locator(".jp-InputArea-prompt").text_content().strip()
    cell.locator(".jp-InputArea-prompt").click()
    page.keyboard.press("Shift+Enter")
    deadline = time.monotonic() + timeout
    while True:
        now = cell.locator(".jp-InputArea-prompt").text_content().strip()
        if re.fullmatch(r"\[\d+\]:", now) and now != before:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"a cell did not finish in {timeout:.0f} s (prompt {now})")
        page.wait_for_timeout(300)
    return cell.locator(".jp-OutputArea").text_content() or ""


def _solution_region(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip().startswith(BEGIN_SOLUTION):
            inside = True
        elif line.strip().startswith(END_SOLUTION):
            inside = False
        elif inside and line.strip():
            lines.append(line)
    return lines


def _wrong_answer(source: str) -> str:
    """The solution cell with its solution region replaced by a plausible wrong answer (``return None``)."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION):
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + "return None")
        elif stripped.startswith(END_SOLUTION):
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _exercises(name: str):
    """(index of the solution cell, its solution source, index of its test cell) in notebook order."""
    solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
    index = {c.metadata.get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(solution.cells)}
    found = []
    for i, cell in enumerate(solution.cells):
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            found.append((i, cell.source, index[f"{meta['grade_id']}_test"]))
    return found


def _shot(locator_or_page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    if hasattr(locator_or_page, "scroll_into_view_if_needed"):
        locator_or_page.scroll_into_view_if_needed()
        locator_or_page.screenshot(path=str(path))
    else:
        locator_or_page.screenshot(path=str(path))
    return path


# --------------------------------------------------------------------------- the test


@pytest.mark.parametrize("name", CHAPTERS)
def test_student_copy_in_jupyterlab(lab_server, browser, name):
    stem = name[:-len(".ipynb")]
    lab_server["audit"].write_text("")
    page = browser.new_page(viewport={"width": 1280, "height": 1300})  # a figure 11 in tall fits in one shot
    page_errors: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    try:
        # ?reset: a fresh workspace, so the chapters opened before do not come back as tabs
        page.goto(lab.lab_url(lab_server["port"], path=f"lab/tree/{name}").replace("?", "?reset&"),
                  timeout=120_000)
        student = nbformat.read(lab_server["dir"] / name, as_version=4)
        cells = _cells(page)
        cells.nth(len(student.cells) - 1).wait_for(state="attached", timeout=120_000)
        assert cells.count() == len(student.cells), "every cell is in the page (windowingMode none)"
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible").first.wait_for(timeout=120_000)

        # no pop-up (the news question, an update notice) over the notebook
        toasts = page.locator(".Toastify__toast").all_text_contents()
        assert not toasts, f"a notification covers the notebook: {toasts}"

        # smoke mode exactly as chapter 00 teaches: edit the parameters cell, then Run All
        params = next(i for i, c in enumerate(student.cells) if "parameters" in c.metadata.get("tags", []))
        source = student.cells[params].source
        assert re.search(r"^SMOKE = False", source, re.M), "the parameters cell starts from SMOKE = False"
        _set_source(page, cells.nth(params), re.sub(r"^SMOKE = False", "SMOKE = True", source, flags=re.M))
        started = time.monotonic()
        _menu(page, "Run", "Run All Cells")
        _wait_all_run(page, RUN_ALL_TIMEOUT)
        run_all_s = time.monotonic() - started
        _shot(page, f"{stem}_top.png")

        # no stderr, no error output anywhere
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        stderr = notebook.locator("[data-mime-type='application/vnd.jupyter.stderr']").all_text_contents()
        assert not stderr, f"stderr output in {name}: {stderr}"
        errors = notebook.locator("[data-mime-type='application/vnd.jupyter.error']").all_text_contents()
        assert not errors, f"an error in {name}: {[e[:300] for e in errors]}"

        # a TODO verdict, coloured, for every exercise
        exercises = _exercises(name)
        assert len(exercises) >= 2
        for _, _, test_index in exercises:
            verdict = cells.nth(test_index).locator(".textrnn-lab-check")
            assert verdict.count() == 1, f"{name}: the check cell {test_index} shows one HTML verdict"
            assert verdict.locator("b").first.text_content().strip() == "TODO"

        # figures: rendered, at most 10 in wide, no text under 10 pt
        images = notebook.locator(".jp-OutputArea-output img")
        assert images.count() >= 1, f"{name} shows no figure"
        for k in range(images.count()):
            image = images.nth(k)
            image.scroll_into_view_if_needed()
            assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"figure {k} did not render"
        figures = [json.loads(line) for line in lab_server["audit"].read_text().splitlines() if line]
        assert len(figures) >= images.count(), "every figure on the page went through the inline backend"
        for record in figures:
            assert record["width_in"] <= MAX_FIGURE_WIDTH_IN + 1e-6, f"{name}: a figure {record} is too wide"
            assert record["min_pt"] is None or record["min_pt"] >= MIN_FONT_PT, \
                f"{name}: text {record['smallest_text']!r} at {record['min_pt']} pt is unreadable on screen"
        for k in range(min(images.count(), 8)):
            _shot(images.nth(k), f"{stem}_figure{k}.png")

        # generated text in tables: left-aligned, wrapped between words, never inside one
        long_cells = notebook.locator(".jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th")
        checked = 0
        for k in range(long_cells.count()):
            cell = long_cells.nth(k)
            style = cell.evaluate("""td => { const s = getComputedStyle(td);
                const inner = td.querySelector('div, pre') || td; const i = getComputedStyle(inner);
                return {text: td.textContent, align: s.textAlign, inner_align: i.textAlign,
                        word_break: i.wordBreak, white_space: i.whiteSpace}; }""")
            if len(style["text"].split()) < 8:
                continue  # numbers and labels may be right-aligned
            checked += 1
            assert style["align"] in ("left", "start") and style["inner_align"] in ("left", "start"), style
            assert style["word_break"] != "break-all", style
        if notebook.locator("table.textrnn-columns").count():
            assert checked, "the side-by-side samples were checked"
            _shot(notebook.locator("table.textrnn-columns").first, f"{stem}_samples.png")

        # a correct answer passes: the first exercise, its solution typed in
        first_solution, first_source, first_test = exercises[0]
        _set_source(page, cells.nth(first_solution), first_source)
        _run_cell(page, cells.nth(first_solution))
        passed = _run_cell(page, cells.nth(first_test))
        verdict = cells.nth(first_test).locator(".textrnn-lab-check")
        assert "PASS" in passed, f"{name}: the solution of the first exercise did not pass: {passed[:300]}"
        colour = verdict.locator("b").first.evaluate("b => getComputedStyle(b).color")
        _shot(cells.nth(first_test), f"{stem}_pass.png")

        # a wrong answer fails, with a hint that does not give the answer away: the last exercise
        last_solution, last_source, last_test = exercises[-1]
        _set_source(page, cells.nth(last_solution), _wrong_answer(last_source))
        _run_cell(page, cells.nth(last_solution))
        failed = _run_cell(page, cells.nth(last_test))
        verdict = cells.nth(last_test).locator(".textrnn-lab-check")
        assert verdict.locator("b").first.text_content().strip() == "FAIL", failed[:300]
        hint = verdict.text_content()
        assert re.search(r"hint", hint, re.I), f"{name}: a FAIL shows a hint: {hint}"
        for line in _solution_region(last_source):
            code = line.strip()
            if len(code) >= 12:
                assert code not in hint, f"{name}: the hint gives the solution away: {code!r} in {hint!r}"
        if re.search(r"hint 1 of [2-9]", hint, re.I):  # staged: failing again shows the next stage
            _run_cell(page, cells.nth(last_test))
            again = cells.nth(last_test).locator(".textrnn-lab-check").text_content()
            assert re.search(r"hint 2 of", again, re.I) and again != hint, again
            for line in _solution_region(last_source):
                assert len(line.strip()) < 12 or line.strip() not in again, f"hint 2 gives {line.strip()!r} away"
            _shot(cells.nth(last_test), f"{stem}_fail_again.png")
        fail_colour = verdict.locator("b").first.evaluate("b => getComputedStyle(b).color")
        body_colour = verdict.evaluate("d => getComputedStyle(d.closest('.jp-OutputArea-output')).color")
        assert len({colour, fail_colour, body_colour}) == 3, \
            f"PASS ({colour}), FAIL ({fail_colour}) and text ({body_colour}) are told apart by colour"
        _shot(cells.nth(last_test), f"{stem}_fail.png")

        # still no pop-up after all that time (the news question comes a few seconds after the page loads)
        toasts = page.locator(".Toastify__toast").all_text_contents()
        assert not toasts, f"a notification covers the notebook: {toasts}"

        # saving keeps the kernel's name in the notebook's metadata
        page.keyboard.press("Control+s")
        page.wait_for_timeout(1500)
        saved = json.loads((lab_server["dir"] / name).read_text(encoding="utf-8"))
        assert saved["metadata"]["kernelspec"] == student.metadata["kernelspec"], \
            "saving rewrote the kernelspec: the installed kernel's display name differs from the notebooks'"
        assert not page_errors, f"JavaScript errors in the page: {page_errors}"
        print(f"{name}: Run All in smoke mode took {run_all_s:.1f} s in the browser")
    finally:
        try:
            _shot(page, f"{stem}_last.png")
        finally:
            page.close()
            _shut_down_kernels(lab_server["port"])


def _shut_down_kernels(port: int) -> None:
    """Each chapter's kernel ends with its test (a student closing the notebook would leave it running)."""
    sessions = json.load(urllib.request.urlopen(lab.lab_url(port, path="api/sessions"), timeout=30))
    for session in sessions:
        request = urllib.request.Request(lab.lab_url(port, path=f"api/sessions/{session['id']}"), method="DELETE")
        urllib.request.urlopen(request, timeout=60)


def test_lab_starts_quietly(lab_server):
    """No warning or error in the terminal when the lab starts and runs the chapters (fault: nbgrader noise)."""
    noisy = [line for line in lab_server["log"].read_text(errors="replace").splitlines()
             if re.match(r"\[(W|E|C) ", line) and "received signal" not in line]
    assert not noisy, "JupyterLab printed warnings a student would see:\n" + "\n".join(noisy[:20])
