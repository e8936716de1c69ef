package io.jfscsi.csi;

import io.jfscsi.Failure;
import io.jfscsi.testing.Trials;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/** Volume ids the CSI edge accepts, drawn from the characters that break naive names. */
public final class AdversarialStrings {
  private AdversarialStrings() {}

  static final List<String> PIECES =
      List.of(
          "é",
          "ü",
          "ボ",
          "\uD83C\uDF89",
          " ",
          "\u202e",
          "\u200b",
          "\uFEFF",
          ".",
          "-",
          "_",
          "$",
          "%",
          "%zz",
          "*",
          "?",
          "[",
          "'",
          "\"",
          "\\",
          ";",
          "&",
          "=",
          ",",
          "!",
          "~",
          ":",
          "@",
          "+",
          "a",
          "Z",
          "0",
          "İ",
          "ß",
          "ǅ",
          "Ω");

  /** An id that {@link RequestChecks#volumeId} accepts: 1 to 253 bytes, no '/', no "..". */
  public static String acceptedVolumeId(Random random) {
    while (true) {
      StringBuilder s = new StringBuilder();
      int pieces = random.nextInt(10) == 0 ? 200 : 1 + random.nextInt(12);
      for (int i = 0; i < pieces; i++) {
        s.append(Trials.pick(random, PIECES));
      }
      String id = s.toString();
      while (id.getBytes(StandardCharsets.UTF_8).length > RequestChecks.MAX_ID_LENGTH) {
        id = id.substring(0, id.length() - 1); // may split a pair: an odd id too
      }
      try {
        return RequestChecks.volumeId("volume_id", id);
      } catch (Failure refused) {
        // e.g. ".." made of two pieces: draw again
      }
    }
  }
}
