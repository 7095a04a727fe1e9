#!/usr/bin/env python3
"""diag_server.py: the stand-in for an inspecting proxy in samples/diag.

It listens on ADDR:PORT and answers every TLS ClientHello with the
certificate chain made for the SNI it carries (DIR/NAME.pem holds the chain,
leaf first, DIR/NAME.key its key; DIR/default.pem / default.key when no file
matches), as a TLS inspection proxy presents a forged certificate per name.
TLS is capped at 1.2 so that the chain is visible in the capture, and the
security level is 0 so that it can present the weak certificates (RSA 1024,
SHA-1) that the lint samples need: the *client* decides whether to accept.

After the handshake it reads one request and answers a short HTTP/1.1 200
(then close_notify); a client that closes without a request gets a TCP close
only, after its own FIN.
It stops by itself after --lifetime seconds (default 120); every socket has
a timeout. Loopback or a private network namespace only.

usage: diag_server.py ADDR PORT DIR [--lifetime S]
"""
import os
import socket
import ssl
import sys
import threading
import time


def make_ctx(chain, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(chain, key)
    return ctx


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    addr, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lifetime = 120.0
    if len(sys.argv) >= 6 and sys.argv[4] == "--lifetime":
        lifetime = float(sys.argv[5])
    ctxs = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".pem") and os.path.exists(os.path.join(d, f[:-4] + ".key")):
            name = f[:-4]
            ctxs[name] = make_ctx(os.path.join(d, f), os.path.join(d, name + ".key"))
    if "default" not in ctxs:
        print("diag_server: no default.pem/default.key in " + d, file=sys.stderr)
        return 2
    base = ctxs["default"]

    def pick(sock, server_name, _ctx):
        if server_name and server_name.lower() in ctxs:
            sock.context = ctxs[server_name.lower()]
        return None

    for c in ctxs.values():
        c.sni_callback = pick

    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(64)
    ls.settimeout(1.0)
    deadline = time.time() + lifetime
    print("diag_server: listening on %s:%d (%d certificates)" % (addr, port, len(ctxs)),
          file=sys.stderr, flush=True)

    def serve(conn):
        conn.settimeout(10)
        try:
            t = base.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            print("diag_server: handshake failed: %s" % e, file=sys.stderr, flush=True)
            conn.close()
            return
        try:
            req = b""
            while b"\r\n\r\n" not in req and len(req) < 65536:
                b = t.recv(4096)
                if not b:
                    break
                req += b
            if req:
                body = b"ok\n"
                t.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
                          + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                try:
                    t.unwrap()
                except (ssl.SSLError, OSError):
                    pass
            else:
                # the client closed without a request (it rejected the certificate
                # after the handshake): no close_notify of ours; wait (2 s at most)
                # for its FIN, then close, so that the capture shows the client's
                # close first (see README.md on verdicts)
                raw = socket.socket(fileno=t.detach())
                raw.settimeout(2)
                try:
                    while raw.recv(4096):
                        pass
                except OSError:
                    pass
                raw.close()
                return
        except (ssl.SSLError, OSError) as e:
            print("diag_server: after handshake: %s" % e, file=sys.stderr, flush=True)
        finally:
            try:
                t.close()
            except OSError:
                pass

    while time.time() < deadline:
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    ls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
