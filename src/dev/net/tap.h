/* TAP interfaces (IFF_TAP | IFF_NO_PI): the NIC's real edges on both ends. */
#ifndef VMB_DEV_NET_TAP_H
#define VMB_DEV_NET_TAP_H

#include <stddef.h>
#include <stdint.h>

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

#endif
