"""A bare HTTPS file server with client-certificate verification, serving a bundle
directory as plain files: the origin the proxy tests corrupt at will (netboot-serve
verifies its objects and would refuse to send wrong bytes)."""

import functools
import http.server
import ssl
import sys

root, cert, key, ca = sys.argv[1:5]


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("fake-origin: " + (fmt % args) + "\n")
        sys.stderr.flush()


server = http.server.ThreadingHTTPServer(
    ("127.0.0.1", 0), functools.partial(Handler, directory=root)
)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
context.load_verify_locations(ca)
context.verify_mode = ssl.CERT_REQUIRED
server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"fake origin ready listen=127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
server.serve_forever()
