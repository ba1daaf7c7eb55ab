package pgtls;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import javax.net.SocketFactory;

/**
 * libpq's hostaddr for pgjdbc, which has no such option: pgjdbc connects its plain socket
 * to {@code host:port} and later uses {@code host} for SNI and the host name check. This
 * factory (pgjdbc's {@code socketFactory} property, argument {@code "NAME=ADDRESS"}) hands
 * out sockets that connect to ADDRESS when asked for NAME, the way an /etc/hosts entry
 * would; pgjdbc's TLS code is unchanged and still verifies NAME.
 */
public final class HostaddrSocketFactory extends SocketFactory {
  private final String name;
  private final String address;

  /** @param arg "NAME=ADDRESS" (pgjdbc passes socketFactoryArg to this constructor). */
  public HostaddrSocketFactory(String arg) {
    int eq = arg.indexOf('=');
    if (eq <= 0 || eq == arg.length() - 1) {
      throw new IllegalArgumentException("socketFactoryArg must be NAME=ADDRESS, got " + arg);
    }
    this.name = arg.substring(0, eq);
    this.address = arg.substring(eq + 1);
  }

  private final class MappedSocket extends Socket {
    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
      if (endpoint instanceof InetSocketAddress) {
        InetSocketAddress isa = (InetSocketAddress) endpoint;
        if (name.equalsIgnoreCase(isa.getHostString())) {
          endpoint = new InetSocketAddress(address, isa.getPort());
        }
      }
      super.connect(endpoint, timeout);
    }
  }

  @Override
  public Socket createSocket() {
    return new MappedSocket();
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(String host, int port, java.net.InetAddress localHost, int localPort)
      throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localHost, localPort));
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(java.net.InetAddress host, int port) throws IOException {
    Socket s = createSocket();
    s.connect(new InetSocketAddress(host, port));
    return s;
  }

  @Override
  public Socket createSocket(java.net.InetAddress address, int port,
      java.net.InetAddress localAddress, int localPort) throws IOException {
    Socket s = createSocket();
    s.bind(new InetSocketAddress(localAddress, localPort));
    s.connect(new InetSocketAddress(address, port));
    return s;
  }
}
