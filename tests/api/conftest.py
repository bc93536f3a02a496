"""Fixtures of the API tests (defined in :mod:`apisupport`, shared with the test modules)."""

from apisupport import (  # noqa: F401  (fixtures are registered by being imported here)
    _empty_template,
    _seeded_template,
    book_files,
    client,
    live,
    pg_store,
    seeded,
    store,
)
