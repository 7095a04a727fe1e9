// Node.js TLS client for samples/make-samples.sh.
// node node-client.js ADDR PORT SNI TLSv1.2|TLSv1.3 CAFILE
// Default rejectUnauthorized: Node lets OpenSSL finish its part of the handshake and
// checks the chain afterwards; on failure it destroys the socket (no alert).
'use strict';
const tls = require('tls');
const fs = require('fs');
const [host, port, servername, version, cafile] = process.argv.slice(2);
const s = tls.connect({host, port: Number(port), servername, minVersion: version,
                       maxVersion: version, ca: fs.readFileSync(cafile)}, () => {
  console.error('node: secure', s.getProtocol());
  s.end(`GET /index.html HTTP/1.0\r\nHost: ${servername}\r\n\r\n`);
});
s.on('data', () => {});
s.on('error', (e) => console.error('node: error', e.code || e.message));
s.setTimeout(5000, () => s.destroy());
