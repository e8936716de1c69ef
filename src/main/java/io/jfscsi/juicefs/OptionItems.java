package io.jfscsi.juicefs;

import java.util.function.BiConsumer;

/**
 * Walks a comma list of {@code name} or {@code name=value} items, the way mount flags, {@code
 * mountOptions} and {@code format-options} are written. Blank items are skipped; the value is null
 * for a bare name.
 */
final class OptionItems {
  private OptionItems() {}

  static void forEach(String commaList, BiConsumer<String, String> item) {
    for (String part : commaList.split(",")) {
      String raw = part.strip();
      if (raw.isEmpty()) {
        continue;
      }
      int eq = raw.indexOf('=');
      item.accept(
          (eq < 0 ? raw : raw.substring(0, eq)).strip(),
          eq < 0 ? null : raw.substring(eq + 1).strip());
    }
  }
}
