"""Root pytest configuration: doctests of docs and docstrings see a clean namespace."""
