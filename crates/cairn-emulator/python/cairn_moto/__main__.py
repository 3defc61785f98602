"""``python -m cairn_moto --host 127.0.0.1 --port PORT --state-dir DIR [--twin] [--delay-ms N] [--exit-with-parent]``"""

from __future__ import annotations

import argparse
from pathlib import Path

from .server import serve


def main() -> None:
    ap = argparse.ArgumentParser(prog="cairn_moto")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4566)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--twin", action="store_true", help="back replication groups with real redis-server processes")
    ap.add_argument("--delay-ms", type=int, default=None, help="status transition delay (default $CAIRN_EMULATOR_DELAY_MS or 2000)")
    ap.add_argument("--exit-with-parent", action="store_true", help="stop when the launching process dies")
    args = ap.parse_args()
    serve(
        args.host,
        args.port,
        Path(args.state_dir).resolve(),
        args.twin,
        args.delay_ms,
        exit_with_parent=args.exit_with_parent,
    )


if __name__ == "__main__":
    main()
