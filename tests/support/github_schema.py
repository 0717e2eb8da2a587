"""GitHub's public GraphQL schema for the fixtures, from the npm package `@octokit/graphql-schema` (MIT).

`schema()` builds it once per process; the SDL is fetched with `npm pack` into `.cache/github-graphql-schema/`
on first use and never committed. `python -m tests.support.github_schema` fetches it ahead (scripts/test does).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from graphql import GraphQLSchema, build_schema

PACKAGE = "@octokit/graphql-schema@15.26.1"
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "github-graphql-schema"
SDL = CACHE / "schema.graphql"


class SchemaUnavailable(RuntimeError):
    """npm is missing or could not fetch the package."""


def sdl_path() -> Path:
    """The cached schema.graphql, fetched with `npm pack` when it is not there yet."""
    if not SDL.exists():
        _fetch()
    return SDL


def _fetch() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SchemaUnavailable(f"npm not found; needed once to fetch {PACKAGE} "
                                "(apt-get install -y nodejs npm, or run ./scripts/test)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        done = subprocess.run([npm, "pack", PACKAGE, "--silent", "--pack-destination", work], cwd=work,
                              capture_output=True, text=True, timeout=300, check=False)
        tarballs = list(Path(work).glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            raise SchemaUnavailable(f"npm pack {PACKAGE} failed: {done.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile("package/schema.graphql")
            if member is None:
                raise SchemaUnavailable(f"{PACKAGE} has no package/schema.graphql")
            partial = Path(work) / "schema.graphql"
            partial.write_bytes(member.read())
        os.replace(partial, SDL)  # atomic: a concurrent reader sees no file or the whole file


@functools.cache
def schema() -> GraphQLSchema:
    """GitHub's schema. It breaks two of graphql-core's rules (two fields of EnterpriseOwnerInfo defined twice;
    a dozen fields deprecated where their interface's are not), so both the SDL and the schema are taken as
    valid; queries are still validated against it."""
    return build_schema(sdl_path().read_text(encoding="utf-8"), assume_valid_sdl=True, assume_valid=True)


if __name__ == "__main__":
    try:
        print(sdl_path())
    except SchemaUnavailable as exc:
        sys.exit(str(exc))
