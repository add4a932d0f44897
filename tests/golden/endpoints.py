#!/usr/bin/env python3
"""Endpoints for the golden captures (see make.sh): server MODE PORT / client MODE HOST PORT."""
import socket, struct, sys, time

def server(mode, port, family):
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "zerowin":
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    ls.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    ls.listen(1)
    print("listening", flush=True)
    s, _ = ls.accept()
    if mode == "zerowin":
        time.sleep(2.0)           # let the window close, then drain
    if mode == "close4":
        while s.recv(65536):
            pass
        time.sleep(0.2)           # FIN acked on its own, our FIN later
    elif mode == "close3":
        while s.recv(65536):
            pass                  # close at once: FIN may carry the ACK
    else:
        while True:
            try:
                if not s.recv(65536):
                    break
            except OSError:
                break
    s.close()

def client(mode, host, port, family):
    s = socket.socket(family, socket.SOCK_STREAM)
    if mode == "keepalive":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.connect((host, port))
    if mode in ("close4", "close3"):
        s.sendall(b"x" * 100)
        time.sleep(0.1)
        s.close()
    elif mode == "rst":
        s.sendall(b"hello")
        time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    elif mode == "retrans":
        s.sendall(b"y" * 300000)
        time.sleep(0.5)
        s.close()
    elif mode == "keepalive":
        time.sleep(3.5)
        s.close()
    elif mode == "zerowin":
        s.setblocking(False)
        sent, t0 = 0, time.time()
        while sent < 60000 and time.time() - t0 < 6:
            try:
                sent += s.send(b"z" * 4096)
            except BlockingIOError:
                time.sleep(0.01)
        s.setblocking(True)
        time.sleep(0.5)
        s.close()
    elif mode == "silent":
        s.sendall(b"before cut")
        time.sleep(0.3)
        print("cut now", flush=True)
        sys.stdin.readline()       # make.sh cuts the wire, then says go
        s.sendall(b"into the cut")
        time.sleep(3.0)
        print("done", flush=True)
        time.sleep(10)

if __name__ == "__main__":
    role, mode = sys.argv[1], sys.argv[2]
    fam = socket.AF_INET6 if "v6" in sys.argv else socket.AF_INET
    if role == "server":
        server(mode, int(sys.argv[3]), fam)
    else:
        client(mode, sys.argv[3], int(sys.argv[4]), fam)
