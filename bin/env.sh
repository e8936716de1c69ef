# Sourced by the other scripts: installs what the driver needs on a Debian machine (as root)
# and selects a Java 25 JDK.
set -euo pipefail

install_packages() {
  local need=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "jfs-csi needs these Debian packages: ${need[*]} (run as root to install them)" >&2
    return 1
  fi
  echo "installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

select_java() {
  if [ -n "${JAVA_HOME:-}" ] && "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "25'; then
    return 0
  fi
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*25*; do
    if [ -x "$d/bin/java" ]; then
      export JAVA_HOME="$d"
      return 0
    fi
  done
  echo "jfs-csi needs a Java 25 JDK (looked in /usr/lib/jvm)" >&2
  return 1
}

# fuse3 brings fusermount3 and /dev/fuse support, bindfs is the embedded default's client,
# util-linux gives setsid, procps gives ps for diagnostics, gcc builds the native helper jfs-nsbind.
install_packages fuse3 bindfs util-linux procps gcc libc6-dev
select_java
export PATH="$JAVA_HOME/bin:$PATH"
