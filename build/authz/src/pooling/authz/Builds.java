package pooling.authz;

import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.analysis.RelationTimeTravel;
import org.apache.spark.sql.catalyst.analysis.UnresolvedRelation;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.catalyst.trees.TreeNodeTag;

import scala.Function1;
import scala.Option;
import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractPartialFunction;

/**
 * Pools are read at their last complete build. A build commits its tables one by one and then its
 * marker ({@code pools/<project>/_build.json}, the version of each table); a build that is running
 * or died halfway has moved some tables on and not the marker. So each pool table an analyst's
 * statement names is read at the version its project's marker gives (as {@code pooling run}
 * does): {@link Pin} adds {@code VERSION AS OF} to the statement after the guard has refused any
 * the analyst wrote, and the check refuses a read at any other version.
 */
final class Builds {
  static final String MARKER = "_build.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private Builds() {}

  /** The version of each table of the project's last complete build; empty if it has none. */
  static Map<String, Long> versions(SparkSession session, String poolFolder) {
    Map<String, Long> out = new HashMap<>();
    Path marker = new Path(poolFolder.endsWith("/") ? poolFolder + MARKER : poolFolder + "/" + MARKER);
    try {
      FileSystem fs = marker.getFileSystem(session.sparkContext().hadoopConfiguration());
      if (!fs.exists(marker)) {
        return out;
      }
      try (InputStream in = fs.open(marker)) {
        JsonNode tables = JSON.readTree(in).path("tables");
        tables.fieldNames().forEachRemaining(t -> out.put(
            t.toLowerCase(Locale.ROOT), tables.path(t).path("version").asLong(-1)));
      }
    } catch (IOException e) {
      throw new SecurityException("the pool's build marker " + marker + " cannot be read: "
          + e.getClass().getSimpleName());
    }
    return out;
  }

  /** Marks a table reference this rule has pinned (the analyser runs its rules to a fixed point). */
  private static final TreeNodeTag<Boolean> PINNED = new TreeNodeTag<>("pooling.authz.pinned");

  /**
   * An analyser rule of the hint batch, which runs after CTEs are substituted and before tables
   * are resolved: each reference to a granted pool table (in subqueries too) of an analyst's
   * statement is wrapped in {@code VERSION AS OF} its project's last complete build.
   */
  static final class Pin extends Rule<LogicalPlan> {
    private final SparkSession session;

    Pin(SparkSession session) {
      this.session = session;
    }

    @Override
    public LogicalPlan apply(LogicalPlan plan) {
      String analyst = Who.analyst(session);
      if (analyst == null) {
        return plan;
      }
      Map<String, String> granted = Who.grants(session, analyst);
      Map<String, Map<String, Long>> builds = new HashMap<>(); // one marker read per project
      String[] current = session.sessionState().catalogManager().currentNamespace();
      return plan.transformUpWithSubqueries(new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
        @Override
        public boolean isDefinedAt(LogicalPlan p) {
          return p instanceof UnresolvedRelation && p.getTagValue(PINNED).isEmpty();
        }

        @Override
        public <A1 extends LogicalPlan, B1> B1 applyOrElse(A1 p, Function1<A1, B1> otherwise) {
          if (!isDefinedAt(p)) {
            return otherwise.apply(p);
          }
          @SuppressWarnings("unchecked")
          B1 out = (B1) pin((UnresolvedRelation) p, granted, builds, current);
          return out;
        }
      });
    }

    private LogicalPlan pin(UnresolvedRelation u, Map<String, String> granted,
        Map<String, Map<String, Long>> builds, String[] current) {
      List<String> parts = CollectionConverters.asJava(u.multipartIdentifier());
      String table = parts.get(parts.size() - 1).toLowerCase(Locale.ROOT);
      String db;
      if (parts.size() == 1 && current.length == 1) {
        db = current[0];
      } else if (parts.size() == 2) {
        db = parts.get(0);
      } else if (parts.size() == 3 && parts.get(0).equalsIgnoreCase(Guard.SESSION_CATALOG)) {
        db = parts.get(1);
      } else {
        return u; // the check refuses what is not a table of a granted project
      }
      db = db.toLowerCase(Locale.ROOT);
      if (!granted.containsKey(db)) {
        return u;
      }
      Long version = builds.computeIfAbsent(db, d -> versions(session, granted.get(d))).get(table);
      if (version == null || version < 0) {
        return u; // no complete build of it: the check refuses the read
      }
      u.setTagValue(PINNED, Boolean.TRUE);
      RelationTimeTravel pinned =
          new RelationTimeTravel(u, Option.empty(), Option.apply(Long.toString(version)));
      pinned.setTagValue(Guard.PARSED, Boolean.TRUE);
      return pinned;
    }
  }

  /**
   * Why reading {@code db.table} at {@code version} is refused, or null: the version must be the
   * one the project's last complete build names.
   */
  static String refusal(SparkSession session, Map<String, String> granted, String db,
      String table, long version) {
    String folder = granted.get(db.toLowerCase(Locale.ROOT));
    Long built = versions(session, folder).get(table.toLowerCase(Locale.ROOT));
    if (built == null || built < 0) {
      return "pool " + db + " has no complete build of " + table
          + " (a build is running or did not finish): try again when `pooling pool` has finished";
    }
    if (built != version) {
      return "table " + db + "." + table + " would be read at version " + version
          + ", its pool's last complete build is version " + built
          + " (the pool was rebuilt while the statement was planned): run it again";
    }
    return null;
  }

  /** The version a Delta relation will read (its file index's snapshot), or -1 if unknown. */
  static long scanVersion(Object fileIndexOrTable) {
    for (String method : new String[] {"getSnapshotToScan", "initialSnapshot"}) {
      try {
        Object snapshot = fileIndexOrTable.getClass().getMethod(method).invoke(fileIndexOrTable);
        return (long) snapshot.getClass().getMethod("version").invoke(snapshot);
      } catch (ReflectiveOperationException e) {
        // not this kind of Delta relation: try the next
      }
    }
    return -1;
  }
}
