"""The course's tests: the grader (tests/grader/, a package that ships to learners) and the kit's own tests."""
