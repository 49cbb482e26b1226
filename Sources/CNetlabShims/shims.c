#define _GNU_SOURCE
#include "netlab_shims.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/errqueue.h>
#include <time.h>
#include <linux/errqueue.h>

#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif

int netlab_make_shared_mount_dir(const char *dir) {
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -errno;
    /* Same dance as iproute2's netns_add: make it shared, binding it onto itself first if it is
     * not a mount point yet (EINVAL). */
    for (int tries = 0; tries < 2; tries++) {
        if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0) return 0;
        if (errno != EINVAL || tries > 0) return -errno;
        if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0) return -errno;
    }
    return 0;
}

struct create_args { const char *path; int result; };

static void *create_thread(void *p) {
    struct create_args *a = p;
    if (unshare(CLONE_NEWNET) < 0) { a->result = -errno; return NULL; }
    /* /proc/thread-self, not /proc/self: from a non-main thread /proc/self/ns/net is the
     * process's (root) namespace. */
    if (mount("/proc/thread-self/ns/net", a->path, "none", MS_BIND, NULL) < 0) { a->result = -errno; return NULL; }
    a->result = 0;
    return NULL;
}

int netlab_netns_create(const char *path) {
    int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    close(fd);
    struct create_args a = { path, -EINVAL };
    pthread_t t;
    int rc = pthread_create(&t, NULL, create_thread, &a);
    if (rc != 0) { unlink(path); return -rc; }
    pthread_join(t, NULL);
    if (a.result < 0) unlink(path);
    return a.result;
}

int netlab_netns_delete(const char *path) {
    int r = 0;
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) r = -errno;
    if (unlink(path) < 0 && errno != ENOENT && r == 0) r = -errno;
    return r;
}

struct run_args { int nsfd; int (*fn)(void *); void *ctx; int result; };

static void *run_thread(void *p) {
    struct run_args *a = p;
    if (setns(a->nsfd, CLONE_NEWNET) < 0) { a->result = -errno; return NULL; }
    a->result = a->fn(a->ctx);
    return NULL;
}

int netlab_run_in_netns(int nsfd, int (*fn)(void *ctx), void *ctx) {
    struct run_args a = { nsfd, fn, ctx, -EINVAL };
    pthread_t t;
    int rc = pthread_create(&t, NULL, run_thread, &a);
    if (rc != 0) return -rc;
    pthread_join(t, NULL);
    return a.result;
}

struct sock_args { int domain, type, protocol; };
static int open_socket(void *p) {
    struct sock_args *s = p;
    int fd = socket(s->domain, s->type | SOCK_CLOEXEC, s->protocol);
    return fd < 0 ? -errno : fd;
}

int netlab_socket_in_netns(int nsfd, int domain, int type, int protocol) {
    struct sock_args s = { domain, type, protocol };
    return netlab_run_in_netns(nsfd, open_socket, &s);
}

struct write_args { const char *path; const char *value; };
static int write_file(void *p) {
    struct write_args *w = p;
    int fd = open(w->path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    size_t len = strlen(w->value);
    ssize_t n = write(fd, w->value, len);
    int e = errno;
    close(fd);
    if (n < 0) return -e;
    return n == (ssize_t)len ? 0 : -EIO;
}

int netlab_write_file_in_netns(int nsfd, const char *path, const char *value) {
    struct write_args w = { path, value };
    return netlab_run_in_netns(nsfd, write_file, &w);
}

struct read_args { const char *path; char *buf; size_t cap; };
static int read_file(void *p) {
    struct read_args *r = p;
    int fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t n = read(fd, r->buf, r->cap);
    int e = errno;
    close(fd);
    return n < 0 ? -e : (int)n;
}

int netlab_read_file_in_netns(int nsfd, const char *path, char *buf, size_t cap) {
    struct read_args r = { path, buf, cap };
    return netlab_run_in_netns(nsfd, read_file, &r);
}

static pid_t spawn(const char *path, char *const argv[], char *const envp[], int nsfd,
                   int in_fd, int out_fd, int err_fd, int new_pgrp, int die_with_parent,
                   const struct netlab_isolation *iso, int *failed_step) {
    int errpipe[2];
    pid_t parent = getpid();
    if (pipe2(errpipe, O_CLOEXEC) < 0) return -errno;
    /* vfork: the child borrows the parent's memory until execve, so no page tables are copied
     * (fork of a 30 MB process costs more than the CNI plugin it starts). The child makes only
     * system calls, touches no heap and returns from nothing, as vfork requires; the parent
     * thread waits until the child has exec'd or failed. */
    pid_t pid = vfork();
    if (pid < 0) { int e = errno; close(errpipe[0]); close(errpipe[1]); return -e; }
    if (pid == 0) {
        int e = 0;
        int step = NETLAB_STEP_EXEC;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int s = 1; s < 32; s++) if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
        if (new_pgrp) setpgid(0, 0);
        if (die_with_parent) {
            if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) { e = errno; goto fail; }
            if (getppid() != parent) _exit(127); /* the parent died before prctl took effect */
        }
        if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) < 0) { e = errno; goto fail; }
        /* Isolation: only system calls on memory the parent prepared, as vfork requires. New UTS
         * and mount namespaces belong to this child alone (vfork shares memory, not namespaces).
         * Before anything is mounted, every mount becomes a slave (as `ip netns exec` does): the
         * child's mounts never propagate back to netlab's mount namespace (nor, through shared
         * peers, the host's), while unmounts there still reach it, so a filesystem or a network
         * namespace unmounted on the host is not kept busy or alive by an agent's copy (private
         * mounts would). */
        if (iso) {
            step = NETLAB_STEP_UNSHARE;
            if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0) { e = errno; goto fail; }
            step = NETLAB_STEP_PROPAGATION;
            if (mount("none", "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) { e = errno; goto fail; }
            step = NETLAB_STEP_HOSTNAME;
            if (sethostname(iso->hostname, strlen(iso->hostname)) < 0) { e = errno; goto fail; }
            /* As `ip netns exec`: /sys shows the node's links (tools read /sys/class/net). */
            if (nsfd >= 0 && umount2("/sys", MNT_DETACH) == 0) mount("sysfs", "/sys", "sysfs", 0, NULL);
            for (int i = 0; i < iso->count; i++) {
                step = NETLAB_STEP_BIND + i;
                if (mount(iso->sources[i], iso->targets[i], NULL, MS_BIND, NULL) < 0) { e = errno; goto fail; }
            }
        }
        step = NETLAB_STEP_EXEC;
        int devnull = -1;
        if (in_fd < 0 || out_fd < 0 || err_fd < 0) {
            devnull = open("/dev/null", O_RDWR);
            if (devnull < 0) { e = errno; goto fail; }
        }
        int want[3] = { in_fd < 0 ? devnull : in_fd, out_fd < 0 ? devnull : out_fd, err_fd < 0 ? devnull : err_fd };
        /* Move sources above 2 first so that dup2 into 0..2 never clobbers a later source. */
        for (int i = 0; i < 3; i++) {
            if (want[i] <= 2) {
                int d = fcntl(want[i], F_DUPFD_CLOEXEC, 3);
                if (d < 0) { e = errno; goto fail; }
                want[i] = d;
            }
        }
        for (int i = 0; i < 3; i++) if (dup2(want[i], i) < 0) { e = errno; goto fail; }
        /* Close everything else but the error pipe (which is close-on-exec). */
        if (errpipe[1] > 3) syscall(SYS_close_range, 3U, (unsigned)errpipe[1] - 1, 0U);
        syscall(SYS_close_range, (unsigned)errpipe[1] + 1, ~0U, 0U);
        execve(path, argv, envp);
        e = errno;
    fail:;
        int msg[2] = { e, step };
        (void)!write(errpipe[1], msg, sizeof msg);
        _exit(127);
    }
    close(errpipe[1]);
    int msg[2] = { 0, 0 };
    ssize_t n;
    do { n = read(errpipe[0], msg, sizeof msg); } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == sizeof msg) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (failed_step) *failed_step = msg[1];
        return -msg[0];
    }
    return pid;
}

pid_t netlab_spawn(const char *path, char *const argv[], char *const envp[], int nsfd,
                   int in_fd, int out_fd, int err_fd, int new_pgrp, int die_with_parent) {
    return spawn(path, argv, envp, nsfd, in_fd, out_fd, err_fd, new_pgrp, die_with_parent, NULL, NULL);
}

pid_t netlab_spawn_isolated(const char *path, char *const argv[], char *const envp[], int nsfd,
                            int in_fd, int out_fd, int err_fd, int new_pgrp, int die_with_parent,
                            const struct netlab_isolation *iso, int *failed_step) {
    *failed_step = NETLAB_STEP_EXEC;
    return spawn(path, argv, envp, nsfd, in_fd, out_fd, err_fd, new_pgrp, die_with_parent, iso, failed_step);
}

int netlab_exec_in_netns(const char *nspath, const char *name, char *const argv[], const char **step) {
    int fd = open(nspath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { *step = "open the namespace"; return -errno; }
    if (setns(fd, CLONE_NEWNET) < 0) { *step = "enter the namespace (setns)"; int e = errno; close(fd); return -e; }
    close(fd);
    /* Like `ip netns exec`: a private mount namespace whose /sys belongs to the new network
     * namespace, so tools reading /sys/class/net see the namespace's links. */
    if (unshare(CLONE_NEWNS) == 0 && mount("", "/", "none", MS_SLAVE | MS_REC, NULL) == 0) {
        if (umount2("/sys", MNT_DETACH) == 0) mount(name, "/sys", "sysfs", 0, NULL);
    }
    /* netlab's own signal handling must not leak into the command. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < 32; sig++) if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    execvp(argv[0], argv);
    *step = "run the command (execvp)";
    return -errno;
}

unsigned long netlab_current_netns_inode(void) {
    struct stat st;
    if (stat("/proc/thread-self/ns/net", &st) < 0) return 0;
    return (unsigned long)st.st_ino;
}

int netlab_pidfd_open(pid_t pid) {
    long r = syscall(SYS_pidfd_open, pid, 0);
    return r < 0 ? -errno : (int)r;
}

int netlab_pidfd_send_signal(int pidfd, int sig) {
    long r = syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
    return r < 0 ? -errno : 0;
}

int netlab_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

int netlab_packet_bind(int fd, int ifindex, int rcvbuf_bytes) {
    int one = 1;
    /* SO_RCVBUFFORCE (root) goes past rmem_max; fall back to SO_RCVBUF. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf_bytes, sizeof rcvbuf_bytes) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0) return -errno;
    if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one) < 0) return -errno;
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) return -errno;
    return 0;
}

/* One non-blocking recvmsg into buf with room for ancillary data, retried on EINTR; msg says
   what came (its name and control fields point into the caller's buffers). */
static ssize_t recv_with_control(int fd, struct msghdr *msg, void *name, socklen_t namelen, struct iovec *iov,
                                 char *control, size_t controllen, int flags) {
    memset(msg, 0, sizeof *msg);
    msg->msg_name = name;
    msg->msg_namelen = namelen;
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;
    msg->msg_control = control;
    msg->msg_controllen = controllen;
    ssize_t n;
    do { n = recvmsg(fd, msg, MSG_DONTWAIT | flags); } while (n < 0 && errno == EINTR);
    return n;
}

int netlab_packet_recv(int fd, unsigned char *buf, int len, long long *sec, long *nsec,
                       unsigned char *pkttype, int *origlen) {
    struct sockaddr_ll from;
    struct iovec iov = { buf, (size_t)len };
    char control[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct tpacket_auxdata)) + 64];
    struct msghdr msg;
    ssize_t n = recv_with_control(fd, &msg, &from, sizeof from, &iov, control, sizeof control, MSG_TRUNC);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    *pkttype = from.sll_pkttype;
    *origlen = (int)n;
    *sec = 0; *nsec = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof ts);
            *sec = ts.tv_sec; *nsec = ts.tv_nsec;
        } else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
            struct tpacket_auxdata aux;
            memcpy(&aux, CMSG_DATA(c), sizeof aux);
            *origlen = (int)aux.tp_len;
        }
    }
    if (*sec == 0) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        *sec = now.tv_sec; *nsec = now.tv_nsec;
    }
    return (int)(n > len ? len : n);
}

static int signal_pipe_fd = -1;

static void signal_to_pipe(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    (void)!write(signal_pipe_fd, &b, 1);
    errno = saved;
}

int netlab_signals_to_pipe(int fd, const int *signals, int count) {
    signal_pipe_fd = fd;
    for (int i = 0; i < count; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = signal_to_pipe;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(signals[i], &sa, NULL) < 0) return -errno;
    }
    return 0;
}

int netlab_ipv6_recv_hoplimit(int fd) {
    int on = 1;
    return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0 ? -errno : 0;
}

int netlab_recv_with_hoplimit(int fd, unsigned char *buf, int len, unsigned char *src, int *hoplimit) {
    struct sockaddr_in6 from;
    struct iovec iov = { buf, (size_t)len };
    char control[CMSG_SPACE(sizeof(int)) + 64];
    struct msghdr msg;
    memset(&from, 0, sizeof from);
    ssize_t n = recv_with_control(fd, &msg, &from, sizeof from, &iov, control, sizeof control, 0);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    memcpy(src, &from.sin6_addr, 16);
    *hoplimit = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) memcpy(hoplimit, CMSG_DATA(c), sizeof(int));
    }
    return (int)n;
}

int netlab_set_dont_fragment(int fd, int family, int on) {
    int yes = 1;
    if (family == AF_INET6) {
        int mode = on ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_DONT;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &mode, sizeof mode) < 0) return -errno;
        int df = on ? 1 : 0;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &df, sizeof df) < 0) return -errno;
        return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &yes, sizeof yes) < 0 ? -errno : 0;
    }
    int mode = on ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
    if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &mode, sizeof mode) < 0) return -errno;
    return setsockopt(fd, IPPROTO_IP, IP_RECVERR, &yes, sizeof yes) < 0 ? -errno : 0;
}

int netlab_path_mtu(int fd, int family) {
    int mtu = 0;
    socklen_t len = sizeof mtu;
    int r = family == AF_INET6 ? getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &len) : getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);
    return r < 0 ? -errno : mtu;
}

int netlab_read_errqueue(int fd, int *ee_errno, int *origin, int *type, int *code, unsigned *info,
                         unsigned char *offender, int *offender_family) {
    unsigned char data[2048];
    struct iovec iov = { data, sizeof data };
    struct sockaddr_in6 name;
    char control[512];
    struct msghdr msg;
    ssize_t n = recv_with_control(fd, &msg, &name, sizeof name, &iov, control, sizeof control, MSG_ERRQUEUE);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    *offender_family = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (!((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
              (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR))) continue;
        struct sock_extended_err *e = (struct sock_extended_err *)CMSG_DATA(c);
        *ee_errno = (int)e->ee_errno; *origin = e->ee_origin; *type = e->ee_type; *code = e->ee_code; *info = e->ee_info;
        struct sockaddr *off = SO_EE_OFFENDER(e);
        if (off->sa_family == AF_INET) {
            memcpy(offender, &((struct sockaddr_in *)off)->sin_addr, 4); *offender_family = AF_INET;
        } else if (off->sa_family == AF_INET6) {
            memcpy(offender, &((struct sockaddr_in6 *)off)->sin6_addr, 16); *offender_family = AF_INET6;
        }
        return 1;
    }
    return 0;
}

int netlab_recverr_enable(int fd, int ipv6) {
    int on = 1;
    int r = ipv6 ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on) : setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    return r < 0 ? -errno : 0;
}

int netlab_recverr_read(int fd, unsigned char *origin, unsigned char *type, unsigned char *code, int *err) {
    unsigned char data[512];
    struct sockaddr_storage from;
    struct iovec iov = { data, sizeof data };
    char control[512];
    struct msghdr msg;
    ssize_t n = recv_with_control(fd, &msg, &from, sizeof from, &iov, control, sizeof control, MSG_ERRQUEUE);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) || (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(c), sizeof ee);
            *origin = ee.ee_origin; *type = ee.ee_type; *code = ee.ee_code; *err = (int)ee.ee_errno;
            return 1;
        }
    }
    return 0;
}
