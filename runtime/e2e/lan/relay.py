#!/usr/bin/env python3
"""LAN matrix row 17: a hostile relay between a machine and the Pi.

It listens in one network namespace (where it holds the address the bundle's scripts name
for the Pi) and forwards every GET and HEAD to the real Pi from another (its cable on home
1's switch): the same Python process, since both homes use 192.168.77.0/24 and this machine
has no NAT tools. Scripts pass through untouched; the body of any path containing the
--flip digest gets one byte flipped, as a tampering cache or a hostile switch would.
Each request is logged on stdout, a rewrite with "relay: rewrote".
"""
import argparse
import ctypes
import http.server
import os
import urllib.error
import urllib.request

CLONE_NEWNET = 0x40000000
# Headers the relay copies between the two sides (no hop-by-hop ones).
REQUEST_HEADERS = ("Range", "User-Agent")
RESPONSE_HEADERS = ("Content-Type", "Content-Range", "ETag", "Last-Modified")
# The largest body the relay holds (the matrix's kernels and initrds are far smaller).
MAX_BODY = 256 << 20


def enter_netns(path):
    """Moves this thread, and the threads it starts later, into the namespace at PATH."""
    fd = os.open(path, os.O_RDONLY)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns {path}: {os.strerror(err)}")
    os.close(fd)


def handler(upstream, flip):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    class Relay(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def relay(self, send_body):
            req = urllib.request.Request(upstream + self.path, method=self.command)
            for name in REQUEST_HEADERS:
                if self.headers.get(name):
                    req.add_header(name, self.headers[name])
            try:
                resp = opener.open(req, timeout=30)
            except urllib.error.HTTPError as err:
                resp = err
            with resp:
                body = bytearray(resp.read(MAX_BODY + 1))
                if len(body) > MAX_BODY:
                    self.send_error(502, "body too large")
                    return
                rewritten = ""
                if flip in self.path and body:
                    body[len(body) // 2] ^= 0xFF
                    rewritten = f" relay: rewrote byte {len(body) // 2} of {len(body)}"
                print(f"relay: {self.command} {self.path} -> {resp.status} ({len(body)} bytes){rewritten}", flush=True)
                self.send_response(resp.status)
                for name in RESPONSE_HEADERS:
                    if resp.headers.get(name):
                        self.send_header(name, resp.headers[name])
                length = resp.headers.get("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

        def do_GET(self):  # noqa: N802 (http.server's name)
            self.relay(True)

        def do_HEAD(self):  # noqa: N802
            self.relay(False)

        def log_message(self, *args):
            pass

    return Relay


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="ADDR:PORT, in the namespace it starts in")
    parser.add_argument("--upstream", required=True, help="the Pi's LAN HTTP URL")
    parser.add_argument("--upstream-netns", required=True, help="the namespace to reach it from")
    parser.add_argument("--flip", required=True, help="rewrite bodies of paths containing this")
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    server = http.server.ThreadingHTTPServer((host, int(port)), handler(args.upstream.rstrip("/"), args.flip))
    # The listening socket stays where it was made; connections upstream go from here on.
    enter_netns(args.upstream_netns)
    print(f"relay: listening on {args.listen}, forwarding to {args.upstream}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
