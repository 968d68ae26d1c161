/* The reference MCU firmware as a POSIX process: runs the portable core (murmur_mcu.c) on a tty such as
 * one end of a socat pty pair, so the host side can be tested against the real C code.
 * usage: murmur-mcu TTY_PATH    (exits on SIGTERM or when the tty closes) */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "murmur_mcu.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static uint32_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

static void write_all(void *user, const uint8_t *bytes, size_t len) {
  int fd = *(int *)user;
  size_t off = 0;
  int spins = 0;
  while (off < len && spins < 1000) {
    ssize_t n = write(fd, bytes + off, len - off);
    if (n > 0) {
      off += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      struct pollfd p;
      p.fd = fd;
      p.events = POLLOUT;
      p.revents = 0;
      (void)poll(&p, 1, 10);
      spins++;
    } else {
      return; /* the peer went away; the read side notices and exits */
    }
  }
}

static int make_raw(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) != 0) return -1;
  t.c_iflag &= (tcflag_t) ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.c_oflag &= (tcflag_t)~OPOST;
  t.c_lflag &= (tcflag_t) ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= (tcflag_t) ~(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  return tcsetattr(fd, TCSANOW, &t);
}

int main(int argc, char **argv) {
  static struct mcu_ctx ctx; /* static: large, and no heap */
  struct sigaction sa;
  int fd;
  if (argc != 2) {
    fprintf(stderr, "usage: %s TTY_PATH\n", argv[0]);
    return 2;
  }
  fd = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    fprintf(stderr, "murmur-mcu: cannot open %s: %s\n", argv[1], strerror(errno));
    return 5;
  }
  if (make_raw(fd) != 0) {
    fprintf(stderr, "murmur-mcu: %s is not a tty: %s\n", argv[1], strerror(errno));
    return 5;
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  mcu_init(&ctx, write_all, &fd);
  printf("{\"ready\":true,\"protocol\":%u}\n", MCU_PROTOCOL_VERSION);
  fflush(stdout);
  while (!stop_requested) {
    uint8_t buf[512];
    struct pollfd p;
    uint32_t wait = mcu_poll(&ctx, now_ms());
    ssize_t n, i;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, wait > 100u ? 100 : (int)wait) < 0 && errno != EINTR) break;
    if (!(p.revents & (POLLIN | POLLHUP | POLLERR))) continue;
    n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break; /* EOF or EIO: the other end of the pty closed */
    for (i = 0; i < n; i++) mcu_rx_byte(&ctx, buf[i], now_ms());
  }
  close(fd);
  return 0;
}
