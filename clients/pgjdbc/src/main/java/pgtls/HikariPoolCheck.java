package pgtls;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * HikariCP over pgjdbc across a live chain rotation of the mock (docs/rotation-in-time.md,
 * "Pools across a rotation"). Usage:
 *
 * <pre>java -cp pgtls-pgjdbc.jar pgtls.HikariPoolCheck JDBC_URL USER PASSWORD NAME=ADDRESS</pre>
 *
 * The mock rotates after 2 connections: the pool's first two connections carry the old chain,
 * later ones the new. Prints one JSON line in the shape of the other drivers' pool checks.
 * HikariCP's defaults would skew the count of connections: it fills the pool to
 * maximumPoolSize at start (minimumIdle defaults to it) and opens one connection to check the
 * database (initializationFailTimeout); both are turned off so connections are made on demand,
 * as with the other pools here. A caller whose new connection cannot be made gets HikariCP's
 * "request timed out" after connectionTimeout; the cause it names is the TLS failure.
 */
public final class HikariPoolCheck {
  private static final long TIMEOUT_MS = 5000;

  private HikariPoolCheck() {}

  private static final class Used {
    final List<Connection> conns = new ArrayList<>();
    int ok;
    final JsonArray errors = new JsonArray();
  }

  private static String describe(Throwable e) {
    StringBuilder sb = new StringBuilder(e.getClass().getSimpleName() + ": " + e.getMessage());
    for (Throwable c = e.getCause(); c != null && c != c.getCause(); c = c.getCause()) {
      sb.append(" <- ").append(c.getClass().getSimpleName()).append(": ").append(c.getMessage());
    }
    return sb.toString();
  }

  /** Acquires n connections at once (idle first, the rest new) and runs a query on each. */
  private static Used use(HikariDataSource ds, int n) throws InterruptedException {
    Used u = new Used();
    ExecutorService ex = Executors.newFixedThreadPool(n);
    try {
      List<Future<Connection>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        java.util.concurrent.Callable<Connection> get = ds::getConnection;
        fs.add(ex.submit(get));
      }
      for (Future<Connection> f : fs) {
        try {
          u.conns.add(f.get());
        } catch (java.util.concurrent.ExecutionException e) {
          u.errors.add(describe(e.getCause()));
        }
      }
    } finally {
      ex.shutdown();
    }
    for (Connection c : u.conns) {
      try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("select 1")) {
        rs.next();
        u.ok++;
      } catch (Exception e) {
        u.errors.add(describe(e));
      }
    }
    return u;
  }

  private static void release(Used u) {
    for (Connection c : u.conns) {
      try {
        c.close(); // back to the pool
      } catch (Exception e) {
        // a broken connection is evicted by the pool; nothing to report here
      }
    }
  }

  /** HikariCP's version as its jar records it (the shaded jar keeps Maven's pom.properties). */
  private static String hikariVersion() {
    try (java.io.InputStream in = HikariPoolCheck.class.getResourceAsStream(
        "/META-INF/maven/com.zaxxer/HikariCP/pom.properties")) {
      if (in == null) {
        return "unknown";
      }
      java.util.Properties p = new java.util.Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (java.io.IOException e) {
      return "unknown";
    }
  }

  public static void main(String[] args) {
    JsonObject out = new JsonObject();
    out.addProperty("client", "HikariCP");
    if (args.length != 4) {
      out.addProperty("error", "usage: HikariPoolCheck JDBC_URL USER PASSWORD NAME=ADDRESS");
      System.out.println(new Gson().toJson(out));
      System.exit(2);
    }
    int rc = 0;
    HikariConfig cfg = new HikariConfig();
    cfg.setJdbcUrl(args[0]);
    cfg.setUsername(args[1]);
    cfg.setPassword(args[2]);
    cfg.addDataSourceProperty("socketFactory", HostaddrSocketFactory.class.getName());
    cfg.addDataSourceProperty("socketFactoryArg", args[3]);
    cfg.setMaximumPoolSize(4);
    cfg.setMinimumIdle(0);
    cfg.setInitializationFailTimeout(-1);
    cfg.setConnectionTimeout(TIMEOUT_MS);
    cfg.setPoolName("pgtls-rotation");
    try (HikariDataSource ds = new HikariDataSource(cfg)) {
      out.addProperty("hikaricp", hikariVersion());
      out.addProperty("pgjdbc", org.postgresql.util.DriverInfo.DRIVER_VERSION);
      Used first = use(ds, 2); // the two old-chain connections
      out.addProperty("before", first.ok);
      release(first);
      Used again = use(ds, 2); // reused: still the old chain
      out.addProperty("reused_ok", again.ok);
      Used more = use(ds, 2); // with two held, two new ones: the new chain
      out.addProperty("new_ok", more.ok);
      out.add("new_errors", more.errors);
      release(again);
      release(more);
      Used after = use(ds, 2); // does the pool still serve?
      out.addProperty("after_ok", after.ok);
      release(after);
      HikariPoolMXBean mx = ds.getHikariPoolMXBean();
      out.addProperty("total_connections", mx == null ? -1 : mx.getTotalConnections());
    } catch (Exception e) {
      out.addProperty("error", describe(e));
      rc = 1;
    }
    System.out.println(new Gson().toJson(out));
    System.exit(rc);
  }
}
