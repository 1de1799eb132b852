"""moto server with a clock on every request, for `scripts/bench`: the emulator's own
serving time, the floor under any client's run.

    python scripts/moto-timed.py PORT

Serves moto exactly as `moto_server -H 127.0.0.1 -p PORT` does (werkzeug, threaded), and
times each request from the moment moto's application is called until its answer is built.
moto is one Python process: its requests run one at a time under the interpreter's lock,
so the CPU time spent serving the calls a run makes is time no client can save. Two
figures, for the requests since the last reset:
- `cpu`: the sum of each request's thread CPU time (the floor);
- `busy`: the wall time during which at least one request was being served.

    GET  /_timing        {"requests": N, "cpu": seconds, "busy": seconds}
    POST /_timing/reset
"""

import json
import os
import signal
import sys
import threading
import time

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class Timed:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.cpu = 0.0
            self.busy = 0.0
            self.in_flight = 0
            self.busy_since = 0.0

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_timing":
            with self.lock:
                body = {"requests": self.requests, "cpu": self.cpu, "busy": self.busy}
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        if path == "/_timing/reset":
            self.reset()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        with self.lock:
            if self.in_flight == 0:
                self.busy_since = time.perf_counter()
            self.in_flight += 1
        cpu0 = time.thread_time()
        try:
            # The whole answer, built: moto's work for this request.
            return [b"".join(self.app(environ, start_response))]
        finally:
            cpu = time.thread_time() - cpu0
            with self.lock:
                self.requests += 1
                self.cpu += cpu
                self.in_flight -= 1
                if self.in_flight == 0:
                    self.busy += time.perf_counter() - self.busy_since


def main():
    port = int(sys.argv[1])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    run_simple("127.0.0.1", port, Timed(app), threaded=True)


if __name__ == "__main__":
    main()
