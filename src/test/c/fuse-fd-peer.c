/*
 * The JuiceFS client's side of the FUSE descriptor exchange, for FuseFdKeeperTest. It speaks what
 * juicedata/juicefs cmd/passfd.go (commit 08bff02f9c72f51233228d22b62a743e2472ecb0) speaks, written
 * here from a reading of it: the same buffers, the same message order, the same "CLOSE" answer.
 *
 *   lend SOCK FILE SETTING   open FILE read-write and hand it to the keeper (sendFuseFd)
 *   take SOCK [TEXT]         take the keeper's descriptor (getFuseFd), write TEXT into it
 *   take-return SOCK [TEXT]  take it, write TEXT, then hand it back as the client does
 *   supervise DIR FILE       serve DIR/fuse_fd_comm.<pid> holding FILE (handleFDRequest)
 *
 * Each line it prints: "ino=N" of a descriptor it holds, "setting=S", "nothing" or "ready".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MSG_BUF 120 /* Go's syscall.CmsgSpace(100) */

static void die(const char *what) {
  fprintf(stderr, "fuse-fd-peer: %s: %s\n", what, strerror(errno));
  exit(2);
}

static int dial(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) die("connect");
  return fd;
}

/* getFd(via, num): one recvmsg; returns the payload length, fills fds and *nfds. */
static int get_fd(int via, char *msg, int num, int *fds, int *nfds) {
  char oob[CMSG_SPACE(4 * 4)];
  struct iovec iov = {.iov_base = msg, .iov_len = MSG_BUF};
  struct msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = oob,
                       .msg_controllen = CMSG_SPACE(num * 4)};
  ssize_t n = recvmsg(via, &hdr, 0);
  if (n < 0) die("recvmsg");
  *nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr); c; c = CMSG_NXTHDR(&hdr, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int k = (c->cmsg_len - CMSG_LEN(0)) / 4;
      memcpy(fds + *nfds, CMSG_DATA(c), k * 4);
      *nfds += k;
    }
  }
  msg[n] = 0;
  return (int)n;
}

/* putFd(via, msg, fds...) */
static void put_fd(int via, const char *msg, int len, int fd) {
  char oob[CMSG_SPACE(4)];
  struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
  struct msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = oob,
                       .msg_controllen = sizeof(oob)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&hdr);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(4);
  memcpy(CMSG_DATA(c), &fd, 4);
  if (sendmsg(via, &hdr, 0) < 0) die("sendmsg");
}

static void print_ino(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  printf("ino=%lu\n", (unsigned long)st.st_ino);
  fflush(stdout);
}

/* sendFuseFd(path, msg, fd) */
static void send_fuse_fd(const char *path, const char *msg, int len, int fd) {
  char buf[MSG_BUF + 1];
  int fds[8], n;
  int conn = dial(path);
  get_fd(conn, buf, 2, fds, &n);
  for (int i = 0; i < n; i++) close(fds[i]);
  put_fd(conn, msg, len, fd);
  close(conn);
}

/* getFuseFd(path): the descriptor, or -1; the setting in setting. */
static int get_fuse_fd(const char *path, char *setting, int *len) {
  int fds[8], n;
  int conn = dial(path);
  *len = get_fd(conn, setting, 2, fds, &n);
  if (n > 0) close(fds[0]);
  int fd = -1;
  if (n > 1) {
    int zero = 0;
    put_fd(conn, "CLOSE", 5, zero);
    fd = fds[1];
  }
  close(conn);
  return fd;
}

static void supervise(const char *dir, const char *file) {
  char path[100], setting[MSG_BUF + 1] = "INIT-SETTING";
  int setting_len = strlen(setting);
  int fuse_fd = open(file, O_RDWR);
  if (fuse_fd < 0) die("open");
  snprintf(path, sizeof(path), "%s/fuse_fd_comm.%d", dir, getpid());
  int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  unlink(path);
  if (bind(sock, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(sock, 4) != 0) die("bind");
  printf("ready\n");
  fflush(stdout);
  for (;;) { /* handleFDRequest */
    int conn = accept(sock, NULL, NULL);
    if (conn < 0) die("accept");
    int null_fd = open("/dev/null", O_RDONLY);
    int fds[8] = {null_fd, fuse_fd}, n;
    char oob[CMSG_SPACE(8)];
    struct iovec iov = {.iov_base = setting, .iov_len = setting_len};
    struct msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = oob,
                         .msg_controllen = CMSG_SPACE(fuse_fd > 0 ? 8 : 4)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&hdr);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fuse_fd > 0 ? 8 : 4);
    memcpy(CMSG_DATA(c), fds, fuse_fd > 0 ? 8 : 4);
    if (sendmsg(conn, &hdr, 0) < 0) die("sendmsg");
    close(null_fd);
    if (fuse_fd > 0) {
      close(fuse_fd);
      fuse_fd = -1;
      printf("gave\n");
    }
    char msg[MSG_BUF + 1];
    int len = get_fd(conn, msg, 1, fds, &n);
    if (strcmp(msg, "CLOSE") != 0 && fuse_fd <= 0 && n == 1) {
      fuse_fd = fds[0];
      memcpy(setting, msg, len);
      setting_len = len;
      printf("got ");
      print_ino(fuse_fd);
    } else {
      for (int i = 0; i < n; i++) close(fds[i]);
    }
    fflush(stdout);
    close(conn);
  }
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "lend") == 0) {
    int fd = open(argv[3], O_RDWR);
    if (fd < 0) die("open");
    print_ino(fd);
    send_fuse_fd(argv[2], argv[4], strlen(argv[4]), fd);
    return 0;
  }
  if (argc >= 3 && strncmp(argv[1], "take", 4) == 0) {
    char setting[MSG_BUF + 1];
    int len;
    int fd = get_fuse_fd(argv[2], setting, &len);
    if (fd < 0) {
      printf("nothing\nsetting=%s\n", setting);
      return 0;
    }
    print_ino(fd);
    printf("setting=%s\n", setting);
    fflush(stdout);
    if (argc >= 4 && write(fd, argv[3], strlen(argv[3])) < 0) die("write");
    if (strcmp(argv[1], "take-return") == 0) send_fuse_fd(argv[2], setting, len, fd);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "supervise") == 0) supervise(argv[2], argv[3]);
  fprintf(stderr, "usage: fuse-fd-peer lend|take|take-return|supervise ...\n");
  return 64;
}
