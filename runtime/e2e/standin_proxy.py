#!/usr/bin/env python3
"""A stand-in for netboot-proxy, for runtime/e2e/qemu-boot.sh --stand-ins.

The same contract as the real proxy, minus the cache: TFTP file X is fetched from the
origin's route tftp/X, and LAN HTTP GET /<route> from the origin's /<route>, both over
HTTPS with the client certificate (mutual TLS). /healthz answers 200. One log line per
request on stderr: `stand-in: <proto> <route> <status> bytes=<n> sha256=<hex>`.

Only for the end-to-end test: RFC 1350 read requests (options such as blksize are
ignored, which RFC 2347 allows), no cache, no digest checks.
"""

import argparse
import hashlib
import http.server
import socket
import socketserver
import ssl
import struct
import sys
import threading
import urllib.error
import urllib.request


def log(msg):
    print(f"stand-in: {msg}", file=sys.stderr, flush=True)


class Origin:
    def __init__(self, url, cert, key, ca):
        self.url = url.rstrip("/")
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        self.ctx = ctx

    def get(self, route):
        """(status, body) of GET <origin>/<route>."""
        try:
            with urllib.request.urlopen(f"{self.url}/{route}", context=self.ctx, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, b""
        except (urllib.error.URLError, OSError) as e:
            log(f"origin unreachable: {e}")
            return 502, b""


def serve_http(origin, addr):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            route = self.path.lstrip("/")
            if route == "healthz":
                status, body = 200, b"ok\n"
            else:
                status, body = origin.get(route)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            log(f"http {route} {status} bytes={len(body)} sha256={hashlib.sha256(body).hexdigest()}")

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

    host, port = addr.rsplit(":", 1)
    server = Server((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def tftp_send(origin, peer, name, host):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(1.0)
    route = f"tftp/{name}"
    status, body = origin.get(route)
    if status != 200:
        sock.sendto(struct.pack("!HH", 5, 1) + b"File not found\0", peer)
        log(f"tftp {route} {status} bytes=0")
        return
    block = 1
    offset = 0
    while True:
        chunk = body[offset : offset + 512]
        packet = struct.pack("!HH", 3, block & 0xFFFF) + chunk
        for _ in range(5):
            sock.sendto(packet, peer)
            try:
                data, src = sock.recvfrom(1500)
            except socket.timeout:
                continue
            op, ack = struct.unpack("!HH", data[:4])
            if src == peer and op == 4 and ack == block & 0xFFFF:
                break
        else:
            log(f"tftp {route} timeout at block {block}")
            return
        offset += 512
        block += 1
        if len(chunk) < 512:
            break
    log(f"tftp {route} 200 bytes={len(body)} sha256={hashlib.sha256(body).hexdigest()}")


def serve_tftp(origin, addr):
    host, port = addr.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, int(port)))
    while True:
        data, peer = sock.recvfrom(1500)
        if len(data) < 4 or struct.unpack("!H", data[:2])[0] != 1:
            continue
        name = data[2:].split(b"\0")[0].decode("ascii", "replace").lstrip("/")
        threading.Thread(target=tftp_send, args=(origin, peer, name, host), daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--origin", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--origin-ca", required=True)
    p.add_argument("--tftp-listen", required=True)
    p.add_argument("--http-listen", required=True)
    p.add_argument("--cache-dir")  # accepted for the real proxy's command line; unused
    a = p.parse_args()
    origin = Origin(a.origin, a.cert, a.key, a.origin_ca)
    serve_http(origin, a.http_listen)
    log(f"ready: tftp {a.tftp_listen}, http {a.http_listen}, origin {a.origin}")
    serve_tftp(origin, a.tftp_listen)


if __name__ == "__main__":
    main()
