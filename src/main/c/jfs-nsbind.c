/*
 * jfs-nsbind <pid> <source> <target>
 *
 * Replaces the stale mount at <target> inside the mount namespace of <pid> with a fresh clone of
 * <source> as this (the host's) namespace sees it. The JVM cannot do this itself: setns() into a
 * mount namespace refuses a multi-threaded caller, so this stays a tiny single-threaded program.
 *
 *   1. open_tree(OPEN_TREE_CLONE | AT_RECURSIVE) of <source> here, in the host namespace;
 *   2. setns() into /proc/<pid>/ns/mnt;
 *   3. refuse (exit 3) unless <target> is a mount point there, by that namespace's mountinfo
 *      as <pid> sees it (/proc/<pid>/mountinfo, opened before setns: inside a container /proc
 *      belongs to the container's PID namespace, where this helper has no pid and
 *      /proc/self does not resolve);
 *   4. give the clone every restriction (ro, nosuid, nodev, noexec) the stale mount had, and
 *      its propagation: the clone of a shared source is a peer of the host's mount, which a
 *      container whose volume has no propagation must not become (it would then see, and
 *      show the host, every mount beneath the volume); a private copy stays private, a slave
 *      one becomes a slave of the fresh source;
 *   5. move the clone beneath the stale mount at <target> and detach the stale one (Linux >= 6.5;
 *      on older kernels: detach the stale mount(s), then move the clone onto the target).
 *
 * Which target and which namespace is the caller's decision (the driver checks its references);
 * this program only refuses what it can see is wrong. Symbolic links are not followed: the
 * target's parent must be its own real path, and the last step works relative to it.
 *
 * Exit codes: 0 done, 2 usage, 3 target not a mount point in that namespace, 4 no such
 * namespace, 5 source cannot be cloned, 6 setns failed, 7 stale mount cannot be detached,
 * 8 fresh mount cannot be moved in, 9 restrictions or propagation cannot be set.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

/* glibc < 2.36 lacks these; the numbers are the same on every architecture but alpha. */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#endif
#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x200
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x1
#define MOUNT_ATTR_NOSUID 0x2
#define MOUNT_ATTR_NODEV 0x4
#define MOUNT_ATTR_NOEXEC 0x8
#endif
#ifndef MS_SLAVE
#define MS_SLAVE (1 << 19)
#define MS_PRIVATE (1 << 18)
#define MS_UNBINDABLE (1 << 17)
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW 0x8
#endif

struct attrs { uint64_t set, clr, propagation, userns_fd; }; /* struct mount_attr, v0 */

static const char *pid_arg, *target;
/* /proc/<pid>/mountinfo, opened in the host's /proc before setns; re-read from the start each time. */
static FILE *mountinfo;

static int fail(int code, const char *what) {
  fprintf(stderr, "jfs-nsbind: pid %s, target %s: %s%s%s\n", pid_arg ? pid_arg : "?",
          target ? target : "?", what, errno ? ": " : "", errno ? strerror(errno) : "");
  return code;
}

/* Decodes mountinfo's \ooo escapes in place. */
static void unescape(char *s) {
  char *out = s;
  for (; *s; s++) {
    if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0'
        && s[3] <= '7') {
      *out++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *out++ = *s;
    }
  }
  *out = 0;
}

/*
 * How many mounts are stacked at target in our namespace; ORs their restrictions into
 * attr->set and puts the propagation of the topmost one (the last listed) into
 * attr->propagation (0 for shared: a clone of the fresh source is shared already).
 */
static int mounts_at(struct attrs *attr) {
  FILE *f = mountinfo;
  char *line = NULL;
  size_t cap = 0;
  int n = 0;
  rewind(f);
  while (getline(&line, &cap, f) > 0) {
    char *save, *field[6];
    int i = 0;
    /* No token past the sixth is taken here: the optional fields follow. */
    for (char *t = strtok_r(line, " ", &save); t; t = i < 6 ? strtok_r(NULL, " ", &save) : NULL)
      field[i++] = t;
    if (i < 6) continue;
    unescape(field[4]);
    if (strcmp(field[4], target) != 0) continue;
    n++;
    if (!attr) continue;
    /* Optional fields (shared:N, master:N, propagate_from:N, unbindable) end at a lone "-". */
    int shared = 0, slave = 0, unbindable = 0;
    for (char *t = strtok_r(NULL, " ", &save); t && strcmp(t, "-") != 0;
         t = strtok_r(NULL, " ", &save)) {
      if (!strncmp(t, "shared:", 7)) shared = 1;
      else if (!strncmp(t, "master:", 7)) slave = 1;
      else if (!strcmp(t, "unbindable")) unbindable = 1;
    }
    attr->propagation = shared ? 0 : slave ? MS_SLAVE : unbindable ? MS_UNBINDABLE : MS_PRIVATE;
    for (char *o = strtok_r(field[5], ",", &save); o; o = strtok_r(NULL, ",", &save)) {
      if (!strcmp(o, "ro")) attr->set |= MOUNT_ATTR_RDONLY;
      else if (!strcmp(o, "nosuid")) attr->set |= MOUNT_ATTR_NOSUID;
      else if (!strcmp(o, "nodev")) attr->set |= MOUNT_ATTR_NODEV;
      else if (!strcmp(o, "noexec")) attr->set |= MOUNT_ATTR_NOEXEC;
    }
  }
  free(line);
  return ferror(f) ? -1 : n;
}

/* Whether our working directory is exactly dir, i.e. dir named no symbolic link. */
static int cwd_is(const char *dir) {
  char cwd[PATH_MAX];
  return getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: jfs-nsbind <pid> <source> <target>\n");
    return 2;
  }
  pid_arg = argv[1];
  target = argv[3];
  const char *source = argv[2];
  char *end;
  errno = 0;
  long pid = strtol(pid_arg, &end, 10);
  size_t len = strlen(target);
  if (errno || *end || pid <= 0 || source[0] != '/' || target[0] != '/' || len < 2
      || len >= PATH_MAX || target[len - 1] == '/') {
    errno = 0;
    return fail(2, "refused: the pid must be a number and both paths absolute (target not /)");
  }
  char parent[PATH_MAX];
  strcpy(parent, target);
  char *slash = strrchr(parent, '/');
  const char *name = target + (slash - parent) + 1;
  *(slash == parent ? slash + 1 : slash) = 0;

  char nspath[64];
  snprintf(nspath, sizeof nspath, "/proc/%ld/ns/mnt", pid);
  int ns = open(nspath, O_RDONLY | O_CLOEXEC);
  if (ns < 0) return fail(4, "cannot open its mount namespace");
  char infopath[64];
  snprintf(infopath, sizeof infopath, "/proc/%ld/mountinfo", pid);
  mountinfo = fopen(infopath, "re");
  if (!mountinfo) return fail(4, "cannot open its mount table");
  int tree = (int) syscall(SYS_open_tree, AT_FDCWD, source,
                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) return fail(5, "cannot clone the fresh source");
  if (setns(ns, CLONE_NEWNS) != 0) return fail(6, "setns into its mount namespace");

  /* From here on paths are that namespace's. Anchor at the parent so no link can redirect us. */
  struct attrs attr = {0};
  errno = 0;
  if (chdir(parent) != 0 || !cwd_is(parent)) {
    return fail(3, "refused: the target's parent is missing or is not its own real path there");
  }
  errno = 0;
  if (mounts_at(&attr) <= 0 || !cwd_is(parent)) {
    return fail(3, "refused: the target is not a mount point in that mount namespace");
  }
  if ((attr.set || attr.propagation)
      && syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                 sizeof attr) != 0) {
    return fail(9, "cannot give the fresh mount the stale one's restrictions and propagation");
  }
  /* Linux >= 6.5: slide the fresh mount beneath the stale one, then detach the stale one, so
   * whoever looks at the target sees the dead mount or the fresh one, never the directory
   * underneath. Older kernels refuse the flag: detach first, then move (a short window). */
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, name,
              MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) == 0) {
    if (umount2(name, MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      return fail(7, "cannot detach the stale mount above the fresh one");
    }
    return 0;
  }
  if (errno != EINVAL) return fail(8, "cannot move the fresh mount beneath the stale one");
  for (int i = 0; i < 16 && mounts_at(NULL) > 0; i++) {
    if (umount2(name, MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL) {
      return fail(7, "cannot detach the stale mount");
    }
  }
  errno = 0;
  if (mounts_at(NULL) != 0) return fail(7, "still a mount point after 16 detaches");
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, name, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    return fail(8, "cannot move the fresh mount in (the stale one is already detached)");
  }
  return 0;
}
