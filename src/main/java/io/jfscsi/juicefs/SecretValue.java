package io.jfscsi.juicefs;

/** A secret string that cannot leak through toString, logs or error messages. */
public record SecretValue(String reveal) {
  @Override
  public String toString() {
    return "******";
  }
}
