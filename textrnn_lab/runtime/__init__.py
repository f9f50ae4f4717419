"""Machinery every chapter runs on and none teaches: devices, seeds, files, paths, quiet imports, the hub.

Modules, in reading order:

* :mod:`.device`: ``get_device("auto")``, ``describe_device``.
* :mod:`.seeding`: ``seed_everything(seed)``.
* :mod:`.paths`: where the repository, ``data/``, ``solutions/``, ``chapters/`` and ``runs/`` are.
* :mod:`.files`: ``atomic_write``, the one way the course writes a file it must not lose.
* :mod:`.display`: the MIME types of the bundles notebooks display for machines (self-checks, metrics).
* :mod:`.text`: ``first_line(text, limit)``, how one-line messages shorten an error or a cell.
* :mod:`.quiet`: TensorFlow, Keras and transformers imported without their start-up noise.
* :mod:`.hub`: whether a model or dataset hub can be reached (fast, never hangs offline).

Used from chapter 00 on. Foundations import nothing above them: only
:mod:`textrnn_lab.errors` and each other.
"""
