/*
 * KVP body parser, and the guest's answers over a pool directory.
 *
 * Input: KVP request bodies back to back, each as long as its operation
 * needs (vmb_kvp_body_size()); the last one, or one with an unknown
 * operation, takes whatever is left. They are answered in order by a
 * guest whose pools are emptied before every input, so a SET can be read
 * back, enumerated or deleted by the bodies after it, and a finding
 * replays from its input alone. (Pools that persisted across inputs grew
 * to thousands of records, each rewritten in full per request: the
 * harness ran ~650 exec/s.) The pools live in /dev/shm, not on disk.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmb_kvp_store *store;
/* The same pool files, held here to empty them (".kvp_pool_N" is the daemon's format). */
static int pool_fd[HV_KVP_POOL_COUNT];

static void open_store(void)
{
	char dir[64], path[96];

	snprintf(dir, sizeof(dir), "/dev/shm/fuzz_dev_kvp.%d", (int)getpid());
	if (vmb_kvp_store_open(dir, &store) < 0)
		abort();
	for (unsigned i = 0; i < HV_KVP_POOL_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/.kvp_pool_%u", dir, i);
		pool_fd[i] = open(path, O_RDWR | O_CLOEXEC);
		if (pool_fd[i] < 0)
			abort();
	}
}

static void answer(const uint8_t *data, size_t len)
{
	struct vmb_kvp_req r;
	/* The guest rewrites the body in place: give it a private copy of exactly len bytes. */
	uint8_t *body = malloc(len ? len : 1);

	if (!body)
		return;
	memcpy(body, data, len);
	vmb_kvp_decode(body, len, &r);
	vmb_kvp_guest_answer(store, body, len);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!store)
		open_store();
	for (unsigned i = 0; i < HV_KVP_POOL_COUNT; i++)
		if (ftruncate(pool_fd[i], 0) < 0)
			abort();
	do {
		size_t len = vmb_kvp_body_size(size ? data[0] : 0);

		if (len == 0 || len >= size)
			len = size;
		answer(data, len);
		data += len, size -= len;
	} while (size > 0);
	return 0;
}
