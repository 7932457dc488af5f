"""A TCP front for crash tests: what sits between a worker and the task-service replicas.

Each new connection goes to the first backend that accepts it, as a Kubernetes Service
sends new connections to the pods still alive once one is gone; a connection whose
backend dies is closed, so the client reconnects (and lands on a survivor). ``delay_s``
holds every chunk sent upstream that long: a slow service, without touching its code.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit


class TcpFront:
    """A listener on 127.0.0.1 relaying each connection to the first live backend of
    ``urls`` (``http://host:port``, in order of preference)."""

    def __init__(self, *urls: str) -> None:
        self.backends = [(urlsplit(url).hostname or "", urlsplit(url).port or 80) for url in urls]
        self.delay_s = 0.0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.closed = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, name=f"front-{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = self._connect()
            if upstream is None:
                client.close()
                continue
            with self.lock:
                self.sockets |= {client, upstream}
            for source, target, delayed in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, target, delayed), daemon=True
                ).start()

    def _connect(self) -> socket.socket | None:
        for backend in self.backends:
            with contextlib.suppress(OSError):
                return socket.create_connection(backend, timeout=2)
        return None

    def _pump(self, source: socket.socket, target: socket.socket, delayed: bool) -> None:
        """Copy one direction until either side ends, then close both."""
        source.settimeout(None)
        try:
            while chunk := source.recv(65536):
                if delayed and self.delay_s:
                    time.sleep(self.delay_s)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            with self.lock:
                self.sockets -= {source, target}

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        with self.lock:
            open_sockets = list(self.sockets)
        for end in open_sockets:
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
