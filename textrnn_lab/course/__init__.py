"""Running the course: chapters, notebooks, execution, run summaries, release, the doctor and the command line.

Never taught and never imported by reference code (the topics, the checks).
Modules, in reading order:

* :mod:`.cells`: reading a notebook and its cells: a cell's source and tags, the parameters cell, display outputs.
* :mod:`.chapters`: which chapters there are (``NN_slug.ipynb``) and finding one by number or name.
* :mod:`.execute`: running one notebook with papermill, new parameters in, the executed notebook out.
* :mod:`.summary`: running several chapters and writing ``summary.md`` / ``summary.json``.
* :mod:`.release`: student notebooks in ``chapters/`` generated from ``solutions/``.
* :mod:`.doctor`: is this machine ready (packages, device, data, models)?
* :mod:`.lab`: JupyterLab as ``make lab`` starts it (fixed address, quiet start, stable kernel name).
* :mod:`.site`: the executed notebooks as a static web site (``make site``).
* :mod:`.cli`: the ``textrnn-lab`` command.
"""
