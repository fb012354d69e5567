"""The ``k3s`` executable of the lab nodes.

Subcommands: ``server``, ``agent``, ``certificate check|rotate``, ``kubectl``, and
``--version``/``-v``. Whether ``certificate`` and its subcommands exist follows the imitated
version (lab setting); a missing one behaves as in k3s's urfave/cli: ``No help topic for
'<name>'`` on stderr and exit code 3. Errors are logged as logrus ``fatal`` lines with exit
code 1, as k3s's ``main`` does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Sequence
from typing import TextIO

from k3s_standin import certcmd, logfmt, pki, settings
from k3s_standin.layout import Layout

USAGE = """NAME:
   k3s - Kubernetes, but small and simple

USAGE:
   k3s [global options] command [command options] [arguments...]

COMMANDS:
   server       Run management server
   agent        Run node agent
   kubectl      Run kubectl
   certificate  Manage K3s certificates
   help, h      Shows a list of commands or help for one command
"""


class UsageError(Exception):
    """urfave/cli's usage errors (exit code 1 after ``Incorrect Usage.``)."""


def version_text(version: str) -> str:
    commit = hashlib.sha1(version.encode()).hexdigest()[:8]
    return f"k3s version {version} ({commit})\ngo version go1.22.9\n"


def no_help_topic(name: str, err: TextIO) -> int:
    err.write(f"No help topic for '{name}'\n")
    return 3


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stdout, stderr = out or sys.stdout, sys.stderr
    layout = Layout.from_env()
    lab = settings.load(layout.lab_yaml)
    if not args or args[0] in {"help", "h", "--help"}:
        stdout.write(USAGE)
        return 0
    if args[0] in {"--version", "-v", "version"}:
        stdout.write(version_text(lab.version))
        return 0
    command, rest = args[0], args[1:]
    try:
        return _dispatch(command, rest, lab, stdout, stderr)
    except (certcmd.CertCommandError, OSError, ValueError) as error:
        logfmt.logrus("fatal", str(error), stderr)
        return 1
    except UsageError as error:
        stderr.write(f"Incorrect Usage. {error}\n\n")
        return 1


def _dispatch(
    command: str, rest: list[str], lab: settings.LabSettings, out: TextIO, err: TextIO
) -> int:
    if command == "server":
        from k3s_standin import server  # noqa: PLC0415 - heavy import only for the daemon

        return server.main(rest)
    if command == "agent":
        from k3s_standin import agent  # noqa: PLC0415 - heavy import only for the daemon

        return agent.main(rest)
    if command == "kubectl":
        return run_kubectl(rest, err)
    if command == "certificate" and lab.certificate_rotate:
        return certificate(rest, lab, out, err)
    return no_help_topic(command, err)


def certificate(args: list[str], lab: settings.LabSettings, out: TextIO, err: TextIO) -> int:
    if not args:
        out.write("USAGE:\n   k3s certificate command [command options] [arguments...]\n")
        return 0
    sub, rest = args[0], args[1:]
    available = {"rotate": True, "check": bool(lab.certificate_check)}
    if not available.get(sub, False):
        return no_help_topic(sub, err)
    options = parse_cert_flags(rest, with_output=sub == "check")
    layout = Layout.from_env(options["data-dir"] or None)
    services = options["service"]
    if sub == "check":
        request = certcmd.CheckRequest(
            output=options["output"] or "text",
            services=services,
            window_days=lab.window_days,
            modern=bool(lab.resolved().check_output_v2),
        )
        certcmd.check(layout, request, pki.utcnow(), out, err)
        return 0
    certcmd.rotate(layout, services, err)
    return 0


def parse_cert_flags(args: list[str], with_output: bool) -> dict[str, list[str] | str]:
    """urfave-style flags: ``--service/-s`` (repeatable, comma lists), ``--output/-o``."""
    options: dict[str, list[str] | str] = {"service": [], "output": "", "data-dir": ""}
    names = {"--service": "service", "-s": "service", "--data-dir": "data-dir", "-d": "data-dir"}
    if with_output:
        names |= {"--output": "output", "-o": "output"}
    index = 0
    while index < len(args):
        flag, _, inline = args[index].partition("=")
        if flag not in names:
            raise UsageError(f"flag provided but not defined: {flag.lstrip('-')}")
        if not inline:
            index += 1
            if index >= len(args):
                raise UsageError(f"flag needs an argument: {flag}")
            inline = args[index]
        key = names[flag]
        if key == "service":
            current = options["service"]
            assert isinstance(current, list)
            current += [part for part in inline.split(",") if part]
        else:
            options[key] = inline
        index += 1
    return options


def run_kubectl(args: list[str], err: TextIO) -> int:
    """``k3s kubectl``: the embedded kubectl with the admin kubeconfig by default."""
    layout = Layout.from_env()
    own = os.path.realpath(sys.argv[0]) if sys.argv else ""
    kubectl = shutil.which("kubectl")
    if kubectl is None or os.path.realpath(kubectl) == own:
        err.write(
            "k3s kubectl: no kubectl on this lab node (the stand-in does not embed one). "
            "Use kubectl from the controller with the lab kubeconfig (lab/lab kubectl ...).\n"
        )
        return 1
    env = dict(os.environ)
    if "KUBECONFIG" not in env and layout.kubeconfig.exists():
        env["KUBECONFIG"] = str(layout.kubeconfig)
    os.execve(kubectl, [kubectl, *args], env)
    return 1  # unreachable: execve replaces the process


if __name__ == "__main__":
    sys.exit(main())
