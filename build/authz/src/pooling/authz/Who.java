package pooling.authz;

import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.CurrentUserContext;

import scala.collection.Iterator;

/** Whose statement this is, and what the service's settings for the rule are. */
final class Who {
  private Who() {}

  /** Stands for a Thrift session whose user Spark did not set (e.g. a database in the URL). */
  static final String NOBODY = "(no analyst)";

  /**
   * The analyst of the current statement, or null for the service's own work. In the endpoint
   * (spark.pooling.authz.serve=true) every statement belongs to an analyst, except while the
   * service registers the pools at start-up (local property pooling.service=setup).
   */
  static String analyst(SparkSession session) {
    String user = CurrentUserContext.CURRENT_USER().get();
    if (user != null) {
      return user;
    }
    String local = session.sparkContext().getLocalProperty("pooling.analyst");
    if (local != null) {
      return local;
    }
    if (serving(session) && !"setup".equals(session.sparkContext().getLocalProperty("pooling.service"))) {
      return NOBODY;
    }
    return null;
  }

  static boolean serving(SparkSession session) {
    return "true".equals(session.sparkContext().getConf().get("spark.pooling.authz.serve", "false"));
  }

  static String grantsFile(SparkSession session) {
    return session.sparkContext().getConf().get("spark.pooling.authz.grants", "");
  }

  static String spool(SparkSession session) {
    return session.sparkContext().getConf().get("spark.pooling.authz.audit", "");
  }

  static long maxRows(SparkSession session) {
    return Long.parseLong(session.sparkContext().getConf().get("spark.pooling.authz.maxRows", "0"));
  }

  static Map<String, String> grants(SparkSession session, String analyst) {
    return Grants.of(grantsFile(session), analyst);
  }

  static String statementId(SparkSession session) {
    return session.sparkContext().getLocalProperty("spark.jobGroup.id");
  }

  /** Settings the Thrift server itself gives each session; any other change came from a client. */
  private static final java.util.Set<String> SERVER_SET =
      java.util.Set.of("spark.sql.datetime.java8API.enabled", "spark.sql.hive.version",
          "spark.sql.binaryOutputStyle");

  /**
   * The first session setting that differs from the server's own session, or null. A client can
   * set these without a SET statement (beeline --hiveconf, --hivevar, JDBC URL parameters), so
   * every statement is refused while one is in force.
   */
  static String changedSetting(SparkSession session) {
    scala.Option<SparkSession> root = SparkSession.getDefaultSession();
    if (root.isEmpty() || root.get() == session) {
      return null; // the server's own session: nothing a client could have set
    }
    scala.collection.immutable.Map<String, String> base =
        root.get().sessionState().conf().getAllConfs();
    Iterator<scala.Tuple2<String, String>> it =
        session.sessionState().conf().getAllConfs().iterator();
    while (it.hasNext()) {
      scala.Tuple2<String, String> kv = it.next();
      if (SERVER_SET.contains(kv._1()) || AllowList.get().clientSettings.contains(kv._1())) {
        continue;
      }
      scala.Option<String> server = base.get(kv._1());
      if (server.isEmpty() || !kv._2().equals(server.get())) {
        return kv._1();
      }
    }
    return null;
  }
}
