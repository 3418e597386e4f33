package pooling.authz;

import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;

import scala.jdk.javaapi.CollectionConverters;

/**
 * A depth-first walk over a plan, shared by the parsed-plan ({@link Guard}) and analysed-plan
 * ({@link Check}) allow-lists: each node, then its expressions, its children and its subqueries.
 * Returns null if everything is allowed, else the first refusal.
 */
abstract class PlanWalk {
  /** Why this node is refused (its expressions and children are walked after), or null. */
  abstract String node(LogicalPlan p, String name);

  /** Why this expression, or one inside it, is refused, or null. */
  abstract String expression(Expression e);

  String plan(LogicalPlan p) {
    String refusal = node(p, p.getClass().getSimpleName());
    if (refusal != null) {
      return refusal;
    }
    for (Expression e : CollectionConverters.asJava(p.expressions())) {
      refusal = expression(e);
      if (refusal != null) {
        return refusal;
      }
    }
    for (LogicalPlan c : CollectionConverters.asJava(p.children())) {
      refusal = plan(c);
      if (refusal != null) {
        return refusal;
      }
    }
    for (LogicalPlan s : CollectionConverters.asJava(p.subqueries())) {
      refusal = plan(s);
      if (refusal != null) {
        return refusal;
      }
    }
    return null;
  }
}
