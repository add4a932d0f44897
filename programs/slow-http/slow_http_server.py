#!/usr/bin/env python3
"""An HTTP server for the curl scenarios: Python's http.server, slow on purpose.

GET answers after --delay seconds (a request being processed: the client
waits with nothing in flight); PUT and POST read the body to its end,
chunked or not, and answer 200 (an upload the server keeps up with).
It prints `listening on ADDR PORT` on stdout once it listens.

    slow_http_server.py --bind 198.18.0.2 --port 8080 --delay 60
"""
import argparse
import http.server
import socket
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.0

    def do_GET(self):
        time.sleep(self.delay)
        self.answer(b"done\n")

    def do_PUT(self):
        self.read_body()
        self.answer(b"stored\n")

    do_POST = do_PUT

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return
                self.rfile.read(size + 2)
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left > 0:
                got = self.rfile.read(min(left, 65536))
                if not got:
                    return
                left -= len(got)

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s\n" % (fmt % args))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--delay", type=float, default=60.0, help="seconds before a GET is answered")
    a = p.parse_args()
    Handler.delay = a.delay

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in a.bind else socket.AF_INET

    server = Server((a.bind, a.port), Handler)
    print("listening on %s %d" % (a.bind, a.port), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
