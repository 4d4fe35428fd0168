/*
 * Guest VP threads: each one waits on its VP's interrupt eventfd and
 * handles what the host left in its SynIC pages. VP 0 also watches the
 * socket for a host hang-up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "partition/guest_priv.h"

enum { EV_KICK, EV_WAKE, EV_SOCK };

#define FLAG_WORDS_PER_SINT (HV_EVENT_FLAGS_BYTES / 8)

static int watch(int epfd, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int vmb_guest_vp_init(struct vmb_guest_part *g, struct vmb_guest_vp *vp, uint32_t index)
{
	vp->g = g;
	vp->index = index;
	vp->online = true;
	vp->work_tail = &vp->work;
	pthread_mutex_init(&vp->lock, NULL);
	pthread_cond_init(&vp->passed, NULL);
	vp->inited = true;
	vp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vp->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (vp->wake_fd < 0 || vp->epfd < 0)
		return -errno;
	int err = watch(vp->epfd, vp->kick_fd, EPOLLIN, EV_KICK);
	if (!err)
		err = watch(vp->epfd, vp->wake_fd, EPOLLIN, EV_WAKE);
	/* Only the hang-up matters here; replies are read by the caller. */
	if (!err && index == 0)
		err = watch(vp->epfd, g->sock, EPOLLRDHUP, EV_SOCK);
	return err;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void vmb_guest_vp_fini(struct vmb_guest_vp *vp)
{
	close_fd(vp->kick_fd);
	close_fd(vp->wake_fd);
	close_fd(vp->epfd);
	if (!vp->inited)
		return;
	while (vp->work) {
		struct vmb_guest_work *w = vp->work;
		vp->work = w->next;
		free(w);
	}
	pthread_mutex_destroy(&vp->lock);
	pthread_cond_destroy(&vp->passed);
}

static void wake(struct vmb_guest_vp *vp)
{
	uint64_t one = 1;

	if (write(vp->wake_fd, &one, sizeof(one)) != sizeof(one))
		vmb_glog(vp->g, "VP %u wakeup failed", vp->index);
}

/* Test-and-clear each word of SINT2's flags; report every bit that was set. */
static bool scan_events(struct vmb_guest_vp *vp)
{
	struct vmb_guest_part *g = vp->g;
	uint64_t *w = vp->siefp + VMB_VMBUS_SINT * FLAG_WORDS_PER_SINT;
	bool any = false;

	for (uint32_t i = 0; i < FLAG_WORDS_PER_SINT; i++) {
		if (!__atomic_load_n(&w[i], __ATOMIC_RELAXED))
			continue;
		uint64_t bits = __atomic_exchange_n(&w[i], 0, __ATOMIC_ACQ_REL);
		any |= bits != 0;
		while (bits) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			if (g->ops.event)
				g->ops.event(g->ctx, vp->index, i * 64 + b);
		}
	}
	return any;
}

/*
 * Copy the slot out and free it before the callback runs: clear the type,
 * full fence, then read MESSAGE_PENDING. The host sets PENDING then
 * re-reads the type, so one of us always sees the other (PROTOCOL.md 2.3).
 */
static bool take_message(struct vmb_guest_vp *vp, uint32_t sint)
{
	struct vmb_guest_part *g = vp->g;
	struct hv_message *slot = &vp->simp->sint_message[sint];
	struct hv_message copy;

	uint32_t type = __atomic_load_n(&slot->header.message_type, __ATOMIC_ACQUIRE);
	if (type == HVMSG_NONE)
		return false;
	memcpy(&copy, slot, sizeof(copy));
	__atomic_store_n(&slot->header.message_type, HVMSG_NONE, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&slot->header.message_flags, __ATOMIC_RELAXED) &
	    HV_MESSAGE_FLAG_PENDING)
		vmb_guest_part_wrmsr(g, vp->index, HV_X64_MSR_EOM, 0);
	size_t len = copy.header.payload_size;
	if (len > HV_MESSAGE_PAYLOAD_SIZE) {
		vmb_glog(g, "VP %u SINT %u: message of %zu bytes dropped", vp->index, sint, len);
		return true;
	}
	if (type == HVMSG_TIMER_EXPIRED && vmb_guest_clockevent_deliver(vp, copy.payload, len))
		return true;
	if (g->ops.message)
		g->ops.message(g->ctx, vp->index, sint, type, copy.payload, len);
	return true;
}

static void scan_synic(struct vmb_guest_vp *vp)
{
	bool again;

	do {
		again = scan_events(vp);
		for (uint32_t s = 0; s < HV_SYNIC_SINT_COUNT; s++)
			again |= take_message(vp, s);
	} while (again);
}

static void host_hung_up(struct vmb_guest_vp *vp)
{
	struct vmb_guest_part *g = vp->g;

	/* Level-triggered: stop watching or the hang-up would spin this thread. */
	epoll_ctl(vp->epfd, EPOLL_CTL_DEL, g->sock, NULL);
	vmb_gpart_host_gone(g);
	vmb_glog(g, "host hung up");
	if (g->ops.host_down)
		g->ops.host_down(g->ctx);
}

/* Reset an eventfd: its count, 0 when a failed read found nothing to reset. */
static uint64_t drain(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v) ? v : 0;
}

/* Take queued work and the state under the lock. Returns false to stop. */
static bool take_state(struct vmb_guest_vp *vp, struct vmb_guest_work **work, bool *online)
{
	pthread_mutex_lock(&vp->lock);
	bool run = !vp->stopping;
	*work = vp->work;
	vp->work = NULL;
	vp->work_tail = &vp->work;
	*online = vp->online;
	vp->passes++;
	pthread_cond_broadcast(&vp->passed);
	pthread_mutex_unlock(&vp->lock);
	return run;
}

static void *vp_main(void *arg)
{
	struct vmb_guest_vp *vp = arg;
	struct epoll_event ev[4];
	struct vmb_guest_work *work;
	bool online;

	for (;;) {
		int n = epoll_wait(vp->epfd, ev, 4, -1);
		if (n < 0 && errno != EINTR) {
			vmb_glog(vp->g, "VP %u: epoll_wait: %s", vp->index, strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u32 == EV_SOCK)
				host_hung_up(vp);
			else if (ev[i].data.u32 == EV_KICK)
				vmb_guest_direct_timer_deliver(vp, drain(vp->kick_fd));
			else
				drain(vp->wake_fd);
		}
		if (!take_state(vp, &work, &online))
			break;
		while (work) {
			struct vmb_guest_work *w = work;
			work = w->next;
			w->fn(w->arg);
			free(w);
		}
		/* An offline VP leaves its interrupts pending in the SynIC pages. */
		if (online)
			scan_synic(vp);
	}
	return NULL;
}

int vmb_guest_vp_start(struct vmb_guest_vp *vp)
{
	if (vp->thread_started)
		return -EALREADY;
	int err = pthread_create(&vp->thread, NULL, vp_main, vp);
	if (err)
		return -err;
	vp->thread_started = true;
	return 0;
}

void vmb_guest_vp_stop(struct vmb_guest_vp *vp)
{
	if (!vp->thread_started)
		return;
	pthread_mutex_lock(&vp->lock);
	vp->stopping = true;
	pthread_mutex_unlock(&vp->lock);
	wake(vp);
	pthread_join(vp->thread, NULL);
	vp->thread_started = false;
}

int vmb_guest_part_vp_set_online(struct vmb_guest_part *g, uint32_t vp, bool online)
{
	if (vp >= g->vp_count)
		return -EINVAL;
	struct vmb_guest_vp *v = &g->vps[vp];
	pthread_mutex_lock(&v->lock);
	v->online = online;
	uint64_t seen = v->passes;
	pthread_mutex_unlock(&v->lock);
	wake(v);
	/*
	 * Going offline: wait until the VP thread has taken the new state, so
	 * a scan that started while it was online is over when this returns
	 * and nothing is dispatched on the VP afterwards. (Not from the VP's
	 * own thread, and only while the thread runs.)
	 */
	if (!online && v->thread_started && !pthread_equal(pthread_self(), v->thread)) {
		pthread_mutex_lock(&v->lock);
		while (v->passes == seen && !v->stopping)
			pthread_cond_wait(&v->passed, &v->lock);
		pthread_mutex_unlock(&v->lock);
	}
	return 0;
}

int vmb_guest_part_run_on(struct vmb_guest_part *g, uint32_t vp, void (*fn)(void *), void *arg)
{
	if (vp >= g->vp_count || !fn)
		return -EINVAL;
	struct vmb_guest_work *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->next = NULL;
	w->fn = fn;
	w->arg = arg;
	struct vmb_guest_vp *v = &g->vps[vp];
	pthread_mutex_lock(&v->lock);
	bool stopping = v->stopping;
	if (!stopping) {
		*v->work_tail = w;
		v->work_tail = &w->next;
	}
	pthread_mutex_unlock(&v->lock);
	if (stopping) {
		free(w);
		return -ESHUTDOWN;
	}
	wake(v);
	return 0;
}
