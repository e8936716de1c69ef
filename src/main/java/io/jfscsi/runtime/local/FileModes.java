package io.jfscsi.runtime.local;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/** Owner-only files and directories for state that holds secrets. */
final class FileModes {
  static final Set<PosixFilePermission> DIR = PosixFilePermissions.fromString("rwx------");
  static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");

  private FileModes() {}

  static FileAttribute<Set<PosixFilePermission>> fileAttribute() {
    return PosixFilePermissions.asFileAttribute(FILE);
  }

  /** Creates the directory 0700, and tightens it to 0700 if it already existed. */
  static void createPrivateDirectories(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, DIR);
  }

  /** Creates the file 0600 if missing (the umask cannot widen it: the mode is set again). */
  static void createPrivateFile(Path file) throws IOException {
    try {
      Files.createFile(file, fileAttribute());
    } catch (FileAlreadyExistsException e) {
      // Keep it: logs are appended to.
    }
    Files.setPosixFilePermissions(file, FILE);
  }
}
