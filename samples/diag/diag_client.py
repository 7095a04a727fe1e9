#!/usr/bin/env python3
"""diag_client.py: the Python TLS clients of samples/diag (run with the
interpreter whose stack is wanted: python3.11, python3.13...).

  diag_client.py get NAME CAFILE
      urllib.request.urlopen("https://NAME/") with ssl.create_default_context(
      cafile=CAFILE): the interpreter's own default verification (Python 3.13:
      VERIFY_X509_STRICT; 3.10+: @SECLEVEL=2). Exit 0 if a response came.

  diag_client.py apple825 NAME CAFILE
      NOT an Apple stack: an emulation of Apple's 825-day rule (support.apple.com
      /103769), which no TLS stack installed here enforces. It verifies the chain
      normally, then, like Apple clients that reject a certificate after the
      handshake, closes the connection without sending a request when the leaf
      was issued after 2019-07-01 and is valid for more than 825 days. It uses a
      non-default cipher list so that its ClientHello (JA3) is not one of the
      stacks data/ja3.conf knows: pinspect then checks every platform's rules.

Every connection has a 5 s timeout; nothing is retried here.
"""
import socket
import ssl
import sys
import urllib.request


def get(name, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with urllib.request.urlopen("https://%s/" % name, context=ctx, timeout=5) as r:
            r.read()
        print("get %s: ok" % name, file=sys.stderr)
        return 0
    except Exception as e:  # the failure is the point of the sample
        print("get %s: %s" % (name, e), file=sys.stderr)
        return 1


def apple825(name, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_ciphers("ECDHE+AESGCM:!aNULL")
    raw = socket.create_connection((name, 443), timeout=5)
    try:
        s = ctx.wrap_socket(raw, server_hostname=name)
    except (ssl.SSLError, OSError) as e:
        print("apple825 %s: %s" % (name, e), file=sys.stderr)
        raw.close()
        return 1
    cert = s.getpeercert()
    nb = ssl.cert_time_to_seconds(cert["notBefore"])
    na = ssl.cert_time_to_seconds(cert["notAfter"])
    days = (na - nb) / 86400.0
    if nb >= 1561939200 and days > 825:
        print("apple825 %s: leaf valid %.0f days > 825: closing" % (name, days), file=sys.stderr)
        s.setblocking(False)  # send close_notify, do not wait for the server's
        try:
            s.unwrap()
        except (ssl.SSLError, OSError):
            pass
        s.close()
        return 1
    s.sendall(b"GET / HTTP/1.1\r\nHost: " + name.encode() + b"\r\nConnection: close\r\n\r\n")
    while s.recv(4096):
        pass
    s.close()
    print("apple825 %s: ok (%.0f days)" % (name, days), file=sys.stderr)
    return 0


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("get", "apple825"):
        print(__doc__, file=sys.stderr)
        return 2
    return (get if sys.argv[1] == "get" else apple825)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    sys.exit(main())
