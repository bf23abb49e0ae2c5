"""The outbound-request guard against a real HTTP server on loopback."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dfdsite.outbound import AddressRefused, public_request, resolve_public


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        if self.path.startswith("/to/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/to/"):])
            self.end_headers()
            return
        body = f"hello from {self.headers['Host']}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1/", "loopback"),
    ("http://localhost:8000/x", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.10/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://0.0.0.0/", "reserved"),
    ("ftp://example.com/file", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("http://user:secret@example.com/", "user name or password"),
    ("http://no-such-host.invalid/", "could not be found"),
])
def test_refuses_what_is_not_public(settings, url, reason):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(AddressRefused, match=reason):
        resolve_public(url)


def test_loopback_is_refused_by_default_even_when_it_answers(settings, server):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(AddressRefused, match="loopback"):
        with public_request(server + "/"):
            pass


def test_allowed_private_fetches_and_follows_redirects_with_the_host_header(settings, server):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    port = server.rsplit(":", 1)[1]
    with public_request(f"http://localhost:{port}/to/{server}/to//final") as response:
        assert response.status == 200
        assert response.read() == f"hello from 127.0.0.1:{port}".encode()


def test_a_redirect_to_cloud_metadata_is_refused_even_when_private_is_allowed(settings, server):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    with pytest.raises(AddressRefused, match="link-local"):
        with public_request(server + "/to/http://169.254.169.254/latest/meta-data/"):
            pass


def test_redirect_loops_end(settings, server):
    settings.DFD_OUTBOUND_ALLOW_PRIVATE = True
    with pytest.raises(AddressRefused, match="Too many redirects"):
        with public_request(server + "/to/" * 11 + "x"):
            pass
