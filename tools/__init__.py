"""The instructor tools, behind one entry point: ``python -m tools COMMAND`` from the repository root.

Run ``python -m tools --help`` for the commands. The tools import the grader's own modules
(``tests.grader``: the catalog reader and the grading-run launcher) and never edit ``sys.path``.
"""
