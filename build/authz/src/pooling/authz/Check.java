package pooling.authz;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.And;
import org.apache.spark.sql.catalyst.expressions.AttributeReference;
import org.apache.spark.sql.catalyst.expressions.BinaryComparison;
import org.apache.spark.sql.catalyst.expressions.EqualNullSafe;
import org.apache.spark.sql.catalyst.expressions.EqualTo;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.Aggregate;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.DescribeColumn;
import org.apache.spark.sql.catalyst.plans.logical.DescribeRelation;
import org.apache.spark.sql.catalyst.plans.logical.Join;
import org.apache.spark.sql.catalyst.plans.logical.LocalRelation;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.OneRowRelation;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.plans.logical.SubqueryAlias;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;

import scala.jdk.javaapi.CollectionConverters;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * The second half of the rule: a check of every analysed plan of an analyst's session. Every node
 * must be on the [analyzed] list and every expression on the [expressions] list (or be the class
 * of an allowed function); relations must be granted pool tables of the session catalog; a join
 * must have an equality between its two sides unless one side is a single row.
 */
final class Check extends AbstractFunction1<LogicalPlan, BoxedUnit> {
  private final SparkSession session;

  Check(SparkSession session) {
    this.session = session;
  }

  @Override
  public BoxedUnit apply(LogicalPlan plan) {
    String analyst = Who.analyst(session);
    if (analyst == null) {
      return BoxedUnit.UNIT;
    }
    Map<String, String> granted = Who.grants(session, analyst);
    if (!Guard.parsedByUs(plan) && internalRead(plan, granted)) {
      return BoxedUnit.UNIT; // Delta reading a granted table's own log and files
    }
    List<String> tables = new ArrayList<>();
    String refusal = new Walk(session, granted, tables).plan(Guard.belowCap(plan));
    Spool.write(Who.spool(session), refusal == null ? "allowed" : "refused",
        Who.statementId(session), analyst, statement(), tables, refusal);
    if (refusal != null) {
      throw new SecurityException("not allowed for " + analyst + ": " + refusal);
    }
    return BoxedUnit.UNIT;
  }

  private String statement() {
    String s = session.sparkContext().getLocalProperty("spark.job.description");
    return s == null ? "" : s;
  }

  /**
   * Delta resolves and reads a table with Spark plans of its own (its transaction log, its
   * files), in the analyst's thread or threads it starts. Such a plan holds no node of a parsed
   * statement and reads nothing but files of a granted pool table and data in memory; even if
   * an analyst could make one, it would reach only what the analyst is granted.
   */
  static boolean internalRead(LogicalPlan plan, Map<String, String> granted) {
    List<LogicalPlan> leaves = new ArrayList<>();
    collectLeaves(plan, leaves);
    for (LogicalPlan leaf : leaves) {
      String name = leaf.getClass().getSimpleName();
      if (leaf instanceof LocalRelation || leaf instanceof OneRowRelation
          || name.equals("LogicalRDD")) {
        continue;
      }
      if (!(leaf instanceof LogicalRelation)) {
        return false;
      }
      LogicalRelation r = (LogicalRelation) leaf;
      if (r.catalogTable().isDefined() || !(r.relation() instanceof HadoopFsRelation)) {
        return false;
      }
      for (org.apache.hadoop.fs.Path root : CollectionConverters.asJava(
          ((HadoopFsRelation) r.relation()).location().rootPaths())) {
        if (!underGrantedPool(root, granted)) {
          return false;
        }
      }
    }
    return true;
  }

  private static void collectLeaves(LogicalPlan p, List<LogicalPlan> out) {
    if (p.children().isEmpty()) {
      out.add(p);
    }
    for (LogicalPlan c : CollectionConverters.asJava(p.children())) {
      collectLeaves(c, out);
    }
    for (LogicalPlan s : CollectionConverters.asJava(p.subqueries())) {
      collectLeaves(s, out);
    }
  }

  static boolean underGrantedPool(org.apache.hadoop.fs.Path root, Map<String, String> granted) {
    String scheme = root.toUri().getScheme();
    String path = scheme == null || scheme.equals("file") ? root.toUri().getPath() : root.toString();
    for (String pool : granted.values()) {
      if (path.startsWith(pool.endsWith("/") ? pool : pool + "/")) {
        return true;
      }
    }
    return false;
  }

  /** A walk over an analysed plan: null if it may run, else why not. */
  static final class Walk extends PlanWalk {
    private final SparkSession session;
    private final Map<String, String> granted;
    private final List<String> tables;
    private final AllowList allow = AllowList.get();

    Walk(SparkSession session, Map<String, String> granted, List<String> tables) {
      this.session = session;
      this.granted = granted;
      this.tables = tables;
    }

    @Override
    String node(LogicalPlan p, String name) {
      if (!allow.analyzed.contains(name)) {
        return (p instanceof Command ? "command " : "") + name + " is not allowed";
      }
      if (p instanceof LogicalRelation) {
        LogicalRelation r = (LogicalRelation) p;
        if (r.catalogTable().isEmpty()) {
          return "reading files by path is not allowed";
        }
        var id = r.catalogTable().get().identifier();
        String db = id.database().isDefined() ? id.database().get() : "";
        String refusal = granted(db, db + "." + id.table());
        if (refusal != null || !(r.relation() instanceof HadoopFsRelation)) {
          return refusal;
        }
        long version = Builds.scanVersion(((HadoopFsRelation) r.relation()).location());
        return Builds.refusal(session, granted, db, id.table(), version);
      }
      if (p instanceof DataSourceV2Relation) {
        DataSourceV2Relation r = (DataSourceV2Relation) p;
        if (r.catalog().isEmpty() || !r.catalog().get().name().equals(Guard.SESSION_CATALOG)
            || r.identifier().isEmpty()) {
          return "only tables of the session catalog are served";
        }
        Identifier id = r.identifier().get();
        String[] ns = id.namespace();
        if (ns.length != 1) {
          return "table " + String.join(".", ns) + "." + id.name() + " is not in a granted project";
        }
        String refusal = granted(ns[0], ns[0] + "." + id.name());
        return refusal != null ? refusal
            : Builds.refusal(session, granted, ns[0], id.name(), Builds.scanVersion(r.table()));
      }
      if (name.equals("ResolvedTable") || name.equals("ResolvedNamespace")) {
        return resolved(p, name);
      }
      if (p instanceof DescribeRelation && ((DescribeRelation) p).isExtended()
          || p instanceof DescribeColumn && ((DescribeColumn) p).isExtended()) {
        return "DESCRIBE EXTENDED is not allowed";
      }
      if (p instanceof Join && !equiJoin((Join) p)) {
        return "a join without an equality between its two sides (a cross or non-equi join "
            + "grows as the product of both tables)";
      }
      return null;
    }

    private String granted(String db, String table) {
      if (!granted.containsKey(db.toLowerCase(Locale.ROOT))) {
        return "table " + table + " is not in a granted project";
      }
      tables.add(table);
      return null;
    }

    /** DESCRIBE, SHOW TABLES and USE targets: the session catalog, a granted database. */
    private String resolved(LogicalPlan p, String name) {
      try {
        Object catalog = p.getClass().getMethod("catalog").invoke(p);
        String catalogName = (String) catalog.getClass().getMethod("name").invoke(catalog);
        if (!catalogName.equals(Guard.SESSION_CATALOG)) {
          return "catalog " + catalogName + " is not served";
        }
        if (name.equals("ResolvedTable")) {
          Identifier id = (Identifier) p.getClass().getMethod("identifier").invoke(p);
          String[] ns = id.namespace();
          return ns.length == 1 ? granted(ns[0], ns[0] + "." + id.name())
              : "table " + id + " is not in a granted project";
        }
        scala.collection.Seq<?> ns =
            (scala.collection.Seq<?>) p.getClass().getMethod("namespace").invoke(p);
        String db = ns.isEmpty() ? "default" : String.valueOf(ns.head()).toLowerCase(Locale.ROOT);
        return ns.size() <= 1 && (db.equals("default") || granted.containsKey(db)) ? null
            : "database " + db + " is not a granted project";
      } catch (ReflectiveOperationException e) {
        return "cannot check " + name;
      }
    }

    @Override
    String expression(Expression e) {
      String name = e.getClass().getSimpleName();
      if (!allow.expressions.contains(name)) {
        return "expression " + name + " is not allowed";
      }
      if (e instanceof AttributeReference
          && ((AttributeReference) e).metadata().contains("__metadata_col")) {
        return "the file metadata column " + ((AttributeReference) e).name() + " is not allowed";
      }
      for (Expression c : CollectionConverters.asJava(e.children())) {
        String refusal = expression(c);
        if (refusal != null) {
          return refusal;
        }
      }
      return null;
    }
  }

  /** True if the join's condition equates a column of one side with a column of the other. */
  static boolean equiJoin(Join j) {
    if (singleRow(j.left()) || singleRow(j.right())) {
      return true;
    }
    if (j.condition().isEmpty()) {
      return false;
    }
    List<Expression> conjuncts = new ArrayList<>();
    split(j.condition().get(), conjuncts);
    for (Expression c : conjuncts) {
      if (c instanceof EqualTo || c instanceof EqualNullSafe) {
        Expression l = ((BinaryComparison) c).left();
        Expression r = ((BinaryComparison) c).right();
        if (l.references().isEmpty() || r.references().isEmpty()) {
          continue;
        }
        boolean straight = l.references().subsetOf(j.left().outputSet())
            && r.references().subsetOf(j.right().outputSet());
        boolean crossed = l.references().subsetOf(j.right().outputSet())
            && r.references().subsetOf(j.left().outputSet());
        if (straight || crossed) {
          return true;
        }
      }
    }
    return false;
  }

  private static void split(Expression e, List<Expression> out) {
    if (e instanceof And) {
      split(((And) e).left(), out);
      split(((And) e).right(), out);
    } else {
      out.add(e);
    }
  }

  /** A relation of one row by construction: a global aggregate, one row, a small VALUES. */
  static boolean singleRow(LogicalPlan p) {
    while (p instanceof Project || p instanceof SubqueryAlias) {
      p = p.children().head();
    }
    if (p instanceof Aggregate) {
      return ((Aggregate) p).groupingExpressions().isEmpty();
    }
    if (p instanceof LocalRelation) {
      return ((LocalRelation) p).data().size() <= 1;
    }
    return p instanceof OneRowRelation;
  }
}
