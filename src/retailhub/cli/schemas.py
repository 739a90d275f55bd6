"""`retailhub schemas export|check`: keep the committed schema registry in step with the code."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from retailhub.canonical.registry import Schema, check_registry, current_schemas

app = typer.Typer(help="Export and check the versioned JSON Schemas in the schema registry.")

DEFAULT_DIR = Path("schemas")
DirOption = typer.Option(DEFAULT_DIR, "--dir", help="The registry folder (default: ./schemas).")


def read_registry(directory: Path) -> dict[str, Schema]:
    """Load every committed schema under `directory`, keyed by its path inside the registry."""
    if not directory.is_dir():
        return {}
    return {
        path.relative_to(directory).as_posix(): orjson.loads(path.read_bytes())
        for path in sorted(directory.rglob("*.json"))
    }


def render(schema: Schema) -> bytes:
    """The committed form of a schema: sorted keys, two-space indent, final newline."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


@app.command()
def export(directory: Path = DirOption) -> None:
    """Write the current schemas into the registry. Refuses to overwrite a version with a breaking
    change: raise the version (a new event type, or MODEL_VERSIONS) instead."""
    breaking = [p for p in check_registry(read_registry(directory)) if p.breaking]
    if breaking:
        for problem in breaking:
            typer.echo(f"refused: {problem}", err=True)
        raise typer.Exit(1)
    written = 0
    for relative, schema in current_schemas().items():
        target = directory / relative
        content = render(schema)
        if target.exists() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        typer.echo(f"wrote {target}")
        written += 1
    typer.echo(f"{written} schema(s) written, registry up to date in {directory}")


@app.command()
def check(directory: Path = DirOption) -> None:
    """Fail (exit 1) when the registry is stale or a schema changed incompatibly without a new
    version; print each problem."""
    problems = check_registry(read_registry(directory))
    for problem in problems:
        typer.echo(f"{'BREAKING' if problem.breaking else 'stale'}: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"schema registry in {directory} is up to date")
