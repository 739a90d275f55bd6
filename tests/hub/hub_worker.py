"""A hub worker for the kill tests: opens the whole hub against the estate file given and runs
until killed. Usage: hub_worker.py ESTATE_FILE HOME"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from retailhub.bootstrap import open_hub
from retailhub.config import Settings
from retailhub.estate import parse_estate


async def main(estate_file: Path, home: Path) -> None:
    """Open the hub and wait forever; SIGKILL is how this process ends."""
    settings = Settings(home=home, bus="sqlite", database_url=None, nats_url=None)
    estate = parse_estate(estate_file.read_text(), str(estate_file))
    async with open_hub(settings, estate=estate):
        (home / "ready").touch()
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
