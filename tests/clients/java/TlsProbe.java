// One TLS handshake from Java's own stack (JSSE), printing what the client saw.
// Usage: java TlsProbe.java HOST PORT PROTOCOL [CIPHER_SUITE]
// Prints "ok VERSION SUITE" or "error MESSAGE" (e.g. "Received fatal alert: handshake_failure").
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

public class TlsProbe {
    public static void main(String[] args) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, null, null); // the default trust store: run with -Djavax.net.ssl.trustStore
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(args[0], Integer.parseInt(args[1]))) {
            socket.setEnabledProtocols(new String[] {args[2]});
            if (args.length > 3) {
                socket.setEnabledCipherSuites(new String[] {args[3]});
            }
            socket.startHandshake();
            System.out.println("ok " + socket.getSession().getProtocol() + " " + socket.getSession().getCipherSuite());
        } catch (Exception e) {
            System.out.println("error " + e.getMessage());
        }
    }
}
