package io.jfscsi.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the targets of a client as format 2 recorded them, so that an upgrade loses none: one
 * file per target in {@code <name>.targets/}, named by the SHA-256 of the target path ({@code .ro}
 * appended for a read-only target), holding the flag and the path. A file whose content does not
 * match its name is skipped (and logged), so it can neither invent a target nor break the record.
 * {@link ClientRecordStore} removes the directory at the client's first save.
 */
final class FormatTwoTargets {
  private static final Logger log = LoggerFactory.getLogger(FormatTwoTargets.class);
  private static final String READ_ONLY_SUFFIX = ".ro";

  private FormatTwoTargets() {}

  /** The name format 2 gave the file of a target. */
  static String targetFileName(String target, boolean readOnly) {
    return SafeNames.sha256(target) + (readOnly ? READ_ONLY_SUFFIX : "");
  }

  /** The targets of a format-2 directory: target path -> read-only; null if there is none. */
  static Map<String, Boolean> read(Path targetsDir) throws IOException {
    Map<String, Boolean> out = new HashMap<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(targetsDir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        if (name.startsWith(".")) {
          if (name.endsWith(".tmp")) {
            ClientRecordStore.deleteIfAbandoned(f);
          }
          continue;
        }
        String target = parseTargetFile(f, name);
        if (target == null) {
          continue;
        }
        // A flag changed by a save that did not finish: both files are there. Read-only wins.
        out.merge(target, name.endsWith(READ_ONLY_SUFFIX), Boolean::logicalOr);
      }
    } catch (NoSuchFileException e) {
      return null;
    }
    return out;
  }

  /** The target a format-2 file names, or null (logged) if it is damaged. */
  private static String parseTargetFile(Path f, String name) {
    try {
      String text = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
      boolean readOnly = name.endsWith(READ_ONLY_SUFFIX);
      String prefix = (readOnly ? "ro" : "rw") + "\n";
      if (text.startsWith(prefix) && text.endsWith("\n") && text.length() > prefix.length() + 1) {
        String target = text.substring(prefix.length(), text.length() - 1);
        if (targetFileName(target, readOnly).equals(name)) {
          return target;
        }
      }
      log.warn("skipping damaged target file {} ({} bytes): its content does not match its name", f, text.length());
    } catch (NoSuchFileException e) {
      log.debug("target file {} was removed since the listing", f);
    } catch (IOException e) {
      log.warn("skipping unreadable target file {}: {}", f, e.toString());
    }
    return null;
  }
}
