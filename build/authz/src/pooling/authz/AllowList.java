package pooling.authz;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.analysis.FunctionRegistry$;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;

/**
 * The allow-lists of {@code allowed.txt} (a resource beside this class): plan nodes of the parsed
 * and the analysed plan, expressions, join hints and SQL functions. Everything else is refused.
 */
final class AllowList {
  final Set<String> parsed;
  final Set<String> clientSettings;
  final Set<String> hints;
  final Set<String> analyzed;
  final Set<String> functions;
  /** Expression classes an analysed plan may hold: the listed ones and the allowed functions'. */
  final Set<String> expressions;

  private AllowList(Map<String, Set<String>> sections) {
    parsed = section(sections, "parsed");
    clientSettings = section(sections, "client-settings");
    hints = section(sections, "hints");
    analyzed = section(sections, "analyzed");
    functions = section(sections, "functions");
    Set<String> classes = new HashSet<>(section(sections, "expressions"));
    // Spark's registry says which class implements each function; a name that this Spark does
    // not know simply adds nothing.
    for (String f : functions) {
      scala.Option<ExpressionInfo> info =
          FunctionRegistry$.MODULE$.builtin().lookupFunction(FunctionIdentifier.apply(f));
      if (info.isDefined()) {
        String cls = info.get().getClassName();
        classes.add(cls.substring(cls.lastIndexOf('.') + 1));
      }
    }
    expressions = Set.copyOf(classes);
  }

  private static Set<String> section(Map<String, Set<String>> sections, String name) {
    Set<String> s = sections.get(name);
    if (s == null) {
      throw new IllegalStateException("allowed.txt has no [" + name + "] section");
    }
    return Set.copyOf(s);
  }

  private static volatile AllowList loaded;

  static AllowList get() {
    AllowList a = loaded;
    if (a == null) {
      synchronized (AllowList.class) {
        if (loaded == null) {
          loaded = new AllowList(read());
        }
        a = loaded;
      }
    }
    return a;
  }

  private static Map<String, Set<String>> read() {
    Map<String, Set<String>> sections = new HashMap<>();
    try (InputStream in = AllowList.class.getResourceAsStream("allowed.txt")) {
      if (in == null) {
        throw new IllegalStateException("allowed.txt is missing from the access rule's jar");
      }
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
      Set<String> current = null;
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        line = line.strip();
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        if (line.startsWith("[") && line.endsWith("]")) {
          current = sections.computeIfAbsent(line.substring(1, line.length() - 1), k -> new HashSet<>());
          continue;
        }
        if (current == null) {
          throw new IllegalStateException("allowed.txt: a name before any [section]: " + line);
        }
        for (String name : line.split("\\s+")) {
          current.add(name);
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read allowed.txt", e);
    }
    return sections;
  }
}
