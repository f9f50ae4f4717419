"""Feedback a student can read: ``feedback/<student>.md`` and ``feedback/<student>.html``.

Each lists the score, then every exercise: passed or not, the points, the message
of the failing check (with its hint), and notes about the notebook (a cell that
raised, a test cell that was edited ...). The hidden tests are never quoted: a
failing hidden test is reported by its number and its assertion message only.
Both files are written atomically.
"""
from __future__ import annotations

import html
from pathlib import Path

from ..runtime.files import atomic_write
from .results import SubmissionResult, format_points

_STATUS_WORDS = {
    "passed": "passed",
    "failed": "not passed",
    "todo": "not done yet",
    "error": "your code raised an error",
    "missing": "not found",
    "timeout": "ran too long",
    "crashed": "crashed",
    "uses-reference": "calls what the exercise asks you to write",
    "not-graded": "not graded",
}
_SUBMISSION_WORDS = {
    "graded": "",
    "review": "an instructor will look at the notes below",
    "invalid": "could not be read",
    "wrong-chapter": "is not a notebook of this chapter",
    "missing": "was not found",
    "error": "could not be graded because of a problem in the grader; an instructor will look at it",
    "clash": "shares its name with another submission; an instructor will sort it out",
}


def _general_notes(result: SubmissionResult) -> list[str]:
    """The submission's notes that are not already shown under an exercise."""
    shown = {n for e in result.exercises for n in e.notes}
    return [n for n in result.tampering + result.notes if n not in shown]


def _status_words(result: SubmissionResult) -> str:
    words = _SUBMISSION_WORDS.get(result.status, result.status)
    if not words:
        return ""
    return f" ({words})" if result.status == "review" else f" (your notebook {words})"


def _chapter_line(result: SubmissionResult, title: str | None) -> str:
    return title or f"Chapter {result.chapter}"


def render_markdown(result: SubmissionResult, title: str | None = None) -> str:
    lines = [
        f"# {_chapter_line(result, title)}: feedback for {result.student}",
        "",
        f"**Score: {format_points(result.points)} / {format_points(result.max_points)}**" + _status_words(result) + ".",
        "",
    ]
    if result.status in ("invalid", "wrong-chapter", "missing", "error") and result.message:
        lines += [f"> {result.message}", ""]
    if result.exercises:
        lines += ["| exercise | result | points |", "|---|---|---|"]
        for e in result.exercises:
            lines.append(f"| {_md_cell(e.title)} | {_STATUS_WORDS.get(e.status, e.status)} | "
                         f"{format_points(e.points)} / {format_points(e.max_points)} |")
        lines.append("")
        for e in result.exercises:
            lines += [f"## {e.title}", "", f"`{e.exercise}`: **{_STATUS_WORDS.get(e.status, e.status)}**, "
                      f"{format_points(e.points)} / {format_points(e.max_points)} point(s).", ""]
            if e.message and e.status != "not-graded":
                lines += [_md_quote(e.message), ""]
            if e.hint and e.status != "passed":
                lines += [f"Hint: {e.hint}", ""]
            for note in e.notes:
                lines.append(f"* {note}")
            if e.notes:
                lines.append("")
    notes = _general_notes(result)
    if notes:
        lines += ["## Notes on your notebook", ""] + [f"* {n}" for n in notes] + [""]
    lines += [
        "---",
        "",
        f"Graded {result.graded_at} by `textrnn-lab grade`. The grader ran your whole notebook in a fresh "
        "kernel (in smoke mode unless your instructor chose otherwise), then ran its own copy of the self-checks "
        "and a few hidden tests on your definitions. Outputs saved in your notebook are not used.",
        "",
    ]
    return "\n".join(lines)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_quote(text: str) -> str:
    return "\n".join("> " + line for line in str(text).splitlines() or [""])


_CSS = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .35rem .7rem; text-align: left; }
.passed { color: #1e7b34; font-weight: 600; } .other { color: #b3261e; font-weight: 600; }
blockquote { margin: .5rem 0; padding: .4rem .8rem; background: #f6f6f6; border-left: 4px solid #bbb;
             white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: .92em; }
.score { font-size: 1.3em; } footer { color: #666; font-size: .9em; margin-top: 2rem; }
"""


def render_html(result: SubmissionResult, title: str | None = None) -> str:
    e_ = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e_(_chapter_line(result, title))}: {e_(result.student)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e_(_chapter_line(result, title))}: feedback for {e_(result.student)}</h1>",
        f'<p class="score"><strong>Score: {format_points(result.points)} / {format_points(result.max_points)}</strong>'
        f"{e_(_status_words(result))}.</p>",
    ]
    if result.status in ("invalid", "wrong-chapter", "missing", "error") and result.message:
        parts.append(f"<blockquote>{e_(result.message)}</blockquote>")
    if result.exercises:
        parts.append("<table><tr><th>exercise</th><th>result</th><th>points</th></tr>")
        for ex in result.exercises:
            css = "passed" if ex.passed else "other"
            words = e_(_STATUS_WORDS.get(ex.status, ex.status))
            parts.append(f'<tr><td>{e_(ex.title)}</td><td class="{css}">{words}</td>'
                         f"<td>{format_points(ex.points)} / {format_points(ex.max_points)}</td></tr>")
        parts.append("</table>")
        for ex in result.exercises:
            css = "passed" if ex.passed else "other"
            parts.append(f"<h2>{e_(ex.title)}</h2>")
            words = e_(_STATUS_WORDS.get(ex.status, ex.status))
            parts.append(f'<p><code>{e_(ex.exercise)}</code>: <span class="{css}">{words}</span>, '
                         f"{format_points(ex.points)} / {format_points(ex.max_points)} point(s).</p>")
            if ex.message and ex.status != "not-graded":
                parts.append(f"<blockquote>{e_(ex.message)}</blockquote>")
            if ex.hint and ex.status != "passed":
                parts.append(f"<p>Hint: {e_(ex.hint)}</p>")
            if ex.notes:
                parts.append("<ul>" + "".join(f"<li>{e_(n)}</li>" for n in ex.notes) + "</ul>")
    notes = _general_notes(result)
    if notes:
        parts.append("<h2>Notes on your notebook</h2><ul>" + "".join(f"<li>{e_(n)}</li>" for n in notes) + "</ul>")
    parts.append(
        f"<footer>Graded {e_(result.graded_at)} by <code>textrnn-lab grade</code>. The grader ran your whole notebook "
        "in a fresh kernel (in smoke mode unless your instructor chose otherwise), then ran its own copy of the "
        "self-checks and a few hidden tests on your definitions. Outputs saved in your notebook are not used.</footer>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_feedback(result: SubmissionResult, out: Path, slug: str, title: str | None = None) -> list[Path]:
    """Write ``out/feedback/<slug>.md`` and ``.html``; return their paths."""
    if title is None and result.chapter:
        try:
            from .spec import load_spec

            title = load_spec(result.chapter).title
        except Exception:  # noqa: BLE001 - a title is a nicety
            title = None
    folder = Path(out) / "feedback"
    md = atomic_write(folder / f"{slug}.md", render_markdown(result, title))
    page = atomic_write(folder / f"{slug}.html", render_html(result, title))
    return [md, page]
