"""The command line: `faithful.py serve --host 127.0.0.1 --port PORT`.

Serves the layer with werkzeug's threaded server on the loopback interface only.
"""

from __future__ import annotations

import argparse
import logging
import os

LOOPBACK = ("127.0.0.1", "localhost")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="faithful.py", description="An AWS-faithful layer around moto server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the layer over HTTP")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK:
        parser.error("the layer binds the loopback interface only (127.0.0.1)")
    # moto builds some URLs from the port it serves on.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # moto puts every request in MOTO_ACCOUNT_ID when it is set, which would merge the sessions.
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    from werkzeug.serving import run_simple

    from .app import FaithfulApp

    run_simple("127.0.0.1", args.port, FaithfulApp(), threaded=True)
