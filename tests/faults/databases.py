"""Fresh, migrated databases by the hundred for the kill -9 tests: each a copy of one migrated template (a file
copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL), so an iteration doesn't pay for the migrations."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
import pytest
from psycopg import sql

from bot.store.db import make_engine, migrate


class Databases:
    def __init__(self, kind: str, workdir: Path, request: pytest.FixtureRequest) -> None:
        self.kind, self.workdir, self.request = kind, workdir, request
        self.made: list[str] = []
        self.last = ""
        self._template = ""

    def __enter__(self) -> Self:
        if self.kind == "sqlite":
            self._template = f"sqlite:///{self.workdir / 'template.db'}"
        else:
            postgres = self.request.getfixturevalue("postgres")
            self._template = postgres.create_database(f"kill_template_{uuid.uuid4().hex[:8]}")
            self.made.append(self._template)
        engine = make_engine(self._template)
        migrate(engine)
        engine.dispose()
        return self

    def fresh(self) -> str:
        """The URL of a new database holding the migrated schema and nothing else."""
        name = f"kill_{uuid.uuid4().hex[:12]}"
        if self.kind == "sqlite":
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.workdir / "template.db", path)
            self.last = f"sqlite:///{path}"
            path_previous = [p for p in self.workdir.glob("kill_*.db") if p != path]
            for old in path_previous:  # keep the disk use of 200 iterations flat
                old.unlink()
        else:
            postgres = self.request.getfixturevalue("postgres")
            with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
                for old in self.made[1:]:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(old.rsplit("/", 1)[1])))
                del self.made[1:]
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self._template.rsplit("/", 1)[1])))
            self.last = postgres.url_for(name)
            self.made.append(self.last)
        return self.last

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.kind == "postgres":
            postgres = self.request.getfixturevalue("postgres")
            for url in self.made:
                postgres.drop_database(url.rsplit("/", 1)[1])
