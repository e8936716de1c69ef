package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The command lines of the JuiceFS Community Edition client for a volume, as argv lists to run
 * without a shell (so no value is ever interpreted by one).
 *
 * <p>Secrets on a command line are readable by every local user in {@code /proc/PID/cmdline}, so
 * they go through the environment ({@link #environment}): the metaurl's password as META_PASSWORD
 * ({@link MetaPassword}), the object storage keys as ACCESS_KEY and SECRET_KEY, the session token
 * as SESSION_TOKEN. The price: {@code juicefs format} reads the keys and the token from the
 * environment only when it creates a volume, so values changed in the Secret no longer reach an
 * existing volume by themselves (see docs/operations.md, rotating object storage keys). Log argv
 * only through {@link #redacted}.
 *
 * @param binary the {@code juicefs} executable, a name looked up on PATH or a path
 */
public record ClientCommand(String binary) {

  /** {@code juicefs} from PATH. */
  public static final ClientCommand DEFAULT = new ClientCommand("juicefs");

  static final String MASK = "******";

  /** The variable {@code juicefs format} reads the session token from when it creates a volume. */
  public static final String SESSION_TOKEN_ENV = "SESSION_TOKEN";

  /** The variable juicefs reads the RSA key's passphrase from (format and mount). */
  public static final String PASSPHRASE_ENV = SecretSettings.PASSPHRASE_ENV;

  /** Subcommands whose second word is part of the command ({@code quota set}). */
  private static final Set<String> TWO_WORD_SUBCOMMANDS = Set.of("quota");

  /** Subcommands that work on a mounted volume's paths and so take no metaurl ({@code clone}). */
  private static final Set<String> NO_METAURL_SUBCOMMANDS = Set.of("clone");

  /** Flags whose value is a credential, in the spellings of CE and EE clients. */
  private static final Set<String> SECRET_FLAGS =
      Set.of(
          "access-key",
          "secret-key",
          "session-token",
          "token",
          "passphrase",
          "access-key2",
          "secret-key2",
          "accesskey",
          "secretkey",
          "accesskey2",
          "secretkey2");

  /**
   * {@code juicefs format}: creates the volume if the metadata engine holds none, and otherwise
   * updates its storage settings. As in the Go driver, {@code --no-update} is added when storage or
   * bucket is not given, so that a secret holding only name and metaurl never resets an existing
   * volume's storage to the defaults.
   */
  public List<String> formatArgs(VolumeSettings settings) {
    return formatArgs(settings, RSA_KEY_IN_POD);
  }

  /** Where a Mount Pod finds the volume's RSA key (a Secret volume), as in the Go driver. */
  public static final Path RSA_KEY_IN_POD = Path.of("/root/.rsa/rsa-key.pem");

  /**
   * {@code juicefs format}, with {@code --encrypt-rsa-key=<rsaKeyFile>} when the volume has an RSA
   * key ({@code encrypt_rsa_key}): the caller writes the key there.
   */
  public List<String> formatArgs(VolumeSettings settings, Path rsaKeyFile) {
    requireJuiceFs(settings);
    List<String> argv = new ArrayList<>(List.of(binary, "format"));
    boolean noUpdate = settings.storage().isEmpty() || settings.bucket().isEmpty();
    if (noUpdate) {
      argv.add("--no-update");
    }
    settings.storage().ifPresent(s -> argv.add("--storage=" + s));
    settings.bucket().ifPresent(b -> argv.add("--bucket=" + b));
    settings
        .formatOptions()
        .forEach(
            (name, value) -> {
              // A credential goes through the environment (see environment()), never on argv.
              if (!(noUpdate && name.equals("no-update"))
                  && !FormatOptions.SECRET_OPTIONS.contains(name)) {
                argv.add(value.isEmpty() ? "--" + name : "--" + name + "=" + value);
              }
            });
    if (settings.encryptRsaKey().isPresent()) {
      argv.add("--encrypt-rsa-key=" + rsaKeyFile);
    }
    argv.add(MetaPassword.split(settings.metaUrl().reveal()).url());
    argv.add(settings.fsName());
    return List.copyOf(argv);
  }

  /**
   * {@code juicefs mount} in the foreground (no {@code -d}: the caller supervises the process).
   * JuiceFS options become {@code --name[=value]} flags and FUSE options one {@code -o} list:
   * {@code juicefs mount} reads {@code -o} as FUSE options only (turning {@code -o cache-size=..}
   * into flags is what its {@code mount.juicefs} entry point does).
   */
  public List<String> mountArgs(VolumeSettings settings, Path mountPath) {
    requireJuiceFs(settings);
    if (!mountPath.isAbsolute()) {
      throw new IllegalArgumentException("the mount path must be absolute");
    }
    List<String> argv = new ArrayList<>(List.of(binary, "mount"));
    List<String> fuse = new ArrayList<>();
    for (String option : settings.mountOptions()) {
      int eq = option.indexOf('=');
      String name = eq < 0 ? option : option.substring(0, eq);
      boolean isFuse = MountOptionCatalog.find(name).map(OptionSpec::fuse).orElse(false);
      if (isFuse) {
        if (!name.equals("rw")) { // the default; not every fusermount passes it on
          fuse.add(option);
        }
      } else {
        argv.add("--" + option);
      }
    }
    if (!fuse.isEmpty()) {
      argv.add("-o");
      argv.add(String.join(",", fuse));
    }
    argv.add(MetaPassword.split(settings.metaUrl().reveal()).url());
    argv.add(mountPath.toString());
    return List.copyOf(argv);
  }

  /**
   * {@code juicefs quota set} of a volume's directory quota, as the Go driver runs it ({@code
   * --path /<subdir>/<subPath> --capacity <GiB> --create}); the metaurl's password goes through the
   * environment ({@link #environment}) as for every other command. {@code --create} makes the
   * directory when the volume has not been mounted yet.
   */
  public List<String> quotaSetArgs(VolumeSettings settings, DirectoryQuota quota) {
    requireJuiceFs(settings);
    return List.of(
        binary,
        "quota",
        "set",
        MetaPassword.split(settings.metaUrl().reveal()).url(),
        "--path",
        quota.path(),
        "--capacity",
        Long.toString(quota.gibibytes()),
        "--create");
  }

  /**
   * {@code juicefs clone -p}: a copy of the directory {@code source} at {@code target} (which must
   * not exist) made in the metadata alone, keeping owners and modes ({@code -p}), as the Go driver
   * makes a snapshot and restores one. Both paths lie in one mounted volume; the command needs no
   * metaurl and no secret.
   */
  public List<String> cloneArgs(Path source, Path target) {
    return List.of(binary, "clone", "-p", source.toString(), target.toString());
  }

  /**
   * The environment to add for the client: the secret's {@code envs}, then the object storage keys
   * as ACCESS_KEY and SECRET_KEY and the session token as SESSION_TOKEN (which {@code juicefs
   * format} reads when it creates a volume) and the metaurl's password as META_PASSWORD. The
   * secret's keys win over the same names in {@code envs}.
   */
  public static Map<String, String> environment(VolumeSettings settings) {
    Map<String, String> env = new LinkedHashMap<>(settings.envs());
    settings.accessKey().ifPresent(k -> env.put("ACCESS_KEY", k.reveal()));
    settings.secretKey().ifPresent(k -> env.put("SECRET_KEY", k.reveal()));
    settings.sessionToken().ifPresent(t -> env.put(SESSION_TOKEN_ENV, t.reveal()));
    settings.passphrase().ifPresent(p -> env.put(SecretSettings.PASSPHRASE_ENV, p.reveal()));
    MetaPassword.split(settings.metaUrl().reveal())
        .password()
        .ifPresent(p -> env.put(MetaPassword.ENV, p));
    return Map.copyOf(env);
  }

  /**
   * {@code argv} fit for a log: credential flags show {@code ******}, the metaurl shows only its
   * scheme, and a password inside a URL-valued flag (a bucket such as redis://:pw@host) is masked.
   */
  public static List<String> redacted(List<String> argv) {
    List<String> out = new ArrayList<>(argv.size());
    boolean seenSubcommand = false;
    boolean seenMetaUrl = false;
    for (int i = 0; i < argv.size(); i++) {
      String arg = argv.get(i);
      if (i == 0) {
        out.add(arg);
      } else if (arg.equals("-o") && i + 1 < argv.size()) {
        out.add(arg);
        out.add(argv.get(++i));
      } else if (arg.startsWith("-")) {
        String flag = arg.replaceFirst("^-+", "");
        int eq = flag.indexOf('=');
        String name = eq < 0 ? flag : flag.substring(0, eq);
        if (!SECRET_FLAGS.contains(name)) {
          out.add(
              eq < 0
                  ? arg
                  : arg.substring(0, arg.indexOf('=') + 1)
                      + maskUrlPassword(flag.substring(eq + 1)));
        } else if (eq >= 0) {
          out.add(arg.substring(0, arg.indexOf('=') + 1) + MASK);
        } else {
          out.add(arg);
          if (i + 1 < argv.size()) { // "--secret-key VALUE"
            out.add(MASK);
            i++;
          }
        }
      } else if (!seenSubcommand) {
        seenSubcommand = true;
        out.add(arg);
        if (NO_METAURL_SUBCOMMANDS.contains(arg)) {
          seenMetaUrl = true;
        }
        if (TWO_WORD_SUBCOMMANDS.contains(arg) && i + 1 < argv.size()) {
          out.add(argv.get(++i)); // "quota set": the metaurl comes after both words
        }
      } else if (!seenMetaUrl) {
        seenMetaUrl = true;
        int scheme = arg.indexOf("://");
        out.add(scheme < 0 ? MASK : arg.substring(0, scheme + 3) + MASK);
      } else {
        out.add(arg);
      }
    }
    return List.copyOf(out);
  }

  /** Marks an environment reference inside an argument; NUL never occurs in a real argument. */
  private static final char REF = '\0';

  /**
   * A placeholder for the value of environment variable {@code name}, to put into settings or argv
   * in place of a secret value; {@link #shellLine} turns it into {@code "${name}"}.
   */
  public static String envRef(String name) {
    if (!name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new IllegalArgumentException("not a shell variable name: " + name);
    }
    return REF + name + REF;
  }

  /**
   * {@code argv} as one line for {@code sh -c} in a container: literal text single-quoted (so the
   * shell interprets nothing in it), each {@link #envRef} as {@code "${NAME}"} (so a secret reaches
   * the command through the environment and never appears in the pod spec). Every {@code $} of
   * literal text is doubled, because kubelet turns {@code $$} into {@code $} and would otherwise
   * expand {@code $(NAME)} in a container command.
   */
  public static String shellLine(List<String> argv) {
    List<String> words = new ArrayList<>(argv.size());
    for (String arg : argv) {
      words.add(shellWord(arg));
    }
    return String.join(" ", words);
  }

  static String shellWord(String arg) {
    if (arg.isEmpty()) {
      return "''";
    }
    StringBuilder out = new StringBuilder();
    String[] parts = arg.split(String.valueOf(REF), -1);
    if (parts.length % 2 == 0) {
      throw new IllegalArgumentException("unbalanced environment reference in an argument");
    }
    for (int i = 0; i < parts.length; i++) {
      String part = parts[i];
      if (i % 2 == 1) {
        out.append("\"${").append(part).append("}\"");
      } else if (!part.isEmpty()) {
        boolean plain = part.matches("[A-Za-z0-9_./:=,@%+-]+");
        String text = plain ? part : "'" + part.replace("'", "'\\''") + "'";
        out.append(text.replace("$", "$$"));
      }
    }
    return out.toString();
  }

  /**
   * {@code scheme://user:password@host...} (also after a {@code name=} prefix) with the password
   * masked; other text unchanged.
   */
  static String maskUrlPassword(String value) {
    int scheme = value.indexOf("://");
    int at = value.lastIndexOf('@');
    if (scheme < 0 || at < scheme) {
      return value;
    }
    int colon = value.indexOf(':', scheme + 3);
    if (colon < 0 || colon > at) {
      return value;
    }
    return value.substring(0, colon + 1) + MASK + value.substring(at);
  }

  private static void requireJuiceFs(VolumeSettings settings) {
    if (settings.localDirectory().isPresent()) {
      throw Failure.precondition(
          "volume "
              + settings.volumeId()
              + " names a local directory in"
              + " its metaurl; it is served without the juicefs client");
    }
  }
}
