"""The hidden tier (instructor copies only): see conftest.py."""
