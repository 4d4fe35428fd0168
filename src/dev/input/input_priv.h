/* Shared by the input device files. */
#ifndef VMB_DEV_INPUT_PRIV_H
#define VMB_DEV_INPUT_PRIV_H

#include "vmbus/dev/input.h"

#define VMB_KBD_LSHIFT 0x2a

/* Call send(dev, msg) until it stops saying -EAGAIN (ring full), for at most ~2 s. */
int vmb_input_retry(int (*send)(void *dev, const void *msg), void *dev, const void *msg);

#endif
