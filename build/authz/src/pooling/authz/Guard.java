package pooling.authz;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.RelationTimeTravel;
import org.apache.spark.sql.catalyst.analysis.UnresolvedAttribute;
import org.apache.spark.sql.catalyst.analysis.UnresolvedAttribute$;
import org.apache.spark.sql.catalyst.analysis.UnresolvedFunction;
import org.apache.spark.sql.catalyst.analysis.UnresolvedGenerator;
import org.apache.spark.sql.catalyst.analysis.UnresolvedNamespace;
import org.apache.spark.sql.catalyst.analysis.UnresolvedRelation;
import org.apache.spark.sql.catalyst.analysis.UnresolvedStar;
import org.apache.spark.sql.catalyst.analysis.UnresolvedTableOrView;
import org.apache.spark.sql.catalyst.analysis.UnresolvedTableValuedFunction;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.GreaterThanOrEqual;
import org.apache.spark.sql.catalyst.expressions.If;
import org.apache.spark.sql.catalyst.expressions.In;
import org.apache.spark.sql.catalyst.expressions.MonotonicallyIncreasingID;
import org.apache.spark.sql.catalyst.expressions.RaiseError;
import org.apache.spark.sql.catalyst.expressions.RaiseError$;
import org.apache.spark.sql.catalyst.expressions.Literal$;
import org.apache.spark.sql.catalyst.parser.ParameterContext;
import org.apache.spark.sql.catalyst.parser.ParseException;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.DescribeColumn;
import org.apache.spark.sql.catalyst.plans.logical.DescribeRelation;
import org.apache.spark.sql.catalyst.plans.logical.Filter;
import org.apache.spark.sql.catalyst.plans.logical.Limit$;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.UnresolvedHint;
import org.apache.spark.sql.catalyst.trees.TreeNodeTag;
import org.apache.spark.sql.types.BooleanType$;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StructType;

import scala.jdk.javaapi.CollectionConverters;

/**
 * The first half of the rule: the SQL parser of an analyst's session, wrapped. Before anything is
 * resolved (so before a catalog, a table or a file is touched, and before an error can name what
 * the analyst may not see), a statement is recorded in the audit spool and refused unless
 *
 * <ul>
 *   <li>no session setting differs from the server's (client-side --hiveconf, --hivevar, URL
 *       parameters), and the text holds no variable reference ({@code ${...}});
 *   <li>every node of the parsed plan is on the [parsed] allow-list, every function on the
 *       [functions] list, every hint on the [hints] list;
 *   <li>every table it names is in the session catalog, in a database its analyst is granted,
 *       read as it is now (no time travel, no table options), and no file metadata is asked for.
 * </ul>
 *
 * An allowed query gets the row cap as an outer LIMIT; SHOW DATABASES lists granted ones only.
 */
final class Guard implements ParserInterface {
  static final String SESSION_CATALOG = "spark_catalog";
  private final SparkSession session;
  private final ParserInterface delegate;

  Guard(SparkSession session, ParserInterface delegate) {
    this.session = session;
    this.delegate = delegate;
  }

  /** A parse of the statement, run only once the checks before parsing have passed. */
  private interface Parse {
    LogicalPlan apply() throws ParseException;
  }

  @Override
  public LogicalPlan parsePlan(String sql) throws ParseException {
    String analyst = Who.analyst(session);
    return analyst == null ? delegate.parsePlan(sql)
        : guarded(analyst, sql, () -> delegate.parsePlan(sql));
  }

  @Override
  public LogicalPlan parsePlanWithParameters(String sql, ParameterContext params)
      throws ParseException {
    String analyst = Who.analyst(session);
    return analyst == null ? delegate.parsePlanWithParameters(sql, params)
        : guarded(analyst, sql, () -> delegate.parsePlanWithParameters(sql, params));
  }

  @Override
  public LogicalPlan parseQuery(String sql) throws ParseException {
    String analyst = Who.analyst(session);
    return analyst == null ? delegate.parseQuery(sql)
        : guarded(analyst, sql, () -> delegate.parseQuery(sql));
  }

  private LogicalPlan guarded(String analyst, String sql, Parse parse) throws ParseException {
    String id = Who.statementId(session);
    String spool = Who.spool(session);
    Map<String, String> granted = Who.grants(session, analyst);
    String refusal = null;
    String setting = Who.changedSetting(session);
    LogicalPlan plan = null;
    if (setting != null) {
      refusal = "session setting " + setting + " was set by the client; analysts' sessions take "
          + "the server's settings only";
    } else if (sql.contains("${")) {
      // Checked before parsing: the parser would substitute first, and its errors quote the text.
      refusal = "variable substitution (${...}) is off for analysts";
    } else {
      try {
        plan = parse.apply();
      } catch (ParseException e) {
        Spool.write(spool, "received", id, analyst, sql, List.of(), "syntax error");
        throw e;
      }
      refusal = new Walk(granted, session).plan(plan);
    }
    Spool.write(spool, refusal == null ? "received" : "refused", id, analyst, sql, List.of(),
        refusal);
    if (refusal != null) {
      throw new SecurityException("not allowed for " + analyst + ": " + refusal);
    }
    mark(plan);
    // The statement's jobs carry its analyst, so a cancelled job is audited under their name.
    session.sparkContext().setLocalProperty("pooling.analyst.job", analyst);
    if (id != null) {
      PoolingAuthz.Cancellations.STATEMENTS.put(
          id, new PoolingAuthz.Statement(analyst, System.currentTimeMillis()));
    }
    return rewrite(plan, granted);
  }

  /**
   * Every node parsed from an analyst's statement carries this tag, and Spark copies tags onto
   * what the analyser makes of a node: the check tells the statement's plan from the plans Delta
   * runs for itself while resolving it (which carry the statement's origin too, so the origin
   * cannot tell them apart).
   */
  static final TreeNodeTag<Boolean> PARSED = new TreeNodeTag<>("pooling.authz.parsed");

  private static void mark(LogicalPlan p) {
    p.setTagValue(PARSED, Boolean.TRUE);
    for (LogicalPlan c : CollectionConverters.asJava(p.children())) {
      mark(c);
    }
    for (LogicalPlan s : CollectionConverters.asJava(p.subqueries())) {
      mark(s);
    }
  }

  static boolean parsedByUs(LogicalPlan p) {
    if (p.getTagValue(PARSED).isDefined()) {
      return true;
    }
    for (LogicalPlan c : CollectionConverters.asJava(p.children())) {
      if (parsedByUs(c)) {
        return true;
      }
    }
    for (LogicalPlan s : CollectionConverters.asJava(p.subqueries())) {
      if (parsedByUs(s)) {
        return true;
      }
    }
    return false;
  }

  private LogicalPlan rewrite(LogicalPlan plan, Map<String, String> granted) {
    String name = plan.getClass().getSimpleName();
    if (name.equals("ShowNamespacesCommand")) {
      List<Expression> names = new ArrayList<>();
      for (String db : granted.keySet()) {
        names.add(Literal$.MODULE$.apply(db));
      }
      Expression column = UnresolvedAttribute$.MODULE$.apply("namespace");
      return new Filter(new In(column, CollectionConverters.asScala(names).toList()), plan);
    }
    int cap = (int) Math.min(Integer.MAX_VALUE - 1, Who.maxRows(session));
    if (cap > 0 && !(plan instanceof Command)) {
      return rowCap(plan, cap);
    }
    return plan;
  }

  /** The start of the error a statement gets when its result passes the row cap. */
  static final String ROW_CAP = "the result has more than ";

  /**
   * At most {@code cap} rows, and an error rather than a silently cut result: the statement is
   * limited to {@code cap + 1} rows, which a limit gathers into one partition, where
   * monotonically_increasing_id() numbers them from 0; the row numbered {@code cap} raises the
   * error. The filter is tagged so the check knows it for the service's own.
   */
  private static LogicalPlan rowCap(LogicalPlan plan, int cap) {
    LogicalPlan limited = (LogicalPlan) Limit$.MODULE$.apply(Literal$.MODULE$.apply(cap + 1), plan);
    RaiseError raise = RaiseError$.MODULE$.apply(Literal$.MODULE$.apply(
        ROW_CAP + cap + " rows (the row cap): aggregate it or filter it further"));
    Expression over = new GreaterThanOrEqual(
        new MonotonicallyIncreasingID(), Literal$.MODULE$.apply((long) cap));
    Expression fail = raise.copy(raise.errorClass(), raise.errorParms(), BooleanType$.MODULE$);
    Filter capped = new Filter(new If(over, fail, Literal$.MODULE$.apply(true)), limited);
    capped.setTagValue(CAP, Boolean.TRUE);
    return capped;
  }

  static final TreeNodeTag<Boolean> CAP = new TreeNodeTag<>("pooling.authz.rowCap");

  /** The plan below the row cap's filter, if {@code p} is that filter. */
  static LogicalPlan belowCap(LogicalPlan p) {
    return p instanceof Filter && p.getTagValue(CAP).isDefined() ? ((Filter) p).child() : p;
  }

  /** A walk over a parsed plan: null if it may go on to the analyser, else why not. */
  static final class Walk extends PlanWalk {
    private final Map<String, String> granted;
    private final SparkSession session;
    private final AllowList allow = AllowList.get();

    Walk(Map<String, String> granted, SparkSession session) {
      this.granted = granted;
      this.session = session;
    }

    @Override
    String node(LogicalPlan p, String name) {
      if (p instanceof RelationTimeTravel) {
        return "time travel (VERSION AS OF, TIMESTAMP AS OF): pools are read as they are now";
      }
      if (p instanceof UnresolvedTableValuedFunction) {
        return "table-valued function "
            + String.join(".", CollectionConverters.asJava(
                ((UnresolvedTableValuedFunction) p).name()));
      }
      if (!allow.parsed.contains(name)) {
        return (p instanceof Command ? "command " : "") + name + " is not allowed";
      }
      if (p instanceof UnresolvedRelation) {
        UnresolvedRelation r = (UnresolvedRelation) p;
        if (!r.options().isEmpty()) {
          return "table options (WITH (...)) are not allowed";
        }
        return table(CollectionConverters.asJava(r.multipartIdentifier()));
      }
      if (p instanceof UnresolvedTableOrView) {
        return table(CollectionConverters.asJava(
            ((UnresolvedTableOrView) p).multipartIdentifier()));
      }
      if (p instanceof UnresolvedNamespace) {
        return namespace(CollectionConverters.asJava(
            ((UnresolvedNamespace) p).multipartIdentifier()));
      }
      if (p instanceof DescribeRelation && ((DescribeRelation) p).isExtended()) {
        return "DESCRIBE EXTENDED (it shows storage locations and lineage) is not allowed";
      }
      if (p instanceof DescribeColumn && ((DescribeColumn) p).isExtended()) {
        return "DESCRIBE EXTENDED is not allowed";
      }
      if (p instanceof UnresolvedHint) {
        String hint = ((UnresolvedHint) p).name().toLowerCase(Locale.ROOT);
        return allow.hints.contains(hint) ? null : "hint " + hint.toUpperCase(Locale.ROOT)
            + " is not allowed (join hints only)";
      }
      return null;
    }

    /** A table as the analyst named it: one, two or three parts. */
    String table(List<String> parts) {
      if (parts.size() == 1) {
        return current();
      }
      if (parts.size() == 3 && !parts.get(0).equalsIgnoreCase(SESSION_CATALOG)) {
        return "catalog " + parts.get(0) + " is not served (the session catalog only)";
      }
      if (parts.size() > 3) {
        return "table " + String.join(".", parts) + " is not in a granted project";
      }
      String db = parts.get(parts.size() - 2).toLowerCase(Locale.ROOT);
      return granted.containsKey(db) ? null
          : "table " + String.join(".", parts) + " is not in a granted project";
    }

    String namespace(List<String> parts) {
      if (parts.isEmpty()) {
        return current();
      }
      if (parts.size() == 2 && parts.get(0).equalsIgnoreCase(SESSION_CATALOG)) {
        parts = parts.subList(1, 2);
      }
      String db = String.join(".", parts).toLowerCase(Locale.ROOT);
      return granted.containsKey(db) || db.equals("default") ? null
          : "database " + String.join(".", parts) + " is not a granted project";
    }

    /** A one-part name resolves in the current catalog and database: both must be served. */
    private String current() {
      var manager = session.sessionState().catalogManager();
      if (!manager.currentCatalog().name().equals(SESSION_CATALOG)) {
        return "catalog " + manager.currentCatalog().name() + " is not served";
      }
      String[] ns = manager.currentNamespace();
      String db = String.join(".", ns).toLowerCase(Locale.ROOT);
      return granted.containsKey(db) || db.equals("default") ? null
          : "database " + db + " is not a granted project";
    }

    @Override
    String expression(Expression e) {
      if (e instanceof UnresolvedFunction) {
        List<String> parts = CollectionConverters.asJava(((UnresolvedFunction) e).nameParts());
        String refusal = function(parts);
        if (refusal != null) {
          return refusal;
        }
      } else if (e instanceof UnresolvedGenerator) {
        FunctionIdentifier f = ((UnresolvedGenerator) e).name();
        String refusal = function(List.of(f.funcName()));
        if (refusal != null) {
          return refusal;
        }
      } else if (e instanceof UnresolvedAttribute) {
        List<String> parts = CollectionConverters.asJava(((UnresolvedAttribute) e).nameParts());
        if (parts.stream().anyMatch(s -> s.equalsIgnoreCase("_metadata"))) {
          return "the file metadata column _metadata is not allowed";
        }
      } else if (e instanceof UnresolvedStar) {
        scala.Option<scala.collection.immutable.Seq<String>> target =
            ((UnresolvedStar) e).target();
        if (target.isDefined() && CollectionConverters.asJava(target.get()).stream()
            .anyMatch(s -> s.equalsIgnoreCase("_metadata"))) {
          return "the file metadata column _metadata is not allowed";
        }
      }
      for (Expression c : CollectionConverters.asJava(e.children())) {
        String refusal = expression(c);
        if (refusal != null) {
          return refusal;
        }
      }
      return null;
    }

    private String function(List<String> parts) {
      String name = String.join(".", parts).toLowerCase(Locale.ROOT);
      if (parts.size() == 1 && allow.functions.contains(name)) {
        return null;
      }
      return "function " + name + " is not allowed";
    }
  }

  // The rest of the parser interface: not statements, passed through.
  @Override
  public Expression parseExpression(String sqlText) throws ParseException {
    return delegate.parseExpression(sqlText);
  }

  @Override
  public TableIdentifier parseTableIdentifier(String sqlText) throws ParseException {
    return delegate.parseTableIdentifier(sqlText);
  }

  @Override
  public FunctionIdentifier parseFunctionIdentifier(String sqlText) throws ParseException {
    return delegate.parseFunctionIdentifier(sqlText);
  }

  @Override
  public scala.collection.immutable.Seq<String> parseMultipartIdentifier(String sqlText)
      throws ParseException {
    return delegate.parseMultipartIdentifier(sqlText);
  }

  @Override
  public StructType parseRoutineParam(String sqlText) throws ParseException {
    return delegate.parseRoutineParam(sqlText);
  }

  @Override
  public StructType parseTableSchema(String sqlText) throws ParseException {
    return delegate.parseTableSchema(sqlText);
  }

  @Override
  public DataType parseDataType(String sqlText) throws ParseException {
    return delegate.parseDataType(sqlText);
  }
}
