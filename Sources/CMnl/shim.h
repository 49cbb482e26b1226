#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/fib_rules.h>
/* ctnetlink (netlab-proxy's UDP conntrack cleanup). */
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

/* Macros that are expressions do not reach Swift. */
static inline size_t netlab_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }
