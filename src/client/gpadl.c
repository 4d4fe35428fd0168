/*
 * Guest VMBus client: GPADL creation and teardown bookkeeping.
 */
#include <errno.h>
#include <stdlib.h>

#include "client/client_impl.h"

struct vmb_cli_gpadl *vmb_cli_gpadl_find(const struct vmb_client *c, uint32_t handle)
{
	size_t i;

	for (i = 0; i < c->ngpadl; i++) {
		if (c->gpadl[i].handle == handle)
			return &c->gpadl[i];
	}
	return NULL;
}

static void gpadl_forget(struct vmb_client *c, struct vmb_cli_gpadl *g)
{
	*g = c->gpadl[--c->ngpadl];
}

void vmb_cli_gpadl_forget_relid(struct vmb_client *c, uint32_t relid)
{
	size_t i = 0;

	while (i < c->ngpadl) {
		if (c->gpadl[i].relid == relid)
			gpadl_forget(c, &c->gpadl[i]);
		else
			i++;
	}
}

static int gpadl_reserve(struct vmb_client *c)
{
	struct vmb_cli_gpadl *n;
	size_t cap;

	if (c->ngpadl < c->gpadl_cap)
		return 0;
	cap = c->gpadl_cap == 0 ? 8 : c->gpadl_cap * 2;
	n = realloc(c->gpadl, cap * sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	c->gpadl = n;
	c->gpadl_cap = cap;
	return 0;
}

/* GPADL_BODY carries no relid, so a handle must be unique connection-wide. */
static uint32_t gpadl_new_handle(struct vmb_client *c)
{
	uint32_t h;

	do {
		h = c->next_gpadl++;
	} while (h == 0 || vmb_cli_gpadl_find(c, h) != NULL);
	return h;
}

int vmb_client_gpadl_create(struct vmb_client *c, struct vmb_client_channel *ch,
			    const uint64_t *pfns, size_t n, uint32_t *handle)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned i, count;
	uint32_t h;
	int ret;

	if ((c->state != VMB_CLI_REQUESTED && c->state != VMB_CLI_READY) ||
	    !vmb_cli_has_chan(c, ch) || ch->state == VMB_CCH_RESCINDED)
		return -EINVAL;
	if (pfns == NULL || n == 0 || n > VMB_GPADL_MAX_PFNS || handle == NULL)
		return -EINVAL;
	ret = gpadl_reserve(c);
	if (ret != 0)
		return ret;
	h = gpadl_new_handle(c);
	count = vmb_gpadl_msg_count(n);
	for (i = 0; i < count; i++) {
		size_t len = vmb_gpadl_build(buf, i, ch->offer.relid, h, pfns, n);

		/* The handle is not reused soon, so a half-sent GPADL is harmless. */
		ret = vmb_cli_post(c, buf, len);
		if (ret != 0)
			return ret;
	}
	c->gpadl[c->ngpadl++] = (struct vmb_cli_gpadl){
	    .handle = h,
	    .relid = ch->offer.relid,
	    .state = VMB_CGP_CREATING,
	};
	*handle = h;
	return 0;
}

int vmb_client_gpadl_teardown(struct vmb_client *c, struct vmb_client_channel *ch, uint32_t handle)
{
	struct vmbus_channel_gpadl_teardown m;
	struct vmb_cli_gpadl *g = vmb_cli_gpadl_find(c, handle);
	int ret;

	if (!vmb_cli_has_chan(c, ch) || g == NULL || g->relid != ch->offer.relid ||
	    g->state != VMB_CGP_READY)
		return -EINVAL;
	vmb_msg_init(&m, sizeof(m), CHANNELMSG_GPADL_TEARDOWN);
	m.child_relid = ch->offer.relid;
	m.gpadl = handle;
	ret = vmb_cli_post(c, &m, sizeof(m));
	if (ret != 0)
		return ret;
	g->state = VMB_CGP_TEARING;
	return 0;
}

int vmb_cli_on_gpadl_created(struct vmb_client *c, const union vmb_cli_msg *m)
{
	const struct vmbus_channel_gpadl_created *r = &m->gpadl_created;
	struct vmb_cli_gpadl *g = vmb_cli_gpadl_find(c, r->gpadl);

	if (g == NULL || g->state != VMB_CGP_CREATING || g->relid != r->child_relid)
		return vmb_cli_reject(c, CHANNELMSG_GPADL_CREATED, -EPROTO,
				      "no GPADL %#x pending for relid %u", r->gpadl,
				      r->child_relid);
	if (r->creation_status == 0)
		g->state = VMB_CGP_READY;
	else
		gpadl_forget(c, g);
	if (c->ops.gpadl_created != NULL)
		c->ops.gpadl_created(c->ctx, r->gpadl, r->creation_status);
	return 0;
}

int vmb_cli_on_gpadl_torndown(struct vmb_client *c, const union vmb_cli_msg *m)
{
	uint32_t handle = m->gpadl_torndown.gpadl;
	struct vmb_cli_gpadl *g = vmb_cli_gpadl_find(c, handle);

	if (g == NULL || g->state != VMB_CGP_TEARING)
		return vmb_cli_reject(c, CHANNELMSG_GPADL_TORNDOWN, -EPROTO,
				      "no teardown pending for GPADL %#x", handle);
	gpadl_forget(c, g);
	if (c->ops.gpadl_torndown != NULL)
		c->ops.gpadl_torndown(c->ctx, handle);
	return 0;
}
