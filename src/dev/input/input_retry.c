/* Host senders outside the loop thread: wait out a full ring without holding locks. */
#include <errno.h>
#include <time.h>

#include "input_priv.h"

int vmb_input_retry(int (*send)(void *dev, const void *msg), void *dev, const void *msg)
{
	struct timespec ms = {0, 1000000};
	int rc;

	for (int i = 0; i < 2000; i++) {
		rc = send(dev, msg);
		if (rc != -EAGAIN)
			return rc;
		nanosleep(&ms, NULL);
	}
	return -EAGAIN;
}
