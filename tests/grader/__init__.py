"""The grader: one test file per exercise, the catalog reader, the pytest plugin and the grading-run launcher.

It ships to learners with the course and to the autograders (GitHub Classroom, Gradescope), and imports
nothing from llm_client outside the exercise test files, so it reports even on a package that cannot be
imported. ``python -m tests.grader.launch --help`` runs one grading from a shell.
"""
