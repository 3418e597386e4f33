package pooling.authz;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.spark.scheduler.JobFailed;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.parser.ParserInterface;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;

import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * Analysts' access rule, a Spark session extension (spark.sql.extensions=pooling.authz.PoolingAuthz).
 *
 * <p>In an analyst's session (the Thrift server's authenticated user, or the local property
 * {@code pooling.analyst} set by {@code pooling sql --as}) a statement passes two allow-lists:
 * {@link Guard} on the parsed plan, before anything is resolved, and {@link Check} on the analysed
 * plan. Both name what is allowed ({@code allowed.txt}) and refuse the rest with the name of what
 * they refused. In between, {@link Builds.Pin} has each pool table read at its pool's last
 * complete build. Every statement is recorded in the audit spool before it runs, and a job of an
 * analyst's statement that is cancelled (time limit, client gone) is recorded too.
 */
public final class PoolingAuthz extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectParser(
        new AbstractFunction2<SparkSession, ParserInterface, ParserInterface>() {
          @Override
          public ParserInterface apply(SparkSession session, ParserInterface delegate) {
            return new Guard(session, delegate);
          }
        });
    extensions.injectHintResolutionRule(
        new AbstractFunction1<SparkSession, Rule<LogicalPlan>>() {
          @Override
          public Rule<LogicalPlan> apply(SparkSession session) {
            return new Builds.Pin(session);
          }
        });
    extensions.injectCheckRule(
        new AbstractFunction1<SparkSession, scala.Function1<LogicalPlan, BoxedUnit>>() {
          @Override
          public scala.Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
            Cancellations.register(session);
            return new Check(session);
          }
        });
    return BoxedUnit.UNIT;
  }

  /** A statement the rule let through: whose it is, and when it started. */
  record Statement(String analyst, long startMillis) {}

  /**
   * Records in the spool every failed or cancelled job of an analyst's statement, and makes
   * sure none outlives its statement: when a statement ends (finished, refused, timed out, its
   * client gone) the Thrift server interrupts its thread, but jobs that adaptive execution had
   * already submitted run on; they are cancelled here. A job still running past the time limit
   * is cancelled too, whatever the Thrift server did.
   */
  static final class Cancellations extends SparkListener {
    private static volatile boolean registered;
    private final String spool;
    private final org.apache.spark.SparkContext sc;
    private final long limitMillis;
    /** job id → {statement id, analyst, statement, SQL execution id, start millis} */
    private final Map<Integer, String[]> running = new ConcurrentHashMap<>();
    /** statement id → the statement, for statements the rule let through (the Thrift server's
     * jobs carry the statement id as their job group, whichever thread submits them). */
    static final Map<String, Statement> STATEMENTS = new ConcurrentHashMap<>();

    private Cancellations(SparkSession session) {
      this.spool = Who.spool(session);
      this.sc = session.sparkContext();
      this.limitMillis = 1000L * Long.parseLong(
          sc.getConf().get("spark.pooling.authz.timeoutSeconds", "0"));
    }

    static synchronized void register(SparkSession session) {
      if (registered || Who.spool(session).isEmpty()) {
        return;
      }
      Cancellations c = new Cancellations(session);
      session.sparkContext().addSparkListener(c);
      if (c.limitMillis > 0) {
        java.util.concurrent.ScheduledExecutorService watchdog =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
              Thread t = new Thread(r, "pooling-authz-time-limit");
              t.setDaemon(true);
              return t;
            });
        watchdog.scheduleWithFixedDelay(c::overTime, 1, 1, java.util.concurrent.TimeUnit.SECONDS);
      }
      registered = true;
    }

    private void overTime() {
      long now = System.currentTimeMillis();
      running.forEach((jobId, job) -> {
        if (now - Long.parseLong(job[4]) > limitMillis) {
          sc.cancelJob(jobId, "the statement ran past the time limit");
        }
      });
    }

    @Override
    public void onJobStart(SparkListenerJobStart start) {
      java.util.Properties p = start.properties();
      if (p == null) {
        return;
      }
      String analyst = p.getProperty("pooling.analyst.job", p.getProperty("pooling.analyst"));
      Statement statement = STATEMENTS.get(p.getProperty("spark.jobGroup.id", ""));
      if (analyst == null && statement != null) {
        analyst = statement.analyst();
      }
      if (analyst == null) {
        return; // the service's own work
      }
      running.put(start.jobId(), new String[] {
        p.getProperty("spark.jobGroup.id", ""),
        analyst,
        p.getProperty("spark.job.description", ""),
        p.getProperty("spark.sql.execution.id", ""),
        Long.toString(statement != null ? statement.startMillis() : start.time())
      });
    }

    @Override
    public void onOtherEvent(org.apache.spark.scheduler.SparkListenerEvent event) {
      if (STATEMENTS.size() > 100_000) {
        STATEMENTS.clear(); // statements long gone; their jobs have ended
      }
      if (event instanceof org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd) {
        String id = Long.toString(
            ((org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionEnd) event).executionId());
        running.forEach((jobId, job) -> {
          if (job[3].equals(id)) {
            sc.cancelJob(jobId, "its statement has ended");
          }
        });
      }
    }

    @Override
    public void onJobEnd(SparkListenerJobEnd end) {
      String[] job = running.remove(end.jobId());
      if (job == null || !(end.jobResult() instanceof JobFailed)) {
        return;
      }
      String why = String.valueOf(((JobFailed) end.jobResult()).exception().getMessage());
      boolean cancelled = why.toLowerCase(java.util.Locale.ROOT).contains("cancel");
      int cap = why.indexOf(Guard.ROW_CAP);
      if (cap >= 0) { // the statement passed the row cap: its job ended with the cap's error
        cancelled = true;
        why = why.substring(cap, why.indexOf("further", cap) + "further".length());
      } else if (cancelled) { // Spark's message is the same whoever cancelled: say why
        long ran = end.time() - Long.parseLong(job[4]);
        why = limitMillis > 0 && ran >= limitMillis - 1000
            ? "the statement ran past the time limit (" + limitMillis / 1000 + " s)"
            : "the statement was closed or its client went away after " + ran / 1000 + " s";
      }
      Spool.write(spool, cancelled ? "cancelled" : "failed", job[0], job[1], job[2], List.of(),
          why.lines().findFirst().orElse(""));
    }
  }
}
