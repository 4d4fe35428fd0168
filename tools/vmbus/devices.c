/* The default VM: every device we have, host side and guest side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "vmbus/dev/test.h"

const char *vm_opt(const struct vm_opts *o, const char *key, const char *def)
{
	size_t klen = strlen(key);

	/* The last occurrence wins, like repeated command-line options. */
	for (unsigned i = o->n; i-- > 0;)
		if (!strncmp(o->kv[i], key, klen) && o->kv[i][klen] == '=')
			return o->kv[i] + klen + 1;
	return def;
}

int vm_opt_add(struct vm_opts *o, const char *kv)
{
	if (!strchr(kv, '=') || o->n == VM_MAX_OPTS)
		return -EINVAL;
	o->kv[o->n++] = kv;
	return 0;
}

/* ---- test device: test.count=N (default 1), test.traffic=1 ---- */

/* Instance GUID of the n-th test device: fixed so it is stable across runs. */
static struct vmb_guid test_instance(unsigned n)
{
	struct vmb_guid g = VMB_GUID_INIT(0x7e570000, 0x0001, 0x4000, 0x80, 0x00, 0, 0, 0, 0,
					  0, 0);

	g.b[0] = (uint8_t)n;
	g.b[15] = (uint8_t)n;
	return g;
}

static int test_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	unsigned n = (unsigned)strtoul(vm_opt(o, "test.count", "1"), NULL, 0);
	int rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		struct vmb_guid inst = test_instance(i);
		struct vmb_test_vsp *t;

		rc = vmb_test_vsp_add(h, &inst, &t);
	}
	return rc;
}

static int test_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_test_guest *tg;
	int rc = vmb_test_guest_register(g, &tg);

	if (rc < 0)
		return rc;
	if (!strcmp(vm_opt(o, "test.traffic", "0"), "1"))
		vmb_test_guest_traffic(tg, true);
	*state = tg;
	return 0;
}

static void test_guest_stop(void *state)
{
	vmb_test_guest_traffic(state, false);
}

static void test_guest_free(void *state)
{
	vmb_test_guest_free(state);
}

const struct vm_device vm_devices[] = {
	{"test", test_host_add, test_guest_register, test_guest_stop, test_guest_free},
};
const unsigned vm_device_count = sizeof(vm_devices) / sizeof(vm_devices[0]);
