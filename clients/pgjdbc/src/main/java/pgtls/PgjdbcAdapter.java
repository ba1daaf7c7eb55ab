package pgtls;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.GsonBuilder;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.reflect.Field;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.postgresql.PGProperty;
import org.postgresql.util.DriverInfo;

/**
 * pgtls adapter for pgjdbc: the case protocol v1 (docs/case-protocol.md).
 *
 * <p>Case fields map to pgjdbc connection properties of the same meaning: sslmode,
 * sslrootcert (PEM file read by the default LibPQFactory), sslNegotiation, channelBinding
 * (when this pgjdbc has them), connectTimeout/loginTimeout/socketTimeout from timeout_ms,
 * ApplicationName. hostaddr goes through {@link HostaddrSocketFactory}. HOME becomes the
 * user.home system property (pgjdbc finds ~/.postgresql/root.crt through it; a JVM cannot
 * change its own environment). With {@code --sslfactory org.postgresql.ssl.DefaultJavaSSLFactory}
 * (client pgjdbc-javatrust) the case's truststore_p12 becomes the JVM default trust store,
 * exactly what {@code -Djavax.net.ssl.trustStore=... -Djavax.net.ssl.trustStorePassword=...}
 * would give a fresh JVM; with no truststore_p12 the JDK's cacerts is used.
 */
public final class PgjdbcAdapter {
  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();
  private static final String DEFAULT_JAVA_FACTORY = "org.postgresql.ssl.DefaultJavaSSLFactory";

  private final String clientName;
  private final String sslFactory;
  private final PrintStream out;
  private final SSLContext startupDefault;
  private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "pgtls-case");
    t.setDaemon(true);
    return t;
  });

  private PgjdbcAdapter(String clientName, String sslFactory, PrintStream out) throws Exception {
    this.clientName = clientName;
    this.sslFactory = sslFactory;
    this.out = out;
    this.startupDefault = SSLContext.getDefault();
  }

  private static boolean hasProperty(String name) {
    return PGProperty.forName(name) != null;
  }

  JsonObject hello() {
    JsonObject h = new JsonObject();
    h.addProperty("protocol", 1);
    h.addProperty("client", clientName);
    h.addProperty("version", DriverInfo.DRIVER_VERSION);
    h.add("libpq", JsonNull.INSTANCE);
    java.security.Provider p = startupDefault.getProvider();
    String jdk = System.getProperty("java.vm.vendor") + " " + System.getProperty("java.runtime.version");
    h.addProperty("tls_library", "JSSE " + p.getName() + " " + p.getVersionStr() + " (Java " + jdk + ")");
    h.addProperty("runtime", "Java " + jdk);
    String factory = sslFactory == null ? "LibPQFactory" : sslFactory.substring(sslFactory.lastIndexOf('.') + 1);
    h.addProperty("build", "pgjdbc " + DriverInfo.DRIVER_VERSION + " (Java " + System.getProperty("java.version")
        + ", " + p.getName() + ", " + factory + ")");
    List<String> features = new ArrayList<>();
    if (hasProperty("channelBinding")) {
      features.add("channel_binding");
    }
    features.add("connect_options");
    if (hasProperty("sslNegotiation")) {
      features.add("sslnegotiation");
    }
    features.addAll(SURFACES);
    h.add("features", GSON.toJsonTree(features));
    // The JDK is an axis of its own (clients pgjdbc and pgjdbc-jdk25): which JVM runs,
    // where its default trust store is, and the algorithm policy its java.security
    // file sets, as this JVM reads them.
    JsonObject extra = new JsonObject();
    extra.addProperty("java_home", System.getProperty("java.home"));
    java.nio.file.Path cacerts = java.nio.file.Paths.get(System.getProperty("java.home"), "lib", "security", "cacerts");
    String cacertsReal;
    try {
      cacertsReal = cacerts.toRealPath().toString();
    } catch (java.io.IOException e) {
      cacertsReal = cacerts + " (" + e.getMessage() + ")";
    }
    extra.addProperty("cacerts", cacertsReal);
    for (String k : new String[] {"jdk.certpath.disabledAlgorithms", "jdk.tls.disabledAlgorithms"}) {
      String v = java.security.Security.getProperty(k);
      if (v == null) {
        extra.add(k, JsonNull.INSTANCE);
      } else {
        extra.addProperty(k, v.replaceAll("\\s+", " ").trim());
      }
    }
    h.add("extra", extra);
    return h;
  }

  private static String str(JsonObject c, String key) {
    JsonElement e = c.get(key);
    if (e == null || e.isJsonNull()) {
      return null;
    }
    if (!e.isJsonPrimitive()) {
      throw new IllegalArgumentException(key + " must be a string");
    }
    return e.getAsString();
  }

  private static Integer integer(JsonObject c, String key) {
    JsonElement e = c.get(key);
    if (e == null || e.isJsonNull()) {
      return null;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new IllegalArgumentException(key + " must be an integer");
    }
    return e.getAsInt();
  }

  static JsonObject blank(JsonElement id) {
    JsonObject r = new JsonObject();
    r.add("id", id == null ? JsonNull.INSTANCE : id);
    r.addProperty("connected", false);
    for (String k : new String[] {"tls", "tls_version", "cipher", "query_result", "error", "error_code",
        "chain", "unsupported", "notes"}) {
      r.add(k, JsonNull.INSTANCE);
    }
    r.addProperty("elapsed_ms", 0);
    return r;
  }

  private static final String[] OPTIONAL = {"sslnegotiation", "channel_binding", "ssl_min_protocol_version",
      "ssl_max_protocol_version", "sslsni", "connect_options"};

  // docs/surfaces.md. pgjdbc takes a JDBC URL (parameters in its query) and
  // Properties; URL parameters override Properties of the same name
  // (Driver.parseURL). It reads no PGSSL* variable: org.postgresql.PGEnvironment
  // lists PGPASSFILE, PGSERVICEFILE and PGSYSCONFDIR only, and a JVM cannot change
  // its own environment per case anyway.
  static final List<String> SURFACES = List.of("surface:url", "surface:options", "surface:url+options");
  static final Map<String, String> SURFACE_REASONS = Map.of(
      "surface:conninfo", "pgjdbc reads a jdbc:postgresql:// URL and Properties; it parses no libpq keyword=value string",
      "surface:env", "pgjdbc reads no PGSSLMODE or PGSSLROOTCERT (org.postgresql.PGEnvironment: PGPASSFILE, PGSERVICEFILE, PGSYSCONFDIR only), and a JVM cannot set its own environment per case",
      "surface:url+env", "pgjdbc reads no PGSSLMODE or PGSSLROOTCERT (org.postgresql.PGEnvironment: PGPASSFILE, PGSERVICEFILE, PGSYSCONFDIR only), and a JVM cannot set its own environment per case",
      "surface:npgsql", "pgjdbc reads a jdbc:postgresql:// URL and Properties; it has no parser for the ADO.NET form (Key=Value;...)",
      "literal", "pgjdbc reads jdbc:postgresql:// URLs; the source pages show libpq conninfo and Npgsql strings");
  // The case's intent keys (what a user writes), as opposed to the adapter's plumbing
  // (timeouts, hostaddr socket factory, the client variant's sslfactory).
  static final List<String> INTENT = List.of("user", "password", "sslmode", "sslrootcert", "ApplicationName",
      "sslNegotiation", "channelBinding");

  JsonObject runCase(JsonObject c, List<String> features) {
    JsonObject r = blank(c.get("id"));
    long t0 = System.nanoTime();
    try {
      for (String need : new String[] {
          str(c, "surface") == null ? null : "surface:" + str(c, "surface"),
          str(c, "literal") == null ? null : "literal"}) {
        if (need != null && !features.contains(need)) {
          r.addProperty("unsupported", SURFACE_REASONS.getOrDefault(need,
              clientName + ": the adapter cannot express \"" + need + "\""));
          return r;
        }
      }
      for (String f : OPTIONAL) {
        JsonElement e = c.get(f);
        if (e != null && !e.isJsonNull() && !features.contains(f)) {
          r.addProperty("unsupported", clientName + ": pgjdbc has no equivalent of " + f
              + (f.startsWith("ssl_m") ? " (protocol bounds come from the JVM's jdk.tls.client.protocols)" : ""));
          return r;
        }
      }
      String host = str(c, "host");
      String hostaddr = str(c, "hostaddr");
      Integer port = integer(c, "port");
      Integer timeoutMs = integer(c, "timeout_ms");
      int timeout = timeoutMs == null ? 10000 : timeoutMs;
      JsonObject env = c.has("env") && c.get("env").isJsonObject() ? c.getAsJsonObject("env") : new JsonObject();
      List<String> ignored = new ArrayList<>();
      for (Map.Entry<String, JsonElement> e : env.entrySet()) {
        String k = e.getKey();
        if (k.equals("HOME")) {
          continue;
        }
        if (k.startsWith("PG")) {
          r.addProperty("unsupported", clientName + ": the case sets " + k
              + " but a JVM cannot change its own environment (pgjdbc reads PGPASSFILE/PGSERVICEFILE from it)");
          return r;
        }
        ignored.add(k);
      }
      if (env.has("HOME") && !env.get("HOME").isJsonNull()) {
        // pgjdbc resolves ~/.postgresql/root.crt from user.home, per connection.
        System.setProperty("user.home", env.get("HOME").getAsString());
      }
      if (!ignored.isEmpty()) {
        r.addProperty("notes", "Java does not read " + String.join(", ", ignored) + "; ignored");
      }

      Properties props = new Properties();
      putIf(props, "user", str(c, "user"));
      putIf(props, "password", str(c, "password"));
      putIf(props, "sslmode", str(c, "sslmode"));
      putIf(props, "sslrootcert", str(c, "sslrootcert"));
      putIf(props, "ApplicationName", str(c, "application_name"));
      putIf(props, "sslNegotiation", str(c, "sslnegotiation"));
      putIf(props, "channelBinding", str(c, "channel_binding"));
      int secs = Math.max(1, (timeout + 999) / 1000);
      props.setProperty("connectTimeout", Integer.toString(secs));
      props.setProperty("loginTimeout", Integer.toString(secs));
      props.setProperty("socketTimeout", Integer.toString(secs));
      if (hostaddr != null && host != null && !hostaddr.equals(host)) {
        props.setProperty("socketFactory", HostaddrSocketFactory.class.getName());
        props.setProperty("socketFactoryArg", host + "=" + hostaddr);
      }
      String factory = sslFactory;
      if (c.has("connect_options") && c.get("connect_options").isJsonObject()) {
        for (Map.Entry<String, JsonElement> e : c.getAsJsonObject("connect_options").entrySet()) {
          props.setProperty(e.getKey(), e.getValue().getAsString());
        }
        factory = props.getProperty("sslfactory", factory);
      }
      if (factory != null) {
        props.setProperty("sslfactory", factory);
      }
      installDefaultTrust(factory, str(c, "truststore_p12"), str(c, "truststore_password"));

      String hostPart = host == null ? (hostaddr == null ? "localhost" : hostaddr) : host;
      if (hostPart.indexOf(':') >= 0) {
        hostPart = "[" + hostPart + "]";
      }
      String base = "jdbc:postgresql://" + hostPart + (port == null ? "" : ":" + port) + "/"
          + (str(c, "dbname") == null ? "" : str(c, "dbname"));
      String surface = str(c, "surface");
      if ("url".equals(surface) || "url+options".equals(surface)) {
        // url: every intent key in the URL; url+options: the target and sslmode in
        // the URL, the rest (sslrootcert, ...) stays in Properties.
        StringBuilder q = new StringBuilder();
        for (String k : INTENT) {
          String v = props.getProperty(k);
          boolean inUrl = "url".equals(surface) || k.equals("user") || k.equals("password") || k.equals("sslmode");
          if (v == null || !inUrl) {
            continue;
          }
          q.append(q.length() == 0 ? "?" : "&").append(k).append('=')
              .append(java.net.URLEncoder.encode(v, StandardCharsets.UTF_8));
          props.remove(k);
        }
        base += q;
      }
      String url = base;
      String query = str(c, "query") == null ? "SELECT ssl_is_used()" : str(c, "query");
      Future<JsonObject> f = pool.submit(() -> attempt(url, props, query));
      try {
        JsonObject got = f.get(timeout + 1000L, TimeUnit.MILLISECONDS);
        for (Map.Entry<String, JsonElement> e : got.entrySet()) {
          r.add(e.getKey(), e.getValue());
        }
      } catch (TimeoutException te) {
        f.cancel(true);
        r.addProperty("error", "adapter: timeout: no answer from pgjdbc within " + timeout + " ms");
        r.addProperty("error_code", "timeout");
      }
    } catch (Exception e) {
      Throwable t = e instanceof java.util.concurrent.ExecutionException && e.getCause() != null ? e.getCause() : e;
      r.addProperty("error", "adapter: bad case: " + t);
      r.addProperty("error_code", "adapter");
    } finally {
      r.addProperty("elapsed_ms", (System.nanoTime() - t0) / 1_000_000L);
    }
    return r;
  }

  private static void putIf(Properties p, String k, String v) {
    if (v != null) {
      p.setProperty(k, v);
    }
  }

  /**
   * DefaultJavaSSLFactory uses SSLContext.getDefault(), which the JDK builds once from
   * javax.net.ssl.trustStore. A fresh JVM per case would read the property again; this
   * builds the same context (PKIX trust managers over the PKCS#12 store) and installs it
   * as the default instead. A trust store file that does not exist gives an empty store,
   * as the JDK's own TrustStoreManager does.
   */
  private void installDefaultTrust(String factory, String p12, String password) throws Exception {
    if (!DEFAULT_JAVA_FACTORY.equals(factory)) {
      return;
    }
    if (p12 == null) {
      System.clearProperty("javax.net.ssl.trustStore");
      SSLContext.setDefault(startupDefault);
      return;
    }
    System.setProperty("javax.net.ssl.trustStore", p12);
    System.setProperty("javax.net.ssl.trustStoreType", "PKCS12");
    KeyStore ks = KeyStore.getInstance("PKCS12");
    java.io.File file = new java.io.File(p12);
    if (file.isFile()) {
      try (InputStream in = new FileInputStream(file)) {
        ks.load(in, password == null ? null : password.toCharArray());
      }
    } else {
      ks.load(null, null);
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    SSLContext.setDefault(ctx);
  }

  private JsonObject attempt(String url, Properties props, String query) {
    JsonObject r = new JsonObject();
    try (Connection conn = DriverManager.getConnection(url, props)) {
      r.addProperty("connected", true);
      describeTls(conn, r);
      try (Statement st = conn.createStatement()) {
        if (st.execute(query)) {
          try (ResultSet rs = st.getResultSet()) {
            if (rs.next()) {
              r.addProperty("query_result", rs.getString(1));
            }
          }
        }
      } catch (SQLException e) {
        r.addProperty("error", e.getMessage());
        r.addProperty("error_code", e.getSQLState());
      }
    } catch (SQLException e) {
      if (!r.has("connected")) {
        r.addProperty("connected", false);
      }
      r.addProperty("error", e.getMessage());
      r.addProperty("error_code", e.getSQLState() != null ? e.getSQLState() : e.getClass().getName());
      List<String> causes = new ArrayList<>();
      for (Throwable t = e.getCause(); t != null && causes.size() < 4; t = t.getCause()) {
        causes.add(t.getClass().getName() + ": " + t.getMessage());
      }
      if (!causes.isEmpty()) {
        r.addProperty("notes", "caused by " + String.join(" <- ", causes));
      }
    } catch (RuntimeException e) {
      r.addProperty("connected", false);
      r.addProperty("error", e.toString());
      r.addProperty("error_code", e.getClass().getName());
    }
    return r;
  }

  /**
   * pgjdbc does not expose its SSLSession; the socket sits in QueryExecutorBase.pgStream.
   * Read it by reflection, and leave tls null when that fails (an unknown, not a false).
   */
  private static void describeTls(Connection conn, JsonObject r) {
    try {
      org.postgresql.core.BaseConnection bc = conn.unwrap(org.postgresql.core.BaseConnection.class);
      Object qe = bc.getQueryExecutor();
      Field f = null;
      for (Class<?> k = qe.getClass(); k != null && f == null; k = k.getSuperclass()) {
        try {
          f = k.getDeclaredField("pgStream");
        } catch (NoSuchFieldException ignored) {
          // keep looking in the superclass
        }
      }
      if (f == null) {
        return;
      }
      f.setAccessible(true);
      Object stream = f.get(qe);
      Socket s = (Socket) stream.getClass().getMethod("getSocket").invoke(stream);
      if (s instanceof SSLSocket) {
        SSLSession sess = ((SSLSocket) s).getSession();
        r.addProperty("tls", true);
        r.addProperty("tls_version", sess.getProtocol());
        r.addProperty("cipher", sess.getCipherSuite());
        List<String> chain = new ArrayList<>();
        for (Certificate cert : sess.getPeerCertificates()) {
          if (cert instanceof X509Certificate) {
            chain.add(((X509Certificate) cert).getSubjectX500Principal().getName());
          }
        }
        r.add("chain", GSON.toJsonTree(chain));
      } else {
        r.addProperty("tls", false);
      }
    } catch (Exception | LinkageError e) {
      r.addProperty("notes", "cannot read the TLS session: " + e);
    }
  }

  private void emit(JsonObject o) {
    out.println(GSON.toJson(o));
    out.flush();
  }

  private static JsonObject parseFlags(String[] args, int from) {
    JsonObject c = new JsonObject();
    JsonObject env = new JsonObject();
    for (int i = from; i < args.length; i += 2) {
      if (!args[i].startsWith("--") || i + 1 >= args.length) {
        throw new IllegalArgumentException("expected --FIELD VALUE, got " + args[i]);
      }
      String name = args[i].substring(2).replace('-', '_');
      String v = args[i + 1];
      if (name.equals("env")) {
        int eq = v.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--env wants NAME=VALUE, got " + v);
        }
        env.addProperty(v.substring(0, eq), v.substring(eq + 1));
      } else if (v.equals("null")) {
        c.add(name, JsonNull.INSTANCE);
      } else if (name.equals("port") || name.equals("timeout_ms")) {
        c.addProperty(name, Integer.parseInt(v));
      } else if (name.equals("connect_options")) {
        c.add(name, JsonParser.parseString(v));
      } else {
        c.add(name, new JsonPrimitive(v));
      }
    }
    c.add("env", env);
    if (!c.has("id")) {
      c.addProperty("id", "one-shot");
    }
    return c;
  }

  public static void main(String[] args) throws Exception {
    PrintStream stdout = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, "UTF-8");
    // Keep stdout for protocol lines only: pgjdbc logs go to stderr.
    System.setOut(System.err);
    String name = "pgjdbc";
    String factory = null;
    int i = 0;
    while (i + 1 < args.length && (args[i].equals("--client-name") || args[i].equals("--sslfactory"))) {
      if (args[i].equals("--client-name")) {
        name = args[i + 1];
      } else {
        factory = args[i + 1];
      }
      i += 2;
    }
    PgjdbcAdapter a = new PgjdbcAdapter(name, factory, stdout);
    JsonObject hello = a.hello();
    List<String> features = new ArrayList<>();
    hello.getAsJsonArray("features").forEach(e -> features.add(e.getAsString()));
    a.emit(hello);
    if (i < args.length && args[i].equals("--describe")) {
      System.exit(0);
    }
    if (i < args.length) {
      JsonObject c;
      try {
        c = parseFlags(args, i);
      } catch (RuntimeException e) {
        JsonObject r = blank(null);
        r.addProperty("error", "adapter: bad flags: " + e.getMessage());
        r.addProperty("error_code", "adapter");
        a.emit(r);
        System.exit(2);
        return;
      }
      a.emit(a.runCase(c, features));
      System.exit(0);
    }
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      JsonObject c;
      try {
        JsonElement e = JsonParser.parseString(line);
        if (!e.isJsonObject()) {
          throw new IllegalArgumentException("case is not a JSON object");
        }
        c = e.getAsJsonObject();
      } catch (RuntimeException e) {
        JsonObject r = blank(null);
        r.addProperty("error", "adapter: cannot parse case: " + e.getMessage());
        r.addProperty("error_code", "adapter");
        a.emit(r);
        continue;
      }
      a.emit(a.runCase(c, features));
    }
    System.exit(0);
  }
}
