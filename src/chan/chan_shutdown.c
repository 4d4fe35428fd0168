/* Quiet shutdown of a channel whose peer is gone (rescind, close). */
#include <errno.h>

#include "chan_impl.h"

void vmb_chan_shutdown(struct vmb_channel *ch)
{
	atomic_store(&ch->closing, true);
	pthread_cond_broadcast(&ch->tx_cv);
	/* The peer will never complete them: fail them now, not at a timeout. */
	vmb_req_cancel_all(ch, -ECANCELED);
}
