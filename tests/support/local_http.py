"""A local HTTP server for the tests of what kerasdml downloads (scripts, labels): nothing
leaves the machine."""
from __future__ import annotations

import contextlib
import http.server
import threading
from pathlib import Path


@contextlib.contextmanager
def serving(folder: Path):
    """Serves folder's files on 127.0.0.1 while the block runs; yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
