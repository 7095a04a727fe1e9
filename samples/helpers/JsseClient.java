// JSSE (Java's own TLS stack) client for samples/make-samples.sh.
// java JsseClient.java ADDR PORT SNI TLSv1.2|TLSv1.3
// Connects to ADDR (a literal, no DNS), sends SNI, verifies the server with the JVM's
// default trust store (cacerts) and HTTPS host-name checks, then GETs /index.html.
import javax.net.ssl.*;
import java.io.*;
import java.net.*;

public class JsseClient {
    public static void main(String[] a) throws Exception {
        String addr = a[0], sni = a[2], proto = a[3];
        int port = Integer.parseInt(a[1]);
        Socket raw = new Socket();
        raw.connect(new InetSocketAddress(InetAddress.getByName(addr), port), 5000);
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        SSLSocket s = (SSLSocket) f.createSocket(raw, sni, port, true);
        s.setEnabledProtocols(new String[] {proto});
        SSLParameters p = s.getSSLParameters();
        p.setEndpointIdentificationAlgorithm("HTTPS");
        s.setSSLParameters(p);
        s.setSoTimeout(5000);
        try {
            s.startHandshake();
            System.err.println("jsse: handshake done " + s.getSession().getProtocol());
            OutputStream o = s.getOutputStream();
            o.write(("GET /index.html HTTP/1.0\r\nHost: " + sni + "\r\n\r\n").getBytes("US-ASCII"));
            o.flush();
            InputStream in = s.getInputStream();
            byte[] b = new byte[4096];
            while (in.read(b) > 0) { }
        } catch (IOException e) {
            System.err.println("jsse: " + e);
        } finally {
            try { s.close(); } catch (IOException e) { }
        }
    }
}
