#!/usr/bin/env python3
"""Small real-socket helpers for samples/make-samples.sh (pinspect sample captures).

Every TLS byte these helpers put on the wire comes from OpenSSL through
Python's ssl module; nothing is hand-crafted.  Sub-commands:

  hello-abort  TLS client: real ClientHello (ssl.SSLObject over MemoryBIO), reads
               the server's hello flight, then closes with RST (--close rst,
               SO_LINGER {1,0}) or FIN (--close fin) without sending anything
               else (no alert, no Finished): a pinning client's silent reject.
  client       TLS client on ssl.SSLSocket: --mode get (HTTP/1.0 GET, read to
               EOF), --mode close (handshake, then close_notify via unwrap(), no
               data).  A verification failure is reported, not raised.
  tarpit       TCP server that accepts and reads but never answers.
  rst-server   TCP server that reads the ClientHello and resets (SO_LINGER {1,0}).
  udp-sink     UDP server that reads and never answers (a DNS black hole).
"""
import argparse
import socket
import ssl
import struct
import sys
import time

VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


def log(*a):
    print("pihelper:", *a, file=sys.stderr, flush=True)


def set_versions(ctx, a):
    if a.min:
        ctx.minimum_version = VERSIONS[a.min]
    if a.max:
        ctx.maximum_version = VERSIONS[a.max]


def connect(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    s.connect((a.host, a.port))
    return s


def drain(s, seconds):
    """Read whatever is still in flight so that close() sends FIN, not RST."""
    s.settimeout(seconds)
    try:
        while s.recv(65536):
            pass
    except (socket.timeout, OSError):
        pass


def hello_abort(a):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # we only want OpenSSL to parse the flight
    set_versions(ctx, a)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_side=False, server_hostname=a.sni)
    s = connect(a)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    s.sendall(out.read())  # the ClientHello, and nothing else ever
    done = False
    deadline = time.monotonic() + a.timeout
    while not done and time.monotonic() < deadline:
        data = s.recv(65536)
        if not data:
            log("server closed before its flight was complete")
            break
        inc.write(data)
        try:
            obj.do_handshake()
            done = True  # TLS 1.3: the server Finished was processed
        except ssl.SSLWantReadError:
            pass
        # The client has its own flight ready (TLS 1.2: after ServerHelloDone;
        # TLS 1.3: after the server Finished): the server's flight is complete.
        if out.pending:
            done = True
    out.read()  # the client's second flight is discarded, never sent
    log("server flight complete" if done else "server flight incomplete",
        "version", obj.version())
    if a.close == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        drain(s, 0.2)
    s.close()
    return 0 if done else 1


def client(a):
    ctx = ssl.create_default_context(cafile=a.cafile)
    if a.no_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    set_versions(ctx, a)
    if a.ciphers:
        ctx.set_ciphers(a.ciphers)
    s = connect(a)
    try:
        ss = ctx.wrap_socket(s, server_hostname=a.sni)
    except ssl.SSLError as e:
        log("handshake failed:", e)
        s.close()
        return 3
    log("handshake done", ss.version())
    if a.mode == "get":
        ss.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: pinspect-samples\r\n\r\n"
                    % (a.path, a.sni)).encode())
        body = b""
        while True:
            try:
                d = ss.recv(65536)
            except ssl.SSLError as e:  # e.g. EOF without close_notify
                log("read:", e)
                break
            if not d:
                break
            body += d
        log("got", len(body), "bytes")
        try:
            ss.close()
        except OSError:
            pass
    else:
        try:
            plain = ss.unwrap()  # close_notify, then wait for the server's
            drain(plain, 0.2)
            plain.close()
        except (ssl.SSLError, OSError) as e:
            log("unwrap:", e)
            ss.close()
    return 0


def serve(a, handler):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(8)
    keep = []
    while True:
        c, _ = ls.accept()
        handler(c, keep)


def tarpit(a):
    def h(c, keep):
        c.settimeout(0.5)
        try:
            c.recv(65536)
        except socket.timeout:
            pass
        keep.append(c)  # held open, never answered
    serve(a, h)


def rst_server(a):
    def h(c, keep):
        c.settimeout(2)
        try:
            c.recv(65536)
        except socket.timeout:
            pass
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
    serve(a, h)


def udp_sink(a):
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((a.host, a.port))
    while True:
        u.recvfrom(65536)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("hello-abort", "client", "tarpit", "rst-server", "udp-sink"):
        q = sub.add_parser(name)
        q.add_argument("--host", required=True)
        q.add_argument("--port", type=int, required=True)
        q.add_argument("--sni")
        q.add_argument("--min")
        q.add_argument("--max")
        q.add_argument("--timeout", type=float, default=5.0)
        q.add_argument("--close", choices=("rst", "fin"), default="rst")
        q.add_argument("--cafile")
        q.add_argument("--no-verify", action="store_true")
        q.add_argument("--ciphers")
        q.add_argument("--mode", choices=("get", "close"), default="get")
        q.add_argument("--path", default="/index.html")
    a = p.parse_args()
    fn = {"hello-abort": hello_abort, "client": client, "tarpit": tarpit,
          "rst-server": rst_server, "udp-sink": udp_sink}[a.cmd]
    sys.exit(fn(a))


if __name__ == "__main__":
    main()
