/* mksock PATH: leaves a Unix socket inode at PATH (bind, then exit), the
 * way a server that died leaves one. Built static so that it runs in the
 * busybox test environment. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  struct sockaddr_un addr;
  char* name;
  int fd;
  if (argc != 2) {
    fprintf(stderr, "usage: mksock PATH\n");
    return 2;
  }
  /* sun_path is short: bind the last component from inside its directory. */
  name = strrchr(argv[1], '/');
  if (name != NULL) {
    *name++ = '\0';
    if (chdir(argv[1]) != 0) {
      perror(argv[1]);
      return 1;
    }
  } else {
    name = argv[1];
  }
  if (strlen(name) >= sizeof addr.sun_path) {
    fprintf(stderr, "usage: mksock PATH (shorter than %zu bytes)\n",
            sizeof addr.sun_path);
    return 2;
  }
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  strcpy(addr.sun_path, name);
  fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    perror(name);
    return 1;
  }
  return 0;
}
