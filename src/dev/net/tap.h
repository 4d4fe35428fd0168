/* TAP interfaces (IFF_TAP | IFF_NO_PI): the NIC's real edges on both ends. */
#ifndef VMB_DEV_NET_TAP_H
#define VMB_DEV_NET_TAP_H

#include <stddef.h>
#include <stdint.h>

/* Open or create TAP `name`, non-blocking. Returns the fd or -errno. */
int vmb_tap_open(const char *name);
/* Bring the interface up (IFF_UP). */
int vmb_tap_up(const char *name);
int vmb_tap_get_mac(const char *name, uint8_t mac[6]);
int vmb_tap_set_mac(const char *name, const uint8_t mac[6]);
/* Whether /dev/net/tun can be opened at all. */
int vmb_tap_available(void);

#endif
