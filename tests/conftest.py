"""Shared fixtures: a real database per test (SQLite, or PostgreSQL when
CHIMEQDA_TEST_DATABASE_URL is set) with the schema made by the migrations."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DATA = Path(__file__).parent / "data"
PG_ENV = "CHIMEQDA_TEST_DATABASE_URL"

# Property tests without their own max_examples run this many examples: few in CI ("ci", the
# default), many with HYPOTHESIS_PROFILE=deep (benchmarks/fuzz_readers.py).
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=_SLOW_OK)
settings.register_profile("deep", max_examples=int(os.environ.get("HYPOTHESIS_DEEP_EXAMPLES", "1000")),
                          deadline=None, suppress_health_check=_SLOW_OK)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def hermetic_cache(tmp_path_factory):
    """Embedding and fitted-coder caches live in a folder of this test session only."""
    folder = tmp_path_factory.mktemp("chimeqda-cache")
    previous = os.environ.get("CHIMEQDA_CACHE_DIR")
    os.environ["CHIMEQDA_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("CHIMEQDA_CACHE_DIR", None)
    else:
        os.environ["CHIMEQDA_CACHE_DIR"] = previous


@pytest.fixture
def db_url(tmp_path):
    """A fresh, empty database URL: SQLite in tmp_path, or a new PostgreSQL database."""
    base = os.environ.get(PG_ENV)
    if not base:
        yield f"sqlite:///{tmp_path / 'chimeqda.sqlite3'}"
        return
    url = make_url(base.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"chimeqda_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def workspace(tmp_path, db_url):
    """An initialised project with the built-in CHIME-D codebook."""
    from chimeqda.services import init_project

    return init_project(tmp_path / "project", name="Test study", db=db_url)


@pytest.fixture
def transcripts(tmp_path):
    """A folder with two small synthetic transcripts (English and Dutch)."""
    folder = tmp_path / "transcripts"
    folder.mkdir()
    for source in DATA.glob("*.txt"):
        (folder / source.name).write_bytes(source.read_bytes())
    return folder
