package pooling.authz;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The query audit spool: one JSON line per event, appended by the rule and moved into the Delta
 * audit table by the service. Statements are redacted before they touch the disk, and the file is
 * created readable by its owner only.
 */
final class Spool {
  private Spool() {}

  // A digit as an analyst may type one: ASCII, full-width or Thai.
  private static final String DIGIT = "[0-9\\uFF10-\\uFF19\\u0E50-\\u0E59]";
  // The separators citizen-ID normalisation removes (pseudonymize/citizen_id.py).
  private static final String SEP = "[\\s\\-\\u2010-\\u2015/.]?";
  private static final Pattern CITIZEN_ID =
      Pattern.compile("(?<!" + DIGIT + ")" + DIGIT + "(?:" + SEP + DIGIT + "){12}(?!" + DIGIT + ")");
  private static final Pattern PHONE =
      Pattern.compile(
          "(?<!" + DIGIT + ")[0\\uFF10\\u0E50]" + DIGIT + "(?:" + SEP + DIGIT + "){7,8}(?!"
              + DIGIT + ")");
  private static final Pattern THAI = Pattern.compile("[\\u0E00-\\u0E7F]+");
  private static final int MAX_STATEMENT = 8000;

  static String redact(String s) {
    if (s == null) {
      return "";
    }
    s = CITIZEN_ID.matcher(s).replaceAll("<redacted>");
    s = PHONE.matcher(s).replaceAll("<redacted>");
    s = THAI.matcher(s).replaceAll("<redacted>");
    return s.length() > MAX_STATEMENT ? s.substring(0, MAX_STATEMENT) + "…" : s;
  }

  static synchronized void write(
      String file,
      String event,
      String id,
      String analyst,
      String statement,
      List<String> tables,
      String refusal) {
    if (file == null || file.isEmpty()) {
      return;
    }
    String line =
        "{\"ts\":" + json(Instant.now().toString())
            + ",\"event\":" + json(event)
            + ",\"id\":" + json(id == null ? "" : id)
            + ",\"analyst\":" + json(analyst)
            + ",\"statement\":" + json(redact(statement))
            + ",\"tables\":[" + String.join(",", tables.stream().map(Spool::json).toList())
            + "],\"refusal\":" + json(refusal == null ? "" : redact(refusal)) + "}\n";
    try {
      Path path = Paths.get(file);
      if (!Files.exists(path)) {
        try {
          Files.createFile(path, PosixFilePermissions.asFileAttribute(
              PosixFilePermissions.fromString("rw-------")));
        } catch (java.nio.file.FileAlreadyExistsException e) {
          // another thread of this JVM made it first
        }
      }
      Files.writeString(path, line, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    } catch (IOException e) {
      // A statement that cannot be audited does not run.
      throw new SecurityException("not allowed: the query audit spool cannot be written");
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
