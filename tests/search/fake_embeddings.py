"""A tiny OpenAI-compatible embeddings server for tests: character-bigram hashing, started in a thread on loopback."""

from __future__ import annotations

import hashlib
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def fake_vector(text: str, dimensions: int) -> list[float]:
    v = [0.0] * dimensions
    for i in range(len(text) - 1):
        h = int(hashlib.md5(text[i : i + 2].encode()).hexdigest(), 16)
        v[h % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm + 0.0 for x in v]


class FakeEmbeddingsServer:
    def __init__(self, dimensions: int = 16, api_key: str = "test-key") -> None:
        self.dimensions = dimensions
        self.api_key = api_key
        self.requests: list[dict] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if outer.fail or self.path != "/v1/embeddings":
                    self.send_response(503 if outer.fail else 404)
                    self.end_headers()
                    return
                if self.headers.get("Authorization") != f"Bearer {outer.api_key}":
                    self.send_response(401)
                    self.end_headers()
                    return
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": [3 * x for x in fake_vector(t, outer.dimensions)]}
                    for i, t in enumerate(inputs)
                ]
                data.reverse()  # the protocol orders by `index`, not by position
                payload = json.dumps({"object": "list", "data": data, "model": body.get("model")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEmbeddingsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
