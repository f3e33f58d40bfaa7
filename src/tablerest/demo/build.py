"""Build the demo SQLite database: authors, books, users, cohorts and students.

The data come from ``random.Random`` with a fixed seed, so every build is identical. The file is
written beside its final path and renamed into place, so concurrent first starts (several
workers) never see half a database.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher

__all__ = [
    "DEMO_HIDDEN",
    "DEMO_VERSION",
    "N_BOOKS",
    "build_demo",
    "demo_path",
    "ensure_demo",
    "metadata",
]

DEMO_VERSION = 1
SEED = 7
N_AUTHORS = 250
N_BOOKS = 12_000
N_USERS = 12
N_COHORTS = 6
N_STUDENTS = 120
#: Columns the demo never exposes.
DEMO_HIDDEN = {"users": ["password"]}

metadata = sa.MetaData()

authors = sa.Table(
    "authors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("country", sa.String(2)),
    sa.Column("born", sa.Date),
)
books = sa.Table(
    "books",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("genre", sa.String(30), index=True),
    sa.Column("year", sa.Integer),
    sa.Column("pages", sa.Integer),
    sa.Column("price", sa.Numeric(8, 2)),
    sa.Column("isbn", sa.String(17), unique=True),
    sa.Column("author_id", sa.ForeignKey("authors.id"), nullable=False, index=True),
)
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(50), nullable=False, unique=True),
    sa.Column("email", sa.String(200), nullable=False, unique=True),
    sa.Column("password", sa.String(200), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "created_at", sa.DateTime, nullable=False, server_default=sa.func.current_timestamp()
    ),
)
cohorts = sa.Table(
    "cohorts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
    sa.Column("starts_on", sa.Date, nullable=False),
)
students = sa.Table(
    "students",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("email", sa.String(200), nullable=False, unique=True),
    sa.Column("cohort_id", sa.ForeignKey("cohorts.id"), index=True),
)

GENRES = [
    "fantasy", "science-fiction", "mystery", "thriller", "romance", "horror", "historical",
    "biography", "poetry", "philosophy", "travel", "children",
]  # fmt: skip
FIRST = [
    "Ada", "Bjørn", "Chloé", "Dmitri", "Elena", "Farah", "Gustav", "Hana", "Iván", "Jun", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Rosa", "Søren", "Tomás", "Uma", "Wen", "Zoë",
]  # fmt: skip
LAST = [
    "Abe", "Bergström", "Castro", "Dubois", "Eriksen", "García", "Hoffmann", "Jensen", "Kowalski",
    "Moreau", "Nakamura", "O'Brien", "Petrov", "Rossi", "Tanaka", "Varga", "Weiß", "Yilmaz",
]  # fmt: skip
COUNTRIES = ["AR", "BR", "CA", "DE", "ES", "FR", "GB", "IN", "IT", "JP", "MX", "NG", "NZ", "US"]
ADJ = [
    "Silent", "Crimson", "Hidden", "Last", "Broken", "Golden", "Northern", "Forgotten", "Quiet",
    "Wild", "Distant", "Frozen", "Secret", "Endless", "Velvet", "Naïve", "Midnight",
]  # fmt: skip
NOUN = [
    "River", "Garden", "Empire", "Letter", "Harbor", "Winter", "Orchard", "Mirror", "Kingdom",
    "Voyage", "Sparrow", "Library", "Station", "Café", "Fjord", "Labyrinth", "Atlas",
]  # fmt: skip


def demo_path() -> Path:
    """Where the demo database lives: ``$TABLEREST_DEMO_PATH``, or the user's cache folder."""
    explicit = os.environ.get("TABLEREST_DEMO_PATH")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "tablerest" / f"demo-v{DEMO_VERSION}.sqlite3"


def ensure_demo(path: Path | None = None) -> Path:
    """Build the demo database at ``path`` unless it is already there; return the path."""
    path = path or demo_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".demo-", suffix=".sqlite3", dir=path.parent)
        os.close(fd)
        try:
            build_demo(Path(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return path


def _rows(rng: random.Random) -> dict[sa.Table, list[dict[str, object]]]:
    out: dict[sa.Table, list[dict[str, object]]] = {}
    out[authors] = [
        {
            "id": i,
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "country": rng.choice(COUNTRIES) if rng.random() > 0.05 else None,
            "born": dt.date(1900, 1, 1) + dt.timedelta(days=rng.randrange(0, 36_500)),
        }
        for i in range(1, N_AUTHORS + 1)
    ]
    out[books] = [
        {
            "id": i,
            "title": f"The {rng.choice(ADJ)} {rng.choice(NOUN)}",
            "genre": rng.choice(GENRES) if rng.random() > 0.02 else None,
            "year": rng.randint(1850, 2025),
            "pages": rng.randint(48, 1200),
            "price": f"{rng.randint(299, 4999) / 100:.2f}",
            "isbn": f"978-{i:09d}-{rng.randint(0, 9)}",
            "author_id": rng.randint(1, N_AUTHORS),
        }
        for i in range(1, N_BOOKS + 1)
    ]
    hasher = PasswordHasher()
    out[users] = [
        {
            "id": i,
            "username": f"user{i}",
            "email": f"user{i}@example.com",
            # A salt derived from the row keeps the build byte-for-byte deterministic.
            "password": hasher.hash(f"password{i}", salt=f"demo-salt-{i:06d}".encode()),
            "is_admin": i == 1,
            "created_at": dt.datetime(2024, 1, 1) + dt.timedelta(hours=rng.randrange(0, 8760)),
        }
        for i in range(1, N_USERS + 1)
    ]
    out[cohorts] = [
        {"id": i, "name": f"Cohort {i}", "starts_on": dt.date(2025, 1 + 2 * (i - 1), 6)}
        for i in range(1, N_COHORTS + 1)
    ]
    out[students] = [
        {
            "id": i,
            "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "email": f"student{i}@example.com",
            "cohort_id": rng.randint(1, N_COHORTS) if rng.random() > 0.1 else None,
        }
        for i in range(1, N_STUDENTS + 1)
    ]
    return out


def build_demo(path: Path) -> None:
    """Create the demo tables in a new SQLite file at ``path`` and fill them."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            for table, rows in _rows(random.Random(SEED)).items():
                conn.execute(table.insert(), rows)
    finally:
        engine.dispose()
