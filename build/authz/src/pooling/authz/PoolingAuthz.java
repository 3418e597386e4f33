package pooling.authz;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.CurrentUserContext;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;

import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * Analysts' access rule, a Spark session extension (spark.sql.extensions=pooling.authz.PoolingAuthz).
 *
 * <p>In an analyst's session (the Thrift server's authenticated user, or the local property
 * {@code pooling.analyst} set by {@code pooling sql --as}), a query may read only tables of the
 * databases its grants name (one database per project), run only read-only metadata commands, and
 * never a path, a SET, a DDL or DML command, or a reflective function call. Every query is
 * appended, allowed or refused, to the audit spool ({@code spark.pooling.authz.audit}); the
 * service moves the spool into the Delta audit table. Sessions without an analyst (the service's
 * own jobs) are not restricted.
 */
public final class PoolingAuthz extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectCheckRule(
        new AbstractFunction1<SparkSession, scala.Function1<LogicalPlan, BoxedUnit>>() {
          @Override
          public scala.Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
            return new Check(session);
          }
        });
    return BoxedUnit.UNIT;
  }

  /** Read-only commands an analyst may run; their table or namespace is still checked. */
  static final Set<String> COMMANDS =
      Set.of(
          "ShowTables", "ShowTablesCommand", "ShowNamespaces", "ShowColumns",
          "ShowColumnsCommand", "DescribeRelation", "DescribeTableCommand",
          "DescribeColumnCommand", "SetCatalogAndNamespace", "ShowCurrentNamespaceCommand");

  static final class Check extends AbstractFunction1<LogicalPlan, BoxedUnit> {
    private final SparkSession session;

    Check(SparkSession session) {
      this.session = session;
    }

    @Override
    public BoxedUnit apply(LogicalPlan plan) {
      String analyst = CurrentUserContext.CURRENT_USER().get();
      if (analyst == null) {
        analyst = session.sparkContext().getLocalProperty("pooling.analyst");
      }
      if (analyst == null) {
        return BoxedUnit.UNIT;
      }
      Map<String, String> granted = grants(session).getOrDefault(analyst, Map.of());
      List<String> tables = new ArrayList<>();
      String refusal = walk(plan, granted, tables);
      audit(session, analyst, tables, refusal);
      if (refusal != null) {
        throw new SecurityException("not allowed for " + analyst + ": " + refusal);
      }
      return BoxedUnit.UNIT;
    }
  }

  /** Null if the plan may run; otherwise why not. Tables read are added to {@code tables}. */
  static String walk(LogicalPlan p, Map<String, String> granted, List<String> tables) {
    String name = p.getClass().getSimpleName();
    if (p instanceof org.apache.spark.sql.catalyst.plans.logical.Command
        && !COMMANDS.contains(name)) {
      return "command " + name + " is not allowed";
    }
    if (p instanceof DataSourceV2Relation) {
      DataSourceV2Relation r = (DataSourceV2Relation) p;
      if (r.identifier().isEmpty()) {
        return "a table without a name";
      }
      String refusal = table(r.identifier().get(), granted, tables);
      if (refusal != null) {
        return refusal;
      }
    } else if (p instanceof LogicalRelation) {
      LogicalRelation r = (LogicalRelation) p;
      if (r.catalogTable().isEmpty()) {
        // Delta turns a catalog table into a file relation while planning: allowed only within
        // the folder of a granted project's pool.
        return underGrantedPool(r, granted) ? null : "reading files by path";
      }
      String db = r.catalogTable().get().identifier().database().getOrElse(() -> "");
      String t = db + "." + r.catalogTable().get().identifier().table();
      if (!granted.containsKey(db)) {
        return "table " + t + " is not in a granted project";
      }
      tables.add(t);
    } else if (name.equals("HiveTableRelation")) {
      return "Hive tables are not served";
    } else if (name.equals("ResolvedTable") || name.equals("ResolvedNamespace")) {
      String refusal = resolved(p, granted);
      if (refusal != null) {
        return refusal;
      }
    }
    for (Expression e : CollectionConverters.asJava(p.expressions())) {
      String refusal = expression(e);
      if (refusal != null) {
        return refusal;
      }
    }
    for (LogicalPlan c : CollectionConverters.asJava(p.children())) {
      String refusal = walk(c, granted, tables);
      if (refusal != null) {
        return refusal;
      }
    }
    for (LogicalPlan s : CollectionConverters.asJava(p.subqueries())) {
      String refusal = walk(s, granted, tables);
      if (refusal != null) {
        return refusal;
      }
    }
    return null;
  }

  static boolean underGrantedPool(LogicalRelation r, Map<String, String> granted) {
    if (!(r.relation() instanceof HadoopFsRelation)) {
      return false;
    }
    List<org.apache.hadoop.fs.Path> roots =
        CollectionConverters.asJava(((HadoopFsRelation) r.relation()).location().rootPaths());
    if (roots.isEmpty()) {
      return false;
    }
    for (org.apache.hadoop.fs.Path root : roots) {
      String path = root.toUri().getScheme() == null || root.toUri().getScheme().equals("file")
          ? root.toUri().getPath()
          : root.toString();
      boolean inside = false;
      for (String pool : granted.values()) {
        inside |= path.startsWith(pool.endsWith("/") ? pool : pool + "/");
      }
      if (!inside) {
        return false;
      }
    }
    return true;
  }

  static String table(Identifier id, Map<String, String> granted, List<String> tables) {
    String[] ns = id.namespace();
    String t = String.join(".", ns) + "." + id.name();
    if (ns.length != 1 || !granted.containsKey(ns[0])) {
      return ns.length == 1 && ns[0].equals("delta")
          ? "reading files by path"
          : "table " + t + " is not in a granted project";
    }
    tables.add(t);
    return null;
  }

  /** DESCRIBE / SHOW TABLES targets: a table or namespace of a granted project (or default). */
  static String resolved(LogicalPlan p, Map<String, String> granted) {
    try {
      if (p.getClass().getSimpleName().equals("ResolvedTable")) {
        Identifier id = (Identifier) p.getClass().getMethod("identifier").invoke(p);
        return table(id, granted, new ArrayList<>());
      }
      scala.collection.Seq<?> ns =
          (scala.collection.Seq<?>) p.getClass().getMethod("namespace").invoke(p);
      String first = ns.isEmpty() ? "default" : String.valueOf(ns.head());
      return first.equals("default") || granted.containsKey(first)
          ? null
          : "namespace " + first + " is not a granted project";
    } catch (ReflectiveOperationException e) {
      return "cannot check " + p.getClass().getSimpleName();
    }
  }

  static String expression(Expression e) {
    String name = e.getClass().getSimpleName();
    if (name.equals("CallMethodViaReflection") || name.equals("InputFileName")) {
      return "function " + name + " is not allowed";
    }
    for (Expression c : CollectionConverters.asJava(e.children())) {
      String refusal = expression(c);
      if (refusal != null) {
        return refusal;
      }
    }
    return null;
  }

  private static volatile Map<String, Map<String, String>> grantsCache;

  /**
   * analyst → (database → its pool folder), from the grants file: one
   * "analyst&lt;TAB&gt;database&lt;TAB&gt;pool folder" per line, written by `pooling serve` from conf/.
   */
  static Map<String, Map<String, String>> grants(SparkSession session) {
    Map<String, Map<String, String>> cached = grantsCache;
    if (cached != null) {
      return cached;
    }
    Map<String, Map<String, String>> g = new HashMap<>();
    String file = session.sparkContext().getConf().get("spark.pooling.authz.grants", "");
    try {
      if (!file.isEmpty()) {
        for (String line : Files.readAllLines(Paths.get(file), StandardCharsets.UTF_8)) {
          String[] parts = line.split("\t");
          if (parts.length == 3) {
            g.computeIfAbsent(parts[0], k -> new HashMap<>()).put(parts[1], parts[2]);
          }
        }
      }
    } catch (IOException e) {
      throw new SecurityException("cannot read the grants file", e);
    }
    grantsCache = g;
    return g;
  }

  private static final Set<String> AUDITED = new HashSet<>();

  static synchronized void audit(
      SparkSession session, String analyst, List<String> tables, String refusal) {
    String file = session.sparkContext().getConf().get("spark.pooling.authz.audit", "");
    if (file.isEmpty()) {
      return;
    }
    String statement = session.sparkContext().getLocalProperty("spark.job.description");
    // A statement is checked more than once while it is planned: record it once, or its refusal.
    String group = session.sparkContext().getLocalProperty("spark.jobGroup.id");
    if (group != null && refusal == null && !AUDITED.add(group)) {
      return;
    }
    if (AUDITED.size() > 10_000) {
      AUDITED.clear();
    }
    String line =
        "{\"ts\":" + json(Instant.now().toString())
            + ",\"analyst\":" + json(analyst)
            + ",\"statement\":" + json(statement == null ? "" : statement)
            + ",\"tables\":[" + String.join(",", tables.stream().map(PoolingAuthz::json).toList())
            + "],\"allowed\":" + (refusal == null)
            + ",\"refusal\":" + json(refusal == null ? "" : refusal) + "}\n";
    try {
      Path path = Paths.get(file);
      Files.writeString(
          path, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new SecurityException("cannot write the query audit spool", e);
    }
  }

  static String json(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
