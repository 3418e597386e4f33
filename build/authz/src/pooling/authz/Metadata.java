package pooling.authz;

import java.lang.reflect.Field;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.hive.service.cli.operation.GetColumnsOperation;
import org.apache.hive.service.cli.operation.GetFunctionsOperation;
import org.apache.hive.service.cli.operation.GetSchemasOperation;
import org.apache.hive.service.cli.operation.MetadataOperation;
import org.apache.hive.service.cli.session.HiveSession;
import org.apache.hive.service.cli.session.SessionManager;
import org.apache.spark.sql.hive.thriftserver.HiveThriftServer2;
import org.apache.spark.sql.hive.thriftserver.SparkSQLCLIService;
import org.apache.spark.sql.hive.thriftserver.server.SparkSQLOperationManager;

/**
 * The JDBC/ODBC metadata calls (getSchemas, getTables, getColumns, getFunctions), limited to the
 * analyst's granted projects.
 *
 * <p>These calls do not pass the parser, so {@link Guard} never sees them: the Thrift server's
 * operation manager lists the catalog directly. This one narrows the client's schema pattern to
 * the granted databases it matches (each named exactly, joined by {@code |}, the catalog's own
 * pattern syntax), and to nothing when none matches, before Spark's own operation runs.
 */
public final class Metadata extends SparkSQLOperationManager {
  /** A schema pattern that no database name matches (names are identifiers). */
  static final String NO_DATABASE = "-";

  private final String grantsFile;

  private Metadata(SparkSQLOperationManager original, String grantsFile)
      throws ReflectiveOperationException {
    this.grantsFile = grantsFile;
    // The session manager registers each session's SparkSession in the original's map.
    Field contexts = SparkSQLOperationManager.class.getDeclaredField("sessionToContexts");
    contexts.setAccessible(true);
    contexts.set(this, contexts.get(original));
    // Spark reads Hive's operation map by reflection on getClass().getSuperclass(), which for
    // a subclass is Spark's own class: give it Hive's map of this instance, as it has for its own.
    Field hive = org.apache.hive.service.cli.operation.OperationManager.class
        .getDeclaredField("handleToOperation");
    hive.setAccessible(true);
    Field spark = SparkSQLOperationManager.class.getDeclaredField("handleToOperation");
    spark.setAccessible(true);
    spark.set(this, hive.get(this));
  }

  /** Puts this operation manager in the running server, before any client connects. */
  public static void install(HiveThriftServer2 server, String grantsFile)
      throws ReflectiveOperationException {
    SessionManager sessions = server.getServices().stream()
        .filter(SparkSQLCLIService.class::isInstance)
        .map(s -> ((SparkSQLCLIService) s).getSessionManager())
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("no SQL service in the Thrift server"));
    Field field = SessionManager.class.getDeclaredField("operationManager");
    field.setAccessible(true);
    Metadata metadata = new Metadata((SparkSQLOperationManager) field.get(sessions), grantsFile);
    metadata.init(sessions.getHiveConf());
    metadata.start();
    field.set(sessions, metadata);
    if (sessions.getOperationManager() != metadata) {
      throw new IllegalStateException("the metadata calls could not be limited to grants");
    }
  }

  /** The client's JDBC pattern, narrowed to the analyst's granted databases it matches. */
  String granted(HiveSession session, String pattern) {
    Pattern wanted = jdbcPattern(pattern);
    List<String> names = Grants.of(grantsFile, session.getUserName()).keySet().stream()
        .filter(db -> wanted.matcher(db).matches())
        .sorted()
        .map(db -> db.replace("_", "\\_")) // literal, not the pattern's any-one-character
        .collect(Collectors.toList());
    return names.isEmpty() ? NO_DATABASE : String.join("|", names);
  }

  /** JDBC's pattern (% any run, _ one character, \ escapes; null or empty: everything), as
   * Hive's clients also send * for any run. */
  static Pattern jdbcPattern(String pattern) {
    if (pattern == null || pattern.isEmpty()) {
      return Pattern.compile(".*");
    }
    StringBuilder regex = new StringBuilder();
    for (int i = 0; i < pattern.length(); i++) {
      char c = pattern.charAt(i);
      if (c == '\\' && i + 1 < pattern.length()) {
        regex.append(Pattern.quote(String.valueOf(pattern.charAt(++i))));
      } else if (c == '%' || c == '*') {
        regex.append(".*");
      } else if (c == '_') {
        regex.append('.');
      } else {
        regex.append(Pattern.quote(String.valueOf(c)));
      }
    }
    return Pattern.compile(regex.toString(), Pattern.CASE_INSENSITIVE);
  }

  @Override
  public synchronized GetSchemasOperation newGetSchemasOperation(
      HiveSession session, String catalog, String schema) {
    return super.newGetSchemasOperation(session, catalog, granted(session, schema));
  }

  @Override
  public synchronized MetadataOperation newGetTablesOperation(
      HiveSession session, String catalog, String schema, String table, List<String> types) {
    return super.newGetTablesOperation(session, catalog, granted(session, schema), table, types);
  }

  @Override
  public synchronized GetColumnsOperation newGetColumnsOperation(
      HiveSession session, String catalog, String schema, String table, String column) {
    return super.newGetColumnsOperation(session, catalog, granted(session, schema), table, column);
  }

  @Override
  public synchronized GetFunctionsOperation newGetFunctionsOperation(
      HiveSession session, String catalog, String schema, String function) {
    return super.newGetFunctionsOperation(session, catalog, granted(session, schema), function);
  }

  /** Refused: Spark does not implement these, and Hive's own would open a metastore. */
  @Override
  public org.apache.hive.service.cli.operation.GetPrimaryKeysOperation newGetPrimaryKeysOperation(
      HiveSession session, String catalog, String schema, String table) {
    throw new SecurityException(
        "not allowed for " + session.getUserName() + ": getPrimaryKeys is not allowed");
  }

  @Override
  public org.apache.hive.service.cli.operation.GetCrossReferenceOperation
      newGetCrossReferenceOperation(HiveSession session, String primaryCatalog,
          String primarySchema, String primaryTable, String foreignCatalog, String foreignSchema,
          String foreignTable) {
    throw new SecurityException(
        "not allowed for " + session.getUserName() + ": getCrossReference is not allowed");
  }
}
