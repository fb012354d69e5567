"""``python3 -m k3s_standin.kubeapi``: run the API stand-in in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from .server import ApiServer, ServerConfig


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m k3s_standin.kubeapi", description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6443)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--client-ca", type=Path)
    parser.add_argument("--git-version", default="v1.31.4+k3s1")
    parser.add_argument("--seed", type=Path, action="append", default=[])
    parser.add_argument("--node-grace-seconds", type=float, default=40.0)
    parser.add_argument("--pod-eviction-seconds", type=float, default=300.0)
    parser.add_argument("--no-controllers", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    server = ApiServer(
        ServerConfig(
            state_dir=args.state_dir,
            host=args.host,
            port=args.port,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            client_ca=args.client_ca,
            git_version=args.git_version,
            seed_files=args.seed,
            node_grace_seconds=args.node_grace_seconds,
            pod_eviction_seconds=args.pod_eviction_seconds,
            controllers=not args.no_controllers,
        )
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    server.start()
    print(f"kubeapi listening on {args.host}:{server.port}", file=sys.stderr, flush=True)
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
