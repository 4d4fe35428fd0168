/* TAP interfaces (IFF_TAP | IFF_NO_PI): the NIC's real edges on both ends. */
#ifndef VMB_DEV_NET_TAP_H
#define VMB_DEV_NET_TAP_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VMB_TAP_NAME_MAX 16 /* IFNAMSIZ, the NUL included */

/*
 * Open or create TAP `name`, non-blocking. A name with "%d" lets the
 * kernel pick the first free number; name then holds the name it got.
 * Returns the fd or -errno.
 */
int vmb_tap_open(char name[VMB_TAP_NAME_MAX]);
/* Bring the interface up (IFF_UP). */
int vmb_tap_up(const char *name);
int vmb_tap_get_mac(const char *name, uint8_t mac[6]);
int vmb_tap_set_mac(const char *name, const uint8_t mac[6]);
/* Whether /dev/net/tun can be opened at all. */
int vmb_tap_available(void);

/*
 * Frames to a TAP in batches. A TAP takes one frame per write, and a
 * syscall costs more than a small frame's copy (about 1.5 us each on the
 * PVM machines we measure on): with io_uring, one io_uring_enter() writes
 * a whole batch; without it (io_uring refused here), each frame is one
 * write() as before. One thread per writer.
 */
#define VMB_TAP_BATCH 32u

struct vmb_tap_counts {
	uint64_t frames, bytes, dropped;
};

struct vmb_tap_writer {
	int fd;
	bool uring;
	unsigned queued;
	struct io_uring ring;
};

/* Never fails: without io_uring the writer writes frame by frame. */
void vmb_tap_writer_init(struct vmb_tap_writer *w, int fd);
void vmb_tap_writer_destroy(struct vmb_tap_writer *w);
/*
 * Queue frame data[0..len) (or write it now, without io_uring). data must
 * stay valid until the next vmb_tap_flush(); a full batch is flushed first.
 * The outcome of each frame is added to *c.
 */
void vmb_tap_queue(struct vmb_tap_writer *w, const void *data, uint32_t len,
		   struct vmb_tap_counts *c);
/* Write everything queued; returns when every frame has been written or dropped. */
void vmb_tap_flush(struct vmb_tap_writer *w, struct vmb_tap_counts *c);

/*
 * Frames from a TAP in batches: with io_uring, up to VMB_TAP_BATCH reads
 * into slots of a buffer in one io_uring_enter() (a read of an empty
 * non-blocking TAP ends at once with -EAGAIN); without it, one read() per
 * frame. Reads per batch follow what the last batch found. One thread.
 */
struct vmb_tap_reader {
	int fd;
	bool uring;
	struct io_uring ring;
	uint8_t *buf; /* VMB_TAP_BATCH slots of slot bytes */
	uint32_t slot;
	unsigned want;	/* reads in the next batch */
	unsigned n, at; /* slots the batch used, the next one to hand out */
	int32_t len[VMB_TAP_BATCH];
};

int vmb_tap_reader_init(struct vmb_tap_reader *r, int fd, uint32_t slot);
void vmb_tap_reader_destroy(struct vmb_tap_reader *r);
/*
 * The next frame without taking it (reading a batch when none is left):
 * 1 and *data, *len (len > r->slot: the TAP cut the frame short), or 0
 * when the TAP is empty. *data stays valid until the next vmb_tap_take().
 */
int vmb_tap_peek(struct vmb_tap_reader *r, const uint8_t **data, uint32_t *len);
/* Done with the frame vmb_tap_peek() returned. */
void vmb_tap_take(struct vmb_tap_reader *r);
/* Frames of the last batch not taken yet: poll() on the TAP does not see them. */
bool vmb_tap_pending(const struct vmb_tap_reader *r);

/* An io_uring of VMB_TAP_BATCH entries for the calls below; 0 or -errno. */
int vmb_tap_uring_init(struct io_uring *ring);
/*
 * k (<= VMB_TAP_BATCH) non-blocking reads of fd, read i into the iovcnt
 * iovecs at iov + i * iovcnt, in one io_uring_enter(); res[i] = bytes
 * (more than the iovecs hold: the frame was cut short) or -errno (-EAGAIN:
 * the TAP was empty). false: io_uring refused them; nothing is in flight,
 * and the caller reads without it from now on.
 */
bool vmb_tap_uring_read(struct io_uring *ring, int fd, const struct iovec *iov, unsigned iovcnt,
			unsigned k, int32_t *res);
/* Reads for the next batch: twice what this one found, 2 to VMB_TAP_BATCH. */
unsigned vmb_tap_next_want(const int32_t *res, unsigned k);

#endif
