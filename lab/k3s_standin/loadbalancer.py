"""k3s's agent load balancer (``pkg/agent/loadbalancer``), reduced to one upstream.

Agents' components talk to ``https://127.0.0.1:6444``, which forwards TCP to the server.
TLS is end to end, so a client behind it sees the server's certificate exactly as k3s's
kubelet does, and its errors name ``127.0.0.1:6444`` as on a real agent.
"""

from __future__ import annotations

import contextlib
import socket
import threading

LOCAL_PORT = 6444


class LoadBalancer:
    def __init__(
        self, upstream: tuple[str, int], host: str = "127.0.0.1", port: int = LOCAL_PORT
    ) -> None:
        self.upstream = upstream
        self._listener = socket.create_server((host, port), reuse_port=False)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._accept, name="k3s-lb", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
