#ifndef NETLAB_SHIMS_H
#define NETLAB_SHIMS_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

/* The socket types, for Swift. Glibc's `enum __socket_type` reaches Swift as SOCK_STREAM etc., but
 * a module that also imports libmnl's <linux/...> headers sees the kernel's `enum sock_type` too,
 * and depending on how the compiler batches files it then finds neither ("cannot find
 * 'SOCK_STREAM' in scope", seen here). These names are netlab's alone. */
enum {
    NETLAB_SOCK_STREAM = SOCK_STREAM,
    NETLAB_SOCK_DGRAM = SOCK_DGRAM,
    NETLAB_SOCK_RAW = SOCK_RAW,
    NETLAB_SOCK_NONBLOCK = SOCK_NONBLOCK,
    NETLAB_SOCK_CLOEXEC = SOCK_CLOEXEC,
};

/* Glibc's Swift overlay does not expose setns/unshare/CLONE_NEWNET; these wrappers are netlab's
 * only way to them. Every function returns 0 (or a descriptor/pid) on success and -errno on failure. */

/* Makes `dir` (e.g. /run/netns) a shared mount point, as iproute2 does before mounting namespaces
 * on it, so that mounts made later propagate to other mount namespaces. */
int netlab_make_shared_mount_dir(const char *dir);

/* Creates a new network namespace and bind-mounts it on `path` (which must not exist yet).
 * Runs on a fresh pthread that exits afterwards, so no thread of the caller ever changes namespace. */
int netlab_netns_create(const char *path);

/* Unmounts (MNT_DETACH) and unlinks a namespace mount made by netlab_netns_create. */
int netlab_netns_delete(const char *path);

/* Runs fn(ctx) on a fresh pthread that first enters the network namespace `nsfd`. The thread
 * dies afterwards, so the switch never leaks into any other work. Returns fn's result, or -errno
 * if the thread could not be made or could not enter the namespace. */
int netlab_run_in_netns(int nsfd, int (*fn)(void *ctx), void *ctx);

/* Opens a socket inside the network namespace `nsfd` (on a short-lived thread). The socket stays in
 * that namespace and may be used from any thread. Returns the fd or -errno. */
int netlab_socket_in_netns(int nsfd, int domain, int type, int protocol);

/* Writes `value` to `path` (a /proc/sys/net file) from inside the namespace `nsfd`. */
int netlab_write_file_in_netns(int nsfd, const char *path, const char *value);

/* Reads up to `cap` bytes of `path` (a /proc/sys/net file) from inside the namespace `nsfd`:
 * /proc/sys/net answers for the reading thread's namespace. Returns the length or -errno. */
int netlab_read_file_in_netns(int nsfd, const char *path, char *buf, size_t cap);

/* Spawns argv[0] (a path) with envp, its network namespace being `nsfd` (or the caller's when
 * nsfd < 0), and fds 0/1/2 set to in/out/err (-1: /dev/null). Every other descriptor is closed in
 * the child. The child is made leader of a new process group when new_pgrp != 0, so a timeout can
 * end it and everything it started. Returns the pid or -errno (exec errors are reported through a
 * close-on-exec pipe, so a missing binary is -ENOENT here, not a child that exits 127).
 * With die_with_parent, the kernel kills the child (SIGKILL) when the spawning thread dies, so a
 * netlab killed with SIGKILL leaves no CNI plugin or proxy running; the spawning thread must wait
 * for the child (netlab's runners do). */
pid_t netlab_spawn(const char *path, char *const argv[], char *const envp[], int nsfd,
                   int in_fd, int out_fd, int err_fd, int new_pgrp, int die_with_parent);

/* What an isolated child gets besides its network namespace: its own UTS namespace with `hostname`,
 * and its own mount namespace (every mount made a slave first, /sys remounted for the network namespace) in
 * which sources[i] is bind-mounted on targets[i] (both existing directories). */
struct netlab_isolation {
    const char *hostname;
    const char *const *sources;
    const char *const *targets;
    int count;
};

/* The step of an isolated spawn that failed: bind mount i is NETLAB_STEP_BIND + i. */
enum {
    NETLAB_STEP_EXEC = 0,
    NETLAB_STEP_UNSHARE = 1,
    NETLAB_STEP_PROPAGATION = 2,
    NETLAB_STEP_HOSTNAME = 3,
    NETLAB_STEP_BIND = 16,
};

/* netlab_spawn with isolation (a node's agent): unshare(CLONE_NEWNS|CLONE_NEWUTS), mounts made
 * slaves (MS_REC|MS_SLAVE: nothing propagates back), sethostname and the bind mounts, in the child between vfork and exec. vfork still
 * serves: these are system calls on memory prepared by the caller, and namespaces are per task,
 * so the parent's (netlab's) mounts and hostname never change. On failure, -errno and *failed_step. */
pid_t netlab_spawn_isolated(const char *path, char *const argv[], char *const envp[], int nsfd,
                            int in_fd, int out_fd, int err_fd, int new_pgrp, int die_with_parent,
                            const struct netlab_isolation *iso, int *failed_step);

/* Enters the network namespace at `nspath` in the calling process, with a private mount namespace in
 * which /sys shows that network namespace (as `ip netns exec` does), then execvp(argv[0], argv).
 * Returns only on failure, with -errno, and a short description of the failed step in *step. */
int netlab_exec_in_netns(const char *nspath, const char *name, char *const argv[], const char **step);

/* The thread's network namespace identity (inode of /proc/thread-self/ns/net), for tests. */
unsigned long netlab_current_netns_inode(void);

/* pidfd_open(2): a descriptor that becomes readable when the process exits, so netlab waits on an
 * event (poll) instead of polling waitpid with sleeps. No glibc wrapper in Debian 12. */
int netlab_pidfd_open(pid_t pid);

/* pidfd_send_signal(2): signals the process a pidfd names, never a recycled pid (no glibc wrapper
 * in Debian 12). Returns 0 or -errno. */
int netlab_pidfd_send_signal(int pidfd, int sig);

/* pipe2(O_CLOEXEC) is a GNU extension Glibc's overlay hides; netlab's pipes must never leak into
 * children other than the one they are for. */
int netlab_pipe_cloexec(int fds[2]);

/* AF_PACKET capture: Glibc's overlay has no sockaddr_ll, ETH_P_ALL, PACKET_AUXDATA or CMSG_*.
 * Binds a packet socket (opened in its namespace) to one interface for every protocol, with
 * nanosecond timestamps and auxdata, and a large receive buffer so a check's packets all wait in
 * the queue until they are drained. Returns 0 or -errno. */
int netlab_packet_bind(int fd, int ifindex, int rcvbuf_bytes);

/* One non-blocking receive from a packet socket bound by netlab_packet_bind: the frame into buf,
 * its timestamp, sll_pkttype and original length. Returns the captured length, 0 when nothing is
 * queued, or -errno. */
int netlab_packet_recv(int fd, unsigned char *buf, int len, long long *sec, long *nsec,
                       unsigned char *pkttype, int *origlen);

/* ICMPv6 echo probe: a raw IPv6 socket hands back no IP header, so the reply's hop limit comes as
 * IPV6_HOPLIMIT ancillary data (RFC 3542), which Swift cannot reach through CMSG_*.
 * netlab_ipv6_recv_hoplimit asks for it on `fd` (0 or -errno); netlab_recv_with_hoplimit does one
 * non-blocking receive: the message into buf, the sender's 16 address bytes into src, the hop limit
 * (-1 when none came) into hoplimit. Returns the length, 0 when nothing is queued, or -errno. */
int netlab_ipv6_recv_hoplimit(int fd);
int netlab_recv_with_hoplimit(int fd, unsigned char *buf, int len, unsigned char *src, int *hoplimit);

/* Signals as events: a handler for each signal in `signals` writes the signal number (one byte) to
 * `fd` (a pipe), whichever thread receives it; a netlab thread reads the pipe. SA_RESTART keeps
 * other threads' system calls going. */
int netlab_signals_to_pipe(int fd, const int *signals, int count);

/* Path MTU of a sized probe's socket (IPv4 or IPv6 by `family`). netlab_set_dont_fragment sets
 * IP_MTU_DISCOVER to IP_PMTUDISC_DO (on) or IP_PMTUDISC_DONT (off), and IP_RECVERR, so that an
 * ICMP "fragmentation needed" is queued with its MTU (IPv6: IPV6_MTU_DISCOVER, IPV6_DONTFRAG,
 * IPV6_RECVERR): 0 or -errno. netlab_path_mtu: IP_MTU / IPV6_MTU of a connected socket, or -errno.
 * netlab_read_errqueue reads one extended error (MSG_ERRQUEUE): its errno, origin (SO_EE_ORIGIN_*),
 * ICMP type and code, info (the MTU of frag-needed / packet too big) and the offender's address
 * (16 bytes; *offender_family AF_INET, AF_INET6 or 0). Returns 1 when one was read, 0 when none
 * is queued, or -errno. The macros (SOL_IP options, SO_EE_OFFENDER) are not reachable from Swift. */
int netlab_set_dont_fragment(int fd, int family, int on);
int netlab_path_mtu(int fd, int family);
int netlab_read_errqueue(int fd, int *ee_errno, int *origin, int *type, int *code, unsigned *info,
                         unsigned char *offender, int *offender_family);

/* Probe error classes: with IP_RECVERR / IPV6_RECVERR the kernel queues the ICMP error about a
 * socket's packet with its type and code (struct sock_extended_err, <linux/errqueue.h>), which tell
 * a REJECT's admin-prohibited from a router's host unreachable where the errno is EHOSTUNREACH for
 * both. netlab_recverr_enable asks for them on `fd` (0 or -errno). netlab_recverr_read takes one
 * queued error, non-blocking: 1 with its origin (2 ICMP, 3 ICMPv6), type, code and errno; 0 when
 * none is queued; or -errno. */
int netlab_recverr_enable(int fd, int ipv6);
int netlab_recverr_read(int fd, unsigned char *origin, unsigned char *type, unsigned char *code, int *err);

#endif
