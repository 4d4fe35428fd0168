/*
 * Synthetic NIC benchmark: frames through netvsc -> VMBus -> netvsp and
 * back, host and guest in one process over the real transport, each TAP
 * (kernel-named "vmbtap%d" / "vmbguest%d") a real interface.
 *
 *   bench_net [--quick] [--secs S] [--reps N] [filter]
 *
 * Frames: an AF_PACKET socket on one TAP sends frames of a private
 * EtherType (so no protocol stack touches them) and an AF_PACKET socket on
 * the other TAP receives them; the sender keeps at most WINDOW frames in
 * flight, so neither path is measured by how fast it drops. TCP: one bulk
 * connection between the host's namespace and a namespace of the
 * benchmark's own that holds the guest TAP.
 *
 * Baseline: two TAPs bridged by a trivial user-space copy loop (one thread
 * per direction: poll, read a frame, write it). It has the same kernel
 * edges, the same sockets and the same scheduling as our path, and does
 * the least a user-space NIC can do between them, so the ratio is the cost
 * of NVSP + RNDIS + VMBus over moving the bytes at all. (A veth pair never
 * leaves the kernel and would measure TAP overheads, not ours.) Each
 * figure is the median of --reps samples, the two sides alternating.
 *
 * Needs root and /dev/net/tun (exit 77 otherwise). Nothing is left behind:
 * the TAPs die with their fds, the namespace with the process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "dev/net/tap.h"
#include "vmbus/dev/net.h"

#define ETHERTYPE_BENCH 0x88b5 /* IEEE local experimental */
#define WINDOW		256u
#define BURST		32u
#define RX_VLEN		64u
#define FRAME_MAX	1514u
#define TCP_CHUNK	(64u * 1024)

/* One side of every test: a TAP in the host namespace, one that may move. */
struct link {
	const char *name;
	char host_if[IFNAMSIZ], guest_if[IFNAMSIZ];
	const char *host_ip, *guest_ip;
};

static struct link vmb = {
    .name = "netvsc/netvsp", .host_ip = "10.203.1.1", .guest_ip = "10.203.1.2"};
static struct link base = {.name = "copy loop", .host_ip = "10.203.2.1", .guest_ip = "10.203.2.2"};

/* ---- the VM -------------------------------------------------------------- */

struct vm {
	struct vmb_host *h;
	struct vmb_guest *g;
	struct vmb_netvsp *nh;
	struct vmb_netvsc *ng;
	pthread_t loop;
	volatile sig_atomic_t stop;
};

static void *host_loop(void *arg)
{
	struct vm *vm = arg;

	vmb_host_run(vm->h, &vm->stop);
	return NULL;
}

/*
 * The name the kernel gave a TAP of ours that starts with prefix: every
 * TAP fd of this process says in its fdinfo which interface it holds.
 */
static int find_tap(const char *prefix, char name[IFNAMSIZ])
{
	char path[64], line[128];
	int found = -ENOENT;

	for (int fd = 3; fd < 1024 && found < 0; fd++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "iff: %15s", name) == 1 &&
			    !strncmp(name, prefix, strlen(prefix)))
				found = 0;
		fclose(f);
	}
	return found;
}

static int vm_start(struct vm *vm, const char *dir)
{
	char sock[256];
	struct vmb_host_config hc = {.socket_path = sock, .ram_size = 256u << 20};
	struct vmb_net_host_config nc = {
	    .instance = VMB_GUID_INIT(0xbe7e0000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)};
	struct vmb_guest_config gc = {.socket_path = sock};
	int rc;

	snprintf(sock, sizeof(sock), "%s/sock", dir);
	if ((rc = vmb_host_create(&hc, &vm->h)) < 0 ||
	    (rc = vmb_net_host_add(vm->h, &nc, &vm->nh)) < 0)
		return rc;
	if (pthread_create(&vm->loop, NULL, host_loop, vm) != 0)
		return -ENOMEM;
	if ((rc = vmb_guest_create(&gc, &vm->g)) < 0 ||
	    (rc = vmb_net_guest_register(vm->g, NULL, &vm->ng)) < 0 ||
	    (rc = vmb_net_guest_wait(vm->ng, 10000)) < 0)
		return rc;
	if ((rc = find_tap("vmbtap", vmb.host_if)) < 0 ||
	    (rc = find_tap("vmbguest", vmb.guest_if)) < 0)
		return rc;
	return 0;
}

static void vm_stop(struct vm *vm)
{
	if (vm->g)
		vmb_guest_destroy(vm->g);
	vmb_net_guest_free(vm->ng);
	vm->stop = 1;
	pthread_join(vm->loop, NULL);
	vmb_host_destroy(vm->h);
}

/* ---- the baseline: two TAPs and a copy loop -------------------------------- */

struct copier {
	int from, to;
	atomic_bool *stop;
	pthread_t t;
};

static void *copy_main(void *arg)
{
	struct copier *c = arg;
	static _Thread_local uint8_t buf[65536];

	while (!atomic_load(c->stop)) {
		struct pollfd p = {c->from, POLLIN, 0};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		while ((n = read(c->from, buf, sizeof(buf))) > 0)
			if (write(c->to, buf, (size_t)n) < 0)
				break;
	}
	return NULL;
}

struct baseline {
	int fd[2];
	atomic_bool stop;
	struct copier c[2];
};

static int baseline_start(struct baseline *b)
{
	char a[IFNAMSIZ] = "vmbbla%d", z[IFNAMSIZ] = "vmbblb%d";

	b->fd[0] = vmb_tap_open(a);
	b->fd[1] = vmb_tap_open(z);
	if (b->fd[0] < 0 || b->fd[1] < 0)
		return b->fd[0] < 0 ? b->fd[0] : b->fd[1];
	memcpy(base.host_if, a, IFNAMSIZ);
	memcpy(base.guest_if, z, IFNAMSIZ);
	if (vmb_tap_up(a) < 0 || vmb_tap_up(z) < 0)
		return -EIO;
	for (int i = 0; i < 2; i++) {
		b->c[i] = (struct copier){b->fd[i], b->fd[1 - i], &b->stop, 0};
		if (pthread_create(&b->c[i].t, NULL, copy_main, &b->c[i]) != 0)
			return -ENOMEM;
	}
	return 0;
}

static void baseline_stop(struct baseline *b)
{
	atomic_store(&b->stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(b->c[i].t, NULL);
		close(b->fd[i]);
	}
}

/* ---- namespaces ---------------------------------------------------------- */

static int host_ns = -1, guest_ns = -1;

/* A socket created in namespace ns (the calling thread returns home). */
static int ns_socket(int ns, int domain, int type, int proto)
{
	int s;

	if (ns >= 0 && setns(ns, CLONE_NEWNET) < 0)
		return -1;
	s = socket(domain, type | SOCK_CLOEXEC, proto);
	if (ns >= 0 && setns(host_ns, CLONE_NEWNET) < 0)
		bench_die("setns back");
	return s;
}

static int make_guest_ns(void)
{
	host_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_ns < 0 || unshare(CLONE_NEWNET) < 0)
		return -errno;
	guest_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(host_ns, CLONE_NEWNET) < 0)
		bench_die("setns back");
	return guest_ns < 0 ? -errno : 0;
}

/* RTM_NEWLINK with IFLA_NET_NS_FD: move interface name into namespace ns. */
static int move_if(const char *name, int ns)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		struct rtattr a;
		uint32_t fd;
		char pad[4];
	} req = {0};
	char ack[256];
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), rc = 0;
	struct nlmsgerr *e = NLMSG_DATA((struct nlmsghdr *)ack);

	if (s < 0)
		return -errno;
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.i)) + RTA_LENGTH(sizeof(uint32_t));
	req.h.nlmsg_type = RTM_NEWLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.i.ifi_family = AF_UNSPEC;
	req.i.ifi_index = (int)if_nametoindex(name);
	req.a.rta_type = IFLA_NET_NS_FD;
	req.a.rta_len = RTA_LENGTH(sizeof(uint32_t));
	req.fd = (uint32_t)ns;
	if (send(s, &req, req.h.nlmsg_len, 0) < 0 || recv(s, ack, sizeof(ack), 0) < 0)
		rc = -errno;
	else if (((struct nlmsghdr *)ack)->nlmsg_type == NLMSG_ERROR && e->error)
		rc = e->error;
	close(s);
	return rc;
}

/* Address ip/24 on interface name of namespace ns, and up. */
static int set_ip(int ns, const char *name, const char *ip)
{
	struct ifreq ifr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int s = ns_socket(ns, AF_INET, SOCK_DGRAM, 0), rc = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		rc = -errno;
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	if (rc == 0 && ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		rc = -errno;
	if (rc == 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rc = -errno;
	}
	close(s);
	return rc;
}

/* Router solicitations and the like would be counted against nobody, but
 * they still take turns on the TAPs. */
static void quiet_if(const char *name)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			fprintf(stderr, "warning: IPv6 stays on on %s\n", name);
		close(fd);
	}
}

/* ---- frames ----------------------------------------------------------------- */

struct frames {
	int tx, rx;	    /* AF_PACKET sockets */
	uint32_t size, tag; /* frame size, this sample's tag (late frames of others differ) */
	double secs;
	atomic_uint_fast64_t got;
	atomic_bool stop;
	uint64_t lost;
	pthread_mutex_t lock;
	pthread_cond_t cv;
};

static int packet_socket(const char *ifname)
{
	struct sockaddr_ll a = {.sll_family = AF_PACKET,
				.sll_protocol = htons(ETHERTYPE_BENCH),
				.sll_ifindex = (int)if_nametoindex(ifname)};
	struct timeval tv = {0, 20000};
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE_BENCH));
	int buf = 8 << 20; /* a whole window of frames, whatever its bursts: no drops here */

	if (s < 0 || a.sll_ifindex == 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		bench_die(ifname);
	return s;
}

static void *frames_rx(void *arg)
{
	struct frames *f = arg;
	static _Thread_local uint8_t buf[RX_VLEN][2048];
	struct mmsghdr m[RX_VLEN];
	struct iovec v[RX_VLEN];

	for (unsigned i = 0; i < RX_VLEN; i++) {
		v[i] = (struct iovec){buf[i], sizeof(buf[i])};
		m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v[i], .msg_iovlen = 1}};
	}
	while (!atomic_load(&f->stop)) {
		int n = recvmmsg(f->rx, m, RX_VLEN, MSG_WAITFORONE, NULL);
		uint64_t k = 0;

		for (int i = 0; i < n; i++) {
			uint32_t tag;

			memcpy(&tag, buf[i] + ETH_HLEN, sizeof(tag));
			k += m[i].msg_len == f->size && tag == f->tag;
		}
		if (k) {
			atomic_fetch_add(&f->got, k);
			pthread_mutex_lock(&f->lock);
			pthread_cond_signal(&f->cv);
			pthread_mutex_unlock(&f->lock);
		}
	}
	return NULL;
}

/* Wait for the window to open; frames not seen for 200 ms are given up on (lost, or
 * a receiver the loaded machine did not run; late ones still count: the
 * difference is signed). */
static void frames_window(struct frames *f, uint64_t sent)
{
	struct timespec dl;

	pthread_mutex_lock(&f->lock);
	while ((int64_t)(sent - f->lost - atomic_load(&f->got)) > (int64_t)(WINDOW - BURST)) {
		uint64_t before = atomic_load(&f->got);

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 200000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&f->cv, &f->lock, &dl) && atomic_load(&f->got) == before)
			f->lost = sent - before;
	}
	pthread_mutex_unlock(&f->lock);
}

static double frames_sample(const struct bench_opts *o, void *arg)
{
	struct frames *f = arg;
	uint8_t frame[FRAME_MAX] = {0};
	struct iovec v = {frame, f->size};
	struct mmsghdr m[BURST];
	pthread_t rx;
	static uint32_t tags;
	uint64_t sent = 0;
	double t0, got;

	memset(frame, 0xff, 6); /* broadcast: every receiver's filter takes it */
	frame[12] = ETHERTYPE_BENCH >> 8;
	frame[13] = ETHERTYPE_BENCH & 0xff;
	f->tag = ++tags;
	memcpy(frame + ETH_HLEN, &f->tag, sizeof(f->tag));
	for (unsigned i = 0; i < BURST; i++)
		m[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &v, .msg_iovlen = 1}};
	atomic_store(&f->got, 0);
	atomic_store(&f->stop, false);
	f->lost = 0;
	if (pthread_create(&rx, NULL, frames_rx, f) != 0)
		bench_die("pthread_create");
	t0 = bench_now();
	while (bench_now() - t0 < o->secs) {
		int n = sendmmsg(f->tx, m, BURST, 0);

		if (n > 0)
			sent += (uint64_t)n;
		frames_window(f, sent);
	}
	got = (double)atomic_load(&f->got);
	t0 = bench_now() - t0;
	atomic_store(&f->stop, true);
	pthread_join(rx, NULL);
	return got / t0;
}

static double frames_rate(const struct bench_opts *o, const struct link *l, bool g2h, uint32_t size)
{
	struct frames f = {
	    .size = size, .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	double r;

	f.tx = packet_socket(g2h ? l->guest_if : l->host_if);
	f.rx = packet_socket(g2h ? l->host_if : l->guest_if);
	r = frames_sample(o, &f);
	if (f.lost)
		fprintf(stderr, "bench_net: %s %s %u B: gave up waiting for %llu frames\n", l->name,
			g2h ? "G->H" : "H->G", size, (unsigned long long)f.lost);
	close(f.tx);
	close(f.rx);
	return r;
}

/* ---- TCP ---------------------------------------------------------------------- */

struct tcp {
	int s;
	atomic_bool stop;
};

static void *tcp_tx(void *arg)
{
	struct tcp *t = arg;
	static _Thread_local uint8_t buf[TCP_CHUNK];

	while (!atomic_load(&t->stop))
		if (send(t->s, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
			break;
	shutdown(t->s, SHUT_WR);
	return NULL;
}

/* Bytes/s of one connection from ns `from` to ip in ns `to`, over secs. */
static double tcp_rate(double secs, int from, int to, const char *ip)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(5203)};
	struct timeval tv = {1, 0};
	int one = 1, l = ns_socket(to, AF_INET, SOCK_STREAM, 0), c;
	struct tcp t = {.s = ns_socket(from, AF_INET, SOCK_STREAM, 0)};
	static uint8_t buf[TCP_CHUNK];
	pthread_t tx;
	double t0, bytes = 0;
	ssize_t n;

	inet_pton(AF_INET, ip, &a.sin_addr);
	if (l < 0 || t.s < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    connect(t.s, (struct sockaddr *)&a, sizeof(a)) < 0 || (c = accept(l, NULL, NULL)) < 0)
		bench_die("tcp set-up");
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (pthread_create(&tx, NULL, tcp_tx, &t) != 0)
		bench_die("pthread_create");
	t0 = bench_now();
	while (bench_now() - t0 < secs && (n = recv(c, buf, sizeof(buf), 0)) > 0)
		bytes += (double)n;
	t0 = bench_now() - t0;
	atomic_store(&t.stop, true);
	while (recv(c, buf, sizeof(buf), 0) > 0)
		;
	pthread_join(tx, NULL);
	close(c);
	close(t.s);
	close(l);
	return bytes / t0;
}

/* ---- the tables ------------------------------------------------------------- */

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

struct side {
	const struct link *l;
	bool g2h;
	uint32_t size; /* 0: TCP */
};

/* Rate (frames or bytes per second) and the CPU time of the whole process per unit. */
struct result {
	double rate, cpu;
};

static struct result sample(const struct bench_opts *o, const struct side *s)
{
	double c0 = cpu_now(), t0 = bench_now(), r;

	if (s->size)
		r = frames_rate(o, s->l, s->g2h, s->size);
	else
		r = tcp_rate(o->secs, s->g2h ? guest_ns : host_ns, s->g2h ? host_ns : guest_ns,
			     s->g2h ? s->l->host_ip : s->l->guest_ip);
	return (struct result){r, r > 0 ? (cpu_now() - c0) / (r * (bench_now() - t0)) : 0};
}

/* Medians of both sides, alternating which goes first. */
static void measure(const struct bench_opts *o, bool g2h, uint32_t size, struct result *ours,
		    struct result *bl)
{
	struct side a = {&vmb, g2h, size}, b = {&base, g2h, size};
	double x[99], y[99], cx[99], cy[99];

	for (unsigned k = 0; k < o->reps; k++) {
		struct result ra, rb;

		if (k % 2 == 0)
			rb = sample(o, &b);
		ra = sample(o, &a);
		if (k % 2)
			rb = sample(o, &b);
		x[k] = ra.rate;
		cx[k] = ra.cpu;
		y[k] = rb.rate;
		cy[k] = rb.cpu;
	}
	*ours = (struct result){bench_median(x, o->reps), bench_median(cx, o->reps)};
	*bl = (struct result){bench_median(y, o->reps), bench_median(cy, o->reps)};
}

static void head(const char *title, const char *unit)
{
	printf("\n%s\n  %-22s %12s %12s %7s   %s\n", title, "", unit, "copy loop", "ratio",
	       "CPU ours / copy loop");
}

static void row(const char *name, double ours, double bl, double cpu_ours, double cpu_bl,
		const char *cpu_unit)
{
	printf("  %-22s %12.1f %12.1f %7.2f", name, ours, bl, bl > 0 ? ours / bl : 0);
	if (cpu_unit)
		printf("   %6.2f / %-6.2f %s", cpu_ours, cpu_bl, cpu_unit);
	printf("\n");
	fflush(stdout);
}

static void frame_tests(const struct bench_opts *o, const char *filter)
{
	static const uint32_t sizes[] = {64, FRAME_MAX};
	char name[64];

	head("Frames: AF_PACKET -> TAP -> ... -> TAP -> AF_PACKET, 256 in flight", "kframes/s");
	for (int g2h = 1; g2h >= 0; g2h--)
		for (unsigned i = 0; i < 2; i++) {
			struct result ours, bl;

			snprintf(name, sizeof(name), "%s %4u B frames", g2h ? "G->H" : "H->G",
				 sizes[i]);
			if (filter && !strstr(name, filter))
				continue;
			measure(o, g2h, sizes[i], &ours, &bl);
			row(name, ours.rate / 1e3, bl.rate / 1e3, ours.cpu * 1e6, bl.cpu * 1e6,
			    "us/frame");
			snprintf(name, sizeof(name), "%s %4u B MB/s", g2h ? "G->H" : "H->G",
				 sizes[i]);
			row(name, ours.rate * sizes[i] / 1e6, bl.rate * sizes[i] / 1e6, 0, 0, NULL);
		}
}

static int tcp_setup(void)
{
	int rc = make_guest_ns();

	if (rc == 0)
		rc = move_if(vmb.guest_if, guest_ns);
	if (rc == 0)
		rc = move_if(base.guest_if, guest_ns);
	if (rc == 0)
		rc = set_ip(-1, vmb.host_if, vmb.host_ip);
	if (rc == 0)
		rc = set_ip(-1, base.host_if, base.host_ip);
	if (rc == 0)
		rc = set_ip(guest_ns, vmb.guest_if, vmb.guest_ip);
	if (rc == 0)
		rc = set_ip(guest_ns, base.guest_if, base.guest_ip);
	return rc;
}

static void tcp_tests(const struct bench_opts *o, const char *filter)
{
	int rc;

	if (filter && !strstr("TCP", filter))
		return;
	rc = tcp_setup();
	if (rc < 0) {
		printf("\nTCP: no guest namespace (%s), skipped\n", strerror(-rc));
		return;
	}
	head("TCP bulk, one connection (guest TAP in a namespace of its own)", "MB/s");
	for (int g2h = 1; g2h >= 0; g2h--) {
		struct result ours, bl;

		measure(o, g2h, 0, &ours, &bl);
		row(g2h ? "G->H TCP" : "H->G TCP", ours.rate / 1e6, bl.rate / 1e6,
		    ours.cpu * 1e6 * 1e6, bl.cpu * 1e6 * 1e6, "us/MB");
	}
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	int i = bench_parse(argc, argv, &o, 1.0, 3);
	const char *filter = i < argc ? argv[i] : NULL;
	char dir[] = "/tmp/bench-net-XXXXXX";
	struct baseline b = {0};
	struct vm vm = {0};
	double cpu0, load[1] = {0};
	int rc;

	if (geteuid() != 0 || vmb_net_available() < 0) {
		fprintf(stderr, "bench_net: needs root and /dev/net/tun; skipped\n");
		return 77;
	}
	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	rc = vm_start(&vm, dir);
	if (rc == 0)
		rc = baseline_start(&b);
	if (rc < 0) {
		fprintf(stderr, "bench_net: set-up failed: %s\n", strerror(-rc));
		return 1;
	}
	quiet_if(vmb.host_if);
	quiet_if(vmb.guest_if);
	quiet_if(base.host_if);
	quiet_if(base.guest_if);
	getloadavg(load, 1);
	printf("net: %s (%s / %s) beside %s (%s / %s), %.1f s x %u samples, load %.2f\n", vmb.name,
	       vmb.host_if, vmb.guest_if, base.name, base.host_if, base.guest_if, o.secs, o.reps,
	       load[0]);
	cpu0 = cpu_now();
	frame_tests(&o, filter);
	tcp_tests(&o, filter);
	printf("\nCPU time of the whole run: %.1f s\n", cpu_now() - cpu0);
	baseline_stop(&b);
	vm_stop(&vm);
	rmdir(dir);
	return 0;
}
