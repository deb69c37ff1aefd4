"""Root pytest configuration, shared by the tests and the doctests of docs/ and src/."""

from hypothesis import settings

# The suite runs on small CI machines next to a database server: no per-example deadline.
settings.register_profile("default", deadline=None, print_blob=True)
settings.load_profile("default")
