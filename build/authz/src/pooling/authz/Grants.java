package pooling.authz;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.Map;

/**
 * analyst → (database → its pool folder), from the grants file that the service writes from
 * {@code conf/projects/*.yaml}: one "analyst TAB database TAB pool folder" per line. The file is
 * read again whenever it changes, so a revoked analyst is refused without a restart.
 */
final class Grants {
  private static volatile Map<String, Map<String, String>> cached = Map.of();
  private static volatile FileTime cachedAt;
  private static volatile String cachedFile;

  private Grants() {}

  static Map<String, String> of(String file, String analyst) {
    return all(file).getOrDefault(analyst, Map.of());
  }

  static synchronized Map<String, Map<String, String>> all(String file) {
    if (file == null || file.isEmpty()) {
      return Map.of();
    }
    Path path = Paths.get(file);
    try {
      FileTime mtime = Files.getLastModifiedTime(path);
      if (file.equals(cachedFile) && mtime.equals(cachedAt)) {
        return cached;
      }
      Map<String, Map<String, String>> g = new HashMap<>();
      for (String line : Files.readAllLines(path, StandardCharsets.UTF_8)) {
        String[] parts = line.split("\t");
        if (parts.length == 3) {
          g.computeIfAbsent(parts[0], k -> new HashMap<>()).put(parts[1], parts[2]);
        }
      }
      cached = g;
      cachedAt = mtime;
      cachedFile = file;
      return g;
    } catch (IOException e) {
      // No grants file, no grants: deny rather than serve on stale ones.
      throw new SecurityException("not allowed: the grants file cannot be read");
    }
  }
}
