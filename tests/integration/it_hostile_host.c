/*
 * Hostile host: a fake host made of the partition host API and a minimal
 * control path written here (no server), facing the real guest runtime in
 * its default copy-out mode (harness guest child). The fake host sends
 * offers with bogus sizes, duplicate relids, rescinds of unknown channels,
 * GPADL_CREATED for GPADLs never requested, and flips bytes of the H->G
 * ring while the guest reads it. The guest must survive (a sanitizer
 * report would kill it), log the cause, and keep working where it can.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "it_common.h"
#include "vmbus/chan.h"
#include "vmbus/dev/test.h"
#include "vmbus/msg.h"
#include "vmbus/partition.h"
#include "vmbus/proto/channel.h"
#include "vmbus/proto/guid.h"
#include "vmbus/proto/hv.h"
#include "vmbus/ring.h"

#define PAGE	 4096u
#define MAX_PFNS 512
#define RELID	 5

struct fake {
	struct vmb_host_part *part;
	pthread_t thr;
	atomic_bool stop;
	/* The ring GPADL the guest builds for the test channel. */
	uint32_t gpadl;
	uint64_t pfns[MAX_PFNS];
	uint32_t npfns, total;
	atomic_bool opened;
	uint32_t down;
	struct vmb_mapping in, out; /* host view: G->H, H->G */
	struct vmb_channel *ch;	    /* echoes, so the guest's probe passes */
	void (*extra_offers)(struct fake *f);
};

static void send_msg(struct fake *f, const void *m, size_t len)
{
	vmb_host_part_send(f->part, 0, VMBUS_MESSAGE_SINT, HVMSG_VMBUS, m, len);
}

static void send_offer(struct fake *f, uint32_t relid, size_t len)
{
	struct vmbus_channel_offer_channel o;
	const struct vmb_guid test = VMB_GUID_TEST;

	vmb_msg_init(&o, sizeof(o), CHANNELMSG_OFFERCHANNEL);
	o.if_type = test;
	o.if_instance.b[0] = (uint8_t)relid;
	o.child_relid = relid;
	o.connection_id = 0x10 + relid;
	send_msg(f, &o, len);
}

static void on_contact(struct fake *f)
{
	struct vmbus_channel_version_response r;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_VERSION_RESPONSE);
	r.version_supported = 1;
	r.msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	send_msg(f, &r, sizeof(r));
}

static void on_offers(struct fake *f)
{
	struct vmbus_channel_message_header done = {.msgtype = CHANNELMSG_ALLOFFERS_DELIVERED};

	if (f->extra_offers)
		f->extra_offers(f);
	send_offer(f, RELID, sizeof(struct vmbus_channel_offer_channel));
	send_msg(f, &done, sizeof(done));
}

static void gpadl_created(struct fake *f, uint32_t relid, uint32_t handle)
{
	struct vmbus_channel_gpadl_created c;

	vmb_msg_init(&c, sizeof(c), CHANNELMSG_GPADL_CREATED);
	c.child_relid = relid;
	c.gpadl = handle;
	send_msg(f, &c, sizeof(c));
}

static void on_gpadl(struct fake *f, const void *m, size_t len, uint32_t type)
{
	struct vmb_gpadl_hdr_info info;
	uint32_t handle, count;

	if (type == CHANNELMSG_GPADL_HEADER) {
		if (vmb_gpadl_parse_header(m, len, &info, f->pfns, MAX_PFNS) < 0)
			return;
		f->gpadl = info.handle;
		f->total = info.total_pfns;
		f->npfns = info.carried;
	} else if (vmb_gpadl_parse_body(m, len, &handle, f->pfns + f->npfns, MAX_PFNS - f->npfns,
					&count) == 0) {
		f->npfns += count;
	}
	if (f->total && f->npfns == f->total)
		gpadl_created(f, RELID, f->gpadl);
}

static void echo_signal(void *ctx)
{
	struct fake *f = ctx;

	vmb_host_part_signal(f->part, 0, VMBUS_MESSAGE_SINT, RELID);
}

static void echo_port(void *arg)
{
	struct fake *f = arg;

	vmb_chan_interrupt(f->ch);
}

static void echo_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	(void)arg;
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		vmb_chan_complete(ch, pkt->trans_id, pkt->data, pkt->len);
}

static const struct vmb_chan_ops echo_ops = {.signal = echo_signal};

static int attach_echo(struct fake *f)
{
	struct vmb_chan_config cfg = {
	    .in_hdr = f->in.addr,
	    .in_data = (uint8_t *)f->in.addr + PAGE,
	    .in_size = (f->down - 1) * PAGE,
	    .out_hdr = f->out.addr,
	    .out_data = (uint8_t *)f->out.addr + PAGE,
	    .out_size = (f->npfns - f->down - 1) * PAGE,
	    .ring_flags = VMB_RING_DOUBLE_MAPPED,
	    .copy_out = true,
	    .relid = RELID,
	    .ops = &echo_ops,
	    .ops_ctx = f,
	};
	int rc = vmb_chan_create(&cfg, &f->ch);

	if (rc < 0)
		return rc;
	vmb_chan_set_handler(f->ch, echo_packet, f);
	/* Whichever connection the guest signals on reaches the channel. */
	vmb_host_part_port_add(f->part, VMBUS_EVENT_CONNECTION_ID, echo_port, f);
	return vmb_host_part_port_add(f->part, 0x10 + RELID, echo_port, f);
}

static void on_open(struct fake *f, const struct vmbus_channel_open_channel *o)
{
	struct vmbus_channel_open_result r;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_OPENCHANNEL_RESULT);
	r.child_relid = o->child_relid;
	r.openid = o->openid;
	f->down = o->downstream_ringbuffer_pageoffset;
	if (f->down < 2 || f->down + 2 > f->npfns ||
	    vmb_host_part_map(f->part, f->pfns, f->down, true, &f->in) < 0 ||
	    vmb_host_part_map(f->part, f->pfns + f->down, f->npfns - f->down, true, &f->out) < 0 ||
	    attach_echo(f) < 0)
		r.status = VMBUS_STATUS_FAILURE;
	else
		atomic_store(&f->opened, true);
	send_msg(f, &r, sizeof(r));
}

/* Answer the guest's shutdown so it quits without waiting for timeouts. */
static void on_teardown(struct fake *f, const uint8_t *m, uint32_t type)
{
	struct vmbus_channel_gpadl_teardown td;
	struct vmbus_channel_gpadl_torndown r;
	struct vmbus_channel_message_header u = {.msgtype = CHANNELMSG_UNLOAD_RESPONSE};

	if (type == CHANNELMSG_UNLOAD) {
		send_msg(f, &u, sizeof(u));
		return;
	}
	memcpy(&td, m, sizeof(td));
	vmb_msg_init(&r, sizeof(r), CHANNELMSG_GPADL_TORNDOWN);
	r.gpadl = td.gpadl;
	send_msg(f, &r, sizeof(r));
}

static void fake_post(void *ctx, uint32_t conn_id, uint32_t vp, uint32_t msg_type,
		      const void *payload, size_t len)
{
	struct fake *f = ctx;
	uint8_t m[VMBUS_MAX_MESSAGE_SIZE] = {0};
	uint32_t type;

	(void)conn_id;
	(void)vp;
	(void)msg_type;
	if (len < 8 || len > sizeof(m))
		return;
	memcpy(m, payload, len);
	memcpy(&type, m, sizeof(type));
	if (type == CHANNELMSG_INITIATE_CONTACT)
		on_contact(f);
	else if (type == CHANNELMSG_REQUESTOFFERS)
		on_offers(f);
	else if (type == CHANNELMSG_GPADL_HEADER || type == CHANNELMSG_GPADL_BODY)
		on_gpadl(f, m, len, type);
	else if (type == CHANNELMSG_OPENCHANNEL && !atomic_load(&f->opened))
		on_open(f, (const void *)m);
	else if (type == CHANNELMSG_GPADL_TEARDOWN || type == CHANNELMSG_UNLOAD)
		on_teardown(f, m, type);
}

static void fake_log(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "fake host: %s\n", msg);
}

static const struct vmb_host_part_ops fake_ops = {.post = fake_post, .log = fake_log};

static void *fake_loop(void *arg)
{
	struct fake *f = arg;

	while (!atomic_load(&f->stop))
		vmb_host_part_poll(f->part, 20);
	return NULL;
}

static void fake_start(struct fake *f, const char *sock)
{
	struct vmb_host_part_config cfg = {
	    .ram_size = 64u << 20,
	    .vp_count = 2,
	    .socket_path = sock,
	};

	assert_int_equal(vmb_host_part_create(&cfg, &fake_ops, f, &f->part), 0);
	assert_int_equal(pthread_create(&f->thr, NULL, fake_loop, f), 0);
}

static void fake_stop(struct fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thr, NULL);
	vmb_chan_destroy(f->ch);
	if (f->in.addr)
		vmb_host_part_unmap(f->part, &f->in);
	if (f->out.addr)
		vmb_host_part_unmap(f->part, &f->out);
	vmb_host_part_destroy(f->part);
}

/* The harness guest with its stderr in log (to find the logged cause). */
static void guest_start(struct it_proc *g, const char *sock, char *log, size_t len)
{
	int fd, saved;

	snprintf(log, len, "%s.guest.log", sock);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	assert_int_equal(it_guest_start(g, sock, 0), 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
}

static bool log_has(const char *path, const char *needle)
{
	static char text[1 << 20];
	FILE *fp;
	size_t n = 0;

	for (int i = 0; i < 100; i++) {
		fp = fopen(path, "r");
		if (fp) {
			n = fread(text, 1, sizeof(text) - 1, fp);
			fclose(fp);
		}
		text[n] = '\0';
		if (strstr(text, needle))
			return true;
		usleep(20000);
	}
	return false;
}

/* The guest exits cleanly (no sanitizer abort, no crash). */
static void guest_quit_clean(struct it_proc *g)
{
	assert_int_equal(it_cmd(g, NULL, 0, "quit"), -EPIPE);
	assert_int_equal(it_wait(g, 15000), 0);
}

static void bogus_offers(struct fake *f)
{
	/* Too short for any version, a relid above the limit, the good relid twice. */
	send_offer(f, 7, 64);
	send_offer(f, VMBUS_MAX_RELID + 100, sizeof(struct vmbus_channel_offer_channel));
	send_offer(f, RELID, sizeof(struct vmbus_channel_offer_channel));
}

static void offers_bogus_and_duplicate(void **state)
{
	struct fake f = {.extra_offers = bogus_offers};
	const char *sock = it_socket_path();
	struct it_proc g;
	char log[300];

	(void)state;
	fake_start(&f, sock);
	guest_start(&g, sock, log, sizeof(log));
	/* The one valid offer binds (the duplicate must not bind a second time). */
	assert_int_equal(it_cmd(&g, NULL, 0, "wait 1"), 0);
	usleep(200000);
	assert_int_equal(it_cmd(&g, NULL, 0, "bound"), 1);
	assert_true(log_has(log, "OFFERCHANNEL"));
	guest_quit_clean(&g);
	fake_stop(&f);
}

static void unsolicited_messages(void **state)
{
	struct vmbus_channel_relid_msg resc;
	struct fake f = {0};
	const char *sock = it_socket_path();
	struct it_proc g;
	char log[300];

	(void)state;
	fake_start(&f, sock);
	guest_start(&g, sock, log, sizeof(log));
	assert_int_equal(it_cmd(&g, NULL, 0, "wait 1"), 0);
	/* Rescind of a channel never offered, GPADL_CREATED never asked for. */
	vmb_msg_init(&resc, sizeof(resc), CHANNELMSG_RESCIND_CHANNELOFFER);
	resc.child_relid = 999;
	send_msg(&f, &resc, sizeof(resc));
	gpadl_created(&f, RELID, 0x7777);
	gpadl_created(&f, 1234, 0x7778);
	assert_true(log_has(log, "999"));
	assert_true(log_has(log, "0x7777"));
	/* The real device is untouched. */
	usleep(100000);
	assert_int_equal(it_cmd(&g, NULL, 0, "bound"), 1);
	guest_quit_clean(&g);
	fake_stop(&f);
}

/* ---- time of check / time of use -------------------------------------- */

struct flipper {
	struct fake *f;
	atomic_bool stop;
	unsigned long flips;
};

/* Write well-formed packets into the H->G ring and flip their bytes behind
 * the guest's back as it reads them. */
static void *flip_loop(void *arg)
{
	struct flipper *fl = arg;
	struct vmbus_ring_header *hdr = fl->f->out.addr;
	uint8_t *data = (uint8_t *)fl->f->out.addr + PAGE;
	uint32_t size = (fl->f->npfns - fl->f->down - 1) * PAGE;
	struct vmb_ring r;
	uint64_t seed = 88172645463325252ull;
	uint8_t buf[64 + 16];
	struct vmpacket_descriptor d = {.type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 10};
	struct iovec v = {buf, sizeof(buf)};

	if (vmb_ring_init(&r, hdr, data, size, VMB_RING_DOUBLE_MAPPED) < 0)
		return NULL;
	memset(buf, 0, sizeof(buf));
	while (!atomic_load(&fl->stop)) {
		memcpy(buf, &d, sizeof(d));
		if (vmb_ring_write(&r, &v, 1) == 0 && vmb_ring_commit(&r) > 0)
			vmb_host_part_signal(fl->f->part, 0, VMBUS_MESSAGE_SINT, RELID);
		for (int i = 0; i < 64; i++) {
			seed ^= seed << 13;
			seed ^= seed >> 7;
			seed ^= seed << 17;
			data[seed % size] ^= (uint8_t)(seed >> 32);
			fl->flips++;
		}
		if (r.error)
			break;
	}
	return NULL;
}

static void ring_rewritten_while_read(void **state)
{
	struct flipper fl = {0};
	const char *sock = it_socket_path();
	struct fake f = {0};
	pthread_t t;
	struct it_proc g;
	char log[300];

	(void)state;
	fl.f = &f;
	fake_start(&f, sock);
	guest_start(&g, sock, log, sizeof(log));
	assert_int_equal(it_cmd(&g, NULL, 0, "wait 1"), 0);
	for (int i = 0; i < 300 && !atomic_load(&f.opened); i++)
		usleep(10000);
	assert_true(atomic_load(&f.opened));
	assert_int_equal(pthread_create(&t, NULL, flip_loop, &fl), 0);
	usleep(1500000);
	atomic_store(&fl.stop, true);
	pthread_join(t, NULL);
	print_message("%lu bytes flipped\n", fl.flips);
	assert_true(fl.flips > 0);
	/* The guest either read clean packets or broke the channel, with a log line. */
	assert_true(kill(g.pid, 0) == 0);
	assert_true(it_cmd(&g, NULL, 0, "bound") >= 0);
	assert_true(log_has(log, "broken"));
	guest_quit_clean(&g);
	fake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(offers_bogus_and_duplicate),
	    cmocka_unit_test(unsolicited_messages),
	    cmocka_unit_test(ring_rewritten_while_read),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
